package caddymodule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// keyed is one request of these tests: method POST, with an Idempotency-Key
// unless key is empty.
type keyed struct {
	path, contentType, key, body string
	header                       http.Header
}

// send sends k and returns the status and body. It is safe to call from
// other goroutines than the test's: it reports errors instead of failing.
func (k keyed) send(g *gatewaytest.Gateway) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, g.URL+k.path, strings.NewReader(k.body))
	if err != nil {
		return 0, "", err
	}
	for name, vs := range k.header {
		req.Header[name] = vs
	}
	if k.contentType != "" {
		req.Header.Set("Content-Type", k.contentType)
	}
	if k.key != "" {
		req.Header.Set("Idempotency-Key", k.key)
	}
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (k keyed) do(t *testing.T, g *gatewaytest.Gateway) (int, string) {
	t.Helper()
	code, body, err := k.send(g)
	if err != nil {
		t.Fatalf("POST %s: %v", k.path, err)
	}
	return code, body
}

// values returns the values of the topic's records, failing unless there
// are exactly want of them.
func values(t *testing.T, g *gatewaytest.Gateway, topic string, want int) []string {
	t.Helper()
	recs := g.Records(t, topic, want)
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Value))
	}
	if len(recs) != want {
		t.Fatalf("topic %s has %d records %q, want %d", topic, len(recs), out, want)
	}
	return out
}

// idempotencyCount is the caddy_kafka_idempotency_total of a dialect and
// result, from the admin /metrics.
func idempotencyCount(t *testing.T, g *gatewaytest.Gateway, dialect, result string) float64 {
	t.Helper()
	v, _ := sum(t, scrape(t, g.AdminURL+"/metrics"), "caddy_kafka_idempotency_total",
		map[string]string{"dialect": dialect, "cluster": "default", "result": result})
	return v
}

// TestIdempotencyEveryDialect sends each dialect's produce request twice with
// one key, then once with another: the repeat gets the first answer, byte for
// byte, and the topic has one record for the key; a repeat with another body
// is refused with 422 in the dialect's error format and writes nothing.
func TestIdempotencyEveryDialect(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"hook": 1, "up": 1, "ibm": 1, "v3": 1, "v2": 1},
		Site: `
	kafka_rest /hook webhook {
		topic {topic.hook}
	}
	kafka_rest /produce/* upstash {
		topics {topic.up}
	}
	kafka_rest /v3/* confluent_v3 {
		cluster_id c1
		topics {topic.v3}
	}
	handle_path /ibm/* {
		kafka_rest ibm_event_streams {
			topics {topic.ibm}
		}
	}
	handle_path /v2/* {
		kafka_rest confluent_v2 {
			topics {topic.v2}
		}
	}`,
	})
	const binV2 = "application/vnd.kafka.binary.v2+json"
	for _, tc := range []struct {
		dialect, topic    string
		req               func(value string) keyed
		conflictHasFields []string // in the 422's body
	}{
		{"webhook", "hook", func(v string) keyed {
			return keyed{path: "/hook", contentType: "text/plain", body: v}
		}, []string{`"status":422`}},
		{"upstash", "up", func(v string) keyed {
			return keyed{path: "/produce/" + g.Topic("up"), body: fmt.Sprintf(`{"value":%q,"key":"k"}`, v)}
		}, []string{`"status":422`}},
		{"confluent_v3", "v3", func(v string) keyed {
			return keyed{path: "/v3/clusters/c1/topics/" + g.Topic("v3") + "/records", contentType: "application/json",
				body: fmt.Sprintf(`{"value":{"type":"STRING","data":%q}}`, v)}
		}, []string{`"error_code":422`}},
		{"ibm_event_streams", "ibm", func(v string) keyed {
			return keyed{path: "/ibm/topics/" + g.Topic("ibm") + "/records?key=k", contentType: "text/plain", body: v}
		}, []string{`"error_code":422`, `"incident"`}},
		{"confluent_v2", "v2", func(v string) keyed {
			// "a-1" and "b-1", in base64.
			b64 := map[string]string{"a-1": "YS0x", "b-1": "Yi0x", "changed": "Y2hhbmdlZA=="}[v]
			return keyed{path: "/v2/topics/" + g.Topic("v2"), contentType: binV2, body: fmt.Sprintf(`{"records":[{"value":%q}]}`, b64)}
		}, []string{`"error_code":422`}},
	} {
		t.Run(tc.dialect, func(t *testing.T) {
			first := tc.req("a-1")
			first.key = "key-a"
			code, body1 := first.do(t, g)
			if code != 200 {
				t.Fatalf("first: %d %s", code, body1)
			}
			// The draft's form of the key, a quoted sf-string, is the
			// same key.
			again := first
			again.key = `"key-a"`
			if code, body2 := again.do(t, g); code != 200 || body2 != body1 {
				t.Fatalf("repeat: %d %s, want the first answer %s", code, body2, body1)
			}
			changed := tc.req("changed")
			changed.key = "key-a"
			code, conflict := changed.do(t, g)
			if code != http.StatusUnprocessableEntity {
				t.Fatalf("same key, other body: %d %s, want 422", code, conflict)
			}
			for _, f := range tc.conflictHasFields {
				if !strings.Contains(conflict, f) {
					t.Errorf("422 body %s lacks %s", conflict, f)
				}
			}
			other := tc.req("b-1")
			other.key = "key-b"
			if code, body := other.do(t, g); code != 200 || body == body1 {
				t.Fatalf("another key: %d %s", code, body)
			}
			if got := values(t, g, tc.topic, 2); got[0] != "a-1" || got[1] != "b-1" {
				t.Fatalf("records %q, want [a-1 b-1]", got)
			}
		})
	}
}

