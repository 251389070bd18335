package upstash_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// TestOfficialClient drives the real @upstash/kafka npm client (pinned in
// testdata/client/package-lock.json) against the gateway: produce and
// produceMany with keys, headers, explicit partitions and timestamps, then
// checks the records in Kafka; then reads them back with consumer.fetch
// (per partition and several in one request), lists topics with
// admin.topics and offsets with topicPartitionOffsets. It needs node and
// npm; CI=true makes their absence a failure instead of a skip.
func TestOfficialClient(t *testing.T) {
	node, dir := gatewaytest.NodeClient(t, filepath.Join("testdata", "client"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

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
		Produce1        metadata          `json:"produce1"`
		Produce2        metadata          `json:"produce2"`
		Many            []metadata        `json:"many"`
		Fetch           []fetched         `json:"fetch"`
		FetchMany       []fetched         `json:"fetchMany"`
		FetchParallel   []fetched         `json:"fetchParallel"`
		Topics          map[string]int32  `json:"topics"`
		OffsetsEarliest []partitionOffset `json:"offsetsEarliest"`
		OffsetsLatest   []partitionOffset `json:"offsetsLatest"`
		OffsetsTime     []partitionOffset `json:"offsetsTime"`
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
	wants := []want{
		{topic: "greetings", partition: -1, key: str("user-1"), value: "hello", headers: hs("trace", "abc", "empty", "")},
		{topic: "greetings", partition: 2, value: `{"n":1,"s":"x"}`, timestamp: 1637745834744},
		{topic: "greetings", partition: 1, key: str("k2"), value: "m1", headers: hs("h", "v")},
		{topic: "cities", partition: -1, value: "m2"},
		{topic: "cities", partition: 0, key: str(""), value: "m3", timestamp: 1637455583829},
		{topic: "greetings", partition: -1, key: str("user-1"), value: "ünïcødé ✓"},
	}
	checkRecords(t, g, answers, wants, before)

	// What consumer.fetch read is what Kafka holds, byte for byte, partition
	// by partition from offset 0. Every record is waited for: a consumer
	// that has not yet caught up would make records look unexpected.
	counts := map[string]int{}
	for _, w := range wants {
		counts[w.topic]++
	}
	var stored []*kgo.Record
	for base, n := range counts {
		stored = append(stored, g.Records(t, base, n)...)
	}
	ga, gc := g.Topic("greetings"), g.Topic("cities")
	checkFetched(t, stored, "fetch", out.Fetch, map[tp]bool{{ga, 1}: true})
	checkFetched(t, stored, "fetchMany", out.FetchMany, map[tp]bool{{ga, 2}: true, {gc, 0}: true})
	checkFetched(t, stored, "fetchParallel", out.FetchParallel, map[tp]bool{{ga, 0}: true, {gc, 0}: true})
	if len(out.FetchMany) == 0 || out.FetchMany[0].Topic != ga || out.FetchMany[len(out.FetchMany)-1].Topic != gc {
		t.Errorf("fetchMany out of order: %+v", out.FetchMany)
	}

	if len(out.Topics) != 2 || out.Topics[ga] != 3 || out.Topics[gc] != 4 {
		t.Errorf("admin.topics: %v", out.Topics)
	}
	ends := map[tp]int64{}
	for _, r := range stored {
		k := tp{r.Topic, r.Partition}
		ends[k] = max(ends[k], r.Offset+1)
	}
	checkOffsets(t, "earliest", out.OffsetsEarliest, []partitionOffset{{ga, 1, 0}, {gc, 0, 0}})
	checkOffsets(t, "latest", out.OffsetsLatest, []partitionOffset{{ga, 2, ends[tp{ga, 2}]}})
	// m3, the first record of cities/0 at or after its own timestamp.
	checkOffsets(t, "timestamp", out.OffsetsTime, []partitionOffset{{gc, 0, 0}})
}

type fetched struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Timestamp int64  `json:"timestamp"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	Headers   []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"headers"`
}

type partitionOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

type tp struct {
	topic     string
	partition int32
}

// checkFetched checks that got holds exactly the records of the partitions
// in want, from offset 0, as Kafka stores them (all, in each partition's
// order): keyless records have the key "", as Upstash answers.
func checkFetched(t *testing.T, all []*kgo.Record, name string, got []fetched, want map[tp]bool) {
	t.Helper()
	stored := map[tp][]*kgo.Record{}
	for _, r := range all {
		if k := (tp{r.Topic, r.Partition}); want[k] {
			stored[k] = append(stored[k], r)
		}
	}
	seen := map[tp]int{}
	for _, m := range got {
		k := tp{m.Topic, m.Partition}
		recs, i := stored[k], seen[k]
		if !want[k] || i >= len(recs) {
			t.Errorf("%s: unexpected %+v", name, m)
			continue
		}
		seen[k]++
		r := recs[i]
		ok := m.Offset == r.Offset && m.Key == string(r.Key) && m.Value == string(r.Value) &&
			m.Timestamp == r.Timestamp.UnixMilli() && len(m.Headers) == len(r.Headers)
		for j := 0; ok && j < len(m.Headers); j++ {
			ok = m.Headers[j].Key == r.Headers[j].Key && m.Headers[j].Value == string(r.Headers[j].Value)
		}
		if !ok {
			t.Errorf("%s: %+v, Kafka has %s/%d@%d key %q value %q ts %d headers %v", name, m, r.Topic, r.Partition, r.Offset,
				r.Key, r.Value, r.Timestamp.UnixMilli(), r.Headers)
		}
	}
	for k, recs := range stored {
		if seen[k] != len(recs) {
			t.Errorf("%s: %d records of %v, Kafka has %d", name, seen[k], k, len(recs))
		}
	}
}

func checkOffsets(t *testing.T, name string, got, want []partitionOffset) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("topicPartitionOffsets %s: %+v, want %+v", name, got, want)
	}
}
