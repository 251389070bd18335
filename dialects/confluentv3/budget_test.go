package confluentv3

import (
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
)

// endless is a body that never ends: the same record, over and over,
// counting the bytes read from it.
type endless struct {
	record string
	off    int
	read   *atomic.Int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], e.record[e.off:])
		e.off = (e.off + c) % len(e.record)
		n += c
	}
	e.read.Add(int64(n))
	return n, nil
}

// TestStreamBufferBoundsManyStreams opens many streams at once whose records
// are read but not yet reported (Kafka has not answered): whatever their
// number, what they hold stays within the route's one stream_buffer, and
// what they read from their bodies within it plus one read buffer each.
// Once reports give the bytes back, the streams read on.
func TestStreamBufferBoundsManyStreams(t *testing.T) {
	const (
		streams = 64
		buffer  = 256 << 10 // the route's stream_buffer
	)
	record := `{"value":{"type":"STRING","data":"` + strings.Repeat("v", 1000) + `"}}`
	bud := dialects.NewBudget(buffer)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var (
		read      atomic.Int64 // bytes read from the bodies
		count     atomic.Int64 // records handed over
		heldBytes atomic.Int64 // their bytes, not yet reported
		mu        sync.Mutex
		held      []decoded
		wg        sync.WaitGroup
	)
	for range streams {
		q := make(chan []decoded, streamQueue/queueChunk)
		var streamHeld atomic.Int64
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer close(q)
			readStream(ctx, &endless{record: record, read: &read}, 1<<20, "t", q, nil, bud, &streamHeld)
		}()
		go func() { // the handler's side: takes every record, reports none yet
			defer wg.Done()
			for chunk := range q {
				mu.Lock()
				for _, d := range chunk {
					held = append(held, d)
					heldBytes.Add(int64(d.size))
				}
				mu.Unlock()
				count.Add(int64(len(chunk)))
			}
		}()
	}
	settle := func() int64 {
		// Until no stream reads on: each waits for the budget.
		last := int64(-1)
		for n := count.Load(); n != last; n = count.Load() {
			last = n
			time.Sleep(300 * time.Millisecond)
		}
		return last
	}
	first := settle()
	if used := bud.Used(); used > buffer || heldBytes.Load() != used {
		t.Fatalf("%d streams hold %d bytes (budget used %d), over stream_buffer %d", streams, heldBytes.Load(), used, buffer)
	}
	// Each stream's splitter reads ahead at most one buffer (streamChunk)
	// besides the record it waits to place.
	if max := int64(buffer + streams*(streamChunk+len(record))); read.Load() > max {
		t.Fatalf("%d streams read %d bytes from their bodies, over %d", streams, read.Load(), max)
	}
	if first == 0 {
		t.Fatal("no stream read a record")
	}
	t.Logf("%d streams: %d records (%d bytes) held, %d bytes read from the bodies, stream_buffer %d", streams, first, heldBytes.Load(), read.Load(), buffer)

	// Reports give the bytes back: the streams read on, still within it.
	mu.Lock()
	for _, d := range held {
		bud.Release(int64(d.size))
	}
	heldBytes.Store(0)
	held = nil
	mu.Unlock()
	if second := settle(); second <= first {
		t.Fatalf("no stream read on after the reports: %d records, %d before", second, first)
	}
	if used := bud.Used(); used > buffer {
		t.Fatalf("after the reports, budget used %d, over %d", used, buffer)
	}
	cancel()
	wg.Wait()
}

var _ io.Reader = (*endless)(nil)
