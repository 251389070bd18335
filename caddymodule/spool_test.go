package caddymodule_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// spoolJSON is the spool of an entry of GET /kafka/clusters.
type spoolJSON struct {
	Directory string  `json:"directory"`
	Records   int64   `json:"records"`
	Bytes     int64   `json:"bytes"`
	MaxSize   int64   `json:"max_size"`
	Oldest    *string `json:"oldest"`
}

func adminSpool(t *testing.T, g *gatewaytest.Gateway) spoolJSON {
	t.Helper()
	resp, err := http.Get(g.AdminURL + "/kafka/clusters")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cs []struct {
		Name  string     `json:"name"`
		Spool *spoolJSON `json:"spool"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &cs); err != nil || len(cs) == 0 || cs[0].Spool == nil {
		t.Fatalf("no spool in /kafka/clusters: %v %s", err, b)
	}
	return *cs[0].Spool
}

// waitSpool waits until the spool holds want records.
func waitSpool(t *testing.T, g *gatewaytest.Gateway, want int64) spoolJSON {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		sp := adminSpool(t, g)
		if sp.Records == want {
			return sp
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool holds %d records, want %d", sp.Records, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func spoolGateway(t *testing.T, dir, kafka, route string) *gatewaytest.Gateway {
	return gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"ev": 1},
		Kafka:  "delivery_timeout 5s\n spool " + dir + " " + kafka,
		Site: `kafka_ready /ready
	kafka_rest /hook webhook {
		topic {topic.ev}
		spool on ` + route + `
	}
	kafka_rest /any webhook {
		topic {http.request.header.X-Topic}
		spool on ` + route + `
	}
	kafka_rest /lines webhook {
		topic {topic.ev}
		split lines
		spool on ` + route + `
	}`,
	})
}

// stopKafka makes the kfake broker drop every request's connection (a
// restarted kfake would lose its topic IDs, which a real broker keeps), and
// returns the function that brings it back.
func stopKafka(t *testing.T, g *gatewaytest.Gateway) func() {
	var down atomic.Bool
	down.Store(true)
	g.Fake.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		g.Fake.KeepControl()
		if down.Load() {
			return nil, errors.New("broker down"), true
		}
		return nil, nil, false
	})
	return func() { down.Store(false) }
}

func spooledValues(t *testing.T, g *gatewaytest.Gateway, want int) []string {
	var out []string
	for _, r := range g.Records(t, "ev", want) {
		out = append(out, string(r.Value))
	}
	return out
}

// TestSpoolUnreachable: with the cluster down, requests are answered 202
// with the spooled shape, kafka_ready says spooling, the admin API shows
// the spool; once the cluster is back the drainer empties it, in order.
func TestSpoolUnreachable(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("stops the broker: kfake only")
	}
	g := spoolGateway(t, t.TempDir(), "", "")
	if resp, body := g.Post(t, "/hook", "", "direct"); resp.StatusCode != 200 || !strings.Contains(string(body), `"offset":0`) {
		t.Fatalf("healthy cluster, empty spool: %d %s", resp.StatusCode, body)
	}
	restart := stopKafka(t, g)
	if body := waitSpooling(t, g); body != `{"status":"spooling","cluster":"default"}`+"\n" {
		t.Fatalf("kafka_ready with the cluster down and room: %s", body)
	}
	resp, body := g.Post(t, "/hook", "", "one")
	if resp.StatusCode != 202 || string(body) != fmt.Sprintf(`{"topic":%q,"spooled":true}`, g.Topic("ev")) {
		t.Fatalf("spooled: %d %s", resp.StatusCode, body)
	}
	resp, body = g.Post(t, "/lines", "", "two\nthree\n")
	want := fmt.Sprintf(`[{"topic":%q,"spooled":true},{"topic":%[1]q,"spooled":true}]`, g.Topic("ev"))
	if resp.StatusCode != 202 || string(body) != want {
		t.Fatalf("split lines spooled: %d %s", resp.StatusCode, body)
	}
	sp := adminSpool(t, g)
	if sp.Records != 3 || sp.Bytes == 0 || sp.Oldest == nil || sp.Directory == "" || sp.MaxSize != 1<<30 {
		t.Fatalf("admin spool: %+v", sp)
	}
	if n, b, age := metricValue(t, g, `caddy_kafka_spool_records{cluster="default"}`),
		metricValue(t, g, `caddy_kafka_spool_bytes{cluster="default"}`),
		metricValue(t, g, `caddy_kafka_spool_oldest_seconds{cluster="default"}`); n != 3 || b != float64(sp.Bytes) || age <= 0 {
		t.Fatalf("spool metrics: records %v bytes %v oldest %v", n, b, age)
	}
	restart()
	waitSpool(t, g, 0)
	if got := strings.Join(spooledValues(t, g, 4), ","); got != "direct,one,two,three" {
		t.Fatalf("read back %s, want direct,one,two,three", got)
	}
	if n := metricValue(t, g, `caddy_kafka_spool_drained_total{cluster="default"}`); n < 3 {
		t.Fatalf("spool_drained_total %v", n)
	}
}

// TestSpoolSlowAck: Kafka holds the produce; after `after` the request is
// answered 202, the next one is spooled behind it, and once Kafka answers,
// the first attempt's record is not sent again.
func TestSpoolSlowAck(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("holds produce requests: kfake only")
	}
	g := spoolGateway(t, t.TempDir(), "", "{\n after 300ms\n }")
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	defer open()
	g.Fake.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		g.Fake.KeepControl()
		g.Fake.SleepControl(func() { <-release })
		return nil, nil, false
	})
	start := time.Now()
	resp, body := g.Post(t, "/hook", "", "slow")
	if resp.StatusCode != 202 || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("slow ack: %d %s after %v", resp.StatusCode, body, time.Since(start))
	}
	if resp, body := g.Post(t, "/hook", "", "queued"); resp.StatusCode != 202 {
		t.Fatalf("with records in the spool: %d %s", resp.StatusCode, body)
	}
	// Kafka is reachable: a request queued behind the spool is checked
	// first, and a missing topic is refused, not spooled.
	if resp, body := g.Do(t, http.MethodPost, "/any", http.Header{"X-Topic": {"no-such-topic"}}, "x"); resp.StatusCode != 404 {
		t.Fatalf("missing topic with records in the spool: %d %s", resp.StatusCode, body)
	}
	open()
	waitSpool(t, g, 0)
	got := spooledValues(t, g, 2)
	if strings.Join(got, ",") != "slow,queued" {
		t.Fatalf("read back %v, want slow,queued once each", got)
	}
}

// TestSpoolBufferFull: a full producer buffer spools instead of 503.
func TestSpoolBufferFull(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("holds produce requests: kfake only")
	}
	g := spoolGateway(t, t.TempDir(), "\n max_buffered_records 1", "{\n after 10s\n }")
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	defer open()
	g.Fake.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		g.Fake.KeepControl()
		g.Fake.SleepControl(func() { <-release })
		return nil, nil, false
	})
	first := make(chan int)
	go func() {
		resp, _ := g.Post(t, "/hook", "", "holds the buffer")
		first <- resp.StatusCode
	}()
	// Wait until the first request holds the buffer.
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(t, g, `caddy_kafka_buffered_records{cluster="default"}`) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first request never reached the buffer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp, body := g.Post(t, "/hook", "", "overflow"); resp.StatusCode != 202 {
		t.Fatalf("buffer full: %d %s", resp.StatusCode, body)
	}
	open()
	if c := <-first; c != 200 {
		t.Fatalf("the first request: %d", c)
	}
	waitSpool(t, g, 0)
	if got := spooledValues(t, g, 2); strings.Join(got, ",") != "holds the buffer,overflow" {
		t.Fatalf("read back %v", got)
	}
}

// TestSpoolFull: past max_size, 503 with Retry-After, nothing half-spooled;
// every 202 is drained once the cluster is back.
func TestSpoolFull(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("stops the broker: kfake only")
	}
	g := spoolGateway(t, t.TempDir(), "{\n max_size 8KiB\n }", "")
	restart := stopKafka(t, g)
	waitSpooling(t, g)
	line := strings.Repeat("x", 200)
	accepted := 0
	var full *http.Response
	var fullBody []byte
	for i := range 100 {
		resp, body := g.Post(t, "/lines", "", fmt.Sprintf("%03d%s\n%03d%s\n", i, line, i, line))
		if resp.StatusCode == 503 {
			full, fullBody = resp, body
			break
		}
		if resp.StatusCode != 202 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
		accepted++
	}
	if full == nil || accepted == 0 {
		t.Fatalf("%d requests accepted and none refused by an 8KiB spool", accepted)
	}
	var e struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	if json.Unmarshal(fullBody, &e) != nil || e.Status != 503 || !strings.Contains(e.Error, "spool is full") ||
		full.Header.Get("Retry-After") == "" {
		t.Fatalf("spool full: %s Retry-After %q", fullBody, full.Header.Get("Retry-After"))
	}
	if sp := adminSpool(t, g); sp.Records != int64(2*accepted) {
		t.Fatalf("spool holds %d records for %d accepted requests of 2", sp.Records, accepted)
	}
	restart()
	waitSpool(t, g, 0)
	if got := spooledValues(t, g, 2*accepted); len(got) != 2*accepted {
		t.Fatalf("read back %d records, want %d", len(got), 2*accepted)
	}
}

// waitSpooling waits until kafka_ready says the cluster is spooling (its
// health check saw it down).
func waitSpooling(t *testing.T, g *gatewaytest.Gateway) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, b := g.Do(t, http.MethodGet, "/ready", http.Header{"Connection": {"close"}}, "")
		if resp.StatusCode == 200 && strings.Contains(string(b), "spooling") {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("kafka_ready never said spooling: %d %s", resp.StatusCode, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSpoolReloadKeepsSpool: a reload (here with another cluster setting)
// while records wait keeps the spool, and they drain in order after it.
func TestSpoolReloadKeepsSpool(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("stops the broker: kfake only")
	}
	dir := t.TempDir()
	g := spoolGateway(t, dir, "", "")
	restart := stopKafka(t, g)
	waitSpooling(t, g)
	for i := range 5 {
		if resp, body := g.Post(t, "/hook", "", fmt.Sprint("r", i)); resp.StatusCode != 202 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	g.Load(t, strings.Replace(g.Caddyfile, "delivery_timeout 5s", "delivery_timeout 6s", 1))
	if sp := adminSpool(t, g); sp.Records != 5 {
		t.Fatalf("after the reload the spool holds %d records, want 5", sp.Records)
	}
	if resp, body := g.Post(t, "/hook", "", "r5"); resp.StatusCode != 202 {
		t.Fatalf("after the reload: %d %s", resp.StatusCode, body)
	}
	restart()
	waitSpool(t, g, 0)
	if got := strings.Join(spooledValues(t, g, 6), ","); got != "r0,r1,r2,r3,r4,r5" {
		t.Fatalf("read back %s", got)
	}
}

// TestSpoolConfigErrors: two clusters naming one directory, spool on a
// dialect whose answers need offsets, spool on without a cluster spool.
func TestSpoolConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, caddyfile, want string }{
		{"shared dir", `{
	admin off
	kafka {
		brokers 127.0.0.1:1
		spool ` + dir + `
		cluster other {
			brokers 127.0.0.1:1
			spool ` + dir + `/.
		}
	}
}
:0 {
	respond ok
}`, "name the same spool directory"},
		{"not webhook", `{
	admin off
	kafka {
		brokers 127.0.0.1:1
		spool ` + dir + `
	}
}
:0 {
	kafka_rest /v3/* confluent_v3 {
		spool on
	}
}`, "only webhook routes may spool"},
		{"no spool dir", `{
	admin off
	kafka {
		brokers 127.0.0.1:1
	}
}
:0 {
	kafka_rest /hook webhook {
		topic t
		spool on
	}
}`, "has no spool directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(tc.caddyfile), nil)
			if err == nil {
				err = caddy.Load(cfg, true)
				defer caddy.Stop()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// metricValue is the sum of a metric's series matching name{labels...},
// written as in the exposition format, from the admin /metrics.
func metricValue(t *testing.T, g *gatewaytest.Gateway, series string) float64 {
	t.Helper()
	name, labels := series, map[string]string{}
	if i := strings.IndexByte(series, '{'); i >= 0 {
		name = series[:i]
		for _, kv := range strings.Split(strings.Trim(series[i:], "{}"), ",") {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = strings.Trim(v, `"`)
		}
	}
	v, _ := sum(t, scrape(t, g.AdminURL+"/metrics"), name, labels)
	return v
}

// TestSpoolIdempotencyKey: a keyed request repeated while the cluster is
// down gets the first one's 202 and is spooled once.
func TestSpoolIdempotencyKey(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("stops the broker: kfake only")
	}
	g := spoolGateway(t, t.TempDir(), "", "")
	restart := stopKafka(t, g)
	waitSpooling(t, g)
	h := http.Header{"Idempotency-Key": {"delivery-1"}}
	r1, b1 := g.Do(t, http.MethodPost, "/hook", h, "once")
	r2, b2 := g.Do(t, http.MethodPost, "/hook", h, "once")
	if r1.StatusCode != 202 || r2.StatusCode != 202 || string(b1) != string(b2) {
		t.Fatalf("keyed request and its repeat: %d %s, %d %s", r1.StatusCode, b1, r2.StatusCode, b2)
	}
	if sp := adminSpool(t, g); sp.Records != 1 {
		t.Fatalf("spool holds %d records, want 1", sp.Records)
	}
	restart()
	waitSpool(t, g, 0)
	if got := spooledValues(t, g, 1); len(got) != 1 {
		t.Fatalf("read back %v", got)
	}
}

// TestSpoolDrainedWithoutRoute: records spooled under one config are
// drained under the next, which keeps the directory but has no spooling
// route.
func TestSpoolDrainedWithoutRoute(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("stops the broker: kfake only")
	}
	dir := t.TempDir()
	g := spoolGateway(t, dir, "", "")
	restart := stopKafka(t, g)
	waitSpooling(t, g)
	for i := range 3 {
		if resp, body := g.Post(t, "/hook", "", fmt.Sprint("left", i)); resp.StatusCode != 202 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	cfg := g.Caddyfile
	site := cfg[strings.Index(cfg, "kafka_ready /ready"):strings.LastIndex(cfg, "}")]
	g.Load(t, strings.Replace(cfg, site, "kafka_ready /ready\n", 1))
	if resp, body := g.Post(t, "/hook", "", "no route"); resp.StatusCode == 202 || len(body) > 0 {
		t.Fatalf("the route is gone but answered %d %s", resp.StatusCode, body)
	}
	if sp := adminSpool(t, g); sp.Records != 3 {
		t.Fatalf("after the reload the spool holds %d records, want 3", sp.Records)
	}
	restart()
	waitSpool(t, g, 0)
	if got := strings.Join(spooledValues(t, g, 3), ","); got != "left0,left1,left2" {
		t.Fatalf("read back %s", got)
	}
}
