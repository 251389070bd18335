package webhook_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

func TestWebhookValueSchema(t *testing.T) {
	url := gatewaytest.RegistryURL(t)
	avroSubj, jsonSubj, pbSubj := gatewaytest.Unique("wh-avro"), gatewaytest.Unique("wh-json"), gatewaytest.Unique("wh-pb")
	avroID := gatewaytest.Register(t, url, avroSubj, sr.Schema{Schema: `{"type":"record","name":"Reading","fields":[{"name":"temp","type":"double"},{"name":"unit","type":["null","string"],"default":null}]}`})
	jsonID := gatewaytest.Register(t, url, jsonSubj, sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"level":{"enum":["info","error"]}},"required":["level"]}`})
	pbID := gatewaytest.Register(t, url, pbSubj, sr.Schema{Type: sr.TypeProtobuf, Schema: "syntax = \"proto3\";\nmessage Ping { string from = 1; }\n"})
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"wa": 1, "wj": 1, "wp": 1},
		Kafka:  "schema_registry " + url,
		Site: fmt.Sprintf(`handle /avro {
			kafka_rest webhook {
				topic {topic.wa}
				value_schema %s 1
			}
		}
		handle /logs {
			kafka_rest webhook {
				topic {topic.wj}
				split lines
				value_schema %s
			}
		}
		handle /ping {
			kafka_rest webhook {
				topic {topic.wp}
				value_schema %s
			}
		}
		handle /nosubject {
			kafka_rest webhook {
				topic {topic.wa}
				value_schema %s-missing
			}
		}`, avroSubj, jsonSubj, pbSubj, avroSubj),
	})
	post := func(path, body string) (int, string) {
		resp, b := g.Do(t, http.MethodPost, path, nil, body)
		return resp.StatusCode, string(b)
	}
	if st, b := post("/avro", `{"temp":21.5,"unit":{"string":"C"}}`); st != 200 {
		t.Fatalf("avro: %d %s", st, b)
	}
	if st, b := post("/avro", `{"temp":"warm"}`); st != 422 || !strings.Contains(b, "does not match") {
		t.Fatalf("avro mismatch: %d %s", st, b)
	}
	if st, b := post("/logs", "{\"level\":\"info\"}\n{\"level\":\"error\", \"msg\": \"x\"}\n"); st != 200 {
		t.Fatalf("ndjson: %d %s", st, b)
	}
	st, b := post("/logs", "{\"level\":\"info\"}\n{\"level\":\"debug\"}\n")
	var e struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	if st != 422 || json.Unmarshal([]byte(b), &e) != nil || e.Status != 422 || !strings.Contains(e.Error, "record 2") || !strings.Contains(e.Error, "/level") {
		t.Fatalf("ndjson violation: %d %s", st, b)
	}
	if st, b := post("/ping", `{"from":"edge-1"}`); st != 200 {
		t.Fatalf("protobuf: %d %s", st, b)
	}
	if st, b := post("/nosubject", `{"temp":1}`); st != 500 || !strings.Contains(b, "value_schema") {
		t.Fatalf("unknown subject: %d %s", st, b)
	}

	check := func(base string, n, id int, want ...string) {
		t.Helper()
		recs := g.Records(t, base, n)
		if len(recs) != n {
			t.Fatalf("%s: %d records, want %d (refused requests must write nothing)", base, len(recs), n)
		}
		for i, r := range recs {
			w := gatewaytest.DecodeWire(t, url, r.Value)
			if w.ID != id || gatewaytest.CompactJSON(t, w.JSON) != gatewaytest.CompactJSON(t, want[i]) {
				t.Errorf("%s record %d: id %d (want %d) %s", base, i, w.ID, id, w.JSON)
			}
		}
	}
	check("wa", 1, avroID, `{"temp":21.5,"unit":{"string":"C"}}`)
	check("wj", 2, jsonID, `{"level":"info"}`, `{"level":"error","msg":"x"}`)
	check("wp", 1, pbID, `{"from":"edge-1"}`)
}
