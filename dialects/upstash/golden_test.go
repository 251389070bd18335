package upstash_test

import (
	"flag"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

var update = flag.Bool("update", false, "rewrite the responses of testdata/golden")

// TestGolden sends each testdata/golden file's requests in order, to a topic
// of its own with 3 partitions, and compares the responses byte for byte:
// produce with explicit partitions and timestamps, then the stateless reads
// (/fetch, /topics, /offsets) and the consumer-group endpoints' 501.
func TestGolden(t *testing.T) {
	files := gatewaytest.GoldenFiles(t, "testdata/golden/*.txt")
	topics := map[string]int32{}
	for _, f := range files {
		topics[gatewaytest.GoldenTopic(f)] = 3
	}
	g := gatewaytest.New(t, gatewaytest.Options{Topics: topics, Site: `kafka_rest upstash {
		topics golden-*
	}`})
	gatewaytest.Golden(t, g, files, *update, nil)
}
