package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// series is one sample of a scrape: a metric name and its labels.
type series struct {
	name   string
	labels map[string]string
}

// scrape reads a Prometheus text exposition and fails the test if a series
// appears twice (a collector registered twice would show that way).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("bad exposition line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad value in %q: %v", line, err)
		}
		key := line[:i]
		if _, dup := out[key]; dup {
			t.Fatalf("series %s exposed twice", key)
		}
		out[key] = v
	}
	return out
}

// parseSeries splits `name{a="x",b="y"}`.
func parseSeries(t *testing.T, key string) series {
	t.Helper()
	s := series{labels: map[string]string{}}
	name, rest, ok := strings.Cut(key, "{")
	s.name = name
	if !ok {
		return s
	}
	rest = strings.TrimSuffix(rest, "}")
	for rest != "" {
		k, after, ok := strings.Cut(rest, `="`)
		if !ok {
			t.Fatalf("bad labels in %s", key)
		}
		end := strings.Index(after, `"`)
		for end > 0 && after[end-1] == '\\' {
			end += 1 + strings.Index(after[end+1:], `"`)
		}
		s.labels[k] = after[:end]
		rest = strings.TrimPrefix(after[end+1:], ",")
	}
	return s
}

// sum adds the samples of metric name whose labels include want.
func sum(t *testing.T, m map[string]float64, name string, want map[string]string) (float64, int) {
	t.Helper()
	var total float64
	var n int
	for key, v := range m {
		s := parseSeries(t, key)
		if s.name != name {
			continue
		}
		match := true
		for k, w := range want {
			if s.labels[k] != w {
				match = false
				break
			}
		}
		if match {
			total += v
			n++
		}
	}
	return total, n
}

