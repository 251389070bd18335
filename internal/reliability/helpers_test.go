package reliability_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// outcome is how a produce request ended, in dialect-neutral terms.
type outcome int

const (
	outOK          outcome = iota // every record acknowledged
	outUnavailable                // the dialect's timeout or unavailable answer
	outOverload                   // refused as overloaded, with Retry-After
	outOther                      // anything else: always a test failure here
	outError                      // no HTTP answer (transport error, client timeout)
)

func (o outcome) String() string {
	return [...]string{"ok", "unavailable", "overload", "other", "error"}[o]
}

// dialect builds one-record produce requests of a dialect and classifies
// its answers. The record's value starts with the request's id, then '|'.
type dialect struct {
	name  string
	topic string // base topic name
	// request builds a request producing value to topic.
	request func(base, topic string, value []byte) *http.Request
	// classify tells the outcome of an answer.
	classify func(resp *http.Response, body []byte) outcome
}

// allDialects are the five dialects, each on its own path prefix and topic,
// as served by site(). Confluent v3 uses cluster_id c1.
var allDialects = []dialect{
	{name: "webhook", topic: "wh", request: func(base, _ string, v []byte) *http.Request {
		return newReq(base+"/wh/", "text/plain", string(v))
	}, classify: classifySimple},
	{name: "confluent_v3", topic: "v3", request: func(base, topic string, v []byte) *http.Request {
		b, _ := json.Marshal(map[string]any{"value": map[string]any{"type": "STRING", "data": string(v)}})
		return newReq(base+"/v3/clusters/c1/topics/"+topic+"/records", "application/json", string(b))
	}, classify: classifyV3},
	{name: "confluent_v2", topic: "v2", request: func(base, topic string, v []byte) *http.Request {
		b, _ := json.Marshal(map[string]any{"records": []any{map[string]any{"value": base64.StdEncoding.EncodeToString(v)}}})
		return newReq(base+"/v2/topics/"+topic, "application/vnd.kafka.binary.v2+json", string(b))
	}, classify: classifyV2},
	{name: "upstash", topic: "up", request: func(base, topic string, v []byte) *http.Request {
		b, _ := json.Marshal(map[string]any{"value": string(v)})
		return newReq(base+"/up/produce/"+topic, "application/json", string(b))
	}, classify: classifySimple},
	{name: "ibm_event_streams", topic: "ibm", request: func(base, topic string, v []byte) *http.Request {
		return newReq(base+"/ibm/topics/"+topic+"/records", "text/plain", string(v))
	}, classify: classifyIBM},
}

// site is a site block serving every dialect of allDialects with the given
// extra kafka_rest subdirectives (e.g. "timeout 2s").
func site(extra string) string {
	return fmt.Sprintf(`handle_path /wh/* {
		kafka_rest webhook {
			topic {topic.wh}
			%[1]s
		}
	}
	handle_path /v2/* {
		kafka_rest confluent_v2 {
			%[1]s
		}
	}
	handle_path /up/* {
		kafka_rest upstash {
			%[1]s
		}
	}
	handle_path /ibm/* {
		kafka_rest ibm_event_streams {
			%[1]s
		}
	}
	handle /v3/* {
		kafka_rest confluent_v3 {
			cluster_id c1
			%[1]s
		}
	}`, extra)
}

// topicsOf are the topics of dialects, 3 partitions each.
func topicsOf(ds []dialect) map[string]int32 {
	m := map[string]int32{}
	for _, d := range ds {
		m[d.topic] = 3
	}
	return m
}

func newReq(url, contentType, body string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", contentType)
	return req
}

