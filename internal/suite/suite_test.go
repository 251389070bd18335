package suite

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A required suite fails; one not required skips. Checked in a child
// process, since a failing test cannot be observed from inside itself.
func TestMissing(t *testing.T) {
	if os.Getenv("SUITE_CHILD") == "1" {
		Missing(t, "cluster", "no cluster")
		return
	}
	for _, tc := range []struct {
		require  string
		wantFail bool
	}{{"", false}, {"registry", false}, {"registry,cluster", true}, {"cluster", true}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "SUITE_CHILD=1", Env+"="+tc.require)
		out, err := cmd.CombinedOutput()
		failed := err != nil
		if failed != tc.wantFail {
			t.Errorf("%s=%q: failed=%v, want %v:\n%s", Env, tc.require, failed, tc.wantFail, out)
		}
		if !tc.wantFail && !strings.Contains(string(out), "--- SKIP") {
			t.Errorf("%s=%q: want a skip:\n%s", Env, tc.require, out)
		}
	}
}
