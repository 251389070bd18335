package confluentv3

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Streaming bounds: records read ahead of their reports, by count and by
// bytes.
const (
	streamQueue      = 1024
	streamQueueBytes = 64 << 20
)

// Stream starts a records request without a declared length as a stream.
func (c *ConfluentV3) Stream(w http.ResponseWriter, r *http.Request, lim dialects.Route) (dialects.Stream, error) {
	if r.ContentLength >= 0 || r.Method != http.MethodPost {
		return nil, nil // Decode answers it
	}
	rt := parseRoute(r.URL.Path)
	if rt.kind != routeRecords {
		return nil, nil
	}
	t, err := c.check(r, rt, lim)
	if err != nil {
		return nil, err
	}
	s := newStream(w, r, lim.MaxBody, t)
	s.st.schemas, s.st.ctx = lim.Schemas, r.Context()
	return s, nil
}

// stream is a records request without a declared length: a reader goroutine
// decodes records into a bounded queue, from which Next takes whatever is
// queued as one batch.
type stream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	r      *http.Request
	q      chan decoded
	bud    *budget
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader returns
	st     *state

	batch   []decoded // Next's buffer: the batch it takes from the queue
	yielded bool      // Next returned a batch
	ended   bool      // the reader sent its last record
	started bool      // the status is written
	out     []byte    // Write's buffer, reused for every batch
}

func newStream(w http.ResponseWriter, r *http.Request, maxRecord int64, t target) *stream {
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // HTTP/2 is always full duplex and says so with an error
	if r.ProtoMajor == 1 {
		// A stream may end before its body does (malformed input, a
		// record too large). net/http then drains the rest after the
		// handler, and with full duplex that drain races the next request
		// on the connection ("invalid concurrent Body.Read call"): a
		// streaming connection is not reused.
		w.Header().Set("Connection", "close")
	}
	ctx, cancel := context.WithCancel(r.Context())
	s := &stream{
		w:      w,
		rc:     rc,
		r:      r,
		q:      make(chan decoded, streamQueue),
		bud:    newBudget(streamQueueBytes),
		cancel: cancel,
		done:   make(chan struct{}),
		st:     newState(t.clusterID, t.topic),
	}
	go func() {
		defer close(s.done)
		defer close(s.q)
		readStream(ctx, r.Body, maxRecord, t.topic, s.q, s.bud)
	}()
	return s
}

// Next waits for a record, then takes every record queued behind it, up to
// max.
func (s *stream) Next(ctx context.Context, max int) (*dialects.Request, error) {
	clear(s.batch)
	s.batch = s.batch[:0]
	if s.ended {
		return nil, io.EOF
	}
	var first decoded
	var ok bool
	select {
	case first, ok = <-s.q:
	case <-ctx.Done():
		ok = false
	}
	if !ok {
		s.ended = true
		switch {
		case s.yielded:
			return nil, io.EOF
		case s.r.Context().Err() != nil:
			// The body's read failed (a server read timeout, the
			// client gone) before any record: not a 200.
			return nil, errReadBody
		}
		return nil, errEmptyBody
	}
	s.batch = append(s.batch, first)
	s.ended = first.fatal
drain:
	for len(s.batch) < max && !s.ended {
		select {
		case d, ok := <-s.q:
			if !ok {
				break drain
			}
			s.batch = append(s.batch, d)
			s.ended = d.fatal
		default:
			break drain
		}
	}
	if !s.yielded && len(s.batch) == 1 && errors.Is(first.err, dialects.ErrBodyTooLarge) {
		return nil, first.err // the first record is too large: a 413, not a report
	}
	s.yielded = true
	// Each batch has its own state (formats, report timestamp): earlier
	// batches are being written while this one is read.
	st := *s.st
	st.formats, st.ids, st.tsText = nil, nil, nil
	for i := range s.batch {
		st.queued += s.batch[i].size
	}
	return request(s.batch, &st), nil
}

// Write writes a batch's reports and flushes them.
func (s *stream) Write(req *dialects.Request, results []producer.Result, err error) error {
	if !s.started {
		s.w.Header().Set("Content-Type", "application/json")
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	st := req.State.(*state)
	s.out = st.appendReports(s.out[:0], req, results, err)
	s.bud.release(st.queued)
	if _, err := s.w.Write(s.out); err != nil {
		return err
	}
	return s.rc.Flush()
}

// Close stops the reader and waits for it.
func (s *stream) Close() {
	s.cancel()
	s.bud.close()
	if !s.ended {
		// The reader may be blocked reading a body the client keeps
		// open: unblock it so that it ends before the handler does.
		_ = s.rc.SetReadDeadline(time.Now())
	}
	<-s.done
}

var errReadBody = &dialects.Error{Class: producer.ClassBadRequest, Message: "reading request body failed"}

// readStream decodes records from body into q until the body ends, a record
// is malformed or too large, or ctx is done.
func readStream(ctx context.Context, body io.Reader, maxBody int64, topic string, q chan<- decoded, bud *budget) {
	sp := newSplitter(body, streamChunk, maxBody, true)
	var me *malformedError // out of the loop: errors.As moves it to the heap
	for {
		raw, err := sp.next()
		var d decoded
		switch {
		case err == nil:
			d = decodeRecord(raw, topic, false)
		case err == io.EOF:
			return
		case errors.Is(err, errSplitTooLarge):
			d = decoded{msg: producer.Message{Topic: topic, Partition: -1}, err: dialects.RecordOverMaxBody(maxBody), fatal: true}
		case errors.As(err, &me):
			d = decoded{msg: producer.Message{Topic: topic, Partition: -1}, err: badRequest("%s", me.msg), fatal: true}
		default:
			return // the client went away, or the handler is ending
		}
		if !bud.acquire(d.size) {
			return
		}
		select {
		case q <- d:
		case <-ctx.Done():
			return
		}
		if d.fatal {
			return
		}
	}
}

// budget bounds the bytes of records read ahead of their reports.
type budget struct {
	mu     sync.Mutex
	cond   sync.Cond
	used   int
	max    int
	closed bool
}

func newBudget(max int) *budget {
	b := &budget{max: max}
	b.cond.L = &b.mu
	return b
}

// acquire waits until n bytes fit (always, when nothing is queued) and takes
// them; false once the budget is closed.
func (b *budget) acquire(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.closed && b.used > 0 && b.used+n > b.max {
		b.cond.Wait()
	}
	b.used += n
	return !b.closed
}

func (b *budget) release(n int) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (b *budget) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cond.Broadcast()
}
