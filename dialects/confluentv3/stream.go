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
// bytes, and the most records produced in one call.
const (
	streamQueue      = 1024
	streamQueueBytes = 64 << 20
	streamBatch      = 500
)

// readAll reads every record of a body that has a length. It stops after
// malformed input, whose record carries the error.
func readAll(r *http.Request, maxBody int64, topic string) ([]decoded, error) {
	sp := newSplitter(r.Body, wholeChunk(r.ContentLength), maxBody, false)
	var recs []decoded
	var mbe *http.MaxBytesError // out of the loop: errors.As moves it to the heap
	for {
		raw, err := sp.next()
		if err == io.EOF {
			return recs, nil
		}
		switch {
		case errors.As(err, &mbe), errors.Is(err, errSplitTooLarge):
			return nil, errTooLarge
		case err != nil:
			var me *malformedError
			if !errors.As(err, &me) {
				return nil, &dialects.Error{Class: producer.ClassBadRequest, Message: "reading request body failed", Err: err}
			}
			return append(recs, decoded{err: badRequest("%s", me.msg), fatal: true}), nil
		}
		d := decodeRecord(raw, topic, false)
		if recs == nil {
			recs = make([]decoded, 0, recordsEstimate(r.ContentLength, len(raw)))
		}
		recs = append(recs, d)
		if d.fatal {
			return recs, nil
		}
	}
}

// recordsEstimate guesses how many records a body of n bytes holds from its
// first record's size, for bulk requests whose records look alike: a little
// more, so that the slice is not grown, and at most one per 32 bytes.
func recordsEstimate(n int64, first int) int {
	est := n / int64(first+1)
	return int(min(est+est/8+1, n/32+1, 1<<16))
}

// request builds the handler's request for records, with the reports' state.
func request(recs []decoded, st *state) *dialects.Request {
	req := &dialects.Request{Records: make([]producer.Message, len(recs)), PerRecord: true, State: st}
	st.formats = st.formats[:0]
	for i := range recs {
		req.Records[i] = recs[i].msg
		st.formats = append(st.formats, recs[i].formats)
		if recs[i].err != nil {
			if req.Errs == nil {
				req.Errs = make([]error, len(recs))
			}
			req.Errs[i] = recs[i].err
		}
	}
	return req
}

// produceWhole serves a records request whose body has a length: read it
// all, produce it in one call, answer the reports at once.
func (c *ConfluentV3) produceWhole(w http.ResponseWriter, r *http.Request, k dialects.Kafka, clusterID, topic string) {
	maxBody := k.Limits().MaxBody
	if r.ContentLength > maxBody {
		c.WriteError(w, r, errTooLarge)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	recs, err := readAll(r, maxBody, topic)
	if err == nil && len(recs) == 0 {
		err = errEmptyBody
	}
	if err != nil {
		c.WriteError(w, r, err)
		return
	}
	req := request(recs, newState(clusterID, topic))
	results, err := k.Produce(r.Context(), req)
	if err != nil {
		c.WriteError(w, r, err)
		return
	}
	_ = c.Encode(w, r, req, results)
}

// stream serves a records request without a declared length: a reader
// goroutine decodes records into a bounded queue while this one produces
// whatever is queued as one batch, writes its reports in order and flushes
// them. A client sending in lockstep gets batches of one; a flood gets large
// batches.
func (c *ConfluentV3) stream(w http.ResponseWriter, r *http.Request, k dialects.Kafka, clusterID, topic string) {
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
	q := make(chan decoded, streamQueue)
	bud := newBudget(streamQueueBytes)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(q)
		readStream(ctx, r.Body, k.Limits().MaxBody, topic, q, bud)
	}()
	readerEnded := false // the reader sent its last record
	defer func() {
		cancel()
		bud.close()
		if !readerEnded {
			// The reader may be blocked reading a body the client keeps
			// open: unblock it so that it ends before this handler does.
			_ = rc.SetReadDeadline(time.Now())
		}
		<-done
	}()

	maxBatch := streamBatch
	if n := k.Limits().MaxRecords; n > 0 && n < maxBatch {
		maxBatch = n
	}
	st := newState(clusterID, topic)
	var (
		batch   []decoded
		buf     []byte
		started bool // the status is written
	)
	for {
		var first decoded
		var ok bool
		select {
		case first, ok = <-q:
		case <-ctx.Done():
			if !started {
				// The body's read failed (a server read timeout, the
				// client gone) before any record: not a 200.
				c.WriteError(w, r, errReadBody)
			}
			return
		}
		if !ok {
			readerEnded = true
			break
		}
		batch = append(batch[:0], first)
		fatal := first.fatal
		readerEnded = fatal
	drain:
		for len(batch) < maxBatch && !fatal {
			select {
			case d, ok := <-q:
				if !ok {
					break drain
				}
				batch = append(batch, d)
				fatal, readerEnded = d.fatal, d.fatal
			default:
				break drain
			}
		}

		if !started && len(batch) == 1 && errors.Is(first.err, errTooLarge) {
			c.WriteError(w, r, errTooLarge)
			return
		}
		req := request(batch, st)
		req.Streamed = true
		var results []producer.Result
		var perr error
		if req.Errs == nil || hasRecord(req.Errs) {
			results, perr = k.Produce(ctx, req)
			if perr != nil && !started {
				c.WriteError(w, r, perr)
				return
			}
		}
		if !started {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		buf = buf[:0]
		size := 0
		for i := range batch {
			err := batch[i].err
			if err == nil {
				err = perr
			}
			var res producer.Result
			if results != nil {
				res = results[i]
			}
			buf = st.appendReport(buf, batch[i].formats, &batch[i].msg, res, err)
			size += batch[i].size
		}
		batch = batch[:0] // let the records go before waiting on the client
		bud.release(size)
		if _, err := w.Write(buf); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if fatal {
			return
		}
	}
	if !started {
		if r.Context().Err() != nil {
			c.WriteError(w, r, errReadBody) // the reader ended on a failed read
			return
		}
		c.WriteError(w, r, errEmptyBody)
	}
}

var errReadBody = &dialects.Error{Class: producer.ClassBadRequest, Message: "reading request body failed"}

// hasRecord reports whether some record of a batch decoded.
func hasRecord(errs []error) bool {
	for _, err := range errs {
		if err == nil {
			return true
		}
	}
	return false
}

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
			d = decoded{err: errTooLarge, fatal: true}
		case errors.As(err, &me):
			d = decoded{err: badRequest("%s", me.msg), fatal: true}
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
