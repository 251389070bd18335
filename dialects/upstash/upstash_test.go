package upstash_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	_ "github.com/caddy-kafka/caddy-kafka/dialects/upstash"
	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// The credentials the tests' Caddy accepts: bcrypt of "mypass" at the
// minimum cost, so that checking them is fast. Made with
// bcrypt.GenerateFromPassword([]byte("mypass"), bcrypt.MinCost).
const (
	user     = "myuser"
	password = "mypass"
	hash     = "$2a$04$14/IrJoVWokfthY.2yazAuaJeoAugIkH81Yb7ejtYwGGRRly55sJe"
)

// site is the test site: basic_auth in front of the dialect, JSON for
// basic_auth's 401, and a next handler for paths that are not Upstash's.
const site = `basic_auth {
		` + user + ` ` + hash + `
	}
	kafka_rest upstash {
		topics {topic.greetings} {topic.cities} nope*
		%s
	}
	respond "next handler" 404
	handle_errors 401 {
		header Content-Type application/json
		respond ` + "`" + `{"error":"unauthorized","status":401}` + "`" + ` 401
	}`

func newGateway(t *testing.T, handlerOpts, kafkaOpts string) *gatewaytest.Gateway {
	t.Helper()
	return gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"greetings": 3, "cities": 4},
		Site:   fmt.Sprintf(site, handlerOpts),
		Kafka:  kafkaOpts,
	})
}

// do sends a request as curl -u myuser:mypass [-d body] would.
func do(t *testing.T, g *gatewaytest.Gateway, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{}
	req, _ := http.NewRequest(method, "/", nil)
	req.SetBasicAuth(user, password)
	h.Set("Authorization", req.Header.Get("Authorization"))
	if body != "" {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return g.Do(t, method, path, h, body)
}

type metadata struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Timestamp int64  `json:"timestamp"`
}

// want is a record expected in Kafka.
type want struct {
	topic     string // base name
	partition int32  // -1: the partitioner's choice (murmur2 of the key, if any)
	key       *string
	value     string
	headers   []kgo.RecordHeader
	timestamp int64 // epoch ms; 0: the gateway's time
}

func str(s string) *string { return &s }

var partitions = map[string]int32{"greetings": 3, "cities": 4}

// checkRecords reads back every record of the topics in wants and checks that
// they are exactly the wanted ones, where the answers say they are.
func checkRecords(t *testing.T, g *gatewaytest.Gateway, answers []metadata, wants []want, before time.Time) {
	t.Helper()
	if len(answers) != len(wants) {
		t.Fatalf("%d answers for %d messages: %+v", len(answers), len(wants), answers)
	}
	counts := map[string]int{}
	for _, w := range wants {
		counts[w.topic]++
	}
	type at struct {
		p int32
		o int64
	}
	stored := map[string]map[at]*kgo.Record{}
	for base, n := range counts {
		recs := g.Records(t, base, n)
		if len(recs) != n {
			t.Fatalf("topic %s has %d records, want %d", base, len(recs), n)
		}
		stored[base] = map[at]*kgo.Record{}
		for _, r := range recs {
			stored[base][at{r.Partition, r.Offset}] = r
		}
	}
	for i, w := range wants {
		a := answers[i]
		if a.Topic != g.Topic(w.topic) {
			t.Errorf("answer %d: topic %q, want %q", i, a.Topic, g.Topic(w.topic))
		}
		r := stored[w.topic][at{a.Partition, a.Offset}]
		if r == nil {
			t.Errorf("answer %d %+v: no such record in Kafka", i, a)
			continue
		}
		switch {
		case w.partition >= 0 && r.Partition != w.partition:
			t.Errorf("record %d: partition %d, want %d", i, r.Partition, w.partition)
		case w.partition < 0 && w.key != nil && r.Partition != gatewaytest.JavaPartition([]byte(*w.key), partitions[w.topic]):
			t.Errorf("record %d: partition %d, want murmur2's %d", i, r.Partition, gatewaytest.JavaPartition([]byte(*w.key), partitions[w.topic]))
		}
		var key []byte
		if w.key != nil {
			key = []byte(*w.key)
		}
		if !gatewaytest.EqualBytes(r.Key, key) {
			t.Errorf("record %d: key %q (nil %v), want %q (nil %v)", i, r.Key, r.Key == nil, key, key == nil)
		}
		if string(r.Value) != w.value || r.Value == nil {
			t.Errorf("record %d: value %q, want %q", i, r.Value, w.value)
		}
		if len(r.Headers) != len(w.headers) {
			t.Errorf("record %d: headers %+v, want %+v", i, r.Headers, w.headers)
		} else {
			for j, h := range w.headers {
				if r.Headers[j].Key != h.Key || !gatewaytest.EqualBytes(r.Headers[j].Value, h.Value) {
					t.Errorf("record %d: header %d is %q=%q, want %q=%q", i, j, r.Headers[j].Key, r.Headers[j].Value, h.Key, h.Value)
				}
			}
		}
		ts := r.Timestamp.UnixMilli()
		if ts != a.Timestamp {
			t.Errorf("record %d: timestamp %d, answered %d", i, ts, a.Timestamp)
		}
		if w.timestamp != 0 && ts != w.timestamp {
			t.Errorf("record %d: timestamp %d, want %d", i, ts, w.timestamp)
		}
		if w.timestamp == 0 && ts < before.UnixMilli() {
			t.Errorf("record %d: timestamp %d is before the request (%d)", i, ts, before.UnixMilli())
		}
	}
}