// simpleErr is the {"error","status"} envelope of webhook and upstash.
type simpleErr struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func classifySimple(resp *http.Response, body []byte) outcome {
	if resp.StatusCode == http.StatusOK {
		return outOK
	}
	var e simpleErr
	if json.Unmarshal(body, &e) != nil || e.Status != resp.StatusCode || e.Error == "" {
		return outOther
	}
	return unavailableOrOverload(resp, http.StatusGatewayTimeout, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
}

// unavailableOrOverload classifies an error status: overload must carry
// Retry-After; the timeout and unavailable answers must not.
func unavailableOrOverload(resp *http.Response, timeout, unavailable, overload int) outcome {
	ra := resp.Header.Get("Retry-After") != ""
	switch {
	case resp.StatusCode == overload && ra:
		return outOverload
	case (resp.StatusCode == timeout || resp.StatusCode == unavailable) && !ra:
		return outUnavailable
	}
	return outOther
}

func classifyIBM(resp *http.Response, body []byte) outcome {
	if resp.StatusCode == http.StatusOK {
		return outOK
	}
	var e struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil || e.ErrorCode != resp.StatusCode || e.Message == "" {
		return outOther
	}
	return unavailableOrOverload(resp, http.StatusRequestTimeout, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
}

// confluentErr is the error envelope of both Confluent dialects.
type confluentErr struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

func classifyConfluentErr(resp *http.Response, body []byte, overloadCode int) outcome {
	var e confluentErr
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		return outOther
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests && e.ErrorCode == overloadCode && resp.Header.Get("Retry-After") != "":
		return outOverload
	case resp.StatusCode == http.StatusInternalServerError && e.ErrorCode == 50003:
		return outUnavailable
	}
	return outOther
}

func classifyV3(resp *http.Response, body []byte) outcome {
	if resp.StatusCode != http.StatusOK {
		return classifyConfluentErr(resp, body, http.StatusTooManyRequests)
	}
	var rep confluentErr
	if json.Unmarshal(body, &rep) != nil {
		return outOther
	}
	switch rep.ErrorCode {
	case 200:
		return outOK
	case 50003:
		return outUnavailable
	}
	return outOther
}

func classifyV2(resp *http.Response, body []byte) outcome {
	if resp.StatusCode != http.StatusOK {
		return classifyConfluentErr(resp, body, 42901)
	}
	var ans struct {
		Offsets []struct {
			ErrorCode *int `json:"error_code"`
		} `json:"offsets"`
	}
	if json.Unmarshal(body, &ans) != nil || len(ans.Offsets) != 1 {
		return outOther
	}
	switch ec := ans.Offsets[0].ErrorCode; {
	case ec == nil:
		return outOK
	case *ec == 50003:
		return outUnavailable
	}
	return outOther
}

// result is one request of a load run.
type result struct {
	dialect string
	id      string
	outcome outcome
	status  int
	body    string
	err     error
	start   time.Time
	took    time.Duration
}

// load sends produce requests from several writers per dialect until
// stopped, recording every result.
type load struct {
	t       *testing.T
	base    string
	topic   func(string) string
	client  *http.Client
	pad     int           // bytes of padding after the id in each value
	pace    time.Duration // pause between a writer's requests
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []result
	sent    atomic.Int64 // body bytes sent
}

func startLoad(t *testing.T, base string, topic func(string) string, ds []dialect, writers int, client *http.Client, pad int, pace time.Duration) *load {
	l := &load{t: t, base: base, topic: topic, client: client, pad: pad, pace: pace}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	run := runID()
	for _, d := range ds {
		for w := 0; w < writers; w++ {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				for i := 0; l.ctx.Err() == nil; i++ {
					id := fmt.Sprintf("%s-%s-w%d-%d", run, d.topic, w, i)
					l.add(l.one(d, id))
					if l.pace > 0 {
						select {
						case <-time.After(l.pace):
						case <-l.ctx.Done():
						}
					}
				}
			}()
		}
	}
	t.Cleanup(l.stop)
	return l
}

// one sends one request carrying id.
func (l *load) one(d dialect, id string) result {
	return send(l.client, d, l.base, l.topic(d.topic), id, l.pad, &l.sent)
}

func send(client *http.Client, d dialect, base, topic, id string, pad int, sent *atomic.Int64) result {
	value := []byte(id + "|" + strings.Repeat("x", pad))
	req := d.request(base, topic, value)
	if sent != nil {
		sent.Add(req.ContentLength)
	}
	r := result{dialect: d.name, id: id, start: time.Now()}
	resp, err := client.Do(req)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		r.status, r.body = resp.StatusCode, string(b)
		if err == nil {
			r.outcome = d.classify(resp, b)
		}
	}
	r.took = time.Since(r.start)
	if err != nil {
		r.outcome, r.err = outError, err
	}
	return r
}

func (l *load) add(r result) {
	l.mu.Lock()
	l.results = append(l.results, r)
	l.mu.Unlock()
}

// stop ends the load and waits for its writers.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

// snapshot returns the results so far.
func (l *load) snapshot() []result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]result(nil), l.results...)
}

