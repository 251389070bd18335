package reliability_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
)

// TestGracefulShutdown runs the gateway as a process under steady load,
// stalls the broker so that every writer has a request in flight, answers a
// few more with a route timeout shorter than the stall (their records stay
// buffered), then stops the process (SIGTERM, SIGINT, or `caddy stop`
// through the admin API) and lets the broker go: the listener closes at
// once, every request already sent gets its 2xx (no reset), the records
// answered with a timeout are flushed too, and the process exits by itself,
// with status 0. Every acknowledged and every flushed record is in Kafka
// exactly once.
//
// Reloads under load, with the cluster unchanged and changed, are
// caddymodule's TestReloadUnderLoadDropsNothing (run against the real broker
// in CI too).
func TestGracefulShutdown(t *testing.T) {
	b := newBroker(t)
	run := relcheck.RunID()
	wh, v3 := "shutdown-wh-"+run, "shutdown-v3-"+run
	createTopics(t, b.Addr, wh, v3)
	topic := func(base string) string { return map[string]string{"wh": wh, "v3": v3}[base] }
	ds := []relcheck.Dialect{relcheck.AllDialects[0], relcheck.AllDialects[1]} // webhook, confluent_v3
	caddyfile := func(addr, admin string) string {
		return fmt.Sprintf(`{
	admin %s
	kafka {
		brokers %s
	}
}
http://%s {
	handle_path /wh/* {
		kafka_rest webhook {
			topic %s
		}
	}
	handle_path /short/* {
		kafka_rest webhook {
			topic %s
			timeout 300ms
		}
	}
	handle /v3/* {
		kafka_rest confluent_v3 {
			cluster_id c1
		}
	}
}
`, admin, b.Addr, addr, wh, wh)
	}
	var all []relcheck.Result
	for _, stop := range []struct {
		name string
		do   func(t *testing.T, p *relcheck.CaddyProc)
	}{
		{"SIGTERM", func(t *testing.T, p *relcheck.CaddyProc) { signalProc(t, p, syscall.SIGTERM) }},
		{"SIGINT", func(t *testing.T, p *relcheck.CaddyProc) { signalProc(t, p, syscall.SIGINT) }},
		{"caddy stop", func(t *testing.T, p *relcheck.CaddyProc) {
			// What `caddy stop` does: POST /stop to the admin API, which
			// answers once the apps have stopped, that is after the
			// requests in flight: do not wait for it.
			go func() {
				resp, err := http.Post("http://"+p.Admin+"/stop", "", nil)
				if err == nil {
					resp.Body.Close()
				}
			}()
		}},
	} {
		t.Run(stop.name, func(t *testing.T) {
			p := relcheck.StartCaddy(t, caddyfile)
			w := startTracedWriters(t, p.URL, topic, ds, 3)
			w.waitOK(t, ds, 15*time.Second)
			time.Sleep(500 * time.Millisecond)

			b.Pause(t)
			// Every writer now has a request in flight that cannot finish.
			w.waitAllWritten(t, 10*time.Second)
			short := make([]relcheck.Result, 4)
			for i := range short {
				short[i] = relcheck.Send(http.DefaultClient, relcheck.Dialect{Name: "webhook-timeout", Request: func(base, _ string, v []byte) *http.Request {
					return relcheck.NewRequest(base+"/short/", "text/plain", string(v))
				}, Classify: relcheck.ClassifySimple}, p.URL, wh, fmt.Sprintf("%s-short-%s-%d", run, stop.name, i), 0, nil)
				if short[i].Status != http.StatusGatewayTimeout {
					t.Fatalf("a request with a 300ms timeout on a stalled broker: %d %s %v", short[i].Status, short[i].Body, short[i].Err)
				}
			}
			inflight := w.inFlight()

			stopAt := time.Now()
			stop.do(t, p)
			for !p.Refusing() {
				if time.Since(stopAt) > 10*time.Second {
					t.Fatal("the listener still accepts connections 10s after the stop")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if n := w.completedSince(stopAt); n != 0 {
				t.Fatalf("%d requests completed while the broker was stalled", n)
			}
			b.Resume(t)
			state, ok := p.Wait(30 * time.Second)
			if !ok {
				t.Fatalf("the process has not exited 30s after the broker came back")
			}
			exitAfter := time.Since(stopAt)
			w.stop()
			if !state.Exited() || state.ExitCode() != 0 {
				t.Errorf("the process ended with %v, not exit status 0", state)
			}
			trs := w.snapshot()
			refused := 0
			for _, r := range trs {
				switch {
				case r.Outcome == relcheck.OK:
				case r.Outcome == relcheck.NoAnswer && !r.wrote:
					refused++ // after the listener closed: never sent
				default:
					t.Errorf("%s request %s (sent: %v) ended %v %d %s %v", r.Dialect, r.ID, r.wrote, r.Outcome, r.Status, r.Body, r.Err)
				}
			}
			for i := range short {
				short[i].Dialect, short[i].Outcome = "webhook", relcheck.OK // flushed: must be in Kafka once
			}
			rs := resultsOf(trs)
			all = append(append(all, rs...), short...)
			t.Logf("%d requests (%s), %d in flight at the stop all answered 2xx, %d refused at connect after it; %d timed-out records to flush; exited %v after the stop",
				len(rs), relcheck.Tally(rs), inflight, refused, len(short), exitAfter.Round(time.Millisecond))
		})
	}
	if t.Failed() {
		return // a failed stop leaves records the check would call unknown
	}
	checked := relcheck.CheckExactlyOnce(t, all, []string{b.Addr}, topic, ds, false)
	t.Logf("real broker: %v; %d records read back and matched", b.Real(), checked)
}

func signalProc(t *testing.T, p *relcheck.CaddyProc, sig os.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// tracedResult is a result that knows whether the request was written.
type tracedResult struct {
	relcheck.Result
	wrote bool
}

// tracedWriters post one request at a time each, on a new connection every
// time, and record whether each request was written before it failed.
type tracedWriters struct {
	mu       sync.Mutex
	results  []tracedResult
	pending  map[int]time.Time // writer -> when its current request was written
	done     atomic.Bool
	wg       sync.WaitGroup
	finished []time.Time
	count    int // writers
}

func startTracedWriters(t *testing.T, base string, topic func(string) string, ds []relcheck.Dialect, perDialect int) *tracedWriters {
	w := &tracedWriters{pending: map[int]time.Time{}}
	run := relcheck.RunID()
	n := 0
	w.mu.Lock() // until count is set
	defer w.mu.Unlock()
	for _, d := range ds {
		for i := 0; i < perDialect; i++ {
			slot := n
			n++
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
				for j := 0; !w.done.Load(); j++ {
					id := fmt.Sprintf("%s-%s-%d-%d", run, d.Topic, slot, j)
					req := d.Request(base, topic(d.Topic), []byte(id+"|"))
					var wrote atomic.Bool
					req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
						WroteRequest: func(httptrace.WroteRequestInfo) {
							wrote.Store(true)
							w.mu.Lock()
							w.pending[slot] = time.Now()
							w.mu.Unlock()
						},
					}))
					r := tracedResult{Result: relcheck.Result{Dialect: d.Name, ID: id, Start: time.Now()}}
					resp, err := client.Do(req)
					if err == nil {
						var body []byte
						body, err = io.ReadAll(resp.Body)
						resp.Body.Close()
						r.Status, r.Body = resp.StatusCode, string(body)
						if err == nil {
							r.Outcome = d.Classify(resp, body)
						}
					}
					if err != nil {
						r.Outcome, r.Err = relcheck.NoAnswer, err
					}
					r.Took, r.wrote = time.Since(r.Start), wrote.Load()
					w.mu.Lock()
					delete(w.pending, slot)
					w.results = append(w.results, r)
					w.finished = append(w.finished, time.Now())
					w.mu.Unlock()
					if err != nil {
						time.Sleep(20 * time.Millisecond) // the listener is closed
					}
				}
			}()
		}
	}
	w.count = n
	t.Cleanup(w.stop)
	return w
}