// TestSpecExamples sends every curl example of the spec, as curl sends it
// (-u, -d as application/x-www-form-urlencoded), and checks the answer and
// the records in Kafka.
func TestSpecExamples(t *testing.T) {
	expire := []kgo.RecordHeader{{Key: "expire", Value: []byte("1637745834756")}}
	tests := []struct {
		name, method, path, body string
		single                   bool
		wants                    []want
	}{
		{"get without key", "GET", "/produce/greetings/hello_kafka", "", true,
			[]want{{topic: "greetings", partition: -1, value: "hello_kafka"}}},
		{"get with key", "GET", "/produce/cities/Istanbul?key=city", "", true,
			[]want{{topic: "cities", partition: -1, key: str("city"), value: "Istanbul"}}},
		{"topic path, value only", "POST", "/produce/greetings", `{"value": "hello_kafka"}`, false,
			[]want{{topic: "greetings", partition: -1, value: "hello_kafka"}}},
		{"topic path, attributes", "POST", "/produce/cities",
			`{"partition": 1, "key": "city", "value": "Istanbul", "headers": [{"key": "expire", "value": "1637745834756"}] }`, false,
			[]want{{topic: "cities", partition: 1, key: str("city"), value: "Istanbul", headers: expire}}},
		{"topic path, values", "POST", "/produce/greetings", `[
        {"value": "hello_world"},
        {"value": "hello_upstash"},
        {"value": "hello_kafka"}
    ]`, false, []want{
			{topic: "greetings", partition: -1, value: "hello_world"},
			{topic: "greetings", partition: -1, value: "hello_upstash"},
			{topic: "greetings", partition: -1, value: "hello_kafka"}}},
		{"topic path, attributes, trailing comma", "POST", "/produce/cities", `[
        {"partition": 1, "timestamp": 1637745834744, "key": "city", "value": "Istanbul"},
        {"partition": 2, "timestamp": 1637745823147, "key": "city", "value": "London"},
        {"partition": 3, "timestamp": 1637455583829, "key": "city", "value": "Tokyo"},
    ]`, false, []want{
			{topic: "cities", partition: 1, key: str("city"), value: "Istanbul", timestamp: 1637745834744},
			{topic: "cities", partition: 2, key: str("city"), value: "London", timestamp: 1637745823147},
			{topic: "cities", partition: 3, key: str("city"), value: "Tokyo", timestamp: 1637455583829}}},
		{"single message", "POST", "/produce", `{"topic": "greetings", "value": "hello_kafka"}`, false,
			[]want{{topic: "greetings", partition: -1, value: "hello_kafka"}}},
		{"one topic", "POST", "/produce", `[
        {"topic": "greetings", "value": "hello_world"},
        {"topic": "greetings", "value": "hello_upstash"},
        {"topic": "greetings", "value": "hello_kafka"}
    ]`, false, []want{
			{topic: "greetings", partition: -1, value: "hello_world"},
			{topic: "greetings", partition: -1, value: "hello_upstash"},
			{topic: "greetings", partition: -1, value: "hello_kafka"}}},
		{"several topics, trailing comma", "POST", "/produce", `[
        {"topic": "greetings", "value": "hello_world"},
        {"topic": "greetings", "value": "hello_upstash"},
        {"topic": "cities", "partition": 1, "value": "Istanbul"},
        {"topic": "cities", "partition": 2, "value": "London"},
        {"topic": "cities", "partition": 3, "value": "Tokyo"},
    ]`, false, []want{
			{topic: "greetings", partition: -1, value: "hello_world"},
			{topic: "greetings", partition: -1, value: "hello_upstash"},
			{topic: "cities", partition: 1, value: "Istanbul"},
			{topic: "cities", partition: 2, value: "London"},
			{topic: "cities", partition: 3, value: "Tokyo"}}},
		// The body forms also answer GET, reading the body.
		{"get with a body", "GET", "/produce", `{"topic": "cities", "key": "", "value": "hello"}`, false,
			[]want{{topic: "cities", partition: -1, key: str(""), value: "hello"}}},
		// The message is path-decoded exactly once.
		{"get escaped", "GET", "/produce/greetings/a%2Fb%2525+c%20d?key=k%2By+z", "", true,
			[]want{{topic: "greetings", partition: -1, key: str("k+y z"), value: "a/b%25+c d"}}},
		{"get empty key", "GET", "/produce/cities/x?key=", "", true,
			[]want{{topic: "cities", partition: -1, key: str(""), value: "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, "", "")
			names := strings.NewReplacer("greetings", g.Topic("greetings"), "cities", g.Topic("cities"))
			before := time.Now()
			resp, body := do(t, g, tt.method, names.Replace(tt.path), names.Replace(tt.body))
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			var answers []metadata
			if tt.single {
				var a metadata
				if err := strictUnmarshal(body, &a); err != nil {
					t.Fatalf("answer %s: %v", body, err)
				}
				answers = []metadata{a}
			} else if err := strictUnmarshal(body, &answers); err != nil {
				t.Fatalf("answer %s: %v", body, err)
			}
			checkRecords(t, g, answers, tt.wants, before)
		})
	}
}

// strictUnmarshal decodes a response, refusing fields beyond the contract's.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// TestErrors checks the status and JSON body of each refusal, and that a
// refused request wrote nothing.
func TestErrors(t *testing.T) {
	g := newGateway(t, "max_body 2KB\n max_records 5", "")
	tests := []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"bad json", "POST", "/produce/greetings", `{"value": "x"`, 400, "invalid JSON body: unexpected EOF"},
		{"empty body", "POST", "/produce/greetings", ``, 400, "empty body: send a message or an array of messages as JSON"},
		{"missing value", "POST", "/produce/greetings", `[{"value":"ok"},{"key":"k"}]`, 400, "message 1: value is required"},
		{"missing topic", "POST", "/produce", `[{"topic":"greetings","value":"ok"},{"value":"x"}]`, 400, "message 1: topic is required"},
		{"unknown field", "POST", "/produce/greetings", `{"value":"x","partiton":1}`, 400, `unknown field "partiton": a message has topic, partition, timestamp, key, value and headers; a header has key and value`},
		{"value not a string", "POST", "/produce/greetings", `{"value":{"a":1}}`, 400, "value: want a string, got object"},
		{"not allowed", "POST", "/produce", `[{"topic":"greetings","value":"ok"},{"topic":"secret","value":"x"}]`, 403, `topic "secret" is not allowed by this route (its kafka_rest topics setting)`},
		{"not allowed get", "GET", "/produce/secret/x", "", 403, `topic "secret" is not allowed by this route (its kafka_rest topics setting)`},
		{"unknown topic", "POST", "/produce", `[{"topic":"greetings","value":"ok"},{"topic":"nope-topic","value":"x"}]`, 404, `topic not found: topic "nope-topic" does not exist; the broker does not create topics automatically for this gateway; create the topic, or set allow_auto_topic_creation in the kafka app if the broker allows it`},
		{"unknown partition", "POST", "/produce/cities", `[{"value":"ok","partition":0},{"value":"x","partition":9}]`, 404, "partition not found"},
		{"too large", "POST", "/produce/greetings", `{"value":"` + strings.Repeat("x", 3000) + `"}`, 413, "request body is over max_body (2000 bytes); raise max_body in the kafka_rest route or send less"},
		{"too many", "POST", "/produce/greetings", strings.Repeat(`{"value":"x"},`, 6), 0, ""},
		{"wrong method", "PUT", "/produce/greetings", `{"value":"x"}`, 405, "method not allowed: use GET or POST"},
		{"wrong method get form", "POST", "/produce/greetings/x", ``, 405, "method not allowed: use GET"},
	}
	tests[11].body = "[" + tests[11].body + "]"
	tests[11].status, tests[11].msg = 413, "request has more than max_records (5) records; raise max_records in the kafka_rest route or send fewer"
	names := strings.NewReplacer("greetings", g.Topic("greetings"), "cities", g.Topic("cities"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, g, tt.method, names.Replace(tt.path), names.Replace(tt.body))
			want, _ := json.Marshal(dialects.SimpleError{Error: tt.msg, Status: tt.status})
			if resp.StatusCode != tt.status || string(body) != string(want) || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %s %s, want %d %s", resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status, want)
			}
			if tt.status == 405 {
				allow := "GET, POST"
				if strings.Count(tt.path, "/") == 3 {
					allow = "GET"
				}
				if got := resp.Header.Get("Allow"); got != allow {
					t.Fatalf("Allow %q, want %q", got, allow)
				}
			}
		})
	}
	for _, base := range []string{"greetings", "cities"} {
		if recs := g.Records(t, base, 0); len(recs) != 0 {
			t.Fatalf("refused requests wrote %d records to %s", len(recs), base)
		}
	}

	t.Run("no credentials", func(t *testing.T) {
		resp, body := g.Post(t, "/produce/greetings", "", `{"value":"x"}`)
		if resp.StatusCode != 401 || string(body) != `{"error":"unauthorized","status":401}` || resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("got %d %s %v", resp.StatusCode, body, resp.Header)
		}
	})
	t.Run("other paths go to the next handler", func(t *testing.T) {
		for _, p := range []string{"/producer", "/"} {
			resp, body := do(t, g, "GET", p, "")
			if resp.StatusCode != 404 || string(body) != "next handler" {
				t.Errorf("%s: got %d %s, want the next handler's 404", p, resp.StatusCode, body)
			}
		}
	})
	// Inside Upstash's URL space an unknown path is a 404 and a wrong
	// method a 405 with Allow, in Upstash's format.
	t.Run("unknown paths and methods", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			status       int
			allow        string
		}{
			{"GET", "/produce/", 404, ""},
			{"GET", "/produce/greetings/", 404, ""},
			{"GET", "/produce/greetings/a/b", 404, ""},
			{"POST", "/fetch/x", 404, ""},
			{"GET", "/offsets/1/2", 404, ""},
			{"GET", "/topics/x", 404, ""},
			{"DELETE", "/produce/greetings", 405, "GET, POST"},
			{"POST", "/produce/greetings/hello", 405, "GET"},
			{"POST", "/topics", 405, "GET"},
			{"PUT", "/fetch", 405, "GET, POST"},
		} {
			resp, body := do(t, g, tc.method, tc.path, "")
			var e dialects.SimpleError
			if resp.StatusCode != tc.status || json.Unmarshal(body, &e) != nil || e.Status != tc.status || e.Error == "" {
				t.Errorf("%s %s: got %d %s, want %d in Upstash's format", tc.method, tc.path, resp.StatusCode, body, tc.status)
			}
			if resp.Header.Get("Allow") != tc.allow {
				t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, resp.Header.Get("Allow"), tc.allow)
			}
		}
	})
}

