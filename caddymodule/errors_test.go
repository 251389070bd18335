package caddymodule_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// errorsSite serves every dialect with small limits: max_body 8KiB,
// max_records 2, and (in errorsKafka) max_message_bytes 2KiB, so that a
// 4 KiB record passes max_body and is over max_message_bytes.
const errorsSite = `kafka_rest /hook/* webhook {
		topic {http.request.uri.path.1}
		max_body 8KiB
		timeout 1s
	}
	kafka_rest /lines/* webhook {
		topic {http.request.uri.path.1}
		split lines
		max_records 2
		timeout 1s
	}
	kafka_rest /produce/* upstash {
		max_body 8KiB
		max_records 2
		timeout 1s
	}
	kafka_rest /v3/* confluent_v3 {
		cluster_id c1
		max_body 8KiB
		max_records 2
		timeout 1s
	}
	handle_path /ibm/* {
		kafka_rest ibm_event_streams {
			max_body 8KiB
			timeout 1s
		}
	}
	handle_path /v2/* {
		kafka_rest confluent_v2 {
			max_body 8KiB
			max_records 2
			timeout 1s
		}
	}`

const errorsKafka = "max_message_bytes 2KiB"

// errorsReq is one request of a dialect: values are its records' values.
type errorsReq struct{ path, contentType, body string }

// errorsDialect builds a dialect's produce request of the given records to
// topic, and says what its answers look like.
type errorsDialect struct {
	name string
	req  func(topic string, values []string) errorsReq
	// many is false for dialects whose request is one record.
	many bool
}

func errorsDialects() []errorsDialect {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	return []errorsDialect{
		{"webhook", func(topic string, vs []string) errorsReq {
			if len(vs) > 1 {
				return errorsReq{"/lines/" + topic, "text/plain", strings.Join(vs, "\n")}
			}
			return errorsReq{"/hook/" + topic, "text/plain", vs[0]}
		}, true},
		{"upstash", func(topic string, vs []string) errorsReq {
			msgs := make([]string, len(vs))
			for i, v := range vs {
				msgs[i] = fmt.Sprintf(`{"value":%q}`, v)
			}
			return errorsReq{"/produce/" + topic, "application/json", "[" + strings.Join(msgs, ",") + "]"}
		}, true},
		{"confluent_v3", func(topic string, vs []string) errorsReq {
			var b strings.Builder
			for _, v := range vs {
				fmt.Fprintf(&b, `{"value":{"type":"BINARY","data":%q}}`, b64(v))
			}
			return errorsReq{"/v3/clusters/c1/topics/" + topic + "/records", "application/json", b.String()}
		}, true},
		{"ibm_event_streams", func(topic string, vs []string) errorsReq {
			return errorsReq{"/ibm/topics/" + topic + "/records", "text/plain", vs[0]}
		}, false},
		{"confluent_v2", func(topic string, vs []string) errorsReq {
			recs := make([]string, len(vs))
			for i, v := range vs {
				recs[i] = fmt.Sprintf(`{"value":%q}`, b64(v))
			}
			return errorsReq{"/v2/topics/" + topic, "application/vnd.kafka.binary.v2+json", `{"records":[` + strings.Join(recs, ",") + `]}`}
		}, true},
	}
}

func (d errorsDialect) do(t *testing.T, g *gatewaytest.Gateway, topic string, values ...string) (*http.Response, string) {
	t.Helper()
	rq := d.req(topic, values)
	resp, b := g.Do(t, http.MethodPost, rq.path, http.Header{"Content-Type": {rq.contentType}, "Connection": {"close"}}, rq.body)
	return resp, string(b)
}

// wantError checks an error answer: its status, and that its body is the
// dialect's error format with the given code and a message holding every
// part of want.
func wantError(t *testing.T, dialect, what string, resp *http.Response, body string, status int, code string, want ...string) {
	t.Helper()
	ok := resp.StatusCode == status && strings.Contains(body, code) &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "application/")
	for _, w := range want {
		ok = ok && strings.Contains(body, w)
	}
	if !ok {
		t.Errorf("%s, %s: %d %s\nwant %d with %s and %q", dialect, what, resp.StatusCode, body, status, code, want)
	}
}

