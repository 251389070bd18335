package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// prober sends single-record requests in a scenario's request shape, each
// with a unique value, and keeps where they were acknowledged.
type prober struct {
	client  *http.Client
	url     string
	d       *dialect
	bulk    bool
	prefix  string
	n       int64
	ok      int64
	non2xx  int64
	errs    int64
	acked   []sent
	failure []string // wrong answers: failed checks
	notes   []string // non-2xx answers and errors: flagged, not failed
}

func newProber(base string, sc *scenario, topic, prefix string) *prober {
	return &prober{
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}},
		url:    base + sc.dialect.path(topic),
		d:      sc.dialect,
		bulk:   sc.bulk(),
		prefix: prefix,
	}
}

func (p *prober) fail(format string, args ...any) {
	if len(p.failure) < 10 {
		p.failure = append(p.failure, fmt.Sprintf(format, args...))
	}
}

func (p *prober) note(format string, args ...any) {
	if n := fmt.Sprintf(format, args...); len(p.notes) < 3 && !slices.Contains(p.notes, n) {
		p.notes = append(p.notes, n)
	}
}

// once sends one record and checks the answer's shape.
func (p *prober) once(ctx context.Context) {
	value := appendValue(nil, p.prefix, p.n)
	p.n++
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.d.body([][]byte{value}, p.bulk)))
	if err != nil {
		p.errs++
		p.note("probe: %v", err)
		return
	}
	for k, v := range p.d.headers {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			p.errs++
			p.note("probe: %v", err)
		}
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		p.errs++
		p.note("probe: reading answer: %v", err)
		return
	}
	if resp.StatusCode/100 != 2 {
		p.non2xx++
		p.note("probe answered %d: %.300s", resp.StatusCode, body)
		return
	}
	acks, err := p.d.parse(body)
	if err != nil || len(acks) != 1 {
		// A 2xx that does not say where the record went is a wrong answer.
		p.fail("probe: 2xx answer without one acknowledgement (%v): %.300s", err, body)
		return
	}
	stored, err := p.d.stored(value)
	if err != nil {
		p.fail("probe: %v", err)
		return
	}
	p.ok++
	p.acked = append(p.acked, sent{acks[0], stored})
}

// run probes every interval until ctx is done.
func (p *prober) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.once(ctx)
		}
	}
}

// start runs the prober in the background; the returned function stops it
// and waits.
func (p *prober) start(every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { p.run(ctx, every) })
	return func() {
		cancel()
		wg.Wait()
		p.client.CloseIdleConnections()
	}
}

// sample keeps at most n of s, evenly spread.
func sample(s []sent, n int) []sent {
	if n <= 0 || len(s) <= n {
		return s
	}
	out := make([]sent, 0, n)
	for i := range n {
		out = append(out, s[i*len(s)/n])
	}
	return out
}
