package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// streamPrefix is the id prefix of streamed values: record n's value is
// appendValue(nil, streamPrefix, n).
const streamPrefix = "s-"

// Every streamSample-th record's send time and acknowledgement are kept.
const streamSample = 64

// streamBody is a request body that generates confluent_v3 records, one per
// line, until its deadline.
type streamBody struct {
	deadline time.Time
	ctx      context.Context
	n        int64  // records generated
	pending  []byte // the rest of the current record
	rec      []byte

	mu    sync.Mutex
	sends []time.Time // send time of records 0, streamSample, 2*streamSample...
	total int64       // n, for the reader of reports
}

func (b *streamBody) Read(p []byte) (int, error) {
	if len(b.pending) == 0 && (!time.Now().Before(b.deadline) || b.ctx.Err() != nil) {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		if len(b.pending) == 0 {
			if n > 0 && len(p)-n < 200 {
				break // the next record would be cut: send whole records
			}
			b.rec = appendValue(append(b.rec[:0], `{"value":{"type":"JSON","data":`...), streamPrefix, b.n)
			b.rec = append(b.rec, "}}\n"...)
			b.mu.Lock()
			if b.n%streamSample == 0 {
				b.sends = append(b.sends, time.Now())
			}
			b.n++
			b.total = b.n
			b.mu.Unlock()
			b.pending = b.rec
		}
		c := copy(p[n:], b.pending)
		b.pending = b.pending[c:]
		n += c
	}
	return n, nil
}

// sendTime is when sampled record i was generated, false if it was not.
func (b *streamBody) sendTime(i int64) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i%streamSample != 0 || i/streamSample >= int64(len(b.sends)) {
		return time.Time{}, false
	}
	return b.sends[i/streamSample], true
}

// generated is how many records the body has generated.
func (b *streamBody) generated() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// streamResult is what the streaming connection measured.
type streamResult struct {
	sentRecords int64
	ok, failed  int64
	status      int
	elapsed     time.Duration
	latencies   []time.Duration
	samples     []sent // every streamSample-th acknowledged record
	failures    []string
	notes       []string // failed reports: flagged, not failed
}

// runStream streams records over one chunked request to url for d, reads
// every report, and checks that each record got one, in order.
func runStream(ctx context.Context, url string, d time.Duration) streamResult {
	var res streamResult
	fail := func(format string, args ...any) {
		if len(res.failures) < 10 {
			res.failures = append(res.failures, fmt.Sprintf(format, args...))
		}
	}
	body := &streamBody{deadline: time.Now().Add(d), ctx: ctx}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		fail("%v", err)
		return res
	}
	req.ContentLength = -1 // chunked: the streaming mode
	req.Header.Set("Content-Type", "application/json")
	tr := &http.Transport{WriteBufferSize: 64 << 10, ReadBufferSize: 64 << 10, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		fail("streaming request: %v", err)
		return res
	}
	defer resp.Body.Close()
	res.status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
		fail("streaming answer %d: %s", resp.StatusCode, b)
		return res
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	last := map[int32]int64{}
	var i int64 // the report's record
	for ; ; i++ {
		line, err := br.ReadSlice('\n')
		if err == io.EOF && len(line) == 0 {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			fail("reading report %d: %v", i, err)
			break
		}
		p, off, code, perr := parseReport(line)
		if perr != nil {
			fail("report %d: %v: %.200q", i, perr, line)
			break
		}
		if code != 200 {
			res.failed++
			if res.failed <= 3 {
				res.notes = append(res.notes, fmt.Sprintf("record %d: report %.200q", i, line))
			}
			continue
		}
		res.ok++
		if prev, seen := last[p]; seen && off <= prev {
			fail("report %d out of order: partition %d offset %d after %d", i, p, off, prev)
		}
		last[p] = off
		if i%streamSample == 0 {
			if t, ok := body.sendTime(i); ok {
				res.latencies = append(res.latencies, time.Since(t))
			}
			res.samples = append(res.samples, sent{ack{p, off}, appendValue(nil, streamPrefix, i)})
		}
	}
	res.elapsed = time.Since(start)
	res.sentRecords = body.generated()
	if i != res.sentRecords {
		fail("%d records sent, %d reports", res.sentRecords, i)
	}
	return res
}

// parseReport reads partition_id, offset and error_code from a report line
// without decoding the whole object: at 300,000+ reports/s, the reader
// must not be what limits the stream.
func parseReport(line []byte) (partition int32, offset int64, code int, err error) {
	c, ok := intField(line, `"error_code":`)
	if !ok {
		return 0, 0, 0, errors.New("no error_code")
	}
	if c != 200 {
		return 0, 0, int(c), nil
	}
	p, ok1 := intField(line, `"partition_id":`)
	o, ok2 := intField(line, `"offset":`)
	if !ok1 || !ok2 {
		return 0, 0, 0, errors.New("no partition_id/offset")
	}
	return int32(p), o, 200, nil
}

func intField(line []byte, name string) (int64, bool) {
	i := bytes.Index(line, []byte(name))
	if i < 0 {
		return 0, false
	}
	rest := line[i+len(name):]
	j := 0
	for j < len(rest) && (rest[j] == '-' || rest[j] >= '0' && rest[j] <= '9') {
		j++
	}
	n, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return n, err == nil
}
