package confluentv3_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

func TestRecordsBatch(t *testing.T) {
	g := newGateway(t, gatewaytest.Options{Site: `kafka_rest confluent_v3 {
		cluster_id cluster-1
		batch_max_entries 4
		topics {topic.topic-1}
	}`})
	path := recordsPath(g, "topic-1") + ":batch"
	topic := g.Topic("topic-1")
	resp, body := g.Post(t, path, "application/json", `{"entries":[
		{"id":"a","partition_id":1,"key":{"type":"STRING","data":"k"},"value":{"type":"JSON","data":[1]}},
		{"id":"b","value":{"type":"BINARY","data":"!"}},
		{"id":"c","partition_id":1,"value":{"type":"STRING","data":"v"},"timestamp":"2022-01-02T03:04:05.006Z"},
		{"id":"d","partition_id":5}]}`)
	if resp.StatusCode != 207 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got map[string][]map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for _, s := range got["successes"] {
		if _, ok := s["offset"].(float64); !ok {
			t.Errorf("offset %v", s["offset"])
		}
		delete(s, "offset")
		if s["id"] == "a" {
			if ts, _ := s["timestamp"].(string); !tsRE.MatchString(ts) {
				t.Errorf("timestamp %v", s["timestamp"])
			}
			delete(s, "timestamp")
		}
	}
	var want map[string][]map[string]any
	if err := json.Unmarshal([]byte(`{"successes":[
		{"id":"a","cluster_id":"cluster-1","topic_name":"`+topic+`","partition_id":1,"key":{"type":"STRING","size":1},"value":{"type":"JSON","size":3}},
		{"id":"c","cluster_id":"cluster-1","topic_name":"`+topic+`","partition_id":1,"timestamp":"2022-01-02T03:04:05.006Z","key":null,"value":{"type":"STRING","size":1}}],
		"failures":[
		{"id":"b","error_code":400,"message":"Bad Request: data=\"!\" is not a valid base64 string."},
		{"id":"d","error_code":40402,"message":"Partition not found."}]}`), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %s", body)
	}
	recs := g.Records(t, "topic-1", 2)
	if len(recs) != 2 || string(recs[0].Key) != "k" || string(recs[0].Value) != "[1]" || string(recs[1].Value) != "v" || recs[1].Key != nil {
		t.Fatalf("records %v", recs)
	}

	entry := func(id string) string { return fmt.Sprintf(`{"id":%q,"value":{"data":"AA=="}}`, id) }
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"too many", `{"entries":[` + strings.Join([]string{entry("1"), entry("2"), entry("3"), entry("4"), entry("5")}, ",") + `]}`,
			422, `{"error_code":42208,"message":"Too many entries in batch: 5, at most 4."}`},
		{"empty batch", `{"entries":[]}`, 422, `{"error_code":42208,"message":"Empty batch."}`},
		{"empty body", ``, 422, `{"error_code":42208,"message":"Request body is empty. Data is required."}`},
		{"duplicate ids", `{"entries":[` + entry("x") + `,` + entry("x") + `]}`,
			422, `{"error_code":42208,"message":"Batch entry IDs are not distinct: \"x\" appears more than once."}`},
		{"no id", `{"entries":[{"value":{"data":"AA=="}}]}`,
			422, `{"error_code":42208,"message":"Batch entry identifier is not a valid string: ids are strings of 1 to 80 characters."}`},
		{"long id", `{"entries":[` + entry(strings.Repeat("i", 81)) + `]}`,
			422, `{"error_code":42208,"message":"Batch entry identifier is not a valid string: ids are strings of 1 to 80 characters."}`},
		{"numeric id", `{"entries":[{"id":1}]}`,
			422, `{"error_code":42208,"message":"Batch entry identifier is not a valid string: ids are strings of 1 to 80 characters."}`},
		{"unknown field", `{"entries":[],"x":1}`, 400, `{"error_code":400,"message":"Bad Request: unrecognized field \"x\": a batch has entries, each a record with an \"id\""}`},
		// kafka-rest's ProduceBatchActionIntegrationTest: a records
		// request's body sent to records:batch is a 422.
		{"a records body", `{"records":[{"value":{"data":"AA=="}}]}`, 422, `{"error_code":422,"message":"the body is not a batch: send {\"entries\":[{\"id\":\"1\",\"value\":{...}},...]}"}`},
		{"an array", `[{"id":"1"}]`, 422, `{"error_code":422,"message":"the body is not a batch: send {\"entries\":[{\"id\":\"1\",\"value\":{...}},...]}"}`},
		{"malformed", `{"entries":[`, 400, `{"error_code":400,"message":"Bad Request: malformed JSON: unexpected EOF"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := g.Post(t, path, "application/json", tc.body)
			if resp.StatusCode != tc.status || string(body) != tc.want {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
		})
	}
	resp, body = g.Post(t, recordsPath(g, "other")+":batch", "application/json", `{"entries":[`+entry("1")+`]}`)
	if resp.StatusCode != 403 || string(body) != `{"error_code":40301,"message":"topic \"`+g.Topic("other")+`\" is not allowed by this route (its kafka_rest topics setting)"}` {
		t.Fatalf("not allowed: %d %s", resp.StatusCode, body)
	}
	resp, body = g.Post(t, path, "text/plain", `{"entries":[`+entry("1")+`]}`)
	if resp.StatusCode != 415 {
		t.Fatalf("media type: %d %s", resp.StatusCode, body)
	}
	// An 80-character id is fine.
	id := strings.Repeat("é", 80)
	resp, body = g.Post(t, path, "application/json", `{"entries":[`+entry(id)+`]}`)
	if resp.StatusCode != 207 || !strings.Contains(string(body), `"failures":[]`) {
		t.Fatalf("80-char id: %d %s", resp.StatusCode, body)
	}
}