// TestIdempotencyConcurrentDuplicates sends 20 requests with one key at once.
// Against kfake the broker holds the produce until the other 19 are seen
// waiting, so the test proves they wait for the first; every one gets the
// same answer and Kafka gets one record.
func TestIdempotencyConcurrentDuplicates(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"dup": 3},
		Site:   "kafka_rest /hook webhook {\n topic {topic.dup}\n }",
	})
	release := make(chan struct{})
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	defer open()
	if g.Fake != nil {
		g.Fake.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
			g.Fake.KeepControl()
			g.Fake.SleepControl(func() { <-release })
			return nil, nil, false
		})
	} else {
		open()
	}
	waited0 := idempotencyCount(t, g, "webhook", "waited")
	const n = 20
	var wg sync.WaitGroup
	codes := make([]int, n)
	bodies := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], bodies[i], errs[i] = keyed{path: "/hook", key: "same", body: "once"}.send(g)
		}()
	}
	if g.Fake != nil {
		deadline := time.Now().Add(10 * time.Second)
		for idempotencyCount(t, g, "webhook", "waited")-waited0 < n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("%v requests waiting, want %d", idempotencyCount(t, g, "webhook", "waited")-waited0, n-1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	open()
	wg.Wait()
	for i := range n {
		if errs[i] != nil || codes[i] != 200 || bodies[i] != bodies[0] {
			t.Fatalf("request %d: %v %d %s, want 200 %s", i, errs[i], codes[i], bodies[i], bodies[0])
		}
	}
	values(t, g, "dup", 1)
}

// TestIdempotencyScope: the key is per user ({http.auth.user.id}) and per
// path; with record_header, each record carries its key.
func TestIdempotencyScope(t *testing.T) {
	// bcrypt of "mypass" at the minimum cost.
	const hash = "$2a$04$14/IrJoVWokfthY.2yazAuaJeoAugIkH81Yb7ejtYwGGRRly55sJe"
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"users": 1},
		Site: `basic_auth {
		alice ` + hash + `
		bob ` + hash + `
	}
	@ab path /a /b
	kafka_rest @ab webhook {
		topic {topic.users}
		idempotency {
			record_header Idempotency-Key
		}
	}`,
	})
	as := func(user, path string) keyed {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth(user, "mypass")
		return keyed{path: path, key: "shared-key", body: user + path, header: http.Header{"Authorization": r.Header["Authorization"]}}
	}
	var answers []string
	for _, k := range []keyed{as("alice", "/a"), as("bob", "/a"), as("alice", "/b")} {
		code, body := k.do(t, g)
		if code != 200 {
			t.Fatalf("%s: %d %s", k.body, code, body)
		}
		answers = append(answers, body)
	}
	for i, k := range []keyed{as("alice", "/a"), as("bob", "/a"), as("alice", "/b")} {
		if code, body := k.do(t, g); code != 200 || body != answers[i] {
			t.Fatalf("repeat of %s: %d %s, want %s", k.body, code, body, answers[i])
		}
	}
	recs := g.Records(t, "users", 3)
	if len(recs) != 3 {
		t.Fatalf("%d records, want one per user and path", len(recs))
	}
	for _, r := range recs {
		if v, ok := gatewaytest.Header(r, "Idempotency-Key"); !ok || string(v) != "shared-key" {
			t.Errorf("record %s: Idempotency-Key header %q %v", r.Value, v, ok)
		}
	}
}

