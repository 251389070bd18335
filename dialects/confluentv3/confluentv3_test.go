package confluentv3_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/caddy-kafka/caddy-kafka/dialects/confluentv3" // until the root package imports it
	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

const site = `kafka_rest confluent_v3 {
	cluster_id cluster-1
	topics {topic.topic-1} {topic.other}
	max_body 2KiB
}`

func newGateway(t *testing.T, o gatewaytest.Options) *gatewaytest.Gateway {
	t.Helper()
	if o.Topics == nil {
		o.Topics = map[string]int32{"topic-1": 3, "other": 1, "secret": 1}
	}
	if o.Site == "" {
		o.Site = site
	}
	return gatewaytest.New(t, o)
}

func recordsPath(g *gatewaytest.Gateway, topic string) string {
	return "/kafka/v3/clusters/cluster-1/topics/" + g.Topic(topic) + "/records"
}

// reports splits concatenated JSON reports.
func reports(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	var out []map[string]any
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("decoding reports %q: %v", body, err)
		}
		out = append(out, m)
	}
	return out
}

var tsRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// checkReport compares a report with want, after checking offset and
// timestamp (which vary) for type and format and removing them.
func checkReport(t *testing.T, got map[string]any, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if got["error_code"] == float64(200) {
		if _, ok := got["offset"].(float64); !ok {
			t.Errorf("offset %v is not a number", got["offset"])
		}
		if ts, _ := got["timestamp"].(string); !tsRE.MatchString(ts) {
			t.Errorf("timestamp %q is not RFC 3339 with millis", got["timestamp"])
		}
		if _, ok := w["timestamp"]; !ok {
			delete(got, "timestamp")
		}
		delete(got, "offset")
	}
	if !reflect.DeepEqual(got, w) {
		gb, _ := json.Marshal(got)
		t.Errorf("report\n got %s\nwant %s", gb, want)
	}
}