// TestOverload: a full producer buffer is answered at once with 503 and
// Retry-After.
func TestOverload(t *testing.T) {
	g := newGateway(t, "", "max_buffered_records 2")
	resp, body := do(t, g, "POST", "/produce/"+g.Topic("greetings"), `[{"value":"a"},{"value":"b"},{"value":"c"}]`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" ||
		string(body) != `{"error":"the gateway is overloaded; retry later","status":503}` {
		t.Fatalf("got %d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if recs := g.Records(t, "greetings", 0); len(recs) != 0 {
		t.Fatalf("an overloaded request wrote %d records", len(recs))
	}
}

// TestKafkaRefusesRecord: when Kafka fails a record after the request was
// accepted, the answer is the error, never a 2xx.
func TestKafkaRefusesRecord(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("needs kfake to inject a produce error")
	}
	g := newGateway(t, "", "")
	g.Fake.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	resp, body := do(t, g, "POST", "/produce/cities", `[{"value":"a","partition":0},{"value":"b","partition":0}]`)
	want, _ := json.Marshal(dialects.SimpleError{Error: kerr.InvalidRecord.Description, Status: 400})
	if resp.StatusCode != 400 || string(body) != string(want) {
		t.Fatalf("got %d %s, want 400 %s", resp.StatusCode, body, want)
	}
	if c := producer.Classify(kerr.InvalidRecord); c != producer.ClassBadRequest {
		t.Fatalf("InvalidRecord classified %s", c)
	}
}

// TestReadErrors: the stateless reads refuse bad input in Upstash's error
// format, and the consumer-group endpoints answer 501 saying why.
func TestReadErrors(t *testing.T) {
	g := newGateway(t, "", "")
	ga := g.Topic("greetings")
	for _, tc := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", "/consume/group/instance", `{"topic":"` + ga + `"}`, 501, "consumer groups are not supported"},
		{"POST", "/commit/group/instance", ``, 501, "consumer groups are not supported"},
		{"POST", "/committed/group/instance", `[]`, 501, "consumer groups are not supported"},
		{"GET", "/consumers", ``, 501, "consumer groups are not supported"},
		{"POST", "/delete-consumer/group/instance", ``, 501, "consumer groups are not supported"},
		{"POST", "/fetch", `{"topic":"` + ga + `","partition":0}`, 400, "needs topic, partition and offset"},
		{"POST", "/fetch", `{"topic":"` + ga + `","partition":0,"offset":0,"timout":5}`, 400, `unknown field "timout"`},
		{"POST", "/fetch", `{"topic":"` + ga + `","partition":"0","offset":0}`, 400, "partition: want an integer"},
		{"POST", "/fetch", `{}`, 400, "name a topic"},
		{"POST", "/fetch", `{"topic":"` + ga + `","partition":0,"offset":99}`, 400, "offset out of range"},
		{"POST", "/fetch", `{"topic":"` + ga + `","partition":7,"offset":0}`, 404, "partition not found"},
		{"POST", "/fetch", `{"topic":"nope-missing","partition":0,"offset":0}`, 404, "topic not found"},
		{"POST", "/fetch", `{"topic":"secret","partition":0,"offset":0}`, 403, "not allowed"},
		{"PUT", "/fetch", `{}`, 405, "use GET or POST"},
		{"POST", "/offsets/yesterday", `[{"topic":"` + ga + `","partition":0}]`, 400, "want earliest, latest or epoch milliseconds"},
		{"POST", "/offsets/latest", `[]`, 400, "at least one"},
		{"POST", "/offsets/latest", `[{"topic":"` + ga + `"}]`, 400, "needs a topic and a partition"},
		{"POST", "/offsets/latest", `[{"topic":"secret","partition":0}]`, 403, "not allowed"},
		{"POST", "/offsets/latest", `[{"topic":"nope-missing","partition":0}]`, 404, "topic not found"},
		{"POST", "/topics", ``, 405, "use GET"},
	} {
		resp, body := do(t, g, tc.method, tc.path, tc.body)
		var e struct {
			Error  string `json:"error"`
			Status int    `json:"status"`
		}
		if resp.StatusCode != tc.status || strictUnmarshal(body, &e) != nil || e.Status != tc.status || !strings.Contains(e.Error, tc.msg) {
			t.Errorf("%s %s %s: %d %s, want %d with %q", tc.method, tc.path, tc.body, resp.StatusCode, body, tc.status, tc.msg)
		}
	}
	// A GET /fetch with its request in the query; the empty end of a
	// partition answers [] once the timeout has passed.
	resp, body := do(t, g, "GET", "/fetch?topic="+ga+"&partition=1&offset=0&timeout=100", "")
	if resp.StatusCode != 200 || string(body) != "[]" {
		t.Errorf("GET /fetch: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, g, "POST", "/offsets/latest", `{"topic":"`+ga+`","partition":1}`)
	if resp.StatusCode != 200 || string(body) != `[{"topic":"`+ga+`","partition":1,"offset":0}]` {
		t.Errorf("offsets of one partition: %d %s", resp.StatusCode, body)
	}
}

// TestPartialSuccess: Kafka writes one message of a request and refuses the
// other (its partition answers INVALID_RECORD). The answer is 207 with each
// message's outcome, without Retry-After: a client retrying the request
// whole would write the first message twice. The written one is in Kafka
// at the partition and offset the answer gives.
func TestPartialSuccess(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("needs kfake to inject a produce error")
	}
	g := newGateway(t, "", "")
	g.Fake.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		g.Fake.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				if rp.Partition != 1 {
					continue
				}
				// Partition 1 refuses; kfake writes the others.
				resp := req.ResponseKind().(*kmsg.ProduceResponse)
				st := kmsg.NewProduceResponseTopic()
				st.Topic, st.TopicID = rt.Topic, rt.TopicID
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = 1, kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
				resp.Topics = append(resp.Topics, st)
				return resp, nil, true
			}
		}
		return nil, nil, false
	})
	topic := g.Topic("cities")
	resp, body := do(t, g, "POST", "/produce", `[{"topic":"`+topic+`","value":"kept","partition":0},{"topic":"`+topic+`","value":"refused","partition":1}]`)
	var got []map[string]any
	if resp.StatusCode != http.StatusMultiStatus || json.Unmarshal(body, &got) != nil || len(got) != 2 {
		t.Fatalf("got %d %s, want 207 with two outcomes", resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") != "" {
		t.Fatal("a partly written request invites its retry with Retry-After")
	}
	if got[1]["error"] != kerr.InvalidRecord.Description || got[1]["status"] != float64(400) || got[0]["error"] != nil {
		t.Fatalf("outcomes %v", got)
	}
	recs := g.Records(t, "cities", 1)
	if len(recs) != 1 || string(recs[0].Value) != "kept" || float64(recs[0].Offset) != got[0]["offset"] || float64(recs[0].Partition) != got[0]["partition"] {
		t.Fatalf("in Kafka: %v; answered %v", recs, got[0])
	}
}