// waitOK waits for a 2xx in every dialect.
func (w *tracedWriters) waitOK(t *testing.T, ds []relcheck.Dialect, max time.Duration) {
	t.Helper()
	deadline := time.Now().Add(max)
	for {
		ok := map[string]bool{}
		for _, r := range w.snapshot() {
			if r.Outcome == relcheck.OK {
				ok[r.Dialect] = true
			}
		}
		if len(ok) == len(ds) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 2xx in every dialect after %v: %s", max, relcheck.Tally(resultsOf(w.snapshot())))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitAllWritten waits until every writer has had a request written, and
// unanswered, for 300ms: with the broker stalled, all are in flight.
func (w *tracedWriters) waitAllWritten(t *testing.T, max time.Duration) {
	t.Helper()
	deadline := time.Now().Add(max)
	for {
		w.mu.Lock()
		n, total := 0, w.total()
		for _, at := range w.pending {
			if time.Since(at) > 300*time.Millisecond {
				n++
			}
		}
		w.mu.Unlock()
		if n == total {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writers have a request in flight after %v", n, total, max)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *tracedWriters) total() int { return w.count }

func (w *tracedWriters) inFlight() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// completedSince counts requests answered after at.
func (w *tracedWriters) completedSince(at time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, f := range w.finished {
		if f.After(at) {
			n++
		}
	}
	return n
}

func (w *tracedWriters) stop() {
	w.done.Store(true)
	w.wg.Wait()
}

func (w *tracedWriters) snapshot() []tracedResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]tracedResult(nil), w.results...)
}

func resultsOf(trs []tracedResult) []relcheck.Result {
	rs := make([]relcheck.Result, len(trs))
	for i := range trs {
		rs[i] = trs[i].Result
	}
	return rs
}