// The request and response examples of the spec, as golden pairs.
func TestSpecExamples(t *testing.T) {
	g := newGateway(t, gatewaytest.Options{})
	topic := g.Topic("topic-1")
	for _, tc := range []struct {
		name, body, want string
	}{
		{"binary_and_json", `{"partition_id":1,"headers":[{"name":"Header-1","value":"SGVhZGVyLTE="},{"name":"Header-2","value":"SGVhZGVyLTI="}],
			"key":{"type":"BINARY","data":"Zm9vYmFy"},"value":{"type":"JSON","data":{"foo":"bar"}},"timestamp":"2021-02-05T19:14:42Z"}`,
			`{"error_code":200,"cluster_id":"cluster-1","topic_name":"` + topic + `","partition_id":1,"timestamp":"2021-02-05T19:14:42.000Z",
			"key":{"type":"BINARY","size":6},"value":{"type":"JSON","size":13}}`},
		{"string", `{"value":{"type":"STRING","data":"My message"}}`,
			`{"error_code":200,"cluster_id":"cluster-1","topic_name":"` + topic + `","partition_id":0,"key":null,"value":{"type":"STRING","size":10}}`},
		// Omitted type is BINARY, and 1000 is no base64 string.
		{"empty_value", `{"key":{"data":1000}}`,
			`{"error_code":400,"message":"Bad Request: data=1000 is not a base64 string."}`},
		{"produce_record_bad_binary_data", `{"value":{"type":"BINARY","data":1}}`,
			`{"error_code":400,"message":"Bad Request: data=1 is not a base64 string."}`},
		// "string" is valid (unpadded) base64; BINARY without data is null.
		{"jsonRequestBodyExample", `{"partition_id":0,"headers":[{"name":"string","value":"string"}],"key":{"type":"BINARY"},"value":{"type":"BINARY"},"timestamp":"2024-07-29T15:51:28.071Z"}`,
			`{"error_code":200,"cluster_id":"cluster-1","topic_name":"` + topic + `","partition_id":0,"timestamp":"2024-07-29T15:51:28.071Z","key":null,"value":null}`},
		{"header_not_base64_encoded", `{"headers":[{"name":"h","value":"a"}]}`,
			`{"error_code":400,"message":"Bad Request: the value of header \"h\" is not a base64 string"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := g.Post(t, recordsPath(g, "topic-1"), "application/json", tc.body)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			rs := reports(t, body)
			if len(rs) != 1 {
				t.Fatalf("%d reports: %s", len(rs), body)
			}
			if tc.name == "string" {
				rs[0]["partition_id"] = float64(0) // sticky partitioning: any partition
			}
			checkReport(t, rs[0], tc.want)
		})
	}
	recs := g.Records(t, "topic-1", 3)
	if len(recs) != 3 {
		t.Fatalf("%d records in Kafka, want 3", len(recs))
	}
	for _, r := range recs {
		switch {
		case r.Key == nil && string(r.Value) == "My message": // sticky: any partition
		case r.Partition == 1:
			if string(r.Key) != "foobar" || string(r.Value) != `{"foo":"bar"}` || len(r.Headers) != 2 ||
				r.Headers[0].Key != "Header-1" || string(r.Headers[0].Value) != "Header-1" ||
				r.Headers[1].Key != "Header-2" || string(r.Headers[1].Value) != "Header-2" ||
				r.Timestamp.UnixMilli() != time.Date(2021, 2, 5, 19, 14, 42, 0, time.UTC).UnixMilli() {
				t.Errorf("binary_and_json record: %+v", r)
			}
		case r.Partition == 0 && r.Key == nil && r.Value == nil:
			if len(r.Headers) != 1 || r.Headers[0].Key != "string" || !gatewaytest.EqualBytes(r.Headers[0].Value, []byte{0xb2, 0xda, 0xe2, 0x9e}) {
				t.Errorf("header %+v", r.Headers)
			}
		default:
			t.Errorf("unexpected record %+v", r)
		}
	}
}

// What lands in Kafka, byte for byte.
func TestRecordBytes(t *testing.T) {
	g := newGateway(t, gatewaytest.Options{})
	ts := "2023-04-05T06:07:08.123+02:00"
	body := `{"partition_id":2,"key":{"type":"JSON","data":"k1"},"value":{"type":"JSON","data": {"a": [1, 2]} },"timestamp":"` + ts + `"}
{"partition_id":2,"key":{"type":"STRING","data":"k\u00e9"},"value":{"type":"STRING","data":""},"headers":[{"name":"h1","value":"AAEC"},{"name":"h2","value":null},{"name":"h1","value":""}]}
{"partition_id":2,"key":{"data":"AP8="},"value":{"type":"BINARY","data":null}}
{"partition_id":2,"value":{"data":"aGk"}}
{"partition_id":2,"key":null,"value":{"type":"JSON","data":"s"}}`
	resp, out := g.Post(t, recordsPath(g, "topic-1"), "application/json; charset=utf-8", body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	rs := reports(t, out)
	if len(rs) != 5 {
		t.Fatalf("%d reports: %s", len(rs), out)
	}
	for i, r := range rs {
		if r["error_code"] != float64(200) || r["partition_id"] != float64(2) || r["offset"] != float64(i) {
			t.Fatalf("report %d: %v", i, r)
		}
	}
	if rs[0]["timestamp"] != "2023-04-05T04:07:08.123Z" {
		t.Errorf("timestamp %v", rs[0]["timestamp"])
	}
	recs := g.Records(t, "topic-1", 5)
	if len(recs) != 5 {
		t.Fatalf("%d records", len(recs))
	}
	want := []struct{ key, value []byte }{
		{[]byte(`"k1"`), []byte(`{"a": [1, 2]}`)},
		{[]byte("k\u00e9"), []byte{}},
		{[]byte{0, 0xff}, nil},
		{nil, []byte("hi")},
		{nil, []byte(`"s"`)},
	}
	for i, r := range recs {
		if r.Partition != 2 || r.Offset != int64(i) {
			t.Fatalf("record %d at %d/%d", i, r.Partition, r.Offset)
		}
		if !gatewaytest.EqualBytes(r.Key, want[i].key) || !gatewaytest.EqualBytes(r.Value, want[i].value) {
			t.Errorf("record %d: key %q value %q, want %q %q", i, r.Key, r.Value, want[i].key, want[i].value)
		}
	}
	if got := recs[0].Timestamp.UnixMilli(); got != time.Date(2023, 4, 5, 4, 7, 8, 123e6, time.UTC).UnixMilli() {
		t.Errorf("timestamp %v", recs[0].Timestamp)
	}
	h := recs[1].Headers
	if len(h) != 3 || h[0].Key != "h1" || !gatewaytest.EqualBytes(h[0].Value, []byte{0, 1, 2}) ||
		h[1].Key != "h2" || h[1].Value != nil || h[2].Key != "h1" || !gatewaytest.EqualBytes(h[2].Value, []byte{}) {
		t.Errorf("headers %+v", h)
	}
	if len(recs[0].Headers) != 0 {
		t.Errorf("headers on record 0: %+v", recs[0].Headers)
	}
	// Reports: sizes of the bytes produced; null for null data.
	checkReport(t, rs[2], `{"error_code":200,"cluster_id":"cluster-1","topic_name":"`+g.Topic("topic-1")+`","partition_id":2,
		"key":{"type":"BINARY","size":2},"value":null}`)
	checkReport(t, rs[1], `{"error_code":200,"cluster_id":"cluster-1","topic_name":"`+g.Topic("topic-1")+`","partition_id":2,
		"key":{"type":"STRING","size":3},"value":{"type":"STRING","size":0}}`)
}

// A keyed record lands where Java's partitioner puts it, and both reports
// and Kafka agree.
func TestKeyedPartition(t *testing.T) {
	g := newGateway(t, gatewaytest.Options{})
	key := base64.StdEncoding.EncodeToString([]byte("user-42"))
	resp, out := g.Post(t, recordsPath(g, "topic-1"), "application/json", `{"key":{"data":"`+key+`"},"value":{"type":"STRING","data":"v"}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	rs := reports(t, out)
	recs := g.Records(t, "topic-1", 1)
	if len(recs) != 1 || string(recs[0].Key) != "user-42" || float64(recs[0].Partition) != rs[0]["partition_id"] {
		t.Fatalf("records %v, report %v", recs, rs)
	}
	// murmur2("user-42") % 3, as Java computes it.
	if recs[0].Partition != gatewaytest.JavaPartition([]byte("user-42"), 3) {
		t.Fatalf("partition %d, Java would pick %d", recs[0].Partition, gatewaytest.JavaPartition([]byte("user-42"), 3))
	}
}

func TestErrors(t *testing.T) {
	g := newGateway(t, gatewaytest.Options{Kafka: "max_buffered_records 5"})
	big := `{"value":{"type":"STRING","data":"` + strings.Repeat("x", 3000) + `"}}`
	for _, tc := range []struct {
		name, method, path, ct, body string
		status                       int
		want                         string // error body, or the concatenated reports
	}{
		{"unknown cluster", "POST", "/v3/clusters/nope/topics/" + g.Topic("topic-1") + "/records", "application/json", `{}`,
			404, `{"error_code":404,"message":"Cluster nope cannot be found."}`},
		{"topic not allowed", "POST", recordsPath(g, "secret"), "application/json", `{}`,
			403, `{"error_code":40301,"message":"topic \"` + g.Topic("secret") + `\" is not allowed by this route (its kafka_rest topics setting)"}`},
		{"empty body", "POST", recordsPath(g, "topic-1"), "application/json", " \n",
			422, `{"error_code":42206,"message":"Payload error. Request body is empty. Data is required."}`},
		{"media type", "POST", recordsPath(g, "topic-1"), "text/plain", `{}`,
			415, `{"error_code":415,"message":"HTTP 415 Unsupported Media Type: Content-Type \"text/plain\" is not supported: send Content-Type: application/json"}`},
		{"charset", "POST", recordsPath(g, "topic-1"), "application/json; charset=DEADBEEF", `{"value":{"data":"AA=="}}`,
			400, `{"error_code":400,"message":"unsupported charset \"DEADBEEF\": send UTF-8 or ISO-8859-1 JSON (Content-Type: application/json; charset=utf-8)"}`},
		{"charset batch", "POST", recordsPath(g, "topic-1") + ":batch", "application/json; charset=utf-16", `{"entries":[{"id":"1","value":{"data":"AA=="}}]}`,
			400, `{"error_code":400,"message":"unsupported charset \"utf-16\": send UTF-8 or ISO-8859-1 JSON (Content-Type: application/json; charset=utf-8)"}`},
		{"no media type", "POST", recordsPath(g, "topic-1"), "", `{}`,
			415, `{"error_code":415,"message":"HTTP 415 Unsupported Media Type: no Content-Type is not supported: send Content-Type: application/json"}`},
		{"too large", "POST", recordsPath(g, "topic-1"), "application/json", big,
			413, `{"error_code":413,"message":"request body is over max_body (2 KiB); raise max_body in the kafka_rest route or send less"}`},
		{"method", "GET", recordsPath(g, "topic-1"), "", ``,
			405, `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`},
		{"overload", "POST", recordsPath(g, "topic-1"), "application/json", strings.Repeat(`{}`, 6),
			429, `{"error_code":429,"message":"the gateway is overloaded; retry later"}`},
		{"per record", "POST", recordsPath(g, "topic-1"), "application/json",
			`{"partition_id":7} {"partition_id":-1} {"foo":1} {"id":"x"} {"key":{"type":"AVRO","data":"x"}} {"value":{"schema_id":1,"data":"AA=="}}
			 {"value":{"type":"STRING","data":1}} {"value":{"type":"BINARY","data":"***"}} {"headers":[{"value":"AA=="}]} {"timestamp":"yesterday"}
			 {"partition_id":"1"} {"value":{"type":"CSV"}} {"value":{"subject":null,"data":"AA=="},"partition_id":0}`,
			200, `{"error_code":40402,"message":"Partition not found."}
{"error_code":40402,"message":"Partition not found."}
{"error_code":400,"message":"Bad Request: unrecognized field \"foo\": a record has partition_id, headers, key, value and timestamp; a key or value has type, data, schema_id, schema_version, subject, subject_name_strategy and schema; a header has name and value"}
{"error_code":400,"message":"Bad Request: unrecognized field \"id\" (records:batch entries only): a record has partition_id, headers, key, value and timestamp; a key or value has type, data, schema_id, schema_version, subject, subject_name_strategy and schema; a header has name and value"}
{"error_code":400,"message":"Bad Request: key.type AVRO is not supported: the gateway's cluster has no schema_registry; use BINARY, JSON or STRING"}
{"error_code":400,"message":"Bad Request: value.schema_id is not supported: the gateway's cluster has no schema_registry; use type BINARY, JSON or STRING"}
{"error_code":400,"message":"Bad Request: data=1 is not a string."}
{"error_code":400,"message":"Bad Request: data=\"***\" is not a valid base64 string."}
{"error_code":400,"message":"Bad Request: a header has no name"}
{"error_code":400,"message":"Bad Request: timestamp \"yesterday\" is not an RFC 3339 date-time"}
{"error_code":400,"message":"Bad Request: field partition_id must not be a JSON string"}
{"error_code":400,"message":"Bad Request: value.type \"CSV\" is not one of BINARY, JSON, STRING"}
{"error_code":200,"cluster_id":"cluster-1","topic_name":"` + g.Topic("topic-1") + `","partition_id":0,"key":null,"value":{"type":"BINARY","size":1}}`},
		{"malformed mid-body", "POST", recordsPath(g, "other"), "application/json",
			`{"value":{"data":"AQ=="}} {"value": nope} {"value":{"data":"Ag=="}}`,
			200, `{"error_code":200,"cluster_id":"cluster-1","topic_name":"` + g.Topic("other") + `","partition_id":0,"key":null,"value":{"type":"BINARY","size":1}}
{"error_code":400,"message":"Bad Request: malformed JSON: invalid character 'o' in literal null (expecting 'u')"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.ct != "" {
				h.Set("Content-Type", tc.ct)
			}
			resp, body := g.Do(t, tc.method, tc.path, h, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.status == 429 && resp.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			if tc.status == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
			got, want := reports(t, body), reports(t, []byte(tc.want))
			if len(got) != len(want) {
				t.Fatalf("got\n%s\nwant\n%s", body, tc.want)
			}
			for i := range got {
				checkReport(t, got[i], mustMarshal(want[i]))
			}
		})
	}
	// Only the two valid records were written.
	if recs := g.Records(t, "topic-1", 1); len(recs) != 1 || !gatewaytest.EqualBytes(recs[0].Value, []byte{0}) {
		t.Errorf("topic-1 has %d records", len(recs))
	}
	if recs := g.Records(t, "other", 1); len(recs) != 1 || !gatewaytest.EqualBytes(recs[0].Value, []byte{1}) {
		t.Errorf("other has %d records", len(recs))
	}
}

func TestUnknownTopic(t *testing.T) {
	g := newGateway(t, gatewaytest.Options{Site: `kafka_rest confluent_v3 {
		cluster_id cluster-1
	}`})
	// Confluent's message, and why the topic is missing: the gateway does
	// not ask the broker to create it.
	missingTopic := `{"error_code":40403,"message":"This server does not host this topic-partition: topic \"` + g.Topic("missing") + `\" does not exist; the broker does not create topics automatically for this gateway; create the topic, or set allow_auto_topic_creation in the kafka app if the broker allows it"}`
	resp, body := g.Post(t, "/kafka/v3/clusters/cluster-1/topics/"+g.Topic("missing")+"/records", "application/json", `{"value":{"data":"AA=="}}`)
	if resp.StatusCode != 404 || string(body) != missingTopic {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	// Streaming: refused before any report.
	resp, body = postChunked(t, g, "/kafka/v3/clusters/cluster-1/topics/"+g.Topic("missing")+"/records", `{"value":{"data":"AA=="}}`)
	if resp.StatusCode != 404 || string(body) != missingTopic {
		t.Fatalf("streaming: status %d: %s", resp.StatusCode, body)
	}
	// The topic is checked before any record is decoded: a body with no
	// valid record still gets the 404 (issue 14), in records and
	// records:batch alike.
	for path, b := range map[string]string{
		"/records":       `{"value":{"type":"BINARY","data":1}}`,
		"/records:batch": `{"entries":[{"id":"1","value":{"type":"BINARY","data":1}}]}`,
	} {
		resp, body = g.Post(t, "/kafka/v3/clusters/cluster-1/topics/"+g.Topic("missing")+path, "application/json", b)
		if resp.StatusCode != 404 || string(body) != missingTopic {
			t.Errorf("%s with no valid record: status %d: %s", path, resp.StatusCode, body)
		}
	}
}

func mustMarshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// The cluster ID defaults to Kafka's own, found through discovery.
func TestDiscovery(t *testing.T) {
	g := newGateway(t, gatewaytest.Options{Site: `kafka_rest confluent_v3 {
		topics {topic.topic-1} {topic.other}
	}`})
	resp, body := g.Do(t, "GET", "/kafka/v3/clusters", nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var list struct {
		Kind     string
		Metadata map[string]any
		Data     []map[string]any
	}
	if err := json.Unmarshal(body, &list); err != nil || list.Kind != "KafkaClusterList" || len(list.Data) != 1 {
		t.Fatalf("%s: %v", body, err)
	}
	id, _ := list.Data[0]["cluster_id"].(string)
	if id == "" {
		t.Fatalf("no cluster_id: %s", body)
	}
	base := g.URL + "/kafka/v3/clusters/" + id
	wantCluster := map[string]any{
		"kind":                    "KafkaCluster",
		"metadata":                map[string]any{"self": base, "resource_name": "crn:///kafka=" + id},
		"cluster_id":              id,
		"controller":              list.Data[0]["controller"],
		"acls":                    map[string]any{"related": base + "/acls"},
		"brokers":                 map[string]any{"related": base + "/brokers"},
		"broker_configs":          map[string]any{"related": base + "/broker-configs"},
		"consumer_groups":         map[string]any{"related": base + "/consumer-groups"},
		"topics":                  map[string]any{"related": base + "/topics"},
		"partition_reassignments": map[string]any{"related": base + "/topics/-/partitions/-/reassignment"},
	}
	if !reflect.DeepEqual(list.Data[0], wantCluster) {
		t.Errorf("cluster %v\nwant %v", list.Data[0], wantCluster)
	}
	if !reflect.DeepEqual(list.Metadata, map[string]any{"self": g.URL + "/kafka/v3/clusters", "next": nil}) {
		t.Errorf("list metadata %v", list.Metadata)
	}

	// The same cluster without the /kafka prefix.
	resp, body = g.Do(t, "GET", "/v3/clusters/"+id, nil, "")
	var cl map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(body, &cl) != nil || cl["kind"] != "KafkaCluster" ||
		cl["metadata"].(map[string]any)["self"] != g.URL+"/v3/clusters/"+id {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}

	// Topics: allowed ones only.
	resp, body = g.Do(t, "GET", "/kafka/v3/clusters/"+id+"/topics", nil, "")
	var tl struct {
		Kind string
		Data []map[string]any
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &tl) != nil || tl.Kind != "KafkaTopicList" || len(tl.Data) != 2 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	topic := g.Topic("topic-1")
	tu := base + "/topics/" + topic
	wantTopic := map[string]any{
		"kind":                    "KafkaTopic",
		"metadata":                map[string]any{"self": tu, "resource_name": "crn:///kafka=" + id + "/topic=" + topic},
		"cluster_id":              id,
		"topic_name":              topic,
		"is_internal":             false,
		"replication_factor":      float64(1),
		"partitions_count":        float64(3),
		"partitions":              map[string]any{"related": tu + "/partitions"},
		"configs":                 map[string]any{"related": tu + "/configs"},
		"partition_reassignments": map[string]any{"related": tu + "/partitions/-/reassignment"},
		"authorized_operations":   []any{},
	}
	var found bool
	for _, d := range tl.Data {
		if d["topic_name"] == g.Topic("secret") {
			t.Errorf("secret topic listed")
		}
		if d["topic_name"] == topic {
			found = true
			if !reflect.DeepEqual(d, wantTopic) {
				t.Errorf("topic %v\nwant %v", d, wantTopic)
			}
		}
	}
	if !found {
		t.Errorf("topic-1 not listed: %s", body)
	}

	resp, body = g.Do(t, "GET", "/kafka/v3/clusters/"+id+"/topics/"+topic, nil, "")
	var td map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(body, &td) != nil || !reflect.DeepEqual(td, wantTopic) {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}

	resp, body = g.Do(t, "GET", "/kafka/v3/clusters/"+id+"/topics/"+topic+"/partitions", nil, "")
	var pl struct {
		Kind     string
		Metadata map[string]any
		Data     []map[string]any
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &pl) != nil || pl.Kind != "KafkaPartitionList" || len(pl.Data) != 3 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	pu := tu + "/partitions/2"
	p2 := pl.Data[2]
	leader, _ := p2["leader"].(map[string]any)
	if l, _ := leader["related"].(string); !strings.HasPrefix(l, pu+"/replicas/") {
		t.Errorf("leader %v", p2["leader"])
	}
	delete(p2, "leader")
	wantPart := map[string]any{
		"kind":         "KafkaPartition",
		"metadata":     map[string]any{"self": pu, "resource_name": "crn:///kafka=" + id + "/topic=" + topic + "/partition=2"},
		"cluster_id":   id,
		"topic_name":   topic,
		"partition_id": float64(2),
		"replicas":     map[string]any{"related": pu + "/replicas"},
		"reassignment": map[string]any{"related": pu + "/reassignment"},
	}
	if !reflect.DeepEqual(p2, wantPart) {
		t.Errorf("partition %v\nwant %v", p2, wantPart)
	}

	// Producing with the discovered ID works.
	resp, body = g.Post(t, "/kafka/v3/clusters/"+id+"/topics/"+topic+"/records", "application/json", `{"value":{"type":"STRING","data":"x"}}`)
	if resp.StatusCode != 200 || reports(t, body)[0]["cluster_id"] != id {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}

	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/kafka/v3/clusters/" + id + "/topics/" + g.Topic("secret"), 404, `{"error_code":40403,"message":"This server does not host this topic-partition."}`},
		{"/kafka/v3/clusters/" + id + "/topics/" + g.Topic("secret") + "/partitions", 404, `{"error_code":40403,"message":"This server does not host this topic-partition."}`},
		{"/kafka/v3/clusters/nope/topics", 404, `{"error_code":404,"message":"Cluster nope cannot be found."}`},
	} {
		resp, body := g.Do(t, "GET", tc.path, nil, "")
		if resp.StatusCode != tc.status || string(body) != tc.want {
			t.Errorf("%s: status %d: %s", tc.path, resp.StatusCode, body)
		}
	}
	// A path under the dialect's URL space it does not know is a JSON 404,
	// not the next handler's answer (here an empty 200).
	for _, p := range []string{"/kafka/v3/clusters/" + id + "/acls", "/v3/clusters/" + id + "/topics/" + g.Topic("topic-1") + "/partitions/0/replicas"} {
		resp, body = g.Do(t, "GET", p, nil, "")
		if resp.StatusCode != 404 || !strings.HasPrefix(string(body), `{"error_code":404,"message":"HTTP 404 Not Found`) {
			t.Errorf("%s answered %d: %s", p, resp.StatusCode, body)
		}
	}
	// One partition, as the list has it; a missing one is 40402.
	resp, body = g.Do(t, "GET", "/kafka/v3/clusters/"+id+"/topics/"+g.Topic("topic-1")+"/partitions/1", nil, "")
	var part map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(body, &part) != nil || part["kind"] != "KafkaPartition" || part["partition_id"] != 1.0 ||
		part["topic_name"] != g.Topic("topic-1") {
		t.Errorf("one partition: %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"9", "x"} {
		resp, body = g.Do(t, "GET", "/kafka/v3/clusters/"+id+"/topics/"+g.Topic("topic-1")+"/partitions/"+p, nil, "")
		if resp.StatusCode != 404 || !strings.Contains(string(body), `"error_code":40402`) {
			t.Errorf("partition %s: %d %s", p, resp.StatusCode, body)
		}
	}
	resp, body = g.Do(t, "POST", "/kafka/v3/clusters/"+id+"/topics", nil, "")
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
		t.Errorf("POST topics: %d %s", resp.StatusCode, body)
	}
}

// kafka-rest's ProduceActionNoSchemaIntegrationTest posts JSON with
// "application/json; charset=ISO-8859-1", which Confluent's JSON reader
// accepts and reads as Latin-1: byte 0xE9 is "é", stored as UTF-8.
func TestLatin1Body(t *testing.T) {
	g := newGateway(t, gatewaytest.Options{})
	for i, ct := range []string{"application/json; charset=ISO-8859-1", "application/json; charset=iso-8859-1"} {
		body := "{\"key\":{\"type\":\"STRING\",\"data\":\"caf\xe9\"},\"value\":{\"type\":\"JSON\",\"data\":{\"s\":\"\xe9t\xe9\"}}}"
		resp, out := g.Post(t, recordsPath(g, "topic-1"), ct, body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %s", ct, resp.StatusCode, out)
		}
		recs := g.Records(t, "topic-1", i+1)
		if got := recs[i]; string(got.Key) != "café" || string(got.Value) != `{"s":"été"}` {
			t.Fatalf("%s: record key %q value %q, want the Latin-1 body read as UTF-8", ct, got.Key, got.Value)
		}
	}
}