// TestIdempotencyWindowAndMaxKeys: a key repeated after the window produces
// again; past max_keys the oldest key is forgotten first.
func TestIdempotencyWindowAndMaxKeys(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"window": 1, "bound": 1},
		Site: `kafka_rest /window webhook {
		topic {topic.window}
		idempotency {
			window 1s
		}
	}
	kafka_rest /bound webhook {
		topic {topic.bound}
		idempotency {
			max_keys 3
		}
	}`,
	})
	offset := func(k keyed) int64 {
		t.Helper()
		code, body := k.do(t, g)
		var md metadata
		if err := json.Unmarshal([]byte(body), &md); code != 200 || err != nil {
			t.Fatalf("%s %s: %d %s", k.path, k.key, code, body)
		}
		return md.Offset
	}
	w := keyed{path: "/window", key: "w", body: "windowed"}
	if a, b := offset(w), offset(w); a != 0 || b != 0 {
		t.Fatalf("offsets %d %d within the window, want 0 0", a, b)
	}
	time.Sleep(1500 * time.Millisecond)
	if c := offset(w); c != 1 {
		t.Fatalf("offset %d after the window, want a new record at 1", c)
	}
	values(t, g, "window", 2)

	for i := range 10 {
		if o := offset(keyed{path: "/bound", key: fmt.Sprint("k", i), body: fmt.Sprint("v", i)}); o != int64(i) {
			t.Fatalf("key %d: offset %d", i, o)
		}
	}
	// The newest three are remembered; the oldest was forgotten.
	for i := 7; i < 10; i++ {
		if o := offset(keyed{path: "/bound", key: fmt.Sprint("k", i), body: fmt.Sprint("v", i)}); o != int64(i) {
			t.Fatalf("key %d repeated: offset %d, want the stored %d", i, o, i)
		}
	}
	if o := offset(keyed{path: "/bound", key: "k0", body: "v0"}); o != 10 {
		t.Fatalf("forgotten key k0: offset %d, want a new record at 10", o)
	}
	values(t, g, "bound", 11)
}

