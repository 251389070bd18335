package ibmeventstreams_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	_ "github.com/caddy-kafka/caddy-kafka/dialects/ibmeventstreams"
	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// API keys of the tests: "es" may write to es-*, "orders" to orders-*.
const (
	esKey     = "es-0f4c1b7e9a2d48d6b1e3c5a7f9021b3d"
	ordersKey = "orders-8c2e4a6b1d3f5e7a9c0b2d4f6a8e1c3b"
)

func digest(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

var topics = map[string]int32{"es-main": 1, "es-keyed": 7, "orders-1": 1, "payments": 1}

// newGateway starts the gateway with api_key_auth in front of
// kafka_rest ibm_event_streams, each key scoped to "<name>-*".
func newGateway(t *testing.T, kafka, options string) *gatewaytest.Gateway {
	t.Helper()
	return gatewaytest.New(t, gatewaytest.Options{
		Topics: topics,
		Kafka:  kafka,
		Site: `api_key_auth {
			es ` + digest(esKey) + `
			orders ` + digest(ordersKey) + `
		}
		kafka_rest ibm_event_streams {
			topics {http.auth.user.id}-*
			max_body 64KiB
			` + options + `
		}`,
	})
}

func post(t *testing.T, g *gatewaytest.Gateway, key, path, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return g.Do(t, http.MethodPost, path, h, body)
}

type metadata struct {
	Topic     string `json:"topic"`
	Timestamp string `json:"timestamp"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// success returns a check that a 200 answer has exactly IBM's fields, which
// returns them.
func success(t *testing.T) func(*http.Response, []byte) metadata {
	return func(resp *http.Response, body []byte) metadata {
		t.Helper()
		return checkSuccess(t, resp, body)
	}
}

func checkSuccess(t *testing.T, resp *http.Response, body []byte) metadata {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var out struct {
		Metadata metadata `json:"metadata"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	var fields map[string]map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || len(fields) != 1 || len(fields["metadata"]) != 4 {
		t.Fatalf("answer %s does not have exactly metadata.{topic,timestamp,partition,offset}", body)
	}
	return out.Metadata
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

type errorDetail struct {
	ErrorCode      int     `json:"error_code"`
	Message        string  `json:"message"`
	KafkaErrorCode *int16  `json:"kafka_error_code"`
	Topic          *string `json:"topic"`
	Incident       string  `json:"incident"`
	Schema         string  `json:"schema"`
}

// failure checks an error answer is IBM's envelope with the status and
// message, and returns its details.
func failure(t *testing.T, resp *http.Response, body []byte, status int, message string) errorDetail {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q: %s", ct, body)
	}
	var out struct {
		ErrorCode int         `json:"error_code"`
		Message   string      `json:"message"`
		Error     errorDetail `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if out.ErrorCode != status || out.Error.ErrorCode != status {
		t.Fatalf("error_code %d / %d, want %d", out.ErrorCode, out.Error.ErrorCode, status)
	}
	if out.Message != message || out.Error.Message != message {
		t.Fatalf("message %q / %q, want %q", out.Message, out.Error.Message, message)
	}
	if !uuidRE.MatchString(out.Error.Incident) {
		t.Fatalf("incident %q is not the request's uuid", out.Error.Incident)
	}
	return out.Error
}

func checkTopic(t *testing.T, d errorDetail, topic string) {
	t.Helper()
	if d.Topic == nil || *d.Topic != topic {
		t.Fatalf("error topic %v, want %q", d.Topic, topic)
	}
}

func noKafkaCode(t *testing.T, d errorDetail) {
	t.Helper()
	if d.KafkaErrorCode != nil {
		t.Fatalf("kafka_error_code %d where Kafka gave none", *d.KafkaErrorCode)
	}
}

// checkRecord compares a record with what was sent and answered.
func checkRecord(t *testing.T, r *kgo.Record, md metadata, key, value []byte) {
	t.Helper()
	if !gatewaytest.EqualBytes(r.Key, key) || !bytes.Equal(r.Value, value) {
		t.Fatalf("record key %q value %q, want key %q value %q", r.Key, r.Value, key, value)
	}
	if r.Topic != md.Topic || r.Partition != md.Partition || r.Offset != md.Offset {
		t.Fatalf("record at %s/%d@%d, answered %+v", r.Topic, r.Partition, r.Offset, md)
	}
	if strconv.FormatInt(r.Timestamp.UnixMilli(), 10) != md.Timestamp {
		t.Fatalf("record timestamp %d, answered %q", r.Timestamp.UnixMilli(), md.Timestamp)
	}
}

// TestGuideCurl sends the producer guide's curl command:
//
//	curl -v -X POST -H "Authorization: Bearer <api_key>" -H "Content-Type: text/plain" -H "Accept: application/json" -d 'test message' --cacert es-cert.pem "<api_endpoint>/topics/<topic_name>/records"
func TestGuideCurl(t *testing.T) {
	g := newGateway(t, "", "")
	topic := g.Topic("es-main")
	h := http.Header{
		"Authorization": {"Bearer " + esKey},
		"Content-Type":  {"text/plain"},
		"Accept":        {"application/json"},
	}
	md := success(t)(g.Do(t, http.MethodPost, "/topics/"+topic+"/records", h, "test message"))
	want := 1
	if _, err := exec.LookPath("curl"); err == nil {
		// The command itself, with http instead of https (so no --cacert).
		out, err := exec.Command("curl", "-sS", "-X", "POST", "-H", "Authorization: Bearer "+esKey, "-H", "Content-Type: text/plain",
			"-H", "Accept: application/json", "-d", "test message", g.URL+"/topics/"+topic+"/records").Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		var got struct{ Metadata metadata }
		if err := json.Unmarshal(out, &got); err != nil || got.Metadata.Offset != md.Offset+1 {
			t.Fatalf("curl's answer %s: %v", out, err)
		}
		want = 2
	}
	recs := g.Records(t, "es-main", want)
	if len(recs) != want {
		t.Fatalf("%d records, want %d", len(recs), want)
	}
	checkRecord(t, recs[0], md, nil, []byte("test message"))
	if len(recs[0].Headers) != 0 {
		t.Fatalf("headers %v", recs[0].Headers)
	}
	if md.Topic != topic {
		t.Fatalf("answered topic %q", md.Topic)
	}
}

func TestKeyedRecordsLandOnJavasPartition(t *testing.T) {
	g := newGateway(t, "", "")
	topic := g.Topic("es-keyed")
	cases := []struct {
		query string
		key   []byte
	}{
		{"key=user-42", []byte("user-42")},
		{"key=alice&keyType=text", []byte("alice")},
		{"key=bob&keyType=TEXT", []byte("bob")},
		{"key=caf%C3%A9+au+lait", []byte("café au lait")},
		{"key=", []byte{}}, // present but empty: hashed, not spread
		{"keyType=binary&key=0a0b", []byte{0x0a, 0x0b}},
		{"key=00FF10ee&keyType=binary", []byte{0x00, 0xff, 0x10, 0xee}},
		{"keyType=binary&key=", []byte{}},
		{"keyType=binary&key=deadbeefcafe", []byte{0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe}},
	}
	distinct := map[int32]bool{}
	var answers []metadata
	for i, c := range cases {
		md := success(t)(post(t, g, esKey, "/topics/"+topic+"/records?"+c.query, "text/plain", "v"+strconv.Itoa(i)))
		if want := gatewaytest.JavaPartition(c.key, 7); md.Partition != want {
			t.Fatalf("%s: partition %d, Java's is %d", c.query, md.Partition, want)
		}
		distinct[md.Partition] = true
		answers = append(answers, md)
	}
	if len(distinct) < 3 {
		t.Fatalf("the keys only cover partitions %v: pick keys that tell partitioners apart", distinct)
	}
	// And one without a key: a null key, not an empty one.
	nullMD := success(t)(post(t, g, esKey, "/topics/"+topic+"/records", "text/plain", "null key"))

	recs := g.Records(t, "es-keyed", len(cases)+1)
	if len(recs) != len(cases)+1 {
		t.Fatalf("%d records, want %d", len(recs), len(cases)+1)
	}
	byValue := map[string]*kgo.Record{}
	for _, r := range recs {
		byValue[string(r.Value)] = r
	}
	for i, c := range cases {
		v := "v" + strconv.Itoa(i)
		r := byValue[v]
		if r == nil {
			t.Fatalf("record %s missing", v)
		}
		checkRecord(t, r, answers[i], c.key, []byte(v))
	}
	checkRecord(t, byValue["null key"], nullMD, nil, []byte("null key"))
}

func TestHeadersAreDecoded(t *testing.T) {
	g := newGateway(t, "", "")
	topic := g.Topic("es-main")
	// The spec's example, then names with a colon, an empty value and a
	// repeated name.
	md1 := success(t)(post(t, g, esKey, "/topics/"+topic+"/records?headers=colour:726463,size:666f726d696461626c65", "application/json", `{"a":1}`))
	md2 := success(t)(post(t, g, esKey, "/topics/"+topic+"/records?key=k&headers=urn%3Ax:00ff,empty:,dup:01,dup:02", "application/octet-stream", "\x00\x01"))
	recs := g.Records(t, "es-main", 2)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	checkRecord(t, recs[0], md1, nil, []byte(`{"a":1}`))
	checkRecord(t, recs[1], md2, []byte("k"), []byte{0, 1})
	type hdr struct{ k, v string }
	for i, want := range [][]hdr{
		{{"colour", "rdc"}, {"size", "formidable"}},
		{{"urn:x", "\x00\xff"}, {"empty", ""}, {"dup", "\x01"}, {"dup", "\x02"}},
	} {
		got := recs[i].Headers
		if len(got) != len(want) {
			t.Fatalf("record %d headers %v, want %v", i, got, want)
		}
		for j := range want {
			if got[j].Key != want[j].k || string(got[j].Value) != want[j].v {
				t.Fatalf("record %d header %d = %q:%q, want %q:%q", i, j, got[j].Key, got[j].Value, want[j].k, want[j].v)
			}
		}
	}
}

func TestContentTypesKeepTheBodyAsIs(t *testing.T) {
	g := newGateway(t, "", "")
	topic := g.Topic("es-main")
	cases := []struct{ ct, body string }{
		{"application/octet-stream", "\x00\x01\x02\xff\xfe binary"},
		{"text/plain", "plain text\r\n with trailing space "},
		{"text/plain; charset=iso-8859-1", "caf\xe9"},
		{"application/json", ` { "spaced" : [1, 2] } `},
		{"application/json; charset=utf-8", `"a string"`},
		{"text/xml", `<?xml version="1.0" encoding="UTF-8" ?><a>1</a>`},
		{"application/xml", `<not-checked`},
		{"application/vnd.ibm-event-streams.json.v1", `[true,null]`},
		{"application/vnd.ibm-event-streams.binary.v1", "\xff\x00"},
		{"application/vnd.ibm-event-streams.text.v1", "text"},
		{"", "no content type is binary"},
	}
	var answers []metadata
	for _, c := range cases {
		answers = append(answers, success(t)(post(t, g, esKey, "/topics/"+topic+"/records", c.ct, c.body)))
	}
	recs := g.Records(t, "es-main", len(cases))
	if len(recs) != len(cases) {
		t.Fatalf("%d records, want %d", len(recs), len(cases))
	}
	for i, c := range cases {
		checkRecord(t, recs[i], answers[i], nil, []byte(c.body))
	}
}

func TestBadRequests(t *testing.T) {
	g := newGateway(t, "", "")
	topic := g.Topic("es-main")
	path := "/topics/" + topic + "/records"
	for _, c := range []struct {
		name, query, ct, body string
		status                int
		message               string
	}{
		{"invalid json", "", "application/json", `{"a":`, 400, "the body is not valid JSON, as its Content-Type says it is"},
		{"invalid vendor json", "", "application/vnd.ibm-event-streams.json.v1", `nope`, 400, "the body is not valid JSON, as its Content-Type says it is"},
		{"keyType", "?key=a&keyType=avro", "text/plain", "x", 400, "keyType must be text or binary"},
		{"binary key not hex", "?key=zz&keyType=binary", "text/plain", "x", 400, "key is not base16 (hex), as keyType=binary says it is"},
		{"binary key odd", "?key=abc&keyType=binary", "text/plain", "x", 400, "key is not base16 (hex), as keyType=binary says it is"},
		{"text key not utf8", "?key=%FF", "text/plain", "x", 400, "key is not valid UTF-8 text: send keyType=binary with the key in base16"},
		{"key twice", "?key=a&key=b", "text/plain", "x", 400, "query parameter key given more than once"},
		{"header without colon", "?headers=colour", "text/plain", "x", 400, `headers: "colour" is not name:hexvalue`},
		{"header not hex", "?headers=colour:red", "text/plain", "x", 400, `headers: the value of "colour" is not base16 (hex)`},
		{"header empty entry", "?headers=a:01,", "text/plain", "x", 400, `headers: "" is not name:hexvalue`},
		{"header empty name", "?headers=:01", "text/plain", "x", 400, "headers: a header name must be non-empty UTF-8 text"},
		{"schemaname", "?schemaname=s", "text/plain", "x", 400, "schemas are not supported: the gateway's cluster has no schema_registry"},
		{"schemaversion", "?schemaversion=1", "text/plain", "x", 400, "schemaversion needs schemaname"},
		{"schemavalidation", "?schemavalidation=false", "text/plain", "x", 400, "schemavalidation needs schemaname"},
		{"schemavalidation yes", "?schemaname=s&schemavalidation=yes", "text/plain", "x", 400, "schemavalidation must be true or false"},
		{"schemaversion word", "?schemaname=s&schemaversion=v1", "text/plain", "x", 400, "schemaversion \"v1\" is not a version number (1, 2, ...) or latest"},
		{"too large", "", "text/plain", strings.Repeat("x", 64<<10+1), 400, "request body is over max_body (64 KiB); raise max_body in the kafka_rest route or send less"},
		{"empty body", "", "text/plain", "", 411, "The request did not contain any data"},
		{"media type", "", "application/x-www-form-urlencoded", "a=b", 415,
			`unsupported Content-Type "application/x-www-form-urlencoded": use application/octet-stream, text/plain, application/json, text/xml or application/xml`},
		{"uri too long", "?key=" + strings.Repeat("k", 10<<10), "text/plain", "x", 414, "The total length of the URI must not exceed 10Kb"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := post(t, g, esKey, path+c.query, c.ct, c.body)
			d := failure(t, resp, body, c.status, c.message)
			checkTopic(t, d, topic)
			noKafkaCode(t, d)
		})
	}
	t.Run("uri of exactly 10 KiB", func(t *testing.T) {
		prefix := path + "?key="
		resp, body := post(t, g, esKey, prefix+strings.Repeat("k", 10<<10-len(prefix)), "text/plain", "at the limit")
		checkSuccess(t, resp, body)
	})
	t.Run("method", func(t *testing.T) {
		resp, body := g.Do(t, http.MethodGet, path, http.Header{"Authorization": {"Bearer " + esKey}}, "")
		failure(t, resp, body, 405, "method not allowed: use POST")
		if a := resp.Header.Get("Allow"); a != "POST" {
			t.Fatalf("Allow %q", a)
		}
	})
	// Only the "at the limit" record was written.
	recs := g.Records(t, "es-main", 1)
	if len(recs) != 1 || string(recs[0].Value) != "at the limit" {
		t.Fatalf("%d records written by bad requests", len(recs))
	}
}

// Inside Event Streams' URL space (/topics/...) a path it does not serve
// is a 404 and a method it does not allow a 405 with Allow, in its error
// format: never the next handler's empty 200, which a client checking only
// the status would take for a delivery. Other paths go to the next handler.
func TestUnknownPaths(t *testing.T) {
	g := newGateway(t, "", "")
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/topics/x", 404},
		{"POST", "/topics/x/records/extra", 404},
		{"POST", "/topics//records", 404},
		{"POST", "/topics/a/b/records", 404},
		{"POST", "/topics", 404},
		{"GET", "/topics/x/records", 405},
		{"PUT", "/topics/x/records", 405},
	} {
		h := http.Header{"Content-Type": {"text/plain"}, "Authorization": {"Bearer " + esKey}}
		resp, body := g.Do(t, tc.method, tc.path, h, "x")
		var e struct {
			ErrorCode int `json:"error_code"`
			Error     struct {
				ErrorCode int `json:"error_code"`
			} `json:"error"`
		}
		if resp.StatusCode != tc.status || json.Unmarshal(body, &e) != nil || e.ErrorCode != tc.status || e.Error.ErrorCode != tc.status {
			t.Fatalf("%s %s: status %d body %q, want %d in Event Streams' format", tc.method, tc.path, resp.StatusCode, body, tc.status)
		}
		if tc.status == 405 && resp.Header.Get("Allow") != "POST" {
			t.Fatalf("%s %s: Allow %q", tc.method, tc.path, resp.Header.Get("Allow"))
		}
	}
	// Outside it: Caddy's empty 200, after kafka_rest.
	resp, body := post(t, g, esKey, "/other", "text/plain", "x")
	if resp.StatusCode != http.StatusOK || len(body) != 0 {
		t.Fatalf("/other: status %d body %q, want the next handler's empty 200", resp.StatusCode, body)
	}
	if recs := g.Records(t, "x", 0); len(recs) != 0 {
		t.Fatalf("%d records written by unknown paths", len(recs))
	}
}

func TestAPIKeyScopesTopics(t *testing.T) {
	g := newGateway(t, "", "")
	orders, payments := g.Topic("orders-1"), g.Topic("payments")

	md := success(t)(post(t, g, ordersKey, "/topics/"+orders+"/records", "text/plain", "order"))

	resp, body := post(t, g, ordersKey, "/topics/"+payments+"/records", "text/plain", "payment")
	d := failure(t, resp, body, 401, "Unauthorized to produce to this topic: topic \""+payments+"\" is not allowed by this route (its kafka_rest topics setting)")
	checkTopic(t, d, payments)
	noKafkaCode(t, d)

	// The es key may not write to orders either.
	resp, body = post(t, g, esKey, "/topics/"+orders+"/records", "text/plain", "not es's")
	failure(t, resp, body, 401, "Unauthorized to produce to this topic: topic \""+orders+"\" is not allowed by this route (its kafka_rest topics setting)")

	// Basic with user "token", as IBM accepts.
	h := http.Header{"Content-Type": {"text/plain"}}
	req, _ := http.NewRequest(http.MethodPost, "/", nil)
	req.SetBasicAuth("token", ordersKey)
	h.Set("Authorization", req.Header.Get("Authorization"))
	md2 := success(t)(g.Do(t, http.MethodPost, "/topics/"+orders+"/records", h, "basic"))

	recs := g.Records(t, "orders-1", 2)
	if len(recs) != 2 {
		t.Fatalf("%d records in orders-1", len(recs))
	}
	checkRecord(t, recs[0], md, nil, []byte("order"))
	checkRecord(t, recs[1], md2, nil, []byte("basic"))
	if recs := g.Records(t, "payments", 0); len(recs) != 0 {
		t.Fatalf("%d records in payments", len(recs))
	}
}

func TestWrongKeyIs401(t *testing.T) {
	g := newGateway(t, "", "")
	path := "/topics/" + g.Topic("orders-1") + "/records"
	basic := func(user, pass string) string {
		req, _ := http.NewRequest(http.MethodPost, "/", nil)
		req.SetBasicAuth(user, pass)
		return req.Header.Get("Authorization")
	}
	for name, auth := range map[string]string{
		"missing":          "",
		"wrong":            "Bearer " + ordersKey + "x",
		"digest as key":    "Bearer " + digest(ordersKey),
		"empty bearer":     "Bearer ",
		"basic other user": basic("orders", ordersKey),
		"basic wrong":      basic("token", "nope"),
	} {
		t.Run(name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"text/plain"}}
			if auth != "" {
				h.Set("Authorization", auth)
			}
			resp, body := g.Do(t, http.MethodPost, path, h, "x")
			d := failure(t, resp, body, 401, "Unauthorized: the API key is missing or not valid")
			if d.Topic != nil || d.KafkaErrorCode != nil {
				t.Fatalf("auth error with topic or kafka code: %s", body)
			}
			if wa := resp.Header.Get("WWW-Authenticate"); wa != `Bearer realm="kafka"` {
				t.Fatalf("WWW-Authenticate %q", wa)
			}
		})
	}
	if recs := g.Records(t, "orders-1", 0); len(recs) != 0 {
		t.Fatalf("%d records written without a key", len(recs))
	}
}

func TestTopicNotFound(t *testing.T) {
	g := newGateway(t, "", "")
	missing := g.Topic("es-missing")
	resp, body := post(t, g, esKey, "/topics/"+missing+"/records", "text/plain", "x")
	d := failure(t, resp, body, 404, "The topic does not exist: topic \""+missing+"\" does not exist; the broker does not create topics automatically for this gateway; create the topic, or set allow_auto_topic_creation in the kafka app if the broker allows it")
	checkTopic(t, d, missing)
	if d.KafkaErrorCode == nil || *d.KafkaErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("kafka_error_code %v, want %d", d.KafkaErrorCode, kerr.UnknownTopicOrPartition.Code)
	}
}

// injectProduceError answers every produce request with code.
func injectProduceError(g *gatewaytest.Gateway, code int16) {
	c := g.Fake
	c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

func TestKafkaErrors(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("injects errors with kfake")
	}
	for _, c := range []struct {
		err     *kerr.Error
		status  int
		message string
	}{
		{kerr.InvalidRequiredAcks, 500, "The request failed due to an internal server error"},
		{kerr.TopicAuthorizationFailed, 401, "Unauthorized to produce to this topic"},
		{kerr.MessageTooLarge, 400, "record is over max_message_bytes (1 MiB) or the topic's max.message.bytes on the broker; " +
			"raise max_message_bytes in the kafka app (and max.message.bytes on the broker) or send a smaller record"},
		{kerr.InvalidRecord, 400, kerr.InvalidRecord.Description},
	} {
		t.Run(c.err.Message, func(t *testing.T) {
			g := newGateway(t, "", "")
			topic := g.Topic("es-main")
			injectProduceError(g, c.err.Code)
			resp, body := post(t, g, esKey, "/topics/"+topic+"/records", "text/plain", "x")
			d := failure(t, resp, body, c.status, c.message)
			checkTopic(t, d, topic)
			if d.KafkaErrorCode == nil || *d.KafkaErrorCode != c.err.Code {
				t.Fatalf("kafka_error_code %v, want %d", d.KafkaErrorCode, c.err.Code)
			}
		})
	}
}

// holdProduce delays produce requests until release is closed, and signals
// seen at the first.
func holdProduce(g *gatewaytest.Gateway, release <-chan struct{}, seen chan<- struct{}) {
	c := g.Fake
	var once atomic.Bool
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if once.CompareAndSwap(false, true) {
			close(seen)
		}
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
}

func TestTimeoutIs408(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("holds produce requests with kfake")
	}
	g := newGateway(t, "", "timeout 200ms")
	topic := g.Topic("es-main")
	release, seen := make(chan struct{}), make(chan struct{})
	holdProduce(g, release, seen)
	resp, body := post(t, g, esKey, "/topics/"+topic+"/records", "text/plain", "late")
	close(release)
	d := failure(t, resp, body, 408, "The request timed out producing to Event Streams; the record may still be written")
	checkTopic(t, d, topic)
	noKafkaCode(t, d)
	// A timeout is not a "no".
	if recs := g.Records(t, "es-main", 1); len(recs) != 1 || string(recs[0].Value) != "late" {
		t.Fatalf("the timed-out record should still land: %d records", len(recs))
	}
}

func TestOverloadIs503(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("holds produce requests with kfake")
	}
	g := newGateway(t, "max_buffered_records 1", "")
	topic := g.Topic("es-main")
	release, seen := make(chan struct{}), make(chan struct{})
	holdProduce(g, release, seen)
	first := make(chan metadata, 1)
	go func() { // no t.Fatal off the test's goroutine: report through first
		defer close(first)
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/topics/"+topic+"/records", strings.NewReader("first"))
		req.Header.Set("Authorization", "Bearer "+esKey)
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		var out struct{ Metadata metadata }
		if resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&out) == nil {
			first <- out.Metadata
		}
	}()
	<-seen // the first record fills the buffer
	resp, body := post(t, g, esKey, "/topics/"+topic+"/records", "text/plain", "second")
	close(release)
	d := failure(t, resp, body, 503, "The request failed because the gateway is overloaded; retry later")
	checkTopic(t, d, topic)
	noKafkaCode(t, d)
	if ra := resp.Header.Get("Retry-After"); ra == "" {
		t.Fatal("no Retry-After on overload")
	}
	md, ok := <-first
	if !ok {
		t.Fatal("the first request failed")
	}
	recs := g.Records(t, "es-main", 1)
	if len(recs) != 1 {
		t.Fatalf("%d records, want only the first", len(recs))
	}
	checkRecord(t, recs[0], md, nil, []byte("first"))
}
