package reliability_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
)

// authzSite serves every dialect with the allow-list: the topic "ok" and
// anything starting with "missing-".
const authzSite = `handle_path /wh/* {
		kafka_rest webhook {
			topics {topic.ok} missing-*
			topic {http.request.uri.path.0}
		}
	}
	handle_path /v2/* {
		kafka_rest confluent_v2 {
			topics {topic.ok} missing-*
		}
	}
	handle_path /up/* {
		kafka_rest upstash {
			topics {topic.ok} missing-*
		}
	}
	handle_path /ibm/* {
		kafka_rest ibm_event_streams {
			topics {topic.ok} missing-*
		}
	}
	handle /v3/* {
		kafka_rest confluent_v3 {
			cluster_id c1
			topics {topic.ok} missing-*
		}
	}`

// produceAttempt is one way of producing to a topic in some dialect.
type produceAttempt struct {
	name        string
	method      string
	path        string
	contentType string
	body        string
	chunked     bool
}

// attempts are every produce request form of every dialect, for topic
// (with "ok" also named in the forms that take topics in the body).
func attempts(topic, ok string) []produceAttempt {
	v3 := "/v3/clusters/c1/topics/" + topic
	return []produceAttempt{
		{"webhook", "POST", "/wh/" + topic, "text/plain", "v", false},
		{"confluent_v2 topic", "POST", "/v2/topics/" + topic, "application/vnd.kafka.binary.v2+json", `{"records":[{"value":"dg=="}]}`, false},
		{"confluent_v2 partition", "POST", "/v2/topics/" + topic + "/partitions/0", "application/vnd.kafka.json.v2+json", `{"records":[{"value":1}]}`, false},
		{"confluent_v3 records", "POST", v3 + "/records", "application/json", `{"value":{"type":"STRING","data":"v"}}`, false},
		{"confluent_v3 stream", "POST", v3 + "/records", "application/json", `{"value":{"type":"STRING","data":"v"}}`, true},
		{"confluent_v3 batch", "POST", v3 + "/records:batch", "application/json", `{"entries":[{"id":"1","value":{"type":"STRING","data":"v"}}]}`, false},
		{"upstash topic", "POST", "/up/produce/" + topic, "application/json", `{"value":"v"}`, false},
		{"upstash body", "POST", "/up/produce", "application/json", `[{"topic":"` + ok + `","value":"v"},{"topic":"` + topic + `","value":"v"}]`, false},
		{"upstash get", "GET", "/up/produce/" + topic + "/v", "", "", false},
		{"ibm_event_streams", "POST", "/ibm/topics/" + topic + "/records", "text/plain", "v", false},
	}
}

func (a produceAttempt) do(t *testing.T, base string) (int, []byte) {
	t.Helper()
	var body io.Reader
	if a.body != "" {
		body = strings.NewReader(a.body)
		if a.chunked {
			body = io.NopCloser(body) // no length: chunked, v3's streaming mode
		}
	}
	req, err := http.NewRequest(a.method, base+a.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if a.contentType != "" {
		req.Header.Set("Content-Type", a.contentType)
	}
	req.Close = true // a reload closes idle connections
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", a.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestForbiddenTopicsNeverReachKafka sends every produce form of every
// dialect to a topic outside the allow-list, existing or not, and to a
// missing topic inside it, then asks the broker: the forbidden topic has no
// record, the missing ones were not created (on a broker that creates topics
// on demand: the real test broker has auto.create.topics.enable=true, as
// Kafka's default, and kfake likewise), and the allowed topic got nothing
// from requests that also named a forbidden one. With
// allow_auto_topic_creation configured, the same request does create the
// topic, which shows the broker-side check can see one.
func TestForbiddenTopicsNeverReachKafka(t *testing.T) {
	var g *gatewaytest.Gateway
	autoCreating := true
	if gatewaytest.Real() && testingBrokerScripts() == "" {
		// Only the shared CI broker, which does not create topics on
		// demand: the checks hold, but prove less.
		autoCreating = false
		g = gatewaytest.New(t, gatewaytest.Options{Topics: map[string]int32{"ok": 1, "forbidden": 1}, Site: authzSite})
	} else {
		b := newBroker(t)
		g = b.Gateway(t, gatewaytest.Options{Topics: map[string]int32{"ok": 1, "forbidden": 1}, Site: authzSite})
	}
	ok, forbidden := g.Topic("ok"), g.Topic("forbidden")
	run := relcheck.RunID()
	notAllowedMissing := "forbidden-missing-" + run
	sent := 0
	for _, topic := range []string{forbidden, notAllowedMissing} {
		for _, a := range attempts(topic, ok) {
			status, body := a.do(t, g.URL)
			sent++
			if status != http.StatusForbidden && status != http.StatusUnauthorized {
				t.Errorf("%s to %s outside the allow-list: %d %s", a.name, topic, status, body)
			}
			if !json.Valid(body) {
				t.Errorf("%s: the refusal is not the dialect's JSON: %s", a.name, body)
			}
		}
	}
	// A missing topic the allow-list lets through: the dialect's 404.
	for _, a := range attempts("missing-"+run, ok) {
		if a.name == "upstash body" {
			continue // names the allowed topic too
		}
		status, body := a.do(t, g.URL)
		sent++
		if status != http.StatusNotFound || !json.Valid(body) {
			t.Errorf("%s to a missing topic: %d %s", a.name, status, body)
		}
	}
	brokers := g.Brokers
	if exists, n := topicState(t, brokers, forbidden); !exists || n != 0 {
		t.Errorf("forbidden topic: exists %v, %d records", exists, n)
	}
	for _, missing := range []string{notAllowedMissing, "missing-" + run} {
		if exists, _ := topicState(t, brokers, missing); exists {
			t.Errorf("topic %s was created by a refused request", missing)
		}
	}
	if _, n := topicState(t, brokers, ok); n != 0 {
		t.Errorf("the allowed topic got %d records from requests that were refused", n)
	}

	if !autoCreating {
		t.Logf("%d refused requests, nothing reached Kafka; the broker does not create topics on demand, so the control is skipped", sent)
		return
	}
	// The control: the gateway asking for topic creation does create one.
	g.Load(t, strings.Replace(g.Caddyfile, "kafka {", "kafka {\n\t\tallow_auto_topic_creation", 1))
	created := "missing-auto-" + run
	if status, body := (produceAttempt{"webhook", "POST", "/wh/" + created, "text/plain", "v", false}).do(t, g.URL); status != http.StatusOK {
		t.Fatalf("with allow_auto_topic_creation, producing to a missing topic: %d %s", status, body)
	}
	if exists, n := topicState(t, brokers, created); !exists || n != 1 {
		t.Fatalf("with allow_auto_topic_creation the topic should exist with 1 record: exists %v, %d records", exists, n)
	}
	t.Logf("%d refused requests in 5 dialects, nothing reached Kafka; allow_auto_topic_creation does create a topic (control)", sent)
}

func testingBrokerScripts() string { return strings.TrimSpace(os.Getenv("KAFKA_SCRIPTS")) }