// TestTooLargeIsOneAnswer sends each dialect a body over max_body, more
// records than max_records and a record over max_message_bytes: every
// dialect answers 413 in its own format (IBM 400, as its contract says; v3 a
// 413 report for the record, as Confluent reports records), naming the
// setting and its limit, and nothing is written.
func TestTooLargeIsOneAnswer(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{Topics: map[string]int32{"big": 1}, Kafka: errorsKafka, Site: errorsSite})
	topic := g.Topic("big")
	overBody := strings.Repeat("b", 9<<10)
	overMessage := strings.Repeat("m", 4<<10)
	for _, d := range errorsDialects() {
		body413 := map[string][2]any{ // status, code
			"webhook":           {413, `"status":413`},
			"upstash":           {413, `"status":413`},
			"confluent_v3":      {413, `"error_code":413`},
			"ibm_event_streams": {400, `"error_code":400`},
			"confluent_v2":      {413, `"error_code":413`},
		}[d.name]
		status, code := body413[0].(int), body413[1].(string)

		resp, body := d.do(t, g, topic, overBody)
		wantError(t, d.name, "body over max_body", resp, body, status, code,
			"request body is over max_body (8 KiB); raise max_body in the kafka_rest route or send less")

		if d.many {
			resp, body = d.do(t, g, topic, "one", "two", "three")
			wantError(t, d.name, "records over max_records", resp, body, status, code,
				"request has more than max_records (2) records; raise max_records in the kafka_rest route")
		}

		if d.many {
			resp, body = d.do(t, g, topic, "small", overMessage)
		} else {
			resp, body = d.do(t, g, topic, overMessage)
		}
		want := "record is over max_message_bytes (2 KiB)"
		if d.name == "confluent_v3" {
			// Confluent answers per record: the small one is written, the
			// large one reported.
			if resp.StatusCode != 200 || !strings.Contains(body, `"error_code":200`) ||
				!strings.Contains(body, `{"error_code":413,"message":"`+want) {
				t.Errorf("%s, record over max_message_bytes: %d %s", d.name, resp.StatusCode, body)
			}
			continue
		}
		wantError(t, d.name, "record over max_message_bytes", resp, body, status, code,
			want+"; raise max_message_bytes in the kafka app")
		if strings.Contains(body, "kafka_error_code") {
			t.Errorf("%s: no broker refused the record, yet: %s", d.name, body)
		}
	}
	// Only v3's small record was written.
	if recs := g.Records(t, "big", 1); len(recs) != 1 || string(recs[0].Value) != "small" {
		t.Fatalf("written: %d records", len(recs))
	}
}

// TestUnknownTopicSaysWhy produces to a topic the broker does not have,
// with allow_auto_topic_creation off: every dialect answers its 404 with a
// message saying that the topic is not created and what to do.
func TestUnknownTopicSaysWhy(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{Kafka: errorsKafka, Site: errorsSite})
	codes := map[string]string{"webhook": `"status":404`, "upstash": `"status":404`, "confluent_v3": `"error_code":40403`,
		"ibm_event_streams": `"error_code":404`, "confluent_v2": `"error_code":40401`}
	for _, d := range errorsDialects() {
		resp, body := d.do(t, g, gatewaytest.Unique("missing"), "v")
		wantError(t, d.name, "unknown topic", resp, body, 404, codes[d.name],
			"the broker does not create topics automatically for this gateway; create the topic, or set allow_auto_topic_creation in the kafka app")
	}
}

// TestUnreachableSaysWhere stops the broker: once the health check has seen
// it, every dialect answers with its unavailable status (Confluent's 500
// with 50003, which it uses for retriable Kafka errors; 503 elsewhere),
// Retry-After, and a pointer to the admin endpoint that knows why.
func TestUnreachableSaysWhere(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("stops the broker: kfake only")
	}
	g := gatewaytest.New(t, gatewaytest.Options{Kafka: errorsKafka, Site: errorsSite})
	g.Fake.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		cs, raw := adminClusters(t, g)
		if cs[0].State == "unreachable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster is still not unreachable: %s", raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	statuses := map[string][2]any{"webhook": {503, `"status":503`}, "upstash": {503, `"status":503`},
		"confluent_v3": {500, `"error_code":50003`}, "ibm_event_streams": {503, `"error_code":503`},
		"confluent_v2": {500, `"error_code":50003`}}
	for _, d := range errorsDialects() {
		resp, body := d.do(t, g, "down", "v")
		s := statuses[d.name]
		wantError(t, d.name, "broker down", resp, body, s[0].(int), s[1].(string),
			"no broker has answered the gateway since ", "; see GET /kafka/clusters on Caddy's admin API for why")
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s, broker down: no Retry-After", d.name)
		}
	}
}
