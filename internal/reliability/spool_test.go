package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
)

// The spool's promise (docs/reliability.md#the-spool): while the spool has
// room and its disk works, a spooling webhook route answers every valid
// request 2xx, and every record it answered 2xx reaches Kafka. These tests
// break the broker (kill -9, SIGSTOP), the gateway (kill -9) and the disk
// (full), and count: requests answered 2xx, records read back, lost,
// duplicates, and the drain rate.

// spoolDupBound is the documented bound on duplicates for one outage: one
// drain batch (1000 records) sent again after an indeterminate failure, plus
// the first attempts in flight when the broker went away.
const spoolDupBound = 1000

func spoolSite(topic string) string {
	return `kafka_ready /ready
	kafka_rest /hook webhook {
		topic ` + topic + `
		spool on
	}`
}

// spoolWriters post unique bodies to url until stopped, and keep every
// answer.
type spoolWriters struct {
	mu       sync.Mutex
	statuses map[int]int
	accepted []string // bodies answered 2xx
	bad      []string
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startSpoolWriters(url string, n int, pause time.Duration) *spoolWriters {
	w := &spoolWriters{statuses: map[int]int{}, stop: make(chan struct{})}
	client := &http.Client{Timeout: 60 * time.Second}
	for i := range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for j := 0; ; j++ {
				select {
				case <-w.stop:
					return
				default:
				}
				body := fmt.Sprintf("w%d-%d", i, j)
				w.post(client, url, body)
				time.Sleep(pause)
			}
		}()
	}
	return w
}

