package producer

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkProduceConcurrent is the gateway's single-record path: 64
// goroutines (on 2 cores), each producing one 100-byte record at a time and
// waiting for its acknowledgement, against an in-process kfake broker that
// acknowledges without storing. kgo-sync is franz-go's own ProduceSync from
// the same goroutines on the same broker (the naive handler's path), so the
// difference is this package's cost; cpu-ns/op is the process's CPU time
// (broker included) per record, less sensitive than ns/op to other load on
// the machine.
func BenchmarkProduceConcurrent(b *testing.B) {
	value := make([]byte, 100)
	b.Run("gateway", func(b *testing.B) {
		cl := benchClient(b, nil)
		benchParallel(b, func(ctx context.Context) error {
			res, err := cl.Produce(ctx, []Message{{Topic: "bench", Partition: -1, Value: value}})
			if err != nil {
				return err
			}
			return res[0].Err
		})
	})
	b.Run("kgo-sync", func(b *testing.B) {
		kc := benchKgo(b)
		benchParallel(b, func(ctx context.Context) error {
			return kc.ProduceSync(ctx, &kgo.Record{Topic: "bench", Value: value}).FirstErr()
		})
	})
}

func benchParallel(b *testing.B, produce func(context.Context) error) {
	b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	cpu := startCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := produce(ctx); err != nil {
				b.Errorf("produce: %v", err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpu.since())/float64(b.N), "cpu-ns/op")
}

// BenchmarkProduceBulk produces 1,000-record requests one after another, the
// bulk path; ns/op is per request, cpu-ns/op per record.
func BenchmarkProduceBulk(b *testing.B) {
	msgs := make([]Message, 1000)
	for i := range msgs {
		msgs[i] = Message{Topic: "bench", Partition: -1, Value: make([]byte, 100)}
	}
	b.Run("gateway", func(b *testing.B) {
		cl := benchClient(b, nil)
		benchBulk(b, len(msgs), func() error {
			res, err := cl.Produce(context.Background(), msgs)
			if err != nil {
				return err
			}
			return res[0].Err
		})
	})
	b.Run("kgo-sync", func(b *testing.B) {
		kc := benchKgo(b)
		recs := make([]*kgo.Record, len(msgs))
		benchBulk(b, len(msgs), func() error {
			for i := range recs {
				recs[i] = &kgo.Record{Topic: "bench", Value: msgs[i].Value}
			}
			return kc.ProduceSync(context.Background(), recs...).FirstErr()
		})
	})
}

func benchBulk(b *testing.B, n int, produce func() error) {
	b.ReportAllocs()
	cpu := startCPU()
	b.ResetTimer()
	for range b.N {
		if err := produce(); err != nil {
			b.Fatalf("produce: %v", err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(cpu.since())/float64(b.N*n), "cpu-ns/record")
}

func benchClient(b *testing.B, mod func(*Config)) *Client {
	b.Helper()
	c, err := kfakeBlackhole()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	if mod != nil {
		mod(&cfg)
	}
	cl, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cl.Close(context.Background()) })
	return cl
}

// benchKgo is a franz-go client with the gateway's default settings, as
// the naive handler has.
func benchKgo(b *testing.B) *kgo.Client {
	b.Helper()
	c, err := kfakeBlackhole()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	opts, err := cfg.opts()
	if err != nil {
		b.Fatal(err)
	}
	kc, err := kgo.NewClient(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(kc.Close)
	return kc
}

// kfakeBlackhole is a one-broker kfake cluster that acknowledges without
// storing, so a long benchmark measures the producer, not kfake's heap.
func kfakeBlackhole() (*kfake.Cluster, error) {
	return kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "bench"), kfake.BlackholeProduce())
}

// cpuClock is the process's user+system CPU time at a point.
type cpuClock time.Duration

func startCPU() cpuClock { return cpuClock(processCPU()) }

func (c cpuClock) since() time.Duration { return processCPU() - time.Duration(c) }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
