package reliability_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
)

// TestOverload stalls the broker with a small producer buffer and floods
// every dialect: once the buffer is full, requests are refused at once with
// the dialect's overload status and Retry-After and nothing of theirs is
// written; the Go heap stays bounded however much is sent; when the broker
// answers again, so does the gateway.
func TestOverload(t *testing.T) {
	const (
		timeout = 20 * time.Second // longer than the stall
		// Per dialect. The 1MiB buffer holds three 256KiB records, whose
		// requests then wait out the stall: with more writers than that,
		// every dialect keeps one free to be refused, whichever dialects'
		// requests took the buffer (with 3, one dialect could take it all
		// and never see an overload answer).
		writers = 5
		pad     = 256 << 10
		// The heap may grow by this much over its baseline at its peak
		// (garbage included) and after a collection at the end of the
		// stall: the buffer (1MiB), the bodies in flight (15 x 256KiB,
		// in a few copies on both sides of the connection), franz-go.
		// Measured 28-34MiB peak on a quiet machine, 148MiB peak and 48MiB
		// live on one at load 30, where more requests are in flight at
		// once. A gateway that kept refused bodies would pass them
		// quickly: 256MiB and more are sent during the stall.
		peakBound, liveBound = 192, 64
	)
	b := newBroker(t)
	o := relcheck.GatewayOptions(relcheck.AllDialects, "timeout "+timeout.String())
	o.Kafka = "max_buffered_records 16\n max_buffered_bytes 1MiB\n max_message_bytes 512KiB"
	g := b.Gateway(t, o)
	client := &http.Client{Timeout: timeout + 5*time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()

	// Warm up: topic metadata and the v3 cluster ID are cached before the
	// broker stalls.
	var warm []relcheck.Result
	for _, d := range relcheck.AllDialects {
		r := relcheck.Send(client, d, g.URL, g.Topic(d.Topic), "warmup-"+d.Topic, 0, nil)
		if r.Outcome != relcheck.OK {
			t.Fatalf("%s warm-up: %d %s %v", d.Name, r.Status, r.Body, r.Err)
		}
		warm = append(warm, r)
	}

	b.Pause(t)
	heap := relcheck.SampleHeap()
	pausedAt := time.Now()
	l := relcheck.StartLoad(t, g.URL, g.Topic, relcheck.AllDialects, writers, client, pad, 0)
	// Stall for 3s at least, 6s at most (under the real broker's 9s session
	// timeout: it pauses its controller too), until 256MiB have been sent.
	for time.Since(pausedAt) < 3*time.Second || l.Sent.Load() < 256<<20 && time.Since(pausedAt) < 6*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	sent := l.Sent.Load()
	base, peak := heap.End()
	live := relcheck.LiveHeap()
	b.Resume(t)
	resumedAt := time.Now()
	// Load drops, then each dialect must be answered again. (Under the
	// flood itself shedding is not fair: on a loaded machine one dialect
	// can keep finding the 16-record buffer full for a long time.)
	l.Stop()
	rs := append(warm, l.Snapshot()...)
	var recovered time.Duration
	for _, d := range relcheck.AllDialects {
		for i := 0; ; i++ {
			r := relcheck.Send(client, d, g.URL, g.Topic(d.Topic), fmt.Sprintf("after-%s-%d", d.Topic, i), 0, nil)
			rs = append(rs, r)
			if r.Outcome == relcheck.OK {
				recovered = max(recovered, time.Since(resumedAt))
				break
			}
			if time.Since(resumedAt) > 20*time.Second {
				t.Fatalf("%s: no 2xx 20s after the broker resumed and the load stopped: %d %s %v", d.Name, r.Status, r.Body, r.Err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	overloaded, duringStall := map[string]int{}, map[string]int{}
	var slowest time.Duration
	for _, r := range rs {
		switch r.Outcome {
		case relcheck.OK, relcheck.Unavailable:
		case relcheck.Overload:
			overloaded[r.Dialect]++
			slowest = max(slowest, r.Took)
			if r.Start.Add(r.Took).Before(resumedAt) {
				duringStall[r.Dialect]++
			}
			if r.Took >= timeout {
				t.Errorf("%s: overload answer after %v, the route's timeout", r.Dialect, r.Took.Round(time.Millisecond))
			}
		case relcheck.NoAnswer:
			t.Errorf("%s: request %s got no answer: %v", r.Dialect, r.ID, r.Err)
		default:
			t.Errorf("%s: request %s answered %d, not ok, timeout, unavailable or overload: %s", r.Dialect, r.ID, r.Status, r.Body)
		}
	}
	// "At once": an answer that waited for Kafka or for the route's
	// timeout (longer than the stall) could not come during the stall.
	for _, d := range relcheck.AllDialects {
		if duringStall[d.Name] == 0 {
			t.Errorf("%s: no request was refused as overloaded while the broker was stalled (%d after)", d.Name, overloaded[d.Name])
		}
	}
	if peak-base > peakBound || live-base > liveBound {
		t.Errorf("Go heap grew from %.1fMiB to a peak of %.1fMiB, %.1fMiB live at the end, while %dMiB were sent to a stalled broker", base, peak, live, sent>>20)
	}
	if sent < 4*liveBound<<20 {
		t.Logf("only %dMiB sent during the stall (loaded machine?): the heap bound proves little", sent>>20)
	}
	leaks := relcheck.CheckNoLeak(t, rs, []string{b.Addr})
	checked := relcheck.CheckExactlyOnce(t, rs, []string{b.Addr}, g.Topic, relcheck.AllDialects, true)
	t.Logf("real broker: %v; %d requests (%s); slowest overload answer %v; heap %.1fMiB -> peak %.1fMiB, %.1fMiB live at the end, while %dMiB were sent in %v; %d error bodies checked for leaks; %d records read back; first 2xx of every dialect %v after the broker resumed",
		b.Real(), len(rs), strings.TrimSuffix(relcheck.Tally(rs), "; "), slowest.Round(time.Millisecond), base, peak, live, sent>>20,
		resumedAt.Sub(pausedAt).Round(time.Millisecond), leaks, checked, recovered.Round(time.Millisecond))
}