func (w *spoolWriters) post(client *http.Client, url, body string) int {
	resp, err := client.Post(url, "text/plain", strings.NewReader(body))
	status := 0
	var b []byte
	if err == nil {
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.statuses[status]++
	if status == 200 || status == 202 {
		w.accepted = append(w.accepted, body)
	} else if len(w.bad) < 5 {
		w.bad = append(w.bad, fmt.Sprintf("%d %v %s", status, err, b))
	}
	return status
}

func (w *spoolWriters) halt() {
	close(w.stop)
	w.wg.Wait()
}

// adminSpoolRecords is the spool's record count from /kafka/clusters.
func adminSpoolRecords(t *testing.T, adminURL string) int64 {
	t.Helper()
	resp, err := http.Get(adminURL + "/kafka/clusters")
	if err != nil {
		t.Fatalf("GET /kafka/clusters: %v", err)
	}
	defer resp.Body.Close()
	var cs []struct {
		Spool *struct {
			Records int64 `json:"records"`
		} `json:"spool"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cs); err != nil || len(cs) == 0 || cs[0].Spool == nil {
		t.Fatalf("no spool in /kafka/clusters: %v", err)
	}
	return cs[0].Spool.Records
}

// waitSpoolEmpty waits for the drainer to empty the spool and returns how
// long it took.
func waitSpoolEmpty(t *testing.T, adminURL string, max time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		n := adminSpoolRecords(t, adminURL)
		if n == 0 {
			return time.Since(start)
		}
		if time.Since(start) > max {
			t.Fatalf("spool still holds %d records %v after the broker came back", n, max)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSpooling waits until kafka_ready at url answers 200 spooling.
func waitSpooling(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/ready")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(b), "spooling") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("kafka_ready never answered spooling")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readBack counts each value of topic, reading until it has at least want
// records and no more come for a moment.
func readBack(t *testing.T, brokers []string, topic string, want int) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]int{}
	n := 0
	deadline := time.Now().Add(90 * time.Second)
	quiet := 0
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		before := n
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)]++; n++ })
		if n >= want && n == before {
			if quiet++; quiet >= 2 {
				break
			}
		}
	}
	return got
}

// drainedTotal is caddy_kafka_spool_drained_total from the admin /metrics.
func drainedTotal(t *testing.T, adminURL string) float64 {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, `caddy_kafka_spool_drained_total{cluster="default"} `); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	t.Fatal("no caddy_kafka_spool_drained_total in /metrics")
	return 0
}

// tally compares what was answered 2xx with what Kafka holds.
func tally(accepted []string, got map[string]int) (lost, dups int) {
	for _, v := range accepted {
		if got[v] == 0 {
			lost++
		}
	}
	for _, c := range got {
		if c > 1 {
			dups += c - 1
		}
	}
	return lost, dups
}

// TestSpoolBrokerOutage stops the broker under load on a spooling route
// (kill -9, then separately SIGSTOP) for 30 s (5 s on kfake): every request
// is answered 2xx, and once the broker is back every record answered 2xx is
// read back from Kafka, duplicates within the bound.
func TestSpoolBrokerOutage(t *testing.T) {
	for _, mode := range []string{"kill", "sigstop"} {
		t.Run(mode, func(t *testing.T) {
			b := newBroker(t)
			outage := 5 * time.Second
			if b.Real() {
				outage = 30 * time.Second
			}
			g := b.Gateway(t, gatewaytest.Options{
				Topics: map[string]int32{"spool": 3},
				Kafka:  "spool " + t.TempDir(),
				Site:   spoolSite("{topic.spool}"),
			})
			topic := g.Topic("spool")
			w := startSpoolWriters(g.URL+"/hook", 8, 2*time.Millisecond)
			time.Sleep(2 * time.Second)
			if mode == "kill" {
				b.Kill(t)
			} else {
				b.Pause(t)
			}
			time.Sleep(outage)
			spooled := adminSpoolRecords(t, g.AdminURL)
			// The counter lives across gateways of one process.
			drainedBefore := drainedTotal(t, g.AdminURL)
			if mode == "kill" {
				b.Restart(t)
			} else {
				b.Resume(t)
			}
			back := time.Now()
			// The spool must empty while the load goes on (requests
			// arriving behind it queue, but not for ever), and the route
			// answer 200 again after.
			waitSpoolEmpty(t, g.AdminURL, 3*time.Minute)
			drainTook := time.Since(back)
			drained := drainedTotal(t, g.AdminURL) - drainedBefore
			w.mu.Lock()
			okAtDrain := w.statuses[200]
			w.mu.Unlock()
			time.Sleep(2 * time.Second)
			w.halt()
			okAfter := w.statuses[200] - okAtDrain
			requests := 0
			for _, c := range w.statuses {
				requests += c
			}
			got := readBack(t, g.Brokers, topic, len(w.accepted))
			lost, dups := tally(w.accepted, got)
			// The load goes on after the broker is back and queues
			// behind the spool: the rate counts every record drained.
			rate := drained / drainTook.Seconds()
			t.Logf("%s, real broker %v, outage %v: %d requests, answers %v; %d records on the spool at the broker's return, empty %v later with the load going on (health check included), %.0f records drained (%.0f records/s), %d answered 200 in the 2 s after; %d records answered 2xx, %d read back, %d lost, %d duplicates (bound %d)",
				mode, b.Real(), outage, requests, w.statuses, spooled, drainTook.Round(time.Millisecond), drained, rate, okAfter,
				len(w.accepted), len(got), lost, dups, spoolDupBound)
			if okAfter == 0 {
				t.Errorf("no request answered 200 after the spool was drained: the route keeps spooling")
			}
			if len(w.bad) > 0 || w.statuses[200]+w.statuses[202] != requests {
				t.Errorf("requests not answered 2xx: %v", w.bad)
			}
			if w.statuses[202] == 0 || spooled == 0 {
				t.Errorf("nothing was spooled: the outage was not seen")
			}
			if lost > 0 {
				t.Errorf("%d records answered 2xx are not in Kafka", lost)
			}
			if dups > spoolDupBound {
				t.Errorf("%d duplicates, over the bound of %d", dups, spoolDupBound)
			}
		})
	}
}

// TestSpoolGatewayKill9 kills the gateway process (kill -9) while its spool
// holds thousands of records and the broker is down; a new gateway on the
// same spool directory drains them once the broker is back: every record
// answered 202 is in Kafka.
func TestSpoolGatewayKill9(t *testing.T) {
	b := newBroker(t)
	topic := gatewaytest.Unique("spool-kill9")
	if b.Real() {
		createTopics(t, b.Addr, topic)
	}
	dir := t.TempDir()
	caddyfile := func(addr, admin string) string {
		return fmt.Sprintf(`{
	admin %s
	kafka {
		brokers %s
		spool %s
		allow_auto_topic_creation
	}
}
http://%s {
	%s
}`, admin, b.Addr, dir, addr, spoolSite(topic))
	}
	p := relcheck.StartCaddy(t, caddyfile)
	w := &spoolWriters{statuses: map[int]int{}}
	client := &http.Client{Timeout: 60 * time.Second}
	if s := w.post(client, p.URL+"/hook", "before"); s != 200 {
		t.Fatalf("with the broker up: %d %v", s, w.bad)
	}
	b.Kill(t)
	waitSpooling(t, p.URL)
	const n, conc = 3000, 16
	var wg sync.WaitGroup
	for c := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += conc {
				w.post(client, p.URL+"/hook", fmt.Sprint("k", i))
			}
		}()
	}
	wg.Wait()
	if w.statuses[202] != n {
		t.Fatalf("with the broker down: %v, want %d 202s: %v", w.statuses, n, w.bad)
	}
	spooled := adminSpoolRecords(t, "http://"+p.Admin)
	if err := p.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.Wait(30 * time.Second)
	p2 := relcheck.StartCaddy(t, caddyfile)
	recovered := adminSpoolRecords(t, "http://"+p2.Admin)
	b.Restart(t)
	back := time.Now()
	waitSpoolEmpty(t, "http://"+p2.Admin, 3*time.Minute)
	took := time.Since(back)
	got := readBack(t, []string{b.Addr}, topic, len(w.accepted))
	lost, dups := tally(w.accepted, got)
	t.Logf("real broker %v: %d requests answered 202 with the broker down, %d records on the spool at the kill -9, %d recovered by the new gateway, drained in %v (%.0f records/s); %d read back, %d lost, %d duplicates",
		b.Real(), w.statuses[202], spooled, recovered, took.Round(time.Millisecond), float64(recovered)/took.Seconds(), len(got), lost, dups)
	if recovered < int64(n) {
		t.Errorf("the new gateway recovered %d records of the %d answered 202", recovered, n)
	}
	if lost > 0 {
		t.Errorf("%d records answered 2xx are not in Kafka", lost)
	}
	if dups > spoolDupBound {
		t.Errorf("%d duplicates, over the bound of %d", dups, spoolDupBound)
	}
}

// TestSpoolDiskFull puts the spool on a small tmpfs nearly filled by another
// file, with the broker down: requests are answered 202 until the disk is
// full, then 503 with Retry-After; once the file is removed the route
// spools again by itself, and every 202 reaches Kafka. It needs to mount a
// tmpfs (root): skipped otherwise.
func TestSpoolDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20-128<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	b := newBroker(t)
	g := b.Gateway(t, gatewaytest.Options{
		Topics: map[string]int32{"full": 3},
		Kafka:  "spool " + filepath.Join(dir, "spool"),
		Site:   spoolSite("{topic.full}"),
	})
	b.Kill(t)
	waitSpooling(t, g.URL)
	w := &spoolWriters{statuses: map[int]int{}}
	client := &http.Client{Timeout: 60 * time.Second}
	pad := strings.Repeat("x", 2000)
	var full *http.Response
	for i := range 1000 {
		resp, err := client.Post(g.URL+"/hook", "text/plain", strings.NewReader(fmt.Sprint(i, pad)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 503 {
			full = resp
			if !strings.Contains(string(body), `"status":503`) || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("disk full: %s Retry-After %q", body, resp.Header.Get("Retry-After"))
			}
			break
		}
		if resp.StatusCode != 202 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
		w.accepted = append(w.accepted, fmt.Sprint(i, pad))
	}
	if full == nil || len(w.accepted) == 0 {
		t.Fatalf("%d requests spooled and none refused on a full disk", len(w.accepted))
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if s := w.post(client, g.URL+"/hook", "after"); s != 202 {
		t.Fatalf("after the disk has room again: %d %v", s, w.bad)
	}
	b.Restart(t)
	waitSpoolEmpty(t, g.AdminURL, 3*time.Minute)
	got := readBack(t, g.Brokers, g.Topic("full"), len(w.accepted))
	lost, dups := tally(w.accepted, got)
	t.Logf("real broker %v: %d requests answered 202 before the disk was full, then 503; 202 again once it had room; %d read back, %d lost, %d duplicates",
		b.Real(), len(w.accepted)-1, len(got), lost, dups)
	if lost > 0 {
		t.Errorf("%d records answered 2xx are not in Kafka", lost)
	}
}
