package upstash

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/fuzzseed"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// The bodies of the spec's curl examples, as written there.
var specBodies = []string{
	`{"value": "hello_kafka"}`,
	`{"partition": 1, "key": "city", "value": "Istanbul", "headers": [{"key": "expire", "value": "1637745834756"}] }`,
	`[
        {"value": "hello_world"},
        {"value": "hello_upstash"},
        {"value": "hello_kafka"}
    ]`,
	`[
        {"partition": 1, "timestamp": 1637745834744, "key": "city", "value": "Istanbul"},
        {"partition": 2, "timestamp": 1637745823147, "key": "city", "value": "London"},
        {"partition": 3, "timestamp": 1637455583829, "key": "city", "value": "Tokyo"},
    ]`,
	`{"topic": "greetings", "value": "hello_kafka"}`,
	`[
        {"topic": "greetings", "value": "hello_world"},
        {"topic": "greetings", "value": "hello_upstash"},
        {"topic": "greetings", "value": "hello_kafka"}
    ]`,
	`[
        {"topic": "greetings", "value": "hello_world"},
        {"topic": "greetings", "value": "hello_upstash"},
        {"topic": "cities", "partition": 1, "value": "Istanbul"},
        {"topic": "cities", "partition": 2, "value": "London"},
        {"topic": "cities", "partition": 3, "value": "Tokyo"},
    ]`,
}