// waitOK waits until every dialect has had an acknowledged request that
// started after since, and returns when each did.
func (l *load) waitOK(t *testing.T, ds []dialect, since time.Time, max time.Duration) map[string]time.Time {
	t.Helper()
	deadline := time.Now().Add(max)
	for {
		first := map[string]time.Time{}
		for _, r := range l.snapshot() {
			if r.outcome == outOK && !r.start.Before(since) {
				if f, ok := first[r.dialect]; !ok || r.start.Before(f) {
					first[r.dialect] = r.start
				}
			}
		}
		if len(first) == len(ds) {
			return first
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, only %d of %d dialects answered 2xx again: %v", max, len(first), len(ds), first)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tally counts results by dialect and outcome.
func tally(rs []result) string {
	counts := map[string]map[outcome]int{}
	for _, r := range rs {
		if counts[r.dialect] == nil {
			counts[r.dialect] = map[outcome]int{}
		}
		counts[r.dialect][r.outcome]++
	}
	var names []string
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s:", n)
		for o := outOK; o <= outError; o++ {
			if c := counts[n][o]; c > 0 {
				fmt.Fprintf(&b, " %s=%d", o, c)
			}
		}
		b.WriteString("; ")
	}
	return b.String()
}

// readBack reads every record of topic once the topic's end offsets have
// stopped moving (records the gateway still buffers land first), and counts
// them by id (the value up to '|').
func readBack(t testing.TB, brokers []string, topic string) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ends kadm.ListedOffsets
	for prev := ""; ; {
		ends, err = adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("end offsets of %s: %v", topic, err)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		cur := fmt.Sprint(ends)
		if cur == prev {
			break
		}
		prev = cur
		time.Sleep(700 * time.Millisecond)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	counts := map[string]int{}
	if len(want) == 0 {
		return counts
	}
	offsets := map[string]map[int32]kgo.Offset{topic: {}}
	for p := range want {
		offsets[topic][p] = kgo.NewOffset().AtStart()
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(offsets), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for len(want) > 0 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s back: still missing offsets up to %v", topic, want)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			id, _, _ := strings.Cut(string(r.Value), "|")
			counts[id]++
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return counts
}

// checkExactlyOnce checks the records read back against the answers: every
// acknowledged id exactly once, ids refused before producing never, and no
// id twice or unknown. It returns how many records it checked.
func checkExactlyOnce(t *testing.T, rs []result, brokers []string, topic func(string) string, ds []dialect, refusedMeansAbsent bool) int {
	t.Helper()
	checked := 0
	for _, d := range ds {
		seen := readBack(t, brokers, topic(d.topic))
		sent := map[string]outcome{}
		for _, r := range rs {
			if r.dialect == d.name {
				sent[r.id] = r.outcome
			}
		}
		acked, lost, dup, unknown, refusedWritten := 0, 0, 0, 0, 0
		for id, o := range sent {
			switch {
			case o == outOK:
				acked++
				if seen[id] != 1 {
					lost++
					if lost <= 3 {
						t.Errorf("%s: acknowledged record %s is in Kafka %d times", d.name, id, seen[id])
					}
				}
			case o == outOverload && refusedMeansAbsent && seen[id] != 0:
				refusedWritten++
				if refusedWritten <= 3 {
					t.Errorf("%s: record %s refused as overloaded is in Kafka %d times", d.name, id, seen[id])
				}
			}
		}
		for id, n := range seen {
			if _, ok := sent[id]; !ok {
				unknown++
				if unknown <= 3 {
					t.Errorf("%s: record %q in Kafka was never sent", d.name, id)
				}
			} else if n > 1 && sent[id] != outOK {
				dup++
				if dup <= 3 {
					t.Errorf("%s: record %s (answered %v) is in Kafka %d times", d.name, id, sent[id], n)
				}
			}
			checked += n
		}
		t.Logf("%s: %d sent, %d acknowledged, %d in Kafka", d.name, len(sent), acked, len(seen))
	}
	return checked
}

// leakPatterns are internals an error body must never show: addresses,
// Go error texts, stack traces, file paths, the Kafka client's name.
var leakPatterns = []string{"127.0.0.1", "localhost", "[::1]", "dial tcp", "connection refused", "connection reset",
	"i/o timeout", "broken pipe", "EOF", "goroutine ", "panic", ".go:", "/root/", "/home/", "/tmp/", "franz", "kgo",
	"context deadline", "context canceled", "runtime error"}

// checkNoLeak fails the test when an error answer shows internals.
func checkNoLeak(t *testing.T, rs []result, brokers []string) int {
	t.Helper()
	checked := 0
	for _, r := range rs {
		if r.outcome == outOK || r.outcome == outError {
			continue
		}
		checked++
		if p := leak(r.body, brokers); p != "" {
			t.Errorf("%s answer %d shows internals (%q): %s", r.dialect, r.status, p, r.body)
			return checked
		}
	}
	return checked
}

func leak(body string, brokers []string) string {
	for _, p := range append(append([]string(nil), leakPatterns...), brokers...) {
		if p != "" && strings.Contains(body, p) {
			return p
		}
	}
	return ""
}

func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// heapSampler records the peak Go heap while running.
type heapSampler struct {
	base, peak atomic.Uint64
	stop       chan struct{}
	done       chan struct{}
}

func sampleHeap() *heapSampler {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	h.base.Store(ms.HeapAlloc)
	h.peak.Store(ms.HeapAlloc)
	go func() {
		defer close(h.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > h.peak.Load() {
				h.peak.Store(ms.HeapAlloc)
			}
		}
	}()
	return h
}

// end stops sampling and returns the baseline and the peak, in MiB.
func (h *heapSampler) end() (base, peak float64) {
	close(h.stop)
	<-h.done
	return float64(h.base.Load()) / (1 << 20), float64(h.peak.Load()) / (1 << 20)
}

// gatewayOptions serve every dialect of ds with site(extra).
func gatewayOptions(ds []dialect, extra string) gatewaytest.Options {
	return gatewaytest.Options{Topics: topicsOf(ds), Site: site(extra)}
}

// liveHeap is the Go heap after a collection, in MiB.
func liveHeap() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}