// TestIdempotencyAfterTimeout holds Kafka's produce answers: the first
// request times out, a retry meanwhile waits, and once Kafka answers every
// retry gets the real outcome; Kafka has the record once.
func TestIdempotencyAfterTimeout(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("holds produce answers with kfake")
	}
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"slow": 1},
		Site: `@patient header X-Patient 1
	kafka_rest @patient webhook {
		topic {topic.slow}
		timeout 30s
	}
	kafka_rest webhook {
		topic {topic.slow}
		timeout 100ms
	}`,
	})
	release := make(chan struct{})
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	defer open()
	var hold atomic.Bool
	var produces atomic.Int32
	g.Fake.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		g.Fake.KeepControl()
		if hold.Load() {
			produces.Add(1)
			g.Fake.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	// A first record, so that the topic's metadata is cached and the
	// 100ms below are spent waiting for Kafka only.
	warm := keyed{path: "/", body: "warm", header: http.Header{"X-Patient": {"1"}}}
	if code, body := warm.do(t, g); code != 200 {
		t.Fatalf("warm-up: %d %s", code, body)
	}
	hold.Store(true)
	k := keyed{path: "/", key: "slow-key", body: "late"}
	if code, body := k.do(t, g); code != http.StatusGatewayTimeout {
		t.Fatalf("first: %d %s, want 504", code, body)
	}
	// Still in flight: a retry waits as long as its own timeout lets it.
	if code, body := k.do(t, g); code != http.StatusGatewayTimeout {
		t.Fatalf("retry while in flight: %d %s, want 504", code, body)
	}
	waited0 := idempotencyCount(t, g, "webhook", "waited")
	patient := k
	patient.header = http.Header{"X-Patient": {"1"}}
	type answer struct {
		code int
		body string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		code, body, err := patient.send(g)
		got <- answer{code, body, err}
	}()
	for deadline := time.Now().Add(10 * time.Second); idempotencyCount(t, g, "webhook", "waited") == waited0; {
		if time.Now().After(deadline) {
			t.Fatal("the patient retry never waited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	open()
	a := <-got
	var md metadata
	if err := json.Unmarshal([]byte(a.body), &md); a.err != nil || a.code != 200 || err != nil || md.Offset != 1 {
		t.Fatalf("patient retry: %v %d %s, want the record's offset 1", a.err, a.code, a.body)
	}
	if code, body := k.do(t, g); code != 200 || body != a.body {
		t.Fatalf("retry after Kafka answered: %d %s, want %s", code, body, a.body)
	}
	if got := values(t, g, "slow", 2); got[1] != "late" {
		t.Fatalf("records %q", got)
	}
	if n := produces.Load(); n != 1 {
		t.Errorf("%d produce requests, want 1", n)
	}
}

// TestIdempotencyForgetsRefusals: a keyed request refused before anything
// was written (overload) or failed by Kafka for every record is not
// remembered, so its retry produces; one that Kafka wrote part of is
// remembered, so its retry does not write the rest again.
func TestIdempotencyForgetsRefusals(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("injects overload and Kafka errors with kfake")
	}
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"refuse": 1},
		Kafka:  "max_buffered_records 1",
		Site: `@patient header X-Patient 1
	kafka_rest @patient webhook {
		topic {topic.refuse}
	}
	kafka_rest /v3/* confluent_v3 {
		cluster_id c1
	}
	kafka_rest webhook {
		topic {topic.refuse}
		timeout 100ms
	}`,
	})
	var hold, fail atomic.Bool
	release := make(chan struct{})
	g.Fake.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		g.Fake.KeepControl()
		if hold.Load() {
			g.Fake.SleepControl(func() { <-release })
		}
		if !fail.Load() {
			return nil, nil, false
		}
		req := kr.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	// A first record, so that the topic's metadata is cached and the
	// 100ms timeouts below are spent waiting for Kafka only.
	warm := keyed{path: "/", body: "warm", header: http.Header{"X-Patient": {"1"}}}
	if code, body := warm.do(t, g); code != 200 {
		t.Fatalf("warm-up: %d %s", code, body)
	}

	// Overload: a record held in the buffer fills it.
	hold.Store(true)
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	defer open()
	if code, body := (keyed{path: "/", key: "holder", body: "held"}).do(t, g); code != http.StatusGatewayTimeout {
		t.Fatalf("holder: %d %s", code, body)
	}
	g.Load(t, g.Caddyfile) // not needed by the gateway; proves a reload keeps the keys
	over := keyed{path: "/", key: "over", body: "second"}
	if code, body := over.do(t, g); code != http.StatusServiceUnavailable {
		t.Fatalf("overloaded: %d %s, want 503", code, body)
	}
	hold.Store(false)
	open()
	holder := keyed{path: "/", key: "holder", body: "held", header: http.Header{"X-Patient": {"1"}}}
	if code, body := holder.do(t, g); code != 200 {
		t.Fatalf("holder after release: %d %s", code, body)
	}
	if code, body := over.do(t, g); code != 200 {
		t.Fatalf("retry of the overloaded request: %d %s", code, body)
	}

	// Kafka fails every record: not remembered.
	fail.Store(true)
	bad := keyed{path: "/", key: "bad", body: "failed-then-ok", header: http.Header{"X-Patient": {"1"}}}
	if code, body := bad.do(t, g); code == 200 {
		t.Fatalf("kafka failing: %d %s", code, body)
	}
	fail.Store(false)
	if code, body := bad.do(t, g); code != 200 {
		t.Fatalf("retry once kafka accepts: %d %s", code, body)
	}

	// Part written (confluent_v3: one record invalid, one written):
	// remembered, the retry gets the same reports and writes nothing.
	v3 := keyed{path: "/v3/clusters/c1/topics/" + g.Topic("refuse") + "/records", contentType: "application/json", key: "part",
		body: `{"value":{"type":"STRING","data":"part-ok"}}{"value":{"type":"BINARY","data":"not base64!"}}`}
	code, first := v3.do(t, g)
	if code != 200 || strings.Count(first, `"error_code":200`) != 1 || strings.Count(first, `"error_code":400`) != 1 {
		t.Fatalf("partial: %d %s", code, first)
	}
	if code, again := v3.do(t, g); code != 200 || again != first {
		t.Fatalf("retry of a partial success: %d %s, want %s", code, again, first)
	}

	got := values(t, g, "refuse", 5)
	want := []string{"warm", "held", "second", "failed-then-ok", "part-ok"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("records %q, want %q", got, want)
		}
	}
}