func TestTrimTrailingCommas(t *testing.T) {
	for in, want := range map[string]string{
		`[1,2]`:                               `[1,2]`,
		`[1,2,]`:                              `[1,2]`,
		"[1,2,\n\t ]":                         "[1,2\n\t ]",
		`{"a":1,}`:                            `{"a":1}`,
		`[{"a":"x",},]`:                       `[{"a":"x"}]`,
		`["a,]",]`:                            `["a,]"]`,
		`["a\",]",]`:                          `["a\",]"]`,
		`["a\\",]`:                            `["a\\"]`,
		`[true,null, false ,]`:                `[true,null, false ]`,
		`[[],{},]`:                            `[[],{}]`,
		`[,]`:                                 `[,]`,
		`[1,,]`:                               `[1,,]`,
		`{,}`:                                 `{,}`,
		`{"a":,}`:                             `{"a":,}`,
		`,]`:                                  `,]`,
		`[1,`:                                 `[1,`,
		`"unterminated,]`:                     `"unterminated,]`,
		`{"value":"x,\"}",  }`:                `{"value":"x,\"}"  }`,
		`[{"key":"k","value":"v"},` + "\r\n]": `[{"key":"k","value":"v"}` + "\r\n]",
	} {
		if got := string(trimTrailingCommas([]byte(in))); got != want {
			t.Errorf("trimTrailingCommas(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTrimTrailingCommasKeepsValidJSON(t *testing.T) {
	in := []byte(`[{"value":"a"},{"value":"b"}]`)
	if out := trimTrailingCommas(in); &out[0] != &in[0] {
		t.Fatal("a body without trailing commas was copied")
	}
}

func msg(topic string, partition int32, key, value string, ts int64, headers ...string) producer.Message {
	m := producer.Message{Topic: topic, Partition: partition, Value: []byte(value)}
	if key != "\x00" {
		m.Key = []byte(key)
	}
	if ts != 0 {
		m.Timestamp = time.UnixMilli(ts)
	}
	for i := 0; i < len(headers); i += 2 {
		m.Headers = append(m.Headers, producer.Header{Key: headers[i], Value: []byte(headers[i+1])})
	}
	return m
}

const null = "\x00" // a null key in msg

func TestDecodeMessages(t *testing.T) {
	tests := []struct {
		body, topic string
		want        []producer.Message
	}{
		{specBodies[0], "greetings", []producer.Message{msg("greetings", -1, null, "hello_kafka", 0)}},
		{specBodies[1], "cities", []producer.Message{msg("cities", 1, "city", "Istanbul", 0, "expire", "1637745834756")}},
		{specBodies[2], "greetings", []producer.Message{
			msg("greetings", -1, null, "hello_world", 0), msg("greetings", -1, null, "hello_upstash", 0), msg("greetings", -1, null, "hello_kafka", 0)}},
		{specBodies[3], "cities", []producer.Message{
			msg("cities", 1, "city", "Istanbul", 1637745834744), msg("cities", 2, "city", "London", 1637745823147), msg("cities", 3, "city", "Tokyo", 1637455583829)}},
		{specBodies[4], "", []producer.Message{msg("greetings", -1, null, "hello_kafka", 0)}},
		{specBodies[6], "", []producer.Message{
			msg("greetings", -1, null, "hello_world", 0), msg("greetings", -1, null, "hello_upstash", 0),
			msg("cities", 1, null, "Istanbul", 0), msg("cities", 2, null, "London", 0), msg("cities", 3, null, "Tokyo", 0)}},
		// Explicit nulls are the same as leaving fields out; an empty key
		// is a key.
		{`{"topic":null,"partition":null,"timestamp":null,"key":null,"value":"v","headers":null}`, "t",
			[]producer.Message{msg("t", -1, null, "v", 0)}},
		{`{"key":"","value":""}`, "t", []producer.Message{msg("t", -1, "", "", 0)}},
		{`{"topic":"t","value":"v","timestamp":0,"partition":0}`, "t", []producer.Message{
			{Topic: "t", Partition: 0, Value: []byte("v"), Timestamp: time.UnixMilli(0)}}},
		{`{"value":"v","headers":[{"key":"a","value":null},{"key":"","value":""}]}`, "t", []producer.Message{
			{Topic: "t", Partition: -1, Value: []byte("v"), Headers: []producer.Header{{Key: "a"}, {Key: "", Value: []byte{}}}}}},
		{`{"value":"\u00e9\n\"x\""}`, "t", []producer.Message{msg("t", -1, null, "é\n\"x\"", 0)}},
		{` []`, "t", []producer.Message{}},
	}
	for _, tt := range tests {
		got, err := decodeMessages([]byte(tt.body), tt.topic, 0)
		if err != nil {
			t.Errorf("%s: %v", tt.body, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.body, got, tt.want)
		}
	}
}

func TestDecodeMessagesErrors(t *testing.T) {
	tests := []struct {
		body, topic, want string
		class             producer.Class
	}{
		{``, "t", "empty body", producer.ClassBadRequest},
		{"  \n", "t", "empty body", producer.ClassBadRequest},
		{`"value"`, "t", "JSON message object or an array", producer.ClassBadRequest},
		{`value=x`, "t", "JSON message object or an array", producer.ClassBadRequest},
		{`{"value":"x"`, "t", "invalid JSON body", producer.ClassBadRequest},
		{`{"value":"x"} {"value":"y"}`, "t", "data after the message", producer.ClassBadRequest},
		{`[{"value":"x"},,]`, "t", "invalid JSON body", producer.ClassBadRequest},
		{`[,]`, "t", "invalid JSON body", producer.ClassBadRequest},
		{`{}`, "t", "value is required", producer.ClassBadRequest},
		{`{"value":null}`, "t", "value is required", producer.ClassBadRequest},
		{`[{"value":"a"},{"key":"k"}]`, "t", "message 1: value is required", producer.ClassBadRequest},
		{`{"value":"a"}`, "", "topic is required", producer.ClassBadRequest},
		{`{"topic":"","value":"a"}`, "", "topic is required", producer.ClassBadRequest},
		{`{"topic":"u","value":"a"}`, "t", `topic "u" differs`, producer.ClassBadRequest},
		{`{"value":1}`, "t", "value: want a string, got number", producer.ClassBadRequest},
		{`{"value":{"a":1}}`, "t", "value: want a string, got object", producer.ClassBadRequest},
		{`{"key":1,"value":"a"}`, "t", "key: want a string, got number", producer.ClassBadRequest},
		{`{"value":"a","partition":1.5}`, "t", "partition: want an integer", producer.ClassBadRequest},
		{`{"value":"a","partition":"1"}`, "t", "partition: want an integer", producer.ClassBadRequest},
		{`{"value":"a","partition":4294967296}`, "t", "partition: want an integer from 0 to 2147483647", producer.ClassBadRequest},
		{`{"value":"a","partition":-1}`, "t", "partition must not be negative", producer.ClassBadRequest},
		{`{"value":"a","timestamp":-5}`, "t", "timestamp must not be negative", producer.ClassBadRequest},
		{`{"value":"a","timestamp":"2021-11-24"}`, "t", "timestamp: want an integer", producer.ClassBadRequest},
		{`{"value":"a","headers":{"key":"b"}}`, "t", "headers: want an array", producer.ClassBadRequest},
		{`{"value":"a","headers":[{"value":"b"}]}`, "t", "headers[0]: key is required", producer.ClassBadRequest},
		{`{"value":"a","headers":[{"key":"b","value":1}]}`, "t", "headers.value: want a string", producer.ClassBadRequest},
		{`{"value":"a","partiton":1}`, "t", `unknown field "partiton"`, producer.ClassBadRequest},
		{`{"value":"a","headers":[{"key":"b","name":"c"}]}`, "t", `unknown field "name"`, producer.ClassBadRequest},
		{`[1]`, "t", "a message must be a JSON object, not number", producer.ClassBadRequest},
		{`[null]`, "t", "message 0: value is required", producer.ClassBadRequest},
		{`[{"value":"a"},{"value":"b"},{"value":"c"}]`, "t", "request has more than max_records (2) records; raise max_records in the kafka_rest route or send fewer", producer.ClassTooLarge},
	}
	for _, tt := range tests {
		_, err := decodeMessages([]byte(tt.body), tt.topic, 2)
		var e *dialects.Error
		if !errors.As(err, &e) {
			t.Errorf("%s: error %v is not a *dialects.Error", tt.body, err)
			continue
		}
		if !strings.Contains(e.Message, tt.want) || e.Class != tt.class {
			t.Errorf("%s: got %s %q, want %s %q", tt.body, e.Class, e.Message, tt.class, tt.want)
		}
		if strings.Contains(e.Message, "Go ") || strings.Contains(e.Message, "upstash.") {
			t.Errorf("%s: message %q leaks Go internals", tt.body, e.Message)
		}
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		path, topic, message string
		segments             int
		ok                   bool
	}{
		{"/produce", "", "", 0, true},
		{"/produce/t", "t", "", 1, true},
		{"/produce/t/m", "t", "m", 2, true},
		{"/produce/t/a%2Fb", "t", "a%2Fb", 2, true},
		{"/produce/", "", "", 0, false},
		{"/produce//m", "", "", 0, false},
		{"/produce/t/", "", "", 0, false},
		{"/produce/t/m/x", "", "", 0, false},
		{"/producer", "", "", 0, false},
		{"/fetch", "", "", 0, false},
		{"/", "", "", 0, false},
	}
	for _, tt := range tests {
		topic, message, n, ok := parsePath(tt.path)
		if topic != tt.topic || message != tt.message || n != tt.segments || ok != tt.ok {
			t.Errorf("parsePath(%q) = %q, %q, %d, %v", tt.path, topic, message, n, ok)
		}
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		err    error
		status int
		msg    string
	}{
		{dialects.Errorf(producer.ClassBadRequest, "value is required"), 400, "value is required"},
		{dialects.ErrTopicNotAllowed, 403, "topic not allowed"},
		{producer.ErrUnknownTopic, 404, "topic not found"},
		{producer.ErrUnknownTopicNotCreated, 404, "topic not found: the broker does not create topics automatically for this gateway; " +
			"create the topic, or set allow_auto_topic_creation in the kafka app if the broker allows it"},
		{fmt.Errorf("producing: %w", kgo.ErrClientClosed), 503, "kafka is unavailable: see GET /kafka/clusters on Caddy's admin API for why"},
		{dialects.BodyTooLarge(16 << 20), 413, "request body is over max_body (16 MiB); raise max_body in the kafka_rest route or send less"},
		{producer.ErrUnknownPartition, 404, "partition not found"},
		{dialects.ErrBodyTooLarge, 413, "request body too large"},
		{producer.ErrOverloaded, 503, "the gateway is overloaded; retry later"},
		{kerr.LeaderNotAvailable, 503, kerr.LeaderNotAvailable.Description},
		{kerr.InvalidRecord, 400, kerr.InvalidRecord.Description},
		{producer.ErrTimeout, 504, "timed out waiting for kafka to acknowledge; the record may still be written"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		Upstash{}.WriteError(w, httptest.NewRequest("POST", "/produce", nil), tt.err)
		want, _ := json.Marshal(dialects.SimpleError{Error: tt.msg, Status: tt.status})
		if w.Code != tt.status || w.Body.String() != string(want) || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%v: got %d %s %q, want %d %s", tt.err, w.Code, w.Header().Get("Content-Type"), w.Body, tt.status, want)
		}
	}
}

// A request of which Kafka wrote some messages and refused others is
// answered 207 with each message's outcome, never as one error (a client
// retrying it whole would write the written ones twice); one of which it
// wrote nothing is the first failure's error.
func TestEncodeRecordFailure(t *testing.T) {
	req := &dialects.Request{Records: []producer.Message{msg("t", -1, null, "a", 0), msg("t", -1, null, "b", 0)}}
	results := []producer.Result{{Partition: 0, Offset: 7, Timestamp: time.UnixMilli(5)}, {Partition: -1, Offset: -1, Err: kerr.NotEnoughReplicas}}
	w := httptest.NewRecorder()
	if err := (Upstash{}).Encode(w, httptest.NewRequest("POST", "/produce", nil), req, results); err != nil {
		t.Fatal(err)
	}
	want := `[{"topic":"t","partition":0,"offset":7,"timestamp":5},{"topic":"t","error":"` + kerr.NotEnoughReplicas.Description + `","status":503}]`
	if w.Code != http.StatusMultiStatus || w.Body.String() != want {
		t.Fatalf("got %d %s, want 207 %s", w.Code, w.Body, want)
	}
	results[0] = producer.Result{Partition: -1, Offset: -1, Err: kerr.NotEnoughReplicas}
	w = httptest.NewRecorder()
	if err := (Upstash{}).Encode(w, httptest.NewRequest("POST", "/produce", nil), req, results); err != nil {
		t.Fatal(err)
	}
	want = `{"error":"` + kerr.NotEnoughReplicas.Description + `","status":503}`
	if w.Code != http.StatusServiceUnavailable || w.Body.String() != want {
		t.Fatalf("nothing written: got %d %s, want 503 %s", w.Code, w.Body, want)
	}
}

func TestEncode(t *testing.T) {
	req := &dialects.Request{Records: []producer.Message{msg("t", -1, null, "a", 0), msg("u", 2, null, "b", 0)}}
	results := []producer.Result{{Partition: 0, Offset: 7, Timestamp: time.UnixMilli(5)}, {Partition: 2, Offset: 9, Timestamp: time.UnixMilli(1637745834744)}}
	w := httptest.NewRecorder()
	if err := (Upstash{}).Encode(w, nil, req, results); err != nil {
		t.Fatal(err)
	}
	want := `[{"topic":"t","partition":0,"offset":7,"timestamp":5},{"topic":"u","partition":2,"offset":9,"timestamp":1637745834744}]`
	if w.Code != 200 || w.Body.String() != want {
		t.Fatalf("got %d %s, want %s", w.Code, w.Body, want)
	}
	w = httptest.NewRecorder()
	req = &dialects.Request{Records: req.Records[:1], State: single{}}
	if err := (Upstash{}).Encode(w, nil, req, results[:1]); err != nil {
		t.Fatal(err)
	}
	if want := `{"topic":"t","partition":0,"offset":7,"timestamp":5}`; w.Body.String() != want {
		t.Fatalf("got %s, want %s", w.Body, want)
	}
	w = httptest.NewRecorder()
	if err := (Upstash{}).Encode(w, nil, &dialects.Request{}, nil); err != nil {
		t.Fatal(err)
	}
	if w.Body.String() != `[]` {
		t.Fatalf("empty request answered %s, want []", w.Body)
	}
}

func FuzzDecode(f *testing.F) {
	for _, b := range specBodies {
		f.Add([]byte(b), "")
		f.Add([]byte(b), "cities")
	}
	for _, r := range fuzzseed.Load(f, "testdata/spec") {
		f.Add(r.Body, "")
		f.Add(r.Body, "greetings")
	}
	f.Add([]byte(`[{"value":"a\",]",},]`), "t")
	f.Add([]byte(`{"value":"a","headers":[{"key":"b","value":null},],}`), "t")
	f.Add([]byte(`[1,,]`), "t")
	f.Fuzz(func(t *testing.T, body []byte, topic string) {
		orig := bytes.Clone(body)
		trimmed := trimTrailingCommas(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("trimTrailingCommas modified its input")
		}
		if json.Valid(body) && !bytes.Equal(trimmed, body) {
			t.Fatalf("valid JSON %q changed to %q", body, trimmed)
		}
		if again := trimTrailingCommas(trimmed); !bytes.Equal(again, trimmed) {
			t.Fatalf("not idempotent: %q -> %q -> %q", body, trimmed, again)
		}
		if len(trimmed) < len(body) && bytes.Count(body, []byte(",")) != bytes.Count(trimmed, []byte(","))+len(body)-len(trimmed) {
			t.Fatalf("removed more than commas: %q -> %q", body, trimmed)
		}
		recs, err := decodeMessages(body, topic, 0)
		if err != nil {
			var e *dialects.Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("error %v is not a client error", err)
			}
			if c := e.Class; c != producer.ClassBadRequest {
				t.Fatalf("class %s for a malformed body", c)
			}
			return
		}
		for _, r := range recs {
			if r.Topic == "" || (topic != "" && r.Topic != topic) || r.Value == nil || r.Partition < -1 {
				t.Fatalf("bad record %+v from %q", r, body)
			}
		}
	})
}
