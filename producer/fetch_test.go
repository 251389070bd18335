package producer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

// newFetchCluster starts a kfake cluster with topic "t" of 2 partitions and a
// client on it, and counts the ApiVersions requests the cluster sees: one per
// new connection.
func newFetchCluster(tb testing.TB, compression string) (*producer.Client, *atomic.Int64) {
	tb.Helper()
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(fake.Close)
	conns := new(atomic.Int64)
	fake.ControlKey(int16(kmsg.ApiVersions), func(kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		conns.Add(1)
		return nil, nil, false
	})
	cfg := producer.DefaultConfig()
	cfg.Brokers = fake.ListenAddrs()
	cfg.Compression = compression
	c, err := producer.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close(context.Background()) })
	return c, conns
}

func produceN(tb testing.TB, c *producer.Client, partition int32, n int) []producer.Message {
	tb.Helper()
	msgs := make([]producer.Message, n)
	for i := range msgs {
		msgs[i] = producer.Message{Topic: "t", Partition: partition, Value: []byte(fmt.Sprintf("value-%d", i))}
		if i%2 == 0 {
			msgs[i].Key = []byte(fmt.Sprintf("key-%d", i))
		}
	}
	msgs[0].Headers = []producer.Header{{Key: "h", Value: []byte("v")}}
	results, err := c.Produce(context.Background(), msgs)
	if err != nil {
		tb.Fatal(err)
	}
	for i, r := range results {
		if r.Err != nil || r.Offset != int64(i) {
			tb.Fatalf("record %d: %+v", i, r)
		}
	}
	return msgs
}

func TestFetchCompressedBatches(t *testing.T) {
	for _, codec := range []string{"snappy", "none", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			c, _ := newFetchCluster(t, codec)
			msgs := produceN(t, c, 1, 10)
			// From the middle of a batch, bounded by the count.
			recs, err := c.Fetch(context.Background(), "t", 1, 3, 4, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 4 {
				t.Fatalf("got %d records, want 4", len(recs))
			}
			for i, r := range recs {
				m := msgs[3+i]
				if r.Offset != int64(3+i) || r.Partition != 1 || !eq(r.Key, m.Key) || !eq(r.Value, m.Value) || r.Timestamp.IsZero() {
					t.Fatalf("record %d = %+v, want key %q value %q", i, r, m.Key, m.Value)
				}
			}
			recs, err = c.Fetch(context.Background(), "t", 1, 0, 1, 1<<20)
			if err != nil || len(recs) != 1 || len(recs[0].Headers) != 1 || recs[0].Headers[0].Key != "h" || string(recs[0].Headers[0].Value) != "v" {
				t.Fatalf("first record %+v, %v", recs, err)
			}
		})
	}
}

// eq compares bytes telling nil from empty.
func eq(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func TestFetchEndOfPartitionAnswersEmptyBeforeDeadline(t *testing.T) {
	c, _ := newFetchCluster(t, "snappy")
	produceN(t, c, 0, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	recs, err := c.Fetch(ctx, "t", 0, 2, 10, 1<<20)
	if err != nil || len(recs) != 0 {
		t.Fatalf("at the end: %v, %v; want no records and no error", recs, err)
	}
	if ctx.Err() != nil {
		t.Fatal("answered after the deadline")
	}
}

func TestFetchErrors(t *testing.T) {
	c, _ := newFetchCluster(t, "snappy")
	produceN(t, c, 0, 2)
	ctx := context.Background()
	cases := []struct {
		topic     string
		partition int32
		offset    int64
		class     producer.Class
	}{
		{"missing", 0, 0, producer.ClassUnknownTopic},
		{"t", 2, 0, producer.ClassUnknownPartition},
		{"t", -1, 0, producer.ClassUnknownPartition},
		{"t", 0, 3, producer.ClassBadRequest},
		{"t", 0, -1, producer.ClassBadRequest},
	}
	for _, tc := range cases {
		_, err := c.Fetch(ctx, tc.topic, tc.partition, tc.offset, 1, 1<<20)
		if got := producer.Classify(err); got != tc.class {
			t.Errorf("%s/%d@%d: class %v (%v), want %v", tc.topic, tc.partition, tc.offset, got, err, tc.class)
		}
		if tc.class == producer.ClassBadRequest && !errors.Is(err, producer.ErrOffsetOutOfRange) {
			t.Errorf("%s/%d@%d: %v is not ErrOffsetOutOfRange", tc.topic, tc.partition, tc.offset, err)
		}
	}
	// A fetch never creates the topic.
	if _, err := c.Partitions(ctx, "missing"); producer.Classify(err) != producer.ClassUnknownTopic {
		t.Fatalf("missing topic after fetch: %v", err)
	}
}

func TestFetchReusesConnections(t *testing.T) {
	c, conns := newFetchCluster(t, "snappy")
	produceN(t, c, 0, 3)
	if _, err := c.Fetch(context.Background(), "t", 0, 0, 1, 1<<20); err != nil {
		t.Fatal(err)
	}
	before := conns.Load()
	for i := 0; i < 20; i++ {
		if _, err := c.Fetch(context.Background(), "t", 0, int64(i%3), 1, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load() - before; n != 0 {
		t.Fatalf("%d new connections over 20 fetches", n)
	}
}

// BenchmarkConsume fetches one record per call through the shared client and
// reports the connections opened per call, which must stay 0.
func BenchmarkConsume(b *testing.B) {
	c, conns := newFetchCluster(b, "snappy")
	produceN(b, c, 0, 100)
	ctx := context.Background()
	if _, err := c.Fetch(ctx, "t", 0, 0, 1, 1<<20); err != nil {
		b.Fatal(err)
	}
	before := conns.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recs, err := c.Fetch(ctx, "t", 0, int64(i%100), 10, 1<<20)
		if err != nil || len(recs) == 0 {
			b.Fatal(recs, err)
		}
	}
	b.StopTimer()
	opened := conns.Load() - before
	b.ReportMetric(float64(opened)/float64(b.N), "conns/op")
	if opened != 0 {
		b.Fatalf("%d connections opened over %d fetches", opened, b.N)
	}
}
