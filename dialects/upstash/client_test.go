package upstash_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestOfficialClient drives the real @upstash/kafka npm client (pinned in
// testdata/client/package-lock.json) against the gateway: produce and
// produceMany with keys, headers, explicit partitions and timestamps, then
// checks the records in Kafka. It needs node and npm; CI=true makes their
// absence a failure instead of a skip.
func TestOfficialClient(t *testing.T) {
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node and npm are required in CI: %v %v", errNode, errNpm)
		}
		t.Skip("node or npm not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := filepath.Join("testdata", "client")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@upstash", "kafka")); err != nil {
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}

	g := newGateway(t, "", "")
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"UPSTASH_KAFKA_REST_URL="+g.URL,
		"UPSTASH_KAFKA_REST_USERNAME="+user,
		"UPSTASH_KAFKA_REST_PASSWORD="+password,
		"TOPIC_A="+g.Topic("greetings"),
		"TOPIC_B="+g.Topic("cities"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	before := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("node client.mjs: %v\nstdout: %s\nstderr: %s", err, stdout.Bytes(), stderr.Bytes())
	}
	var out struct {
		Produce1 metadata   `json:"produce1"`
		Produce2 metadata   `json:"produce2"`
		Many     []metadata `json:"many"`
	}
	if err := strictUnmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("client output %s: %v", stdout.Bytes(), err)
	}
	answers := append([]metadata{out.Produce1, out.Produce2}, out.Many...)
	hs := func(kv ...string) []kgo.RecordHeader {
		var h []kgo.RecordHeader
		for i := 0; i < len(kv); i += 2 {
			h = append(h, kgo.RecordHeader{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return h
	}
	checkRecords(t, g, answers, []want{
		{topic: "greetings", partition: -1, key: str("user-1"), value: "hello", headers: hs("trace", "abc", "empty", "")},
		{topic: "greetings", partition: 2, value: `{"n":1,"s":"x"}`, timestamp: 1637745834744},
		{topic: "greetings", partition: 1, key: str("k2"), value: "m1", headers: hs("h", "v")},
		{topic: "cities", partition: -1, value: "m2"},
		{topic: "cities", partition: 0, key: str(""), value: "m3", timestamp: 1637455583829},
		{topic: "greetings", partition: -1, key: str("user-1"), value: "ünïcødé ✓"},
	}, before)
}