// TestMetricsSurviveReload sends records in two dialects (webhook answers
// through Decode/Encode, confluent_v3 through its own server), scrapes the
// admin /metrics and the metrics directive, and checks the counts by label;
// then reloads the config with the cluster unchanged and checks the values
// carried over, each series once. franz-go's metrics (kprom) belong to the
// test's own client; the handlers' are counted from the test's start.
func TestMetricsSurviveReload(t *testing.T) {
	const siteFmt = `
	metrics /metrics
	kafka_rest /hook webhook {
		topic {topic.events}
	}
	kafka_rest /deny webhook {
		topic {topic.events}
		topics nothing-*
	}
	kafka_rest /kafka/v3/* confluent_v3 {
		cluster_id c1
		topics {topic.events}
	}
	%s`
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"events": 1},
		Site:   fmt.Sprintf(siteFmt, ""),
	})
	// The handlers' collectors live as long as the process, across tests:
	// their figures are counted from here.
	base := scrape(t, g.AdminURL+"/metrics")
	v3 := "/kafka/v3/clusters/c1/topics/" + g.Topic("events") + "/records"
	for i := range 3 {
		if code, _, b := post(t, g, "/hook", fmt.Sprintf("hook-%d", i), nil); code != 200 {
			t.Fatalf("webhook: %d %s", code, b)
		}
	}
	h := http.Header{"Content-Type": {"application/json"}, "Connection": {"close"}}
	two := `{"value":{"type":"STRING","data":"a"}}{"value":{"type":"STRING","data":"b"}}`
	if resp, b := g.Do(t, http.MethodPost, v3, h, two); resp.StatusCode != 200 || strings.Count(string(b), `"error_code":200`) != 2 {
		t.Fatalf("confluent_v3: %d %s", resp.StatusCode, b)
	}
	// Refused by the handler's allow-list: not_authorized, in the handler
	// (webhook) or in the dialect, before it reads the body (confluent_v3).
	if code, _, b := post(t, g, "/deny", "denied", nil); code != 403 {
		t.Fatalf("webhook outside the allow-list: %d %s", code, b)
	}
	other := "/kafka/v3/clusters/c1/topics/not-allowed/records"
	if resp, b := g.Do(t, http.MethodPost, other, h, `{"value":{"data":"AA=="}}`); resp.StatusCode != 403 {
		t.Fatalf("topic outside the allow-list: %d %s", resp.StatusCode, b)
	}
	// Refused by the dialect itself (media type): bad_request.
	hText := http.Header{"Content-Type": {"text/plain"}, "Connection": {"close"}}
	if resp, b := g.Do(t, http.MethodPost, v3, hText, two); resp.StatusCode != 415 {
		t.Fatalf("wrong media type: %d %s", resp.StatusCode, b)
	}

	webhook := map[string]string{"dialect": "webhook", "cluster": "default"}
	confluent := map[string]string{"dialect": "confluent_v3", "cluster": "default"}
	with := func(base map[string]string, k, v string) map[string]string {
		m := map[string]string{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		return m
	}
	check := func(m map[string]float64, webhookOK float64) {
		t.Helper()
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"caddy_kafka_requests_total", with(webhook, "outcome", "ok"), webhookOK},
			{"caddy_kafka_records_total", with(webhook, "outcome", "ok"), webhookOK},
			{"caddy_kafka_produce_duration_seconds_count", webhook, webhookOK},
			{"caddy_kafka_requests_total", with(confluent, "outcome", "ok"), 1},
			{"caddy_kafka_records_total", with(confluent, "outcome", "ok"), 2},
			{"caddy_kafka_requests_total", with(confluent, "outcome", "not_authorized"), 1},
			{"caddy_kafka_requests_total", with(webhook, "outcome", "not_authorized"), 1},
			{"caddy_kafka_records_total", with(webhook, "outcome", "not_authorized"), 1},
			{"caddy_kafka_records_total", with(confluent, "outcome", "not_authorized"), 0},
			{"caddy_kafka_requests_total", with(confluent, "outcome", "bad_request"), 1},
			{"caddy_kafka_requests_total", with(confluent, "outcome", "unavailable"), 0},
			{"caddy_kafka_produce_duration_seconds_count", confluent, 1},
			{"caddy_kafka_idempotency_total", with(webhook, "result", "replayed"), 0},
			{"caddy_kafka_buffered_records", map[string]string{"cluster": "default"}, 0},
			{"caddy_kafka_buffered_bytes", map[string]string{"cluster": "default"}, 0},
		} {
			got, n := sum(t, m, c.name, c.labels)
			if !strings.HasPrefix(c.name, "caddy_kafka_buffered_") {
				before, _ := sum(t, base, c.name, c.labels)
				got -= before
			}
			if n != 1 || got != c.want {
				t.Errorf("%s%v = %v in %d series, want %v in one", c.name, c.labels, got, n, c.want)
			}
		}
		// franz-go's own counters, through kprom, labelled by cluster.
		if got, n := sum(t, m, "caddy_kafka_client_produce_records_total", map[string]string{"cluster": "default"}); n == 0 || got != webhookOK+2 {
			t.Errorf("caddy_kafka_client_produce_records_total{cluster=default} = %v in %d series, want %v", got, n, webhookOK+2)
		}
		if _, n := sum(t, m, "caddy_kafka_client_connects_total", map[string]string{"cluster": "default"}); n == 0 {
			t.Error("no caddy_kafka_client_connects_total")
		}
		// No topic label anywhere: topics come from URLs.
		for key := range m {
			if strings.Contains(key, "caddy_kafka") && strings.Contains(key, "topic=") {
				t.Errorf("series with a topic label: %s", key)
			}
		}
	}

	// franz-go calls its OnProduceBatchWritten hooks, kprom's, in a
	// goroutine of their own once the batch's records are finished: its
	// counter may trail the answers by a moment.
	settled := func(want float64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if got, _ := sum(t, scrape(t, g.AdminURL+"/metrics"), "caddy_kafka_client_produce_records_total", map[string]string{"cluster": "default"}); got == want {
				return
			}
		}
	}
	settled(5)
	admin := scrape(t, g.AdminURL+"/metrics")
	check(admin, 3)
	site := scrape(t, g.URL+"/metrics")
	check(site, 3)
	if t.Failed() {
		t.FailNow()
	}

	// Reload with the cluster unchanged: the same collectors, registered
	// with the new config's registry, with their values.
	g.Load(t, strings.Replace(g.Caddyfile, "metrics /metrics", "metrics /metrics\n\trespond /other 404", 1))
	check(scrape(t, g.AdminURL+"/metrics"), 3)
	check(scrape(t, g.URL+"/metrics"), 3)
	if code, _, b := post(t, g, "/hook", "after-reload", nil); code != 200 {
		t.Fatalf("webhook after reload: %d %s", code, b)
	}
	settled(6)
	check(scrape(t, g.AdminURL+"/metrics"), 4)
}

