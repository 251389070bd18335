package producer

import (
	"sync"
	"time"
)

// expiries hands out channels that are closed once a duration has passed,
// rounded up to a tick, so that every wait ending in the same tick shares one
// channel and one timer: a per-request time.Timer would cost each request
// three allocations and a timer-heap insertion and removal, for a deadline
// (delivery_timeout, 30s by default) that almost never fires.
type expiries struct {
	tick time.Duration

	mu    sync.Mutex
	slots map[int64]chan struct{} // by the tick they close at
}

// expiryTick is the precision of a delivery timeout: it fires up to this
// much late.
const expiryTick = 50 * time.Millisecond

func newExpiries(tick time.Duration) *expiries {
	return &expiries{tick: tick, slots: map[int64]chan struct{}{}}
}

// after returns a channel closed no sooner than d from now and at most a
// tick later.
func (e *expiries) after(d time.Duration) <-chan struct{} {
	at := time.Now().Add(d)
	slot := (at.UnixNano() + int64(e.tick) - 1) / int64(e.tick)
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, ok := e.slots[slot]
	if !ok {
		ch = make(chan struct{})
		e.slots[slot] = ch
		time.AfterFunc(time.Until(time.Unix(0, slot*int64(e.tick))), func() {
			e.mu.Lock()
			delete(e.slots, slot)
			e.mu.Unlock()
			close(ch)
		})
	}
	return ch
}