// TestIdempotencyRefusesBadKeys: a streamed confluent_v3 request cannot have
// a key; nor can a request have two, an empty one or one too long.
func TestIdempotencyRefusesBadKeys(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"bad": 1},
		Site: `kafka_rest /v3/* confluent_v3 {
		cluster_id c1
	}
	kafka_rest /off webhook {
		topic {topic.bad}
		idempotency off
	}
	kafka_rest webhook {
		topic {topic.bad}
	}`,
	})
	// A body without a length: a stream.
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(`{"value":{"type":"STRING","data":"streamed"}}`))
		_ = pw.Close()
	}()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost,
		g.URL+"/v3/clusters/c1/topics/"+g.Topic("bad")+"/records", pr)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"error_code":400`) || !strings.Contains(string(b), "stream") {
		t.Fatalf("streamed with a key: %d %s", resp.StatusCode, b)
	}
	for _, h := range []http.Header{
		{"Idempotency-Key": {"a", "b"}},
		{"Idempotency-Key": {""}},
		{"Idempotency-Key": {`""`}},
		{"Idempotency-Key": {strings.Repeat("k", 256)}},
	} {
		if code, body := (keyed{path: "/", body: "refused", header: h}).do(t, g); code != 400 {
			t.Fatalf("key %q: %d %s", h["Idempotency-Key"], code, body)
		}
	}
	// With idempotency off the header is ignored.
	off := keyed{path: "/off", key: "ignored", body: "twice"}
	for range 2 {
		if code, body := off.do(t, g); code != 200 {
			t.Fatalf("idempotency off: %d %s", code, body)
		}
	}
	values(t, g, "bad", 2)
}

// A sender's redelivery carries its delivery id, not an Idempotency-Key:
// with idempotency { key {http.request.header.X-GitHub-Delivery} }, GitHub
// redelivering a delivery gets the first answer and writes nothing.
func TestIdempotencyKeyTemplate(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"gh": 1},
		Site: `kafka_rest webhook {
			topic {topic.gh}
			idempotency {
				key {http.request.header.X-GitHub-Delivery}
			}
		}`,
	})
	send := func(delivery, body string) (int, string) {
		h := http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {"push"}}
		if delivery != "" {
			h.Set("X-GitHub-Delivery", delivery)
		}
		resp, b := g.Do(t, http.MethodPost, "/hook", h, body)
		return resp.StatusCode, string(b)
	}
	const d1 = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
	code, first := send(d1, `{"ref":"refs/heads/main"}`)
	if code != 200 {
		t.Fatalf("first delivery: %d %s", code, first)
	}
	if code, again := send(d1, `{"ref":"refs/heads/main"}`); code != 200 || again != first {
		t.Fatalf("redelivery: %d %s, want the first answer %s", code, again, first)
	}
	if code, b := send(d1, `{"ref":"refs/heads/other"}`); code != 422 {
		t.Fatalf("same delivery id, another body: %d %s, want 422", code, b)
	}
	if code, b := send("a-second-delivery", `{"ref":"refs/heads/main"}`); code != 200 || b == first {
		t.Fatalf("another delivery: %d %s", code, b)
	}
	// Without the header the request has no key: produced as any other,
	// and an Idempotency-Key header is no key on this route.
	if code, _ := send("", `{"ref":"x"}`); code != 200 {
		t.Fatalf("no delivery id: %d", code)
	}
	if recs := g.Records(t, "gh", 3); len(recs) != 3 {
		t.Fatalf("%d records, want 3: the redelivery wrote again", len(recs))
	}
}

// TestIdempotencyOutcomeUnknown: a keyed request times out with its record
// in flight, then a reload with a changed cluster closes the client that
// holds it (its cluster unreachable meanwhile), so Kafka never says whether
// it was written. A repeat with the key is told so, with the timeout's
// status and without Retry-After (the same key only gets the same answer),
// and writes nothing: the topic has the record at most once.
func TestIdempotencyOutcomeUnknown(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("holds produce answers with kfake")
	}
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"unknown": 1},
		Kafka:  "client_id first",
		Site: `kafka_rest webhook {
		topic {topic.unknown}
		timeout 200ms
	}`,
	})
	release := make(chan struct{})
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	defer open()
	var hold, down atomic.Bool
	g.Fake.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		g.Fake.KeepControl()
		if down.Load() {
			return nil, fmt.Errorf("broker down"), true // closes the connection
		}
		if hold.Load() && req.Key() == int16(kmsg.Produce) {
			g.Fake.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	if resp, body := g.Do(t, http.MethodPost, "/", nil, "warm"); resp.StatusCode != 200 {
		t.Fatalf("warm-up: %d %s", resp.StatusCode, body)
	}
	hold.Store(true)
	key := http.Header{"Idempotency-Key": {"in-flight"}}
	resp, body := g.Do(t, http.MethodPost, "/", key, "unknown")
	if resp.StatusCode != http.StatusGatewayTimeout || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("first: %d (Retry-After %q) %s, want 504 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	down.Store(true)
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(adminGet(t, g, "/kafka/clusters"), `"state":"unreachable"`); {
		if time.Now().After(deadline) {
			t.Fatal("the cluster never became unreachable")
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.Load(t, strings.Replace(g.Caddyfile, "client_id first", "client_id second", 1))
	down.Store(false)
	open()
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(adminGet(t, g, "/kafka/clusters"), `"state":"reachable"`); {
		if time.Now().After(deadline) {
			t.Fatal("the cluster never became reachable again")
		}
		time.Sleep(50 * time.Millisecond)
	}

	for range 2 {
		resp, body = g.Do(t, http.MethodPost, "/", key, "unknown")
		if resp.StatusCode != http.StatusGatewayTimeout && resp.StatusCode != http.StatusServiceUnavailable ||
			resp.Header.Get("Retry-After") != "" || !strings.Contains(string(body), "Kafka did not say whether this record was written") {
			t.Fatalf("repeat: %d (Retry-After %q) %s; want the timeout or unavailable status, no Retry-After, and that the outcome is unknown",
				resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	// A new key writes it.
	if resp, body := g.Do(t, http.MethodPost, "/", http.Header{"Idempotency-Key": {"new"}}, "unknown"); resp.StatusCode != 200 {
		t.Fatalf("new key: %d %s", resp.StatusCode, body)
	}
	recs := g.Records(t, "unknown", 3)
	n := 0
	for _, r := range recs {
		if string(r.Value) == "unknown" {
			n++
		}
	}
	if n < 1 || n > 2 {
		t.Fatalf("%d records of the request in Kafka, want the new key's and at most one of the first's", n)
	}
	t.Logf("the first request's record was written %d time(s) (%d in all with the new key's)", n-1, n)
}

// adminGet is the body of GET path on the gateway's admin API.
func adminGet(t *testing.T, g *gatewaytest.Gateway, path string) string {
	t.Helper()
	resp, err := http.Get(g.AdminURL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
