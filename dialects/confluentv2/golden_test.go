package confluentv2_test

import (
	"flag"
	"regexp"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

var update = flag.Bool("update", false, "rewrite the responses of testdata/golden")

// goldenTopics are the topics of golden files, by base name.
func goldenTopics(files []string) []string {
	var names []string
	for _, f := range files {
		names = append(names, gatewaytest.GoldenTopic(f))
	}
	return names
}

// TestGolden sends each golden file's requests in order, to a topic of its
// own with 3 partitions, and compares the responses byte for byte. Keyed
// records or explicit partitions keep the answers deterministic.
func TestGolden(t *testing.T) {
	files := gatewaytest.GoldenFiles(t, "testdata/golden/*.txt")
	gatewaytest.Golden(t, start(t, goldenTopics(files)...), files, *update, nil)
}

// TestGoldenSchema is TestGolden for Avro, JSON Schema and Protobuf
// produce through the test registry. Schema ids differ from run to run (the
// registry outlives runs), so the answers' ids read {id}.
func TestGoldenSchema(t *testing.T) {
	registry := gatewaytest.RegistryURL(t)
	files := gatewaytest.GoldenFiles(t, "testdata/golden-schema/*.txt")
	ids := regexp.MustCompile(`("(?:key|value)_schema_id":|schema )[0-9]+`)
	gatewaytest.Golden(t, startSchemas(t, registry, goldenTopics(files)...), files, *update, func(s string) string {
		return ids.ReplaceAllString(s, "${1}{id}")
	})
}