// TestMetricsOfCapabilities counts the requests the handler drives through a
// dialect's capabilities as it counts one-shot produce requests, from the
// values they return: a confluent_v3 stream (its records, one request), a
// stream refused by the allow-list, discovery answers and refusals, and a
// confluent_v2 consume outside the allow-list.
func TestMetricsOfCapabilities(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"events": 1},
		Site: `
	kafka_rest /kafka/v3/* confluent_v3 {
		cluster_id c1
		topics {topic.events}
	}
	kafka_rest /topics/* confluent_v2 {
		consume
		topics {topic.events}
	}`,
	})
	base := scrape(t, g.AdminURL+"/metrics")
	stream := func(topic, body string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, g.URL+"/kafka/v3/clusters/c1/topics/"+topic+"/records", io.NopCloser(strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == 200 && strings.Count(string(b), `"error_code":200`) != strings.Count(body, "{\"value\"") {
			t.Fatalf("stream: %s", b)
		}
		return resp.StatusCode
	}
	three := strings.Repeat(`{"value":{"type":"STRING","data":"s"}}`, 3)
	if code := stream(g.Topic("events"), three); code != 200 {
		t.Fatalf("stream: %d", code)
	}
	if code := stream("not-allowed", three); code != 403 {
		t.Fatalf("stream outside the allow-list: %d", code)
	}
	get := func(path string, want int) {
		t.Helper()
		if resp, b := g.Do(t, http.MethodGet, path, nil, ""); resp.StatusCode != want {
			t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, b, want)
		}
	}
	get("/kafka/v3/clusters", 200)
	get("/kafka/v3/clusters/c1/topics/"+g.Topic("events"), 200)
	get("/kafka/v3/clusters/c1/topics/not-allowed", 404)
	get("/topics/not-allowed/partitions/0?offset=0", 403)

	m := scrape(t, g.AdminURL+"/metrics")
	v3 := map[string]string{"dialect": "confluent_v3", "cluster": "default"}
	v2 := map[string]string{"dialect": "confluent_v2", "cluster": "default"}
	with := func(base map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for bk, bv := range base {
			out[bk] = bv
		}
		return out
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"caddy_kafka_requests_total", with(v3, "outcome", "ok"), 3}, // the stream, two discovery answers
		{"caddy_kafka_records_total", with(v3, "outcome", "ok"), 3},
		{"caddy_kafka_requests_total", with(v3, "outcome", "not_authorized"), 1},
		{"caddy_kafka_requests_total", with(v3, "outcome", "unknown_topic"), 1},
		{"caddy_kafka_requests_total", with(v2, "outcome", "not_authorized"), 1},
		{"caddy_kafka_requests_total", with(v2, "outcome", "ok"), 0},
		// Read-only requests are timed too, by operation: the three
		// discovery GETs, and the consume refused by the allow-list.
		{"caddy_kafka_read_duration_seconds_count", with(v3, "operation", "describe"), 3},
		{"caddy_kafka_read_duration_seconds_count", with(v2, "operation", "fetch"), 1},
	} {
		got, n := sum(t, m, c.name, c.labels)
		before, _ := sum(t, base, c.name, c.labels)
		if n != 1 || got-before != c.want {
			t.Errorf("%s%v = %v in %d series, want %v in one", c.name, c.labels, got-before, n, c.want)
		}
	}
}
