package confluentv2_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// step is one client call as testdata/client/client.js prints it.
type step struct {
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	Status int             `json:"status"`
	Data   json.RawMessage `json:"data"`
}

// nodeOffsets is a produce answer as the client hands it over.
type nodeOffsets struct {
	Offsets []struct {
		Partition *int32  `json:"partition"`
		Offset    *int64  `json:"offset"`
		ErrorCode *int    `json:"error_code"`
		Error     *string `json:"error"`
	} `json:"offsets"`
	KeySchemaID   *int `json:"key_schema_id"`
	ValueSchemaID *int `json:"value_schema_id"`
}

// nodeMessage is a consumed record, its key and value decoded by
// client.js into latin1 strings: one rune per byte.
type nodeMessage struct {
	Topic     string  `json:"topic"`
	Key       *string `json:"key"`
	Value     *string `json:"value"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
}

// bytesOf undoes client.js's latin1 decoding.
func (m *nodeMessage) bytesOf() {
	for _, p := range []**string{&m.Key, &m.Value} {
		if *p == nil {
			continue
		}
		var b []byte
		for _, r := range **p {
			b = append(b, byte(r))
		}
		s := string(b)
		*p = &s
	}
}

// runKafkaRestNode runs testdata/client/client.js with Confluent's Node.js
// client (npm kafka-rest, pinned in package-lock.json) against g and
// returns its steps by name.
func runKafkaRestNode(t *testing.T, g *gatewaytest.Gateway, topic, metaTopic string) map[string]step {
	t.Helper()
	node, dir := gatewaytest.NodeClient(t, filepath.Join("testdata", "client"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KAFKA_REST_URL="+g.URL, "TOPIC="+topic)
	if metaTopic != "" {
		cmd.Env = append(cmd.Env, "METADATA=1", "TOPIC_META="+metaTopic)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node client.js: %v\nstdout: %s\nstderr: %s", err, stdout.Bytes(), stderr.Bytes())
	}
	var out map[string]step
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("client output %s: %v", stdout.Bytes(), err)
	}
	return out
}

// result decodes a step's result into v, failing the test on an error.
func result(t *testing.T, steps map[string]step, name string, v any) {
	t.Helper()
	s, ok := steps[name]
	if !ok {
		t.Fatalf("step %s did not run", name)
	}
	if s.Error != "" {
		t.Fatalf("%s: %s (HTTP %d) %s", name, s.Error, s.Status, s.Data)
	}
	dec := json.NewDecoder(bytes.NewReader(s.Result))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %s: %v", name, s.Result, err)
	}
}

// TestKafkaRestNodeClient drives Confluent's own Node.js client, unchanged:
// it produces through topic() and topicPartition() (Content-Type
// application/vnd.kafka.v1+json, base64 values), consumes with messages()
// in its default Accept and in binary, and every record is read back from
// Kafka byte for byte.
func TestKafkaRestNodeClient(t *testing.T) {
	g := start(t, "node", "node-meta")
	topic := g.Topic("node")
	steps := runKafkaRestNode(t, g, topic, "")

	var pt, pp nodeOffsets
	result(t, steps, "produceTopic", &pt)
	result(t, steps, "producePartition", &pp)
	if len(pt.Offsets) != 3 || len(pp.Offsets) != 2 || pt.KeySchemaID != nil || pt.ValueSchemaID != nil {
		t.Fatalf("produce answers %+v %+v", pt, pp)
	}
	for _, o := range append(pt.Offsets, pp.Offsets...) {
		if o.Partition == nil || o.Offset == nil || o.ErrorCode != nil || o.Error != nil {
			t.Fatalf("produce answer %+v", o)
		}
	}
	if *pt.Offsets[2].Partition != 2 || *pp.Offsets[0].Partition != 1 || *pp.Offsets[1].Partition != 1 ||
		*pp.Offsets[0].Offset != 0 || *pp.Offsets[1].Offset != 1 {
		t.Fatalf("partitions and offsets %+v %+v", pt, pp)
	}
	// Keyed records land where Java's partitioner puts them.
	if want := javaPartition([]byte("user-1"), 3); *pt.Offsets[1].Partition != want {
		t.Errorf("keyed record on partition %d, want %d", *pt.Offsets[1].Partition, want)
	}

	type rec struct {
		key   *string
		value string
	}
	str := func(s string) *string { return &s }
	want := map[[2]int64]rec{
		{int64(*pt.Offsets[0].Partition), *pt.Offsets[0].Offset}: {nil, "plain"},
		{int64(*pt.Offsets[1].Partition), *pt.Offsets[1].Offset}: {str("user-1"), "keyed ✓"},
		{2, *pt.Offsets[2].Offset}:                               {nil, "\x00\x01\x02\xff"},
		{1, 0}:                                                   {str("k"), "p1-a"},
		{1, 1}:                                                   {nil, "p1-b"},
	}
	recs := g.Records(t, "node", len(want))
	if len(recs) != len(want) {
		t.Fatalf("%d records in Kafka, want %d", len(recs), len(want))
	}
	for _, r := range recs {
		w, ok := want[[2]int64{int64(r.Partition), r.Offset}]
		if !ok || string(r.Value) != w.value || (w.key == nil) != (r.Key == nil) || (w.key != nil && string(r.Key) != *w.key) {
			t.Errorf("record %d/%d: key %q value %q, want %+v", r.Partition, r.Offset, r.Key, r.Value, w)
		}
	}

	// The messages consume reads them back as the client expects them.
	var msgs, bin []nodeMessage
	result(t, steps, "messages", &msgs)
	result(t, steps, "messagesBinary", &bin)
	for i := range msgs {
		msgs[i].bytesOf()
	}
	for i := range bin {
		bin[i].bytesOf()
	}
	if len(msgs) != 2 || msgs[0].Offset != 0 || *msgs[0].Key != "k" || *msgs[0].Value != "p1-a" || msgs[1].Key != nil ||
		*msgs[1].Value != "p1-b" || msgs[0].Topic != topic || msgs[1].Partition != 1 {
		t.Errorf("messages: %+v", msgs)
	}
	var onTwo []rec
	for _, m := range bin {
		if m.Partition != 2 || m.Topic != topic {
			t.Errorf("binary message %+v", m)
		}
		onTwo = append(onTwo, rec{m.Key, *m.Value})
	}
	wantTwo := 0
	for k := range want {
		if k[0] == 2 {
			wantTwo++
		}
	}
	if len(onTwo) != wantTwo {
		t.Errorf("binary messages of partition 2: %+v, want %d", bin, wantTwo)
	}
	for _, m := range bin {
		if w := want[[2]int64{2, m.Offset}]; *m.Value != w.value {
			t.Errorf("partition 2 offset %d: %q, want %q", m.Offset, *m.Value, w.value)
		}
	}
}

// murmur2 is Kafka's Utils.murmur2, written out here so that the test does
// not trust the gateway's partitioner.
func murmur2(data []byte) int32 {
	const seed, m, r = uint32(0x9747b28c), uint32(0x5bd1e995), 24
	length := len(data)
	h := seed ^ uint32(length)
	for i := 0; i+4 <= length; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	rest := length &^ 3
	switch length % 4 {
	case 3:
		h ^= uint32(data[rest+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[rest+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[rest])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

func javaPartition(key []byte, partitions int32) int32 {
	return (murmur2(key) & 0x7fffffff) % partitions
}
