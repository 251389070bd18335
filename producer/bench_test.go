package producer

import (
	"runtime"

	"context"
	"github.com/twmb/franz-go/pkg/kfake"
	"testing"
)

// BenchmarkProduceConcurrent is the gateway's single-record path: 64
// goroutines (on 2 cores), each producing one 100-byte record at a time and
// waiting for its acknowledgement, against an in-process kfake broker.
func BenchmarkProduceConcurrent(b *testing.B) {
	cl := benchClient(b)
	value := make([]byte, 100)
	b.SetParallelism(64 / max(1, testingProcs()))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			res, err := cl.Produce(ctx, []Message{{Topic: "bench", Partition: -1, Value: value}})
			if err != nil || res[0].Err != nil {
				b.Errorf("produce: %v %v", err, res[0].Err)
				return
			}
		}
	})
}

// BenchmarkProduceBulk produces 1,000-record requests one after another, the
// bulk path; ns/op is per request.
func BenchmarkProduceBulk(b *testing.B) {
	cl := benchClient(b)
	msgs := make([]Message, 1000)
	for i := range msgs {
		msgs[i] = Message{Topic: "bench", Partition: -1, Value: make([]byte, 100)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res, err := cl.Produce(context.Background(), msgs)
		if err != nil || res[0].Err != nil {
			b.Fatalf("produce: %v %v", err, res[0].Err)
		}
	}
	b.ReportMetric(float64(b.N*len(msgs))/b.Elapsed().Seconds(), "records/s")
}

func benchClient(b *testing.B) *Client {
	b.Helper()
	c, err := kfakeBlackhole()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	cl, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cl.Close(context.Background()) })
	return cl
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }

// kfakeBlackhole is a one-broker kfake cluster that acknowledges without
// storing, so a long benchmark measures the producer, not kfake's heap.
func kfakeBlackhole() (*kfake.Cluster, error) {
	return kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "bench"), kfake.BlackholeProduce())
}
