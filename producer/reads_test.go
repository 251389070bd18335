package producer_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

// newReadsCluster starts a 3-broker kfake cluster with topics "a" (2
// partitions) and "b" (3), counting new connections as newFetchCluster does.
func newReadsCluster(t *testing.T) (*producer.Client, *kfake.Cluster, func() int64) {
	t.Helper()
	fake, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(2, "a"), kfake.SeedTopics(3, "b"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	conns := new(atomic.Int64)
	fake.ControlKey(int16(kmsg.ApiVersions), func(kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		conns.Add(1)
		return nil, nil, false
	})
	cfg := producer.DefaultConfig()
	cfg.Brokers = fake.ListenAddrs()[:1]
	c, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, fake, conns.Load
}

// produceAt produces values to topic's partition with the given timestamps
// (epoch ms) and returns their offsets.
func produceAt(t *testing.T, c *producer.Client, topic string, partition int32, ts ...int64) {
	t.Helper()
	msgs := make([]producer.Message, len(ts))
	for i, ms := range ts {
		msgs[i] = producer.Message{Topic: topic, Partition: partition, Value: []byte(fmt.Sprintf("%s-%d-%d", topic, partition, i)),
			Timestamp: time.UnixMilli(ms)}
	}
	res, err := c.Produce(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.Offset != int64(i) {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
}

func TestListOffsets(t *testing.T) {
	c, _, _ := newReadsCluster(t)
	produceAt(t, c, "a", 0, 1000, 2000, 3000)
	produceAt(t, c, "b", 2, 5000)
	parts := []producer.TopicPartition{{"a", 0}, {"a", 1}, {"b", 2}, {"a", 0}, {"nope", 0}, {"a", 7}}
	for _, tc := range []struct {
		ts   int64
		want []int64 // offsets of the first four parts
	}{
		{producer.OffsetEarliest, []int64{0, 0, 0, 0}},
		{producer.OffsetLatest, []int64{3, 0, 1, 3}},
		{0, []int64{0, -1, 0, 0}},
		{2000, []int64{1, -1, 0, 1}},
		{2500, []int64{2, -1, 0, 2}},
		{5000, []int64{-1, -1, 0, -1}},
		{5001, []int64{-1, -1, -1, -1}},
	} {
		got, err := c.ListOffsets(context.Background(), tc.ts, parts)
		if err != nil {
			t.Fatalf("ts %d: %v", tc.ts, err)
		}
		if len(got) != len(parts) {
			t.Fatalf("ts %d: %d answers", tc.ts, len(got))
		}
		for i, w := range tc.want {
			if got[i].Err != nil || got[i].Offset != w || got[i].Topic != parts[i].Topic || got[i].Partition != parts[i].Partition {
				t.Errorf("ts %d, %v: %+v, want offset %d", tc.ts, parts[i], got[i], w)
			}
		}
		if tc.ts == 2000 && got[0].Timestamp != 2000 {
			t.Errorf("timestamp of the record found: %d", got[0].Timestamp)
		}
		if producer.Classify(got[4].Err) != producer.ClassUnknownTopic || producer.Classify(got[5].Err) != producer.ClassUnknownPartition {
			t.Errorf("ts %d: missing topic %v, missing partition %v", tc.ts, got[4].Err, got[5].Err)
		}
	}
	if _, err := c.ListOffsets(context.Background(), -3, parts); producer.Classify(err) != producer.ClassBadRequest {
		t.Errorf("timestamp -3: %v", err)
	}
	if got, err := c.ListOffsets(context.Background(), 0, nil); err != nil || len(got) != 0 {
		t.Errorf("no partitions: %v %v", got, err)
	}
}

func TestFetchMany(t *testing.T) {
	c, _, conns := newReadsCluster(t)
	produceAt(t, c, "a", 0, 1, 2, 3)
	produceAt(t, c, "a", 1, 4)
	produceAt(t, c, "b", 1, 5, 6)
	pos := []producer.FetchPosition{{"a", 0, 1}, {"b", 1, 0}, {"a", 1, 0}, {"b", 0, 0}, {"nope", 0, 0}, {"b", 9, 0}, {"b", 2, 99}}
	got, err := c.FetchMany(context.Background(), pos, producer.FetchWait, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"a-0-1", "a-0-2"}, {"b-1-0", "b-1-1"}, {"a-1-0"}, nil}
	for i, w := range want {
		g := got[i]
		if g.Err != nil || g.Topic != pos[i].Topic || g.Partition != pos[i].Partition || len(g.Records) != len(w) {
			t.Fatalf("%v: %+v, want %q", pos[i], g, w)
		}
		for j, r := range g.Records {
			if string(r.Value) != w[j] || r.Offset != pos[i].Offset+int64(j) || r.Partition != pos[i].Partition {
				t.Errorf("%v record %d: %+v, want %s", pos[i], j, r, w[j])
			}
		}
	}
	if got[1].Records[0].Timestamp.UnixMilli() != 5 {
		t.Errorf("timestamp %v", got[1].Records[0].Timestamp)
	}
	if producer.Classify(got[4].Err) != producer.ClassUnknownTopic || producer.Classify(got[5].Err) != producer.ClassUnknownPartition ||
		!errors.Is(got[6].Err, producer.ErrOffsetOutOfRange) {
		t.Errorf("errors: %v, %v, %v", got[4].Err, got[5].Err, got[6].Err)
	}
	// maxRecords counts across partitions, earlier positions first.
	before := conns()
	got, err = c.FetchMany(context.Background(), pos[:3], producer.FetchWait, 3, 1<<20)
	if err != nil || len(got[0].Records) != 2 || len(got[1].Records) != 1 || len(got[2].Records) != 0 {
		t.Fatalf("capped at 3: %+v %v", got, err)
	}
	// Partitions are spread over three brokers: after the first fetch
	// connected to them, fetches reuse the client's connections.
	if after := conns(); after != before {
		t.Errorf("fetches opened %d new connections", after-before)
	}
}

// At the end of every partition FetchMany waits for a record, and answers
// with the first one that arrives on any of them.
func TestFetchManyWaits(t *testing.T) {
	c, _, _ := newReadsCluster(t)
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, _ = c.Produce(context.Background(), []producer.Message{{Topic: "b", Partition: 2, Value: []byte("late")}})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := c.FetchMany(ctx, []producer.FetchPosition{{"a", 0, 0}, {"b", 2, 0}}, producer.FetchWait, 10, 1<<20)
	if err != nil || len(got[0].Records) != 0 || len(got[1].Records) != 1 || string(got[1].Records[0].Value) != "late" {
		t.Fatalf("%+v %v", got, err)
	}
	// Nothing comes: an empty answer, before the deadline.
	ctx, cancel = context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	got, err = c.FetchMany(ctx, []producer.FetchPosition{{"a", 1, 0}}, producer.FetchWait, 10, 1<<20)
	if err != nil || len(got) != 1 || len(got[0].Records) != 0 || ctx.Err() != nil {
		t.Fatalf("%+v %v (ctx %v)", got, err, ctx.Err())
	}
}

func TestTopicConfigsAndCluster(t *testing.T) {
	c, fake, _ := newReadsCluster(t)
	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "a"
	rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	rc.Name, rc.Value = "retention.ms", kmsg.StringPtr("1234")
	res.Configs = append(res.Configs, rc)
	alter.Resources = append(alter.Resources, res)
	admin, err := kgo.NewClient(kgo.SeedBrokers(fake.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if resp, err := alter.RequestWith(context.Background(), admin); err != nil || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("altering configs: %v %+v", err, resp)
	}
	cfgs, err := c.TopicConfigs(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]producer.TopicConfig{}
	for i, e := range cfgs {
		if i > 0 && cfgs[i-1].Name >= e.Name {
			t.Fatalf("not sorted: %s after %s", e.Name, cfgs[i-1].Name)
		}
		byName[e.Name] = e
	}
	if e, ok := byName["retention.ms"]; !ok || e.Value == nil || *e.Value != "1234" || e.Default {
		t.Errorf("retention.ms: %+v %q (of %d entries)", e, deref(e.Value), len(cfgs))
	}
	if e, ok := byName["cleanup.policy"]; !ok || e.Value == nil || *e.Value != "delete" || !e.Default {
		t.Errorf("cleanup.policy: %+v", e)
	}
	if _, err := c.TopicConfigs(context.Background(), "nope"); producer.Classify(err) != producer.ClassUnknownTopic {
		t.Errorf("missing topic: %v", err)
	}

	info, err := c.ClusterState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Brokers) != 3 || info.Topics != nil || info.ID == "" || info.Controller < 0 {
		t.Fatalf("%+v", info)
	}
	for i, b := range info.Brokers {
		if b.NodeID != int32(i) || fmt.Sprintf("%s:%d", b.Host, b.Port) != fake.ListenAddrs()[i] {
			t.Errorf("broker %d: %+v, want %s", i, b, fake.ListenAddrs()[i])
		}
	}
	// Describe gives the replica placement of the same topics.
	d, err := c.Describe(context.Background(), "b")
	if err != nil || len(d.Topics) != 1 || len(d.Topics[0].Partitions) != 3 {
		t.Fatalf("%+v %v", d, err)
	}
	for _, p := range d.Topics[0].Partitions {
		if p.Leader < 0 || len(p.Replicas) == 0 || len(p.ISR) == 0 {
			t.Errorf("partition %+v", p)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
