package confluentv2_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

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
// Kafka byte for byte; then its metadata calls, brokers.list, topics.list,
// topics.get, topic(t).partitions.list and topicPartition(t, p).get, get
// Confluent's shapes.
func TestKafkaRestNodeClient(t *testing.T) {
	g := start(t, "node", "node-meta")
	topic := g.Topic("node")
	meta := g.Topic("node-meta")
	steps := runKafkaRestNode(t, g, topic, meta)

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
		*pp.Offsets[1].Offset != *pp.Offsets[0].Offset+1 {
		t.Fatalf("partitions and offsets %+v %+v", pt, pp)
	}
	// Keyed records land where Java's partitioner puts them.
	if want := gatewaytest.JavaPartition([]byte("user-1"), 3); *pt.Offsets[1].Partition != want {
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
		{1, *pp.Offsets[0].Offset}:                               {str("k"), "p1-a"},
		{1, *pp.Offsets[1].Offset}:                               {nil, "p1-b"},
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
	// Each consume answers the partition's records from offset 0, in order.
	for p, got := range map[int32][]nodeMessage{1: msgs, 2: bin} {
		n := 0
		for k := range want {
			if k[0] == int64(p) {
				n++
			}
		}
		if len(got) != n {
			t.Errorf("partition %d: consumed %+v, want %d records", p, got, n)
		}
		for i, m := range got {
			w, ok := want[[2]int64{int64(p), m.Offset}]
			if !ok || m.Offset != int64(i) || m.Partition != p || m.Topic != topic || *m.Value != w.value ||
				(w.key == nil) != (m.Key == nil) || (w.key != nil && *m.Key != *w.key) {
				t.Errorf("partition %d: consumed %+v, want %+v", p, m, w)
			}
		}
	}

	checkNodeMetadata(t, g, steps, topic, meta)
}

type nodePartition struct {
	Partition int32 `json:"partition"`
	Leader    int32 `json:"leader"`
	Replicas  []struct {
		Broker int32 `json:"broker"`
		Leader bool  `json:"leader"`
		InSync bool  `json:"in_sync"`
	} `json:"replicas"`
}

func checkNodeMetadata(t *testing.T, g *gatewaytest.Gateway, steps map[string]step, topic, meta string) {
	var brokers []struct {
		ID  int32  `json:"id"`
		Str string `json:"str"`
	}
	result(t, steps, "brokers", &brokers)
	md, err := kmsg.NewPtrMetadataRequest().RequestWith(context.Background(), g.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	if len(brokers) != len(md.Brokers) || len(brokers) == 0 || brokers[0].Str != fmt.Sprintf("Broker{id=%d}", brokers[0].ID) {
		t.Errorf("brokers %+v, want %d", brokers, len(md.Brokers))
	}
	var names []string
	result(t, steps, "topics", &names)
	if !slices.Contains(names, topic) || !slices.Contains(names, meta) || slices.Contains(names, g.Topic("secret")) {
		t.Errorf("topics %q: want %s and %s, and no topic outside the allow-list", names, topic, meta)
	}
	var tp struct {
		Name string `json:"name"`
		Raw  struct {
			Name       string             `json:"name"`
			Configs    map[string]*string `json:"configs"`
			Partitions []nodePartition    `json:"partitions"`
		} `json:"raw"`
		Str string `json:"str"`
	}
	result(t, steps, "topic", &tp)
	if tp.Name != meta || tp.Raw.Name != meta || len(tp.Raw.Partitions) != 3 || tp.Raw.Configs["cleanup.policy"] == nil ||
		tp.Str != fmt.Sprintf("Topic{name=%q, partitions=3}", meta) {
		t.Errorf("topics.get: %+v", tp)
	}
	var parts []struct {
		ID  int32         `json:"id"`
		Raw nodePartition `json:"raw"`
		Str string        `json:"str"`
	}
	result(t, steps, "partitions", &parts)
	if len(parts) != 3 {
		t.Fatalf("partitions.list: %+v", parts)
	}
	for i, p := range parts {
		if p.ID != int32(i) || p.Raw.Partition != int32(i) || len(p.Raw.Replicas) == 0 || !p.Raw.Replicas[0].InSync ||
			p.Str != fmt.Sprintf("Partition{topic=%q, id=%d, leader=%d, replicas=%d}", meta, i, p.Raw.Leader, len(p.Raw.Replicas)) ||
			!reflect.DeepEqual(p.Raw, tp.Raw.Partitions[i]) {
			t.Errorf("partition %d: %+v", i, p)
		}
		leaders := 0
		for _, r := range p.Raw.Replicas {
			if r.Leader {
				leaders++
				if r.Broker != p.Raw.Leader {
					t.Errorf("partition %d: replica %d leads, leader is %d", i, r.Broker, p.Raw.Leader)
				}
			}
		}
		if leaders != 1 {
			t.Errorf("partition %d: %d leaders", i, leaders)
		}
	}
	var one struct {
		ID  int32         `json:"id"`
		Raw nodePartition `json:"raw"`
	}
	result(t, steps, "partition", &one)
	if one.ID != 1 || !reflect.DeepEqual(one.Raw, parts[1].Raw) {
		t.Errorf("topicPartition(t, 1).get: %+v", one)
	}
	if s := steps["missingTopic"]; s.Status != 404 || !strings.Contains(string(s.Data), `"error_code":40401`) {
		t.Errorf("missing topic: %+v", s)
	}
}
