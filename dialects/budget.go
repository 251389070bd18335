package dialects

import (
	"context"
	"sync"
)

// Budget bounds the bytes that the streams of a route hold read ahead of
// their reports, whatever their number: each stream takes bytes from it as
// it reads a record and gives them back once the record's report is
// written. A record always fits when the budget is empty, so one larger than
// the whole budget waits for the others, not for ever.
type Budget struct {
	mu      sync.Mutex
	used    int64
	max     int64
	changed chan struct{} // closed and replaced when bytes are given back
}

// NewBudget returns a budget of max bytes.
func NewBudget(max int64) *Budget { return &Budget{max: max} }

// TryAcquire takes n bytes if they fit, without waiting, and reports
// whether it did.
func (b *Budget) TryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used > 0 && b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

// Acquire waits until n bytes fit and takes them; false if ctx ends first.
func (b *Budget) Acquire(ctx context.Context, n int64) bool {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return true
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// Release gives n bytes back.
func (b *Budget) Release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	b.mu.Unlock()
}

// Used is the bytes taken now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Max is the budget's size in bytes.
func (b *Budget) Max() int64 { return b.max }
