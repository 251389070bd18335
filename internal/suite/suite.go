// Package suite lets a test that needs an outside server (a Kafka cluster, a
// schema registry, a load generator) skip on a laptop that lacks it, but
// fail in a run that means to run it: .ci/run names the suites each of its
// steps requires in CADDY_KAFKA_REQUIRE, so that a server that did not start
// turns the step red instead of skipping it green.
package suite

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// Env is the variable listing the required suites, comma-separated.
const Env = "CADDY_KAFKA_REQUIRE"

// Required reports whether the run requires the suite name.
func Required(name string) bool {
	return slices.Contains(strings.Split(os.Getenv(Env), ","), name)
}

// Missing ends t for want of what suite name needs, which why says: a skip,
// or a failure when the run requires the suite.
func Missing(t testing.TB, name, why string) {
	t.Helper()
	if Required(name) {
		t.Fatalf("the %s suite is required by this run (%s=%s) but cannot run: %s", name, Env, os.Getenv(Env), why)
	}
	t.Skip(why)
}
