package relcheck

import (
	"bytes"
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

// Outcome is how a produce request ended, in dialect-neutral terms.
type Outcome int

const (
	OK          Outcome = iota // every record acknowledged
	Unavailable                // the dialect's timeout or unavailable answer
	Overload                   // refused as overloaded, with Retry-After
	Other                      // anything else: always a test failure here
	NoAnswer                   // no HTTP answer (transport error, client timeout)
)

func (o Outcome) String() string {
	return [...]string{"ok", "unavailable", "overload", "other", "error"}[o]
}

// Dialect builds one-record produce requests of a dialect, or requests of
// several records (Batch), and classifies its answers. A record's value
// starts with its id, then '|'.
type Dialect struct {
	Name  string
	Topic string // base topic name
	// Request builds a request producing value to topic.
	Request func(base, topic string, value []byte) *http.Request
	// Batch, instead of Request, builds a request producing values to
	// topic, whose answer gives each record's outcome (ReportJSON).
	Batch func(base, topic string, values [][]byte) *http.Request
	// Retry makes a Load's writer send a request answered unavailable
	// with Retry-After (or not at all) again, the same, until it is
	// answered otherwise or the Load stops, as a client with an
	// Idempotency-Key does; only the last answer is a Result.
	Retry bool
	// Classify tells the Outcome of an answer.
	Classify func(resp *http.Response, body []byte) Outcome
}

// AllDialects are the five dialects, each on its own path prefix and topic,
// as served by Site(). Confluent v3 uses cluster_id c1.
var AllDialects = []Dialect{
	{Name: "webhook", Topic: "wh", Request: func(base, _ string, v []byte) *http.Request {
		return NewRequest(base+"/wh/", "text/plain", string(v))
	}, Classify: ClassifySimple},
	{Name: "confluent_v3", Topic: "v3", Request: func(base, topic string, v []byte) *http.Request {
		b, _ := json.Marshal(map[string]any{"value": map[string]any{"type": "STRING", "data": string(v)}})
		return NewRequest(base+"/v3/clusters/c1/topics/"+topic+"/records", "application/json", string(b))
	}, Classify: ClassifyV3},
	{Name: "confluent_v2", Topic: "v2", Request: func(base, topic string, v []byte) *http.Request {
		b, _ := json.Marshal(map[string]any{"records": []any{map[string]any{"value": base64.StdEncoding.EncodeToString(v)}}})
		return NewRequest(base+"/v2/topics/"+topic, "application/vnd.kafka.binary.v2+json", string(b))
	}, Classify: ClassifyV2},
	{Name: "upstash", Topic: "up", Request: func(base, topic string, v []byte) *http.Request {
		b, _ := json.Marshal(map[string]any{"value": string(v)})
		return NewRequest(base+"/up/produce/"+topic, "application/json", string(b))
	}, Classify: ClassifySimple},
	{Name: "ibm_event_streams", Topic: "ibm", Request: func(base, topic string, v []byte) *http.Request {
		return NewRequest(base+"/ibm/topics/"+topic+"/records", "text/plain", string(v))
	}, Classify: ClassifyIBM},
}

// KeyedUpstash is upstash's one-record request with an Idempotency-Key
// (the record's id), retried until it is answered (Dialect.Retry): every
// record it was answered 2xx for must be in Kafka once, however many
// times it was sent.
var KeyedUpstash = Dialect{Name: "upstash keyed retries", Topic: "upk", Retry: true,
	Request: func(base, topic string, v []byte) *http.Request {
		b, _ := json.Marshal(map[string]any{"value": string(v)})
		req := NewRequest(base+"/up/produce/"+topic, "application/json", string(b))
		id, _, _ := strings.Cut(string(v), "|")
		req.Header.Set("Idempotency-Key", id)
		return req
	}, Classify: ClassifySimple}

// Site is a site block serving every dialect of AllDialects and
// BatchDialects with the given extra kafka_rest subdirectives (e.g.
// "timeout 2s"). The webhook routes' topics are {topic.wh} and
// {topic.whs}.
func Site(extra string) string {
	return fmt.Sprintf(`handle_path /wh/* {
		kafka_rest webhook {
			topic {topic.wh}
			%[1]s
		}
	}
	handle_path /whs/* {
		kafka_rest webhook {
			topic {topic.whs}
			split lines
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

// TopicsOf are the topics of dialects, 3 partitions each.
func TopicsOf(ds []Dialect) map[string]int32 {
	m := map[string]int32{}
	for _, d := range ds {
		m[d.Topic] = 3
	}
	return m
}

func NewRequest(url, contentType, body string) *http.Request {
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

func ClassifySimple(resp *http.Response, body []byte) Outcome {
	if resp.StatusCode == http.StatusOK {
		return OK
	}
	var e simpleErr
	if json.Unmarshal(body, &e) != nil || e.Status != resp.StatusCode || e.Error == "" {
		return Other
	}
	return unavailableOrOverload(resp, body, http.StatusGatewayTimeout, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
}

// unavailableOrOverload classifies an error status: overload must carry
// Retry-After; the timeout and unavailable answers may (Result.RetryAfter
// tells, for the tests that require it). Where overload and unavailable
// share a status, the message tells them apart.
func unavailableOrOverload(resp *http.Response, body []byte, timeout, unavailable, overload int) Outcome {
	ra := resp.Header.Get("Retry-After") != ""
	if resp.StatusCode == overload && ra && (overload != unavailable || bytes.Contains(body, []byte("overloaded"))) {
		return Overload
	}
	if resp.StatusCode == timeout || resp.StatusCode == unavailable {
		return Unavailable
	}
	return Other
}

func ClassifyIBM(resp *http.Response, body []byte) Outcome {
	if resp.StatusCode == http.StatusOK {
		return OK
	}
	var e struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil || e.ErrorCode != resp.StatusCode || e.Message == "" {
		return Other
	}
	return unavailableOrOverload(resp, body, http.StatusRequestTimeout, http.StatusServiceUnavailable, http.StatusServiceUnavailable)
}

// confluentErr is the error envelope of both Confluent dialects.
type confluentErr struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

func classifyConfluentErr(resp *http.Response, body []byte, overloadCode int) Outcome {
	var e confluentErr
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		return Other
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests && e.ErrorCode == overloadCode && resp.Header.Get("Retry-After") != "":
		return Overload
	case resp.StatusCode == http.StatusInternalServerError && e.ErrorCode == 50003:
		return Unavailable
	}
	return Other
}

func ClassifyV3(resp *http.Response, body []byte) Outcome {
	if resp.StatusCode != http.StatusOK {
		return classifyConfluentErr(resp, body, http.StatusTooManyRequests)
	}
	var rep confluentErr
	if json.Unmarshal(body, &rep) != nil {
		return Other
	}
	switch rep.ErrorCode {
	case 200:
		return OK
	case 50003:
		return Unavailable
	}
	return Other
}

func ClassifyV2(resp *http.Response, body []byte) Outcome {
	if resp.StatusCode != http.StatusOK {
		return classifyConfluentErr(resp, body, 42901)
	}
	var ans struct {
		Offsets []struct {
			ErrorCode *int `json:"error_code"`
		} `json:"offsets"`
	}
	if json.Unmarshal(body, &ans) != nil || len(ans.Offsets) != 1 {
		return Other
	}
	switch ec := ans.Offsets[0].ErrorCode; {
	case ec == nil:
		return OK
	case *ec == 50003:
		return Unavailable
	}
	return Other
}

// Result is one request of a Load run.
type Result struct {
	Dialect string
	ID      string
	Outcome Outcome
	Status  int
	Body    string
	Err     error
	Start   time.Time
	Took    time.Duration
	// RetryAfter is whether the answer had a Retry-After header.
	RetryAfter bool
	// At is where the answer says Kafka put the record, when it says.
	At *Position
}

// Load sends produce requests from several writers per dialect until
// stopped, recording every Result.
type Load struct {
	t       *testing.T
	base    string
	Topic   func(string) string
	client  *http.Client
	pad     int           // bytes of padding after the id in each value
	pace    time.Duration // pause between a writer's requests
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []Result
	Sent    atomic.Int64 // body bytes sent
	Retries atomic.Int64 // requests sent again (Dialect.Retry)
}

// StartLoad starts writers goroutines per dialect of ds, each sending one
// request after another (pausing pace between them) until Stop.
func StartLoad(t *testing.T, base string, topic func(string) string, ds []Dialect, writers int, client *http.Client, pad int, pace time.Duration) *Load {
	l := &Load{t: t, base: base, Topic: topic, client: client, pad: pad, pace: pace}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	run := RunID()
	for _, d := range ds {
		for w := 0; w < writers; w++ {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				for i := 0; l.ctx.Err() == nil; i++ {
					id := fmt.Sprintf("%s-%s-w%d-%d", run, d.Topic, w, i)
					rs := l.One(d, id)
					for d.Retry && len(rs) == 1 && (rs[0].Outcome == Unavailable && rs[0].RetryAfter || rs[0].Outcome == NoAnswer) {
						select {
						case <-time.After(100 * time.Millisecond):
						case <-l.ctx.Done():
						}
						if l.ctx.Err() != nil {
							break
						}
						l.Retries.Add(1)
						rs = l.One(d, id)
					}
					for _, r := range rs {
						l.Add(r)
					}
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
	t.Cleanup(l.Stop)
	return l
}

// BatchSize is the number of records of a Batch dialect's requests.
const BatchSize = 5

// One sends one request carrying id: its result, or those of its records
// (id-0 to id-4) for a Batch dialect.
func (l *Load) One(d Dialect, id string) []Result {
	if d.Batch != nil {
		return SendBatch(l.client, d, l.base, l.Topic(d.Topic), id, l.pad, &l.Sent)
	}
	return []Result{Send(l.client, d, l.base, l.Topic(d.Topic), id, l.pad, &l.Sent)}
}

// Send sends one request of dialect d carrying id, padded with pad bytes,
// and classifies its answer. sent, if not nil, counts the body bytes.
func Send(client *http.Client, d Dialect, base, topic, id string, pad int, sent *atomic.Int64) Result {
	value := []byte(id + "|" + strings.Repeat("x", pad))
	req := d.Request(base, topic, value)
	if sent != nil {
		sent.Add(req.ContentLength)
	}
	r := Result{Dialect: d.Name, ID: id, Start: time.Now()}
	resp, err := client.Do(req)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		r.Status, r.Body = resp.StatusCode, string(b)
		r.RetryAfter = resp.Header.Get("Retry-After") != ""
		if err == nil {
			r.Outcome = d.Classify(resp, b)
		}
	}
	r.Took = time.Since(r.Start)
	if err != nil {
		r.Outcome, r.Err = NoAnswer, err
	}
	if r.Outcome == OK {
		if rep := ReportJSON([]byte(r.Body)); len(rep) == 1 && rep[0].Written {
			r.At = &rep[0].At
		}
	}
	return r
}

// SendBatch sends one request of the Batch dialect d with BatchSize
// records, id-0 to id-4, and returns each record's result: the request's
// outcome when it failed whole, else the record's own from the answer (OK
// at its position, or Unavailable for an error in its place, as a 207
// gives, without Retry-After).
func SendBatch(client *http.Client, d Dialect, base, topic, id string, pad int, sent *atomic.Int64) []Result {
	ids := make([]string, BatchSize)
	values := make([][]byte, BatchSize)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%d", id, i)
		values[i] = []byte(ids[i] + "|" + strings.Repeat("x", pad))
	}
	req := d.Batch(base, topic, values)
	if sent != nil && req.ContentLength > 0 {
		sent.Add(req.ContentLength)
	}
	one := Send(client, Dialect{Name: d.Name, Request: func(string, string, []byte) *http.Request { return req }, Classify: d.Classify}, base, topic, id, 0, nil)
	one.At = nil
	out := make([]Result, len(ids))
	var rep []Reported
	if one.Outcome == OK || one.Status == http.StatusMultiStatus {
		if rep = ReportJSON([]byte(one.Body)); len(rep) != len(ids) {
			one.Outcome = Other // an answer without every record's outcome
		}
	}
	for i := range out {
		out[i] = one
		out[i].ID = ids[i]
		if len(rep) != len(ids) {
			continue
		}
		if rep[i].Written {
			out[i].Outcome, out[i].At = OK, &rep[i].At
		} else {
			out[i].Outcome = Unavailable
		}
	}
	return out
}

// Add records a result.
func (l *Load) Add(r Result) {
	l.mu.Lock()
	l.results = append(l.results, r)
	l.mu.Unlock()
}

// Stop ends the Load and waits for its writers.
func (l *Load) Stop() {
	l.cancel()
	l.wg.Wait()
}

// Snapshot returns the results so far.
func (l *Load) Snapshot() []Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Result(nil), l.results...)
}

// WaitOK waits until every dialect has had an acknowledged request that
// started after since, and returns when each did.
func (l *Load) WaitOK(t *testing.T, ds []Dialect, since time.Time, max time.Duration) map[string]time.Time {
	t.Helper()
	deadline := time.Now().Add(max)
	for {
		first := map[string]time.Time{}
		for _, r := range l.Snapshot() {
			if r.Outcome == OK && !r.Start.Before(since) {
				if f, ok := first[r.Dialect]; !ok || r.Start.Before(f) {
					first[r.Dialect] = r.Start
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

// Tally counts results by Dialect and Outcome.
func Tally(rs []Result) string {
	counts := map[string]map[Outcome]int{}
	for _, r := range rs {
		if counts[r.Dialect] == nil {
			counts[r.Dialect] = map[Outcome]int{}
		}
		counts[r.Dialect][r.Outcome]++
	}
	var names []string
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s:", n)
		for o := OK; o <= NoAnswer; o++ {
			if c := counts[n][o]; c > 0 {
				fmt.Fprintf(&b, " %s=%d", o, c)
			}
		}
		b.WriteString("; ")
	}
	return b.String()
}

// ReadBack reads every record of topic once the topic's end offsets have
// stopped moving (records the gateway still buffers land first), and counts
// them by id (the value up to '|').
func ReadBack(t testing.TB, brokers []string, topic string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for id, at := range ReadBackAt(t, brokers, topic) {
		counts[id] = len(at)
	}
	return counts
}

// ReadBackAt is ReadBack giving where each record is.
func ReadBackAt(t testing.TB, brokers []string, topic string) map[string][]Position {
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
	counts := map[string][]Position{}
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
			counts[id] = append(counts[id], Position{r.Partition, r.Offset})
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return counts
}

// CheckExactlyOnce checks the records read back against the answers: every
// acknowledged id exactly once, ids refused before producing never, and no
// id twice or unknown. It returns how many records it checked.
func CheckExactlyOnce(t testing.TB, rs []Result, brokers []string, topic func(string) string, ds []Dialect, refusedMeansAbsent bool) int {
	t.Helper()
	return Check(t, rs, brokers, topic, ds, refusedMeansAbsent).Checked
}

// Counts is what Check found in Kafka for a run's answers.
type Counts struct {
	Checked int // records read back
	Acked   int // requests answered 2xx, each in Kafka once
	Placed  int // of them, answered with a partition and offset, each there
	// The indeterminate answers (unavailable or timed out, or none at
	// all), by what became of their record: written once anyway, or not
	// written.
	ErrWritten, ErrAbsent int
}

func (c Counts) String() string {
	return fmt.Sprintf("%d acknowledged, each in Kafka once (%d at the partition and offset answered); of the %d error or missing answers, %d were written anyway (once) and %d not",
		c.Acked, c.Placed, c.ErrWritten+c.ErrAbsent, c.ErrWritten, c.ErrAbsent)
}

// Check is CheckExactlyOnce, returning what it counted.
func Check(t testing.TB, rs []Result, brokers []string, topic func(string) string, ds []Dialect, refusedMeansAbsent bool) Counts {
	t.Helper()
	var c Counts
	checked := 0
	for _, d := range ds {
		at := ReadBackAt(t, brokers, topic(d.Topic))
		seen := map[string]int{}
		for id, ps := range at {
			seen[id] = len(ps)
		}
		sent := map[string]Outcome{}
		misplaced := 0
		for _, r := range rs {
			if r.Dialect != d.Name {
				continue
			}
			sent[r.ID] = r.Outcome
			if r.Outcome == OK && r.At != nil {
				c.Placed++
				if len(at[r.ID]) != 1 || at[r.ID][0] != *r.At {
					misplaced++
					if misplaced <= 3 {
						t.Errorf("%s: record %s was answered as written at %v, and is in Kafka at %v", d.Name, r.ID, *r.At, at[r.ID])
					}
				}
			}
		}
		acked, lost, dup, unknown, refusedWritten := 0, 0, 0, 0, 0
		for id, o := range sent {
			switch {
			case o == OK:
				acked++
				if seen[id] != 1 {
					lost++
					if lost <= 3 {
						t.Errorf("%s: acknowledged record %s is in Kafka %d times", d.Name, id, seen[id])
					}
				}
			case o == Unavailable || o == NoAnswer:
				if seen[id] > 0 {
					c.ErrWritten++
				} else {
					c.ErrAbsent++
				}
			case o == Overload && refusedMeansAbsent && seen[id] != 0:
				refusedWritten++
				if refusedWritten <= 3 {
					t.Errorf("%s: record %s refused as overloaded is in Kafka %d times", d.Name, id, seen[id])
				}
			}
		}
		for id, n := range seen {
			if _, ok := sent[id]; !ok {
				unknown++
				if unknown <= 3 {
					t.Errorf("%s: record %q in Kafka was never sent", d.Name, id)
				}
			} else if n > 1 && sent[id] != OK {
				dup++
				if dup <= 3 {
					t.Errorf("%s: record %s (answered %v) is in Kafka %d times", d.Name, id, sent[id], n)
				}
			}
			checked += n
		}
		t.Logf("%s: %d sent, %d acknowledged, %d in Kafka", d.Name, len(sent), acked, len(seen))
		c.Acked += acked
	}
	c.Checked = checked
	return c
}

// leakPatterns are internals an error body must never show: addresses,
// Go error texts, stack traces, file paths, the Kafka client's name.
var leakPatterns = []string{"127.0.0.1", "localhost", "[::1]", "dial tcp", "connection refused", "connection reset",
	"i/o timeout", "broken pipe", "EOF", "goroutine ", "panic", ".go:", "/root/", "/home/", "/tmp/", "franz", "kgo",
	"context deadline", "context canceled", "runtime error"}

// CheckNoLeak fails the test when an error answer shows internals.
func CheckNoLeak(t *testing.T, rs []Result, brokers []string) int {
	t.Helper()
	checked := 0
	for _, r := range rs {
		if r.Outcome == OK || r.Outcome == NoAnswer {
			continue
		}
		checked++
		if p := Leak(r.Body, brokers); p != "" {
			t.Errorf("%s answer %d shows internals (%q): %s", r.Dialect, r.Status, p, r.Body)
			return checked
		}
	}
	return checked
}

func Leak(body string, brokers []string) string {
	for _, p := range append(append([]string(nil), leakPatterns...), brokers...) {
		if p != "" && strings.Contains(body, p) {
			return p
		}
	}
	return ""
}

func RunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// HeapSampler records the peak Go heap while running.
type HeapSampler struct {
	base, peak atomic.Uint64
	stop       chan struct{}
	done       chan struct{}
}

func SampleHeap() *HeapSampler {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &HeapSampler{stop: make(chan struct{}), done: make(chan struct{})}
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

// End stops sampling and returns the baseline and the peak, in MiB.
func (h *HeapSampler) End() (base, peak float64) {
	close(h.stop)
	<-h.done
	return float64(h.base.Load()) / (1 << 20), float64(h.peak.Load()) / (1 << 20)
}

// GatewayOptions serve every dialect of ds with Site(extra).
func GatewayOptions(ds []Dialect, extra string) gatewaytest.Options {
	return gatewaytest.Options{Topics: TopicsOf(ds), Site: Site(extra)}
}

// LiveHeap is the Go heap after a collection, in MiB.
func LiveHeap() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}
