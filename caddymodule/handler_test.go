package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

type metadata struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

func post(t *testing.T, g *gatewaytest.Gateway, path, body string, header http.Header) (int, metadata, string) {
	t.Helper()
	if header == nil {
		header = http.Header{}
	}
	// No keep-alive: a reload closes idle connections, and a POST sent on
	// one as it closes fails before the server reads it.
	header.Set("Connection", "close")
	resp, b := g.Do(t, http.MethodPost, path, header, body)
	var md metadata
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &md); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
	return resp.StatusCode, md, string(b)
}

// TestReloadKeepsClient proves the client survives a reload that leaves the
// cluster unchanged: with brokers embedded, the broker lives inside the
// pooled client, so the topic's data survives exactly when the client does.
// A fixed key puts every record on one partition, so offsets tell.
func TestReloadKeepsClient(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{Site: `respond "placeholder"`})
	config := func(clientID, extra string) string {
		return fmt.Sprintf(`{
	admin %s
	kafka {
		brokers embedded
		client_id %s
	}
}
http://%s {
	kafka_rest /in webhook {
		topic reload
		key fixed
	}
	%s
}`, strings.TrimPrefix(g.AdminURL, "http://"), clientID, g.Addr, extra)
	}
	g.Load(t, config("a", ""))
	if code, md, b := post(t, g, "/in", "one", nil); code != 200 || md.Offset != 0 {
		t.Fatalf("first record: %d %s", code, b)
	}
	// Same cluster, different site: same client, same embedded broker.
	g.Load(t, config("a", "respond /other 404"))
	if code, md, b := post(t, g, "/in", "two", nil); code != 200 || md.Offset != 1 {
		t.Fatalf("after an unchanged-cluster reload the offset must continue at 1: %d %s", code, b)
	}
	// A changed cluster gets a new client, hence a new embedded broker.
	g.Load(t, config("b", ""))
	if code, md, b := post(t, g, "/in", "three", nil); code != 200 || md.Offset != 0 {
		t.Fatalf("a changed cluster must get a new client (fresh embedded broker): %d %s", code, b)
	}
}

// TestReloadUnderLoadDropsNothing posts continuously while the config is
// reloaded, with the cluster unchanged and changed: every request succeeds
// and every acknowledged record is in Kafka exactly once.
func TestReloadUnderLoadDropsNothing(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"load": 3},
		Site:   "kafka_rest webhook {\n topic {topic.load}\n}",
	})
	base := g.Caddyfile
	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		failures atomic.Int32
		retries  atomic.Int32
		mu       sync.Mutex
		acked    = map[string]bool{}
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load() && i < 5000; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				// A reload hands the listener to the new server; a connection
				// caught in the handover is closed before its request is read
				// (EOF). Like any client, retry those; a retried request the
				// server did process would show up below as a duplicate.
				var resp *http.Response
				var err error
				for try := 0; try < 5; try++ {
					resp, err = http.Post(g.URL+"/", "text/plain", strings.NewReader(id))
					if err == nil {
						break
					}
					retries.Add(1)
					// Back off past the handover, as a client would.
					time.Sleep(time.Duration(try+1) * 20 * time.Millisecond)
				}
				if err != nil || resp.StatusCode != 200 {
					if failures.Add(1) <= 3 {
						if err != nil {
							t.Logf("request %s: %v", id, err)
						} else {
							b, _ := io.ReadAll(resp.Body)
							t.Logf("request %s: %d %s", id, resp.StatusCode, b)
						}
					}
					if resp != nil {
						resp.Body.Close()
					}
					continue
				}
				resp.Body.Close()
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < 6; i++ {
		cfg := base
		if i%2 == 1 {
			cfg = strings.Replace(base, "kafka {", "kafka {\n\t\tclient_id reload-"+fmt.Sprint(i), 1)
		}
		g.Load(t, cfg)
	}
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d requests failed during reloads", n)
	}
	recs := g.Records(t, "load", len(acked))
	seen := map[string]int{}
	for _, r := range recs {
		seen[string(r.Value)]++
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Fatalf("acknowledged record %s is in Kafka %d times", id, seen[id])
		}
	}
	if len(recs) != len(acked) {
		t.Fatalf("%d records in Kafka, %d acknowledged", len(recs), len(acked))
	}
	t.Logf("%d records acknowledged across 6 reloads, each in Kafka once (%d connection-level retries)", len(acked), retries.Load())
}

