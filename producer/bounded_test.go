package producer

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMetadataBoundedByDeadline stalls every new connection's ApiVersions,
// as a broker that accepts TCP and never answers does: franz-go then waits
// for its dial timeout (10s) before it looks at a request's context, and so
// does every request queued behind the first to that broker. The topic
// lookup each produce request makes, and the metadata reads, must still end
// at the caller's deadline, with an error that classifies as a timeout.
func TestMetadataBoundedByDeadline(t *testing.T) {
	c := newCluster(t, 3, "t")
	var stall atomic.Bool
	stall.Store(true)
	t.Cleanup(func() { stall.Store(false) })
	c.ControlKey(int16(kmsg.ApiVersions), func(kmsg.Request) (kmsg.Response, error, bool) {
		if !stall.Load() {
			return nil, nil, false
		}
		c.KeepControl()
		return nil, nil, true // never answered: the connection's init stalls
	})
	cl := newClient(t, c, nil)
	const deadline = 500 * time.Millisecond
	const slack = time.Second
	calls := map[string]func(context.Context) error{
		"Partitions":     func(ctx context.Context) error { _, err := cl.Partitions(ctx, "t"); return err },
		"CheckPartition": func(ctx context.Context) error { return cl.CheckPartition(ctx, "t", 1) },
		"Describe":       func(ctx context.Context) error { _, err := cl.Describe(ctx, "t"); return err },
		"TopicConfigs":   func(ctx context.Context) error { _, err := cl.TopicConfigs(ctx, "t"); return err },
		"ListOffsets": func(ctx context.Context) error {
			_, err := cl.ListOffsets(ctx, OffsetLatest, []TopicPartition{{Topic: "t", Partition: 0}})
			return err
		},
	}
	var wg sync.WaitGroup
	for name, call := range calls {
		for i := 0; i < 2; i++ { // the second queues behind the first
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				defer cancel()
				start := time.Now()
				err := call(ctx)
				took := time.Since(start)
				if err == nil {
					t.Errorf("%s: no error from a stalled broker", name)
					return
				}
				if took > deadline+slack {
					t.Errorf("%s: returned after %v, the deadline was %v: %v", name, took.Round(time.Millisecond), deadline, err)
				}
				if cls := Classify(err); cls != ClassTimeout {
					t.Errorf("%s: %v classifies as %v, want a timeout", name, err, cls)
				}
			}()
		}
	}
	wg.Wait()
}
