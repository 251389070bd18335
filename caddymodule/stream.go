package caddymodule

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// streamBatch is the most records of a stream produced in one call: a client
// sending in lockstep gets batches of one, a flood large ones.
const streamBatch = 500

// streamDepth is the most batches of one stream on their way to Kafka at
// once: the next batches are read and produced while the first are
// acknowledged, so a stream is not one Kafka round trip per batch. Batches
// are as small as what the client has sent when one is taken, often tens of
// records: 8 held a stream to 350k records/s, 16 to 500k, 32 and 64 reach
// 530-600k (64 with 5 MiB more RSS). The dialect's read-ahead budget bounds
// the bytes.
const streamDepth = 32

// serveStream drives a streaming request: each batch the dialect reads goes
// through the same policy as a one-shot request and is produced at once;
// a second goroutine waits for each batch's results, in order, and hands
// them to the dialect to write. The first batch decides the status: refused
// whole, it is answered as a one-shot request would be; after it, failures
// are the dialect's per-batch reports.
func (h *Handler) serveStream(w http.ResponseWriter, r *http.Request, s dialects.Stream) {
	defer s.Close()
	// Cancelled when the answer cannot be written any more: Next stops.
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	maxBatch := min(streamBatch, h.MaxRecords)
	var (
		flights chan *flight
		written chan producer.Class
		records int
		topic   string
		mine    []*producer.Pending // the stream's, oldest first; some may be done
	)
read:
	for {
		batch, err := s.Next(ctx, maxBatch)
		if err == io.EOF {
			break
		}
		if err != nil {
			if flights == nil {
				h.fail(w, r, err, 0)
				return
			}
			break
		}
		if flights == nil && h.hasKey(r) {
			// Refused once a record is read, not before: a client still
			// sending would see its connection reset instead of the answer.
			h.fail(w, r, errIdemStream, 0)
			return
		}
		f := h.startFlight(r, batch, &mine)
		if flights == nil {
			if f.err != nil {
				f.cancel()
				h.fail(w, r, f.err, len(batch.Records))
				return
			}
			flights, written = make(chan *flight, streamDepth-1), make(chan producer.Class, 1)
			go func() { written <- h.writeFlights(s, flights, stop) }()
			topic = batch.Records[0].Topic
		}
		records += len(batch.Records)
		select {
		case flights <- f:
		case <-ctx.Done(): // the client is gone, or a Write failed
			f.cancel()
			break read
		}
	}
	if flights == nil {
		return // the dialect's Next broke its contract: EOF before any batch
	}
	close(flights)
	outcome := <-written
	h.metrics.request(outcome)
	// Once, when nothing else uses the request: the log fields of the whole
	// stream.
	h.annotate(r, topic, records, outcome)
}

// flight is a batch of a stream on its way to Kafka: refused whole (err),
// or what is left to produce of it and, unless nothing is, its Pending.
type flight struct {
	batch  *dialects.Request
	o      outstanding
	p      *producer.Pending
	err    error
	ctx    context.Context // bounds the batch by the handler's timeout
	cancel context.CancelFunc
	start  time.Time
	// traceEnd ends the batch's producer span (trace_context), if any.
	traceEnd func([]producer.Result, error)
}

// startFlight applies the handler's policy to batch and starts producing
// what passes it. The buffer being full is overload only when none of the
// stream's own batches (mine) holds part of it: a stream waits for its
// earlier batches, as a client waits for its earlier requests, and is not
// refused for them.
func (h *Handler) startFlight(r *http.Request, batch *dialects.Request, mine *[]*producer.Pending) *flight {
	f := &flight{batch: batch, start: time.Now()}
	f.ctx, f.cancel = h.withTimeout(r.Context())
	if f.o, f.err = h.admit(f.ctx, r, batch); f.err != nil || len(f.o.todo) == 0 {
		return f
	}
	todo, traceEnd := h.traced(r, f.o.todo)
	f.traceEnd = traceEnd
	for {
		f.p, f.err = h.client.Start(todo)
		if !errors.Is(f.err, producer.ErrOverloaded) || len(*mine) == 0 {
			break
		}
		select {
		case <-(*mine)[0].Done():
			*mine = (*mine)[1:]
		case <-f.ctx.Done():
			return f
		}
	}
	if f.p != nil {
		for len(*mine) > 0 && isDone((*mine)[0]) {
			*mine = (*mine)[1:]
		}
		*mine = append(*mine, f.p)
	}
	return f
}

func isDone(p *producer.Pending) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// writeFlights waits for each flight's results in order and writes them,
// and returns the stream's outcome: that of its first batch that was not
// OK. Once a Write fails it stops the stream and lets the flights still
// coming go without waiting for them.
func (h *Handler) writeFlights(s dialects.Stream, flights <-chan *flight, stop context.CancelFunc) producer.Class {
	outcome := producer.ClassOK
	failed := false
	for f := range flights {
		if failed {
			f.cancel()
			continue
		}
		var results []producer.Result
		c := producer.ClassOK
		switch {
		case f.err != nil:
			c = dialects.ErrorOf(f.err).Class
			h.metrics.refused(c, len(f.batch.Records))
		case f.p == nil:
			results = f.o.refused
			c = h.metrics.produced(f.start, results)
		default:
			results = f.o.merge(f.p.Wait(f.ctx))
			c = h.metrics.produced(f.start, results)
		}
		if f.traceEnd != nil {
			f.traceEnd(results, f.err)
		}
		f.cancel()
		if outcome == producer.ClassOK {
			outcome = c
		}
		if err := s.Write(f.batch, results, f.err); err != nil {
			failed = true
			stop()
		}
	}
	return outcome
}