func TestAllowListPlaceholdersAreLiteral(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"alice-1": 1, "bob-1": 1},
		Site: `kafka_rest webhook {
			topics {http.request.header.X-User}-*
			topic {http.request.uri.path.1}
		}`,
	})
	for _, tc := range []struct {
		user, topic string
		want        int
	}{
		{"alice", g.Topic("alice-1"), 200},
		{"alice", g.Topic("bob-1"), 403},
		{"*", g.Topic("alice-1"), 403}, // a user named "*" gets no wildcard
		{"", g.Topic("alice-1"), 403},  // no user, no topic: not "-*"
	} {
		h := http.Header{}
		if tc.user != "" {
			h.Set("X-User", tc.user)
		}
		code, _, b := post(t, g, "/x/"+tc.topic, "v", h)
		if code != tc.want {
			t.Errorf("user %q topic %s: %d %s, want %d", tc.user, tc.topic, code, b, tc.want)
		}
		if code == 403 && !strings.Contains(b, `"status":403`) {
			t.Errorf("403 must be in the dialect's format: %s", b)
		}
	}
	if recs := g.Records(t, "bob-1", 0); len(recs) != 0 {
		t.Fatalf("a refused topic got %d records", len(recs))
	}
}

func TestOverloadAnswersAtOnceWithRetryAfter(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"ovl": 1},
		Kafka:  "max_buffered_records 5",
		Site:   "kafka_rest webhook {\n topic {topic.ovl}\n split lines\n}",
	})
	resp, b := g.Do(t, http.MethodPost, "/", nil, "1\n2\n3\n4\n5\n6\n")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("6 records over a 5 record buffer: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if recs := g.Records(t, "ovl", 0); len(recs) != 0 {
		t.Fatalf("an overloaded request wrote %d records", len(recs))
	}
	if resp, b := g.Do(t, http.MethodPost, "/", nil, "1\n2\n3\n4\n5\n"); resp.StatusCode != 200 {
		t.Fatalf("5 records fit: %d %s", resp.StatusCode, b)
	}
}

func TestUnknownTopicWritesNothing(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"known": 1},
		Site:   "kafka_rest webhook {\n topic {http.request.uri.path.0}\n}",
	})
	code, _, b := post(t, g, "/nosuchtopic", "v", nil)
	if code != 404 || !strings.Contains(b, `"status":404`) {
		t.Fatalf("unknown topic: %d %s", code, b)
	}
}

// TestPlaceholdersAndAccessLog checks what a request leaves behind for
// other handlers and the access log: the {http.kafka_rest.*} placeholders
// and the kafka_topic, kafka_records and kafka_outcome log fields, for a
// success and for a refusal.
func TestPlaceholdersAndAccessLog(t *testing.T) {
	logFile := t.TempDir() + "/access.log"
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"seen": 1},
		Site: fmt.Sprintf(`log {
		output file %s
		format json
	}
	header {
		defer
		X-Kafka {http.kafka_rest.topic}/{http.kafka_rest.records}/{http.kafka_rest.outcome}
	}
	kafka_rest /in webhook {
		topic {topic.seen}
		split lines
	}
	kafka_rest /other webhook {
		topic {topic.seen}
		max_body 4
	}`, logFile),
	})
	resp, _ := g.Do(t, http.MethodPost, "/in", nil, "a\nb\nc\n")
	if want := g.Topic("seen") + "/3/ok"; resp.StatusCode != 200 || resp.Header.Get("X-Kafka") != want {
		t.Fatalf("status %d, X-Kafka %q, want %q", resp.StatusCode, resp.Header.Get("X-Kafka"), want)
	}
	resp, _ = g.Do(t, http.MethodPost, "/other", nil, "too long")
	if got := resp.Header.Get("X-Kafka"); resp.StatusCode != 413 || got != "/0/too_large" {
		t.Fatalf("status %d, X-Kafka %q", resp.StatusCode, got)
	}

	var entries []map[string]any
	for deadline := time.Now().Add(5 * time.Second); len(entries) < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(logFile)
		entries = entries[:0]
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var e map[string]any
			if json.Unmarshal([]byte(line), &e) == nil && e["msg"] == "handled request" {
				entries = append(entries, e)
			}
		}
	}
	if len(entries) != 2 {
		t.Fatalf("%d access log entries, want 2", len(entries))
	}
	ok, refused := entries[0], entries[1]
	if ok["kafka_topic"] != g.Topic("seen") || ok["kafka_records"] != 3.0 || ok["kafka_outcome"] != "ok" {
		t.Errorf("success entry: %v %v %v", ok["kafka_topic"], ok["kafka_records"], ok["kafka_outcome"])
	}
	if _, has := refused["kafka_topic"]; has || refused["kafka_records"] != 0.0 || refused["kafka_outcome"] != "too_large" {
		t.Errorf("refusal entry: %v %v %v", refused["kafka_topic"], refused["kafka_records"], refused["kafka_outcome"])
	}
}
