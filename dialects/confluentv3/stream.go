package confluentv3

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Streaming bounds: records read ahead of their reports, by count (per
// stream; the route's StreamBuffer bounds the bytes of all its streams).
const (
	streamQueue = 1024
	// queueChunk is the most records the reader hands over at once; it
	// hands over fewer rather than wait for the client.
	queueChunk = 64
)

// Stream starts a records request without a declared length as a stream.
func (c *ConfluentV3) Stream(w http.ResponseWriter, r *http.Request, m dialects.Match, lim dialects.Route) (dialects.Stream, error) {
	t, err := c.check(r, routeOf(m), lim)
	if err != nil {
		return nil, err
	}
	s := newStream(w, r, lim.MaxBody, lim.StreamBuffer, t)
	s.st.schemas, s.st.ctx = lim.Schemas, r.Context()
	return s, nil
}

// stream is a records request without a declared length: a reader goroutine
// decodes records into a bounded queue, in chunks, from which Next takes
// whatever is queued as one batch.
type stream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	r      *http.Request
	q      chan []decoded
	free   chan []decoded // chunks Next is done with, for the reader to reuse
	bud    *dialects.Budget
	held   atomic.Int64 // the bytes of bud this stream holds
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader returns
	st     *state

	batch   []decoded // Next's buffer: the batch it takes from the queue
	rest    []decoded // of the last chunk from the queue, what Next left
	chunk   []decoded // that chunk, whole
	yielded bool      // Next returned a batch
	ended   bool      // the reader sent its last record
	started bool      // the status is written
	out     []byte    // Write's buffer, reused for every batch
}

func newStream(w http.ResponseWriter, r *http.Request, maxRecord int64, bud *dialects.Budget, t target) *stream {
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
		q:      make(chan []decoded, streamQueue/queueChunk),
		free:   make(chan []decoded, streamQueue/queueChunk+1),
		bud:    bud,
		cancel: cancel,
		done:   make(chan struct{}),
		st:     newState(t.clusterID, t.topic),
	}
	go func() {
		defer close(s.done)
		defer close(s.q)
		readStream(ctx, r.Body, maxRecord, t.topic, s.q, s.free, s.bud, &s.held)
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
	if len(s.rest) == 0 {
		var ok bool
		select {
		case s.rest, ok = <-s.q:
			s.chunk = s.rest
		case <-ctx.Done():
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
	}
	for {
		n := min(max-len(s.batch), len(s.rest))
		for _, d := range s.rest[:n] {
			s.batch = append(s.batch, d)
			s.ended = d.fatal // the last record of the stream
		}
		s.rest = s.rest[n:]
		if len(s.rest) == 0 {
			clear(s.chunk)
			select {
			case s.free <- s.chunk[:0]:
			default:
			}
			s.chunk = nil
		}
		if len(s.batch) == max || s.ended {
			break
		}
		var ok bool
		select {
		case s.rest, ok = <-s.q:
			s.chunk = s.rest
		default:
		}
		if !ok {
			break
		}
	}
	first := s.batch[0]
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
	s.held.Add(-int64(st.queued))
	s.bud.Release(int64(st.queued))
	if _, err := s.w.Write(s.out); err != nil {
		return err
	}
	return s.rc.Flush()
}

// Close stops the reader and waits for it.
func (s *stream) Close() {
	s.cancel()
	if !s.ended {
		// The reader may be blocked reading a body the client keeps
		// open: unblock it so that it ends before the handler does.
		_ = s.rc.SetReadDeadline(time.Now())
	}
	<-s.done
	// Records read but never reported (the stream ended early) give their
	// bytes back to the route's streams.
	s.bud.Release(s.held.Swap(0))
}

var errReadBody = &dialects.Error{Class: producer.ClassBadRequest, Message: "reading request body failed"}

// readStream decodes records from body into q until the body ends, a record
// is malformed or too large, or ctx is done. It sends them in chunks of up
// to queueChunk records, and what it holds before it waits for the body or
// the budget: a client that waits for a report before it sends more gets it.
// It reuses the chunks Next sends back on free.
func readStream(ctx context.Context, body io.Reader, maxBody int64, topic string, q chan<- []decoded, free <-chan []decoded, bud *dialects.Budget, held *atomic.Int64) {
	var chunk []decoded
	send := func() bool {
		if len(chunk) == 0 {
			return true
		}
		select {
		case q <- chunk:
			chunk = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	defer send()
	sp := newSplitter(body, streamChunk, maxBody, true)
	sp.beforeRead = func() { send() }
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
		case isDialectError(err):
			// The body is corrupt in its Content-Encoding: the stream
			// ends with that error as its last report.
			d = decoded{msg: producer.Message{Topic: topic, Partition: -1}, err: dialects.BodyError(err), fatal: true}
		default:
			return // the client went away, or the handler is ending
		}
		if !bud.TryAcquire(int64(d.size)) && (!send() || !bud.Acquire(ctx, int64(d.size))) {
			return
		}
		held.Add(int64(d.size))
		if chunk == nil {
			select {
			case chunk = <-free:
			default:
				chunk = make([]decoded, 0, queueChunk)
			}
		}
		chunk = append(chunk, d)
		if d.fatal {
			return
		}
		if len(chunk) == queueChunk && !send() {
			return
		}
	}
}

// isDialectError reports whether err carries a *dialects.Error: a function
// of its own so that errors.As's target is allocated only for an error.
func isDialectError(err error) bool {
	var e *dialects.Error
	return errors.As(err, &e)
}
