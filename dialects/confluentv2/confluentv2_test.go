package confluentv2_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	_ "github.com/caddy-kafka/caddy-kafka/dialects/confluentv2"
	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

const (
	binV1  = "application/vnd.kafka.binary.v1+json"
	binV2  = "application/vnd.kafka.binary.v2+json"
	jsonV1 = "application/vnd.kafka.json.v1+json"
	jsonV2 = "application/vnd.kafka.json.v2+json"
)

var topics = map[string]int32{
	"test": 3, "rt": 2, "errs": 2, "conns": 1, "secret": 1, "kerr": 1, "perrec": 1,
}

// start runs a gateway with the topics above and the extra ones (3
// partitions each), every one but "secret" allowed.
func start(t *testing.T, extra ...string) *gatewaytest.Gateway {
	t.Helper()
	all := map[string]int32{}
	for name, n := range topics {
		all[name] = n
	}
	for _, name := range extra {
		all[name] = 3
	}
	return gatewaytest.New(t, gatewaytest.Options{
		Topics: all,
		Site: `kafka_rest confluent_v2 {
			topics {topic.test} {topic.rt} {topic.errs} {topic.conns} {topic.kerr} {topic.perrec} golden-* missing* types* node*
			consume
		}`,
	})
}

type offsetsResp struct {
	Offsets []struct {
		Partition *int32  `json:"partition"`
		Offset    *int64  `json:"offset"`
		ErrorCode *int    `json:"error_code"`
		Error     *string `json:"error"`
	} `json:"offsets"`
	KeySchemaID   *int `json:"key_schema_id"`
	ValueSchemaID *int `json:"value_schema_id"`
}

type consumed struct {
	Topic     string          `json:"topic"`
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
}

func produce(t *testing.T, g *gatewaytest.Gateway, path, ct, body string) offsetsResp {
	t.Helper()
	resp, b := g.Post(t, path, ct, body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: status %d: %s", path, resp.StatusCode, b)
	}
	var out offsetsResp
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return out
}

func consume(t *testing.T, g *gatewaytest.Gateway, path, accept string) ([]consumed, *http.Response) {
	t.Helper()
	resp, b := g.Do(t, http.MethodGet, path, http.Header{"Accept": {accept}}, "")
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, b)
	}
	var out []consumed
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return out, resp
}

// TestSpecExamples runs the three examples of the spec page in order.
func TestSpecExamples(t *testing.T) {
	g := start(t)
	test := g.Topic("test")

	// POST /topics/test
	resp, b := g.Do(t, http.MethodPost, "/topics/"+test, http.Header{"Content-Type": {binV1}, "Accept": {"application/vnd.kafka.v1+json"}},
		`{"records":[{"key":"a2V5","value":"dmFsdWU="},{"value":"dmFsdWU=","partition":1}]}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.kafka.v1+json" {
		t.Fatalf("status %d, %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	kp := gatewaytest.JavaPartition([]byte("key"), 3)
	second := 0
	if kp == 1 {
		second = 1
	}
	want := fmt.Sprintf(`{"offsets":[{"partition":%d,"offset":0,"error_code":null,"error":null},{"partition":1,"offset":%d,"error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":null}`,
		kp, second)
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}

	// POST /topics/test/partitions/1
	out := produce(t, g, "/topics/"+test+"/partitions/1", binV1,
		`{"records":[{"key":"a2V5","value":"dmFsdWU="},{"value":"dmFsdWU="}]}`)
	if len(out.Offsets) != 2 || *out.Offsets[0].Partition != 1 || *out.Offsets[1].Partition != 1 ||
		*out.Offsets[1].Offset != *out.Offsets[0].Offset+1 {
		t.Fatalf("offsets %+v", out.Offsets)
	}

	// GET /consume/test/partitions/1?offset=1
	recs, resp := consume(t, g, "/consume/"+test+"/partitions/1?offset=1", binV1)
	if resp.Header.Get("Content-Type") != binV1 {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	last := *out.Offsets[1].Offset
	if int64(len(recs)) != last || recs[0].Offset != 1 || recs[len(recs)-1].Offset != last {
		t.Fatalf("consumed %+v, want offsets 1..%d", recs, last)
	}
	for _, r := range recs {
		if r.Topic != test || r.Partition != 1 || string(r.Value) != `"dmFsdWU="` {
			t.Fatalf("record %+v", r)
		}
	}
	if string(recs[len(recs)-1].Key) != "null" || string(recs[len(recs)-2].Key) != `"a2V5"` {
		t.Fatalf("keys %s, %s; want \"a2V5\", null", recs[len(recs)-2].Key, recs[len(recs)-1].Key)
	}

	// What a plain Kafka consumer sees, byte for byte.
	got := map[int32][]*kgo.Record{}
	for _, r := range g.Records(t, "test", 4) {
		got[r.Partition] = append(got[r.Partition], r)
	}
	p1 := got[1]
	if int64(len(p1)) != last+1 {
		t.Fatalf("partition 1 has %d records", len(p1))
	}
	if !gatewaytest.EqualBytes(p1[last].Key, nil) || string(p1[last].Value) != "value" || string(p1[last-1].Key) != "key" {
		t.Fatalf("partition 1: %+v", p1)
	}
	if first := got[kp][0]; string(first.Key) != "key" || string(first.Value) != "value" {
		t.Fatalf("keyed record %q=%q", first.Key, first.Value)
	}
}

// TestRoundTrip produces in each format and version, reads back through the
// gateway and through a plain consumer, byte for byte.
func TestRoundTrip(t *testing.T) {
	g := start(t)
	rt := g.Topic("rt")
	type rec struct{ key, value []byte } // nil = null
	var all []rec

	// binary: arbitrary bytes, a null key and an empty value.
	bin := []rec{{[]byte{0, 1, 0xff}, []byte("héllo\n")}, {nil, []byte{}}, {[]byte("k"), nil}}
	var sb strings.Builder
	sb.WriteString(`{"records":[`)
	for i, r := range bin {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"key":%s,"value":%s,"partition":0}`, b64(r.key), b64(r.value))
	}
	sb.WriteString(`]}`)
	for _, ct := range []string{binV1, binV2} {
		out := produce(t, g, "/topics/"+rt, ct, sb.String())
		for _, o := range out.Offsets {
			if o.ErrorCode != nil || *o.Partition != 0 {
				t.Fatalf("%s: %+v", ct, o)
			}
		}
		all = append(all, bin...)
	}
	// json: raw JSON, compacted; a string keeps its quotes. The record's
	// partition wins over the path's, as in Confluent v2.
	jsonBody := `{"records":[{"key":"somekey","value":{"foo": "bar", "n": [1, 2.5]},"partition":0},{"value":53.5,"partition":0},{"key":null,"value":null,"partition":0}]}`
	jsonRecs := []rec{{[]byte(`"somekey"`), []byte(`{"foo":"bar","n":[1,2.5]}`)}, {nil, []byte(`53.5`)}, {nil, nil}}
	for _, ct := range []string{jsonV1, jsonV2} {
		produce(t, g, "/topics/"+rt+"/partitions/1", ct, jsonBody)
		all = append(all, jsonRecs...)
	}

	// Through Kafka.
	got := g.Records(t, "rt", len(all))
	if len(got) != len(all) {
		t.Fatalf("%d records in kafka, want %d", len(got), len(all))
	}
	for i, r := range got {
		if r.Partition != 0 || !gatewaytest.EqualBytes(r.Key, all[i].key) || !gatewaytest.EqualBytes(r.Value, all[i].value) || r.Offset != int64(i) {
			t.Fatalf("record %d: %q=%q at %d/%d, want %q=%q", i, r.Key, r.Value, r.Partition, r.Offset, all[i].key, all[i].value)
		}
	}

	// Through the gateway, binary: every record, base64.
	recs, resp := consume(t, g, "/topics/"+rt+"/partitions/0/messages?offset=0&count=1000", binV2)
	if resp.Header.Get("Content-Type") != binV2 || len(recs) != len(all) {
		t.Fatalf("%s: %d records", resp.Header.Get("Content-Type"), len(recs))
	}
	for i, r := range recs {
		if string(r.Key) != string(b64(all[i].key)) || string(r.Value) != string(b64(all[i].value)) || r.Offset != int64(i) || r.Topic != rt {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	// json: from the first json record, raw values.
	first := int64(2 * len(bin))
	recs, resp = consume(t, g, fmt.Sprintf("/topics/%s/partitions/0?offset=%d&count=3", rt, first), jsonV2)
	if resp.Header.Get("Content-Type") != jsonV2 || len(recs) != 3 {
		t.Fatalf("%s: %+v", resp.Header.Get("Content-Type"), recs)
	}
	for i, r := range recs {
		want := jsonRecs[i]
		if string(r.Key) != nullOr(want.key) || string(r.Value) != nullOr(want.value) || r.Offset != first+int64(i) {
			t.Fatalf("json record %d: %s=%s at %d", i, r.Key, r.Value, r.Offset)
		}
	}
	// count bounds the answer.
	if recs, _ = consume(t, g, fmt.Sprintf("/topics/%s/partitions/0?offset=1&count=2", rt), binV1); len(recs) != 2 || recs[0].Offset != 1 {
		t.Fatalf("count=2: %+v", recs)
	}
	// A binary record read as json: 406 when it comes first.
	resp, b := g.Do(t, http.MethodGet, "/topics/"+rt+"/partitions/0?offset=0", http.Header{"Accept": {jsonV1}}, "")
	if resp.StatusCode != 406 || !strings.Contains(string(b), `"error_code":40601`) {
		t.Fatalf("binary as json: %d %s", resp.StatusCode, b)
	}
	// The end of the partition: an empty array, within the wait.
	recs, _ = consume(t, g, fmt.Sprintf("/consume/%s/partitions/0?offset=%d", rt, len(all)), binV1)
	if len(recs) != 0 {
		t.Fatalf("at the end: %+v", recs)
	}
}

func b64(b []byte) []byte {
	if b == nil {
		return []byte("null")
	}
	return []byte(`"` + base64.StdEncoding.EncodeToString(b) + `"`)
}

func nullOr(b []byte) string {
	if b == nil {
		return "null"
	}
	return string(b)
}

// TestConsumeReusesConnections checks that consume requests open no Kafka
// connection: kfake sees an ApiVersions request on every new connection.
func TestConsumeReusesConnections(t *testing.T) {
	g := start(t)
	if g.Fake == nil {
		t.Skip("needs kfake")
	}
	var conns atomic.Int64
	g.Fake.ControlKey(int16(kmsg.ApiVersions), func(kmsg.Request) (kmsg.Response, error, bool) {
		g.Fake.KeepControl()
		conns.Add(1)
		return nil, nil, false
	})
	topic := g.Topic("conns")
	produce(t, g, "/topics/"+topic, binV2, `{"records":[{"value":"YQ=="},{"value":"Yg=="}]}`)
	consume(t, g, "/topics/"+topic+"/partitions/0?offset=0", binV2) // the first fetch may open the fetch connection
	before := conns.Load()
	for i := 0; i < 30; i++ {
		if recs, _ := consume(t, g, fmt.Sprintf("/topics/%s/partitions/0?offset=%d", topic, i%2), binV2); len(recs) != 2-i%2 {
			t.Fatalf("request %d: %+v", i, recs)
		}
	}
	if n := conns.Load() - before; n != 0 {
		t.Fatalf("%d new kafka connections over 30 consume requests", n)
	}
}

type errCase struct {
	name, method, path, ct, accept, body string
	status, code                         int
	respCT                               string
}

func TestErrors(t *testing.T) {
	g := start(t)
	errs, secret := g.Topic("errs"), g.Topic("secret")
	ok := `{"records":[{"value":"dmFsdWU="}]}`
	cases := []errCase{
		{"unknown topic", "POST", "/topics/missing-topic", binV2, "", ok, 404, 40401, ""},
		{"unknown topic v1", "POST", "/topics/missing-topic", binV1, "", ok, 404, 40401, "application/vnd.kafka.v1+json"},
		{"unknown partition path", "POST", "/topics/" + errs + "/partitions/7", binV2, "", ok, 404, 40402, ""},
		{"non-numeric partition", "POST", "/topics/" + errs + "/partitions/x", binV2, "", ok, 404, 40402, ""},
		{"unknown partition body", "POST", "/topics/" + errs, jsonV2, "", `{"records":[{"value":1,"partition":0},{"value":2,"partition":5}]}`, 404, 40402, ""},
		{"negative partition body", "POST", "/topics/" + errs, jsonV2, "", `{"records":[{"value":1,"partition":-1}]}`, 404, 40402, ""},
		{"not allowed", "POST", "/topics/" + secret, binV2, "", ok, 403, 40301, ""},
		{"bad json", "POST", "/topics/" + errs, binV2, "", `{"records":[`, 422, 42206, ""},
		{"bad base64", "POST", "/topics/" + errs, binV2, "", `{"records":[{"value":"not base64!"}]}`, 422, 42206, ""},
		{"binary number", "POST", "/topics/" + errs, binV2, "", `{"records":[{"value":12}]}`, 422, 42206, ""},
		{"no records", "POST", "/topics/" + errs, binV2, "", `{"value_schema":"x"}`, 422, 42206, ""},
		{"empty records", "POST", "/topics/" + errs, jsonV2, "", `{"records":[]}`, 422, 42206, ""},
		{"records not array", "POST", "/topics/" + errs, jsonV2, "", `{"records":{}}`, 422, 42206, ""},
		{"empty body", "POST", "/topics/" + errs, jsonV1, "", ``, 422, 42206, "application/vnd.kafka.v1+json"},
		{"avro", "POST", "/topics/" + errs, "application/vnd.kafka.avro.v2+json", "", ok, 415, 415, ""},
		{"protobuf", "POST", "/topics/" + errs, "application/vnd.kafka.protobuf.v2+json", "", ok, 415, 415, ""},
		{"jsonschema", "POST", "/topics/" + errs, "application/vnd.kafka.jsonschema.v2+json", "", ok, 415, 415, ""},
		{"version 3", "POST", "/topics/" + errs, "application/vnd.kafka.v3+json", "", ok, 415, 415, ""},
		{"not json", "POST", "/topics/" + errs, "application/vnd.kafka.binary.v1+foo", "", ok, 415, 415, "application/vnd.kafka.v1+json"},
		{"version before format", "POST", "/topics/" + errs, "application/vnd.kafka.v2.binary+json", "", ok, 415, 415, ""},
		{"text", "POST", "/topics/" + errs, "text/plain", "", ok, 415, 415, ""},
		// Strict decoding: what Karapace's test_rest.py sends, and more.
		{"misspelt value", "POST", "/topics/" + errs, jsonV2, "", `{"records":[{"value":1},{"valur":{"foo":"bar"}}]}`, 422, 42206, ""},
		{"misspelt partition", "POST", "/topics/" + errs, jsonV2, "", `{"records":[{"value":1,"partiton":1}]}`, 422, 42206, ""},
		{"field case", "POST", "/topics/" + errs, binV2, "", `{"records":[{"Value":"dmFsdWU="}]}`, 422, 42206, ""},
		{"unknown top field", "POST", "/topics/" + errs, binV2, "", `{"foo":"bar","records":[{"value":"dmFsdWU="}]}`, 422, 42206, ""},
		{"schema with binary", "POST", "/topics/" + errs, binV2, "", `{"value_schema":"\"int\"","records":[{"value":"dmFsdWU="}]}`, 422, 42206, ""},
		{"null record", "POST", "/topics/" + errs, binV2, "", `{"records":[{"value":"dmFsdWU="},null]}`, 422, 42206, ""},
		{"string record", "POST", "/topics/" + errs, binV2, "", `{"records":["object with value"]}`, 422, 42206, ""},
		{"method", "PUT", "/topics/" + errs, binV2, "", ok, 405, 405, ""},
		{"get missing topic", "GET", "/topics/missing-topic", "", "", "", 404, 40401, ""},
		{"get missing topic v1", "GET", "/topics/missing-topic/partitions", "", "application/vnd.kafka.v1+json", "", 404, 40401, "application/vnd.kafka.v1+json"},
		{"get topic not allowed", "GET", "/topics/" + secret, "", "", "", 403, 40301, ""},
		{"get missing partition", "GET", "/topics/" + errs + "/partitions/9", "", "", "", 404, 40402, ""},
		{"get bad partition", "GET", "/topics/" + errs + "/partitions/x", "", "", "", 404, 40402, ""},
		{"get not acceptable", "GET", "/brokers", "", "application/octet-stream", "", 406, 406, ""},
		{"get not acceptable text", "GET", "/topics", "", "text/html, foo/*", "", 406, 406, ""},
		{"delete topic", "DELETE", "/topics/" + errs, "", "", "", 405, 405, ""},
		// Inside v2's URL space, paths it does not serve are 404s in its
		// format, never the next handler's empty 200.
		{"unknown path", "POST", "/topics/" + errs + "/partitions/0/extra", binV2, "", ok, 404, 404, ""},
		{"unknown topics path", "POST", "/topics/" + errs + "/records", binV2, "", ok, 404, 404, ""},
		{"consumer groups", "POST", "/consumers/g1", "application/vnd.kafka.v2+json", "", `{"name":"c1"}`, 404, 404, ""},
		{"consume unknown topic", "GET", "/topics/missing-topic/partitions/0?offset=0", "", binV2, "", 404, 40401, ""},
		{"consume unknown partition", "GET", "/topics/" + errs + "/partitions/9?offset=0", "", binV2, "", 404, 40402, ""},
		{"consume bad partition", "GET", "/consume/" + errs + "/partitions/-1?offset=0", "", binV2, "", 404, 40402, ""},
		{"consume out of range", "GET", "/topics/" + errs + "/partitions/1?offset=99", "", binV2, "", 400, 40002, ""},
		{"consume bad offset", "GET", "/topics/" + errs + "/partitions/1?offset=x", "", binV2, "", 400, 40002, ""},
		{"consume negative offset", "GET", "/topics/" + errs + "/partitions/1?offset=-1", "", binV2, "", 400, 40002, ""},
		{"consume bad count", "GET", "/topics/" + errs + "/partitions/1?offset=0&count=0", "", binV2, "", 400, 40002, ""},
		{"consume avro", "GET", "/topics/" + errs + "/partitions/1?offset=0", "", "application/vnd.kafka.avro.v2+json", "", 406, 40601, ""},
		{"consume not allowed", "GET", "/topics/" + secret + "/partitions/0?offset=0", "", binV1, "", 403, 40301, "application/vnd.kafka.v1+json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkError(t, g, tc) })
	}
	// Nothing was written by the refused requests.
	if recs := g.Records(t, "errs", 0); len(recs) != 0 {
		t.Fatalf("%d records written by refused requests", len(recs))
	}
}

func checkError(t *testing.T, g *gatewaytest.Gateway, tc errCase) {
	t.Helper()
	h := http.Header{}
	if tc.ct != "" {
		h.Set("Content-Type", tc.ct)
	}
	if tc.accept != "" {
		h.Set("Accept", tc.accept)
	}
	resp, b := g.Do(t, tc.method, tc.path, h, tc.body)
	if resp.StatusCode != tc.status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
	}
	wantCT := tc.respCT
	if wantCT == "" {
		wantCT = "application/vnd.kafka.v2+json"
	}
	if resp.Header.Get("Content-Type") != wantCT {
		t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), wantCT)
	}
	var e map[string]any
	if err := json.Unmarshal(b, &e); err != nil || len(e) != 2 {
		t.Fatalf("error body %s: %v", b, err)
	}
	if code, _ := e["error_code"].(float64); int(code) != tc.code {
		t.Fatalf("error_code %v, want %d: %s", e["error_code"], tc.code, b)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("no message: %s", b)
	}
	// /topics/{topic} is read with GET and written with POST.
	if tc.status == 405 && resp.Header.Get("Allow") != "GET, POST" {
		t.Errorf("Allow %q", resp.Header.Get("Allow"))
	}
}

// TestKafkaErrors checks the Kafka error codes: 50001 under v1, 50002 or
// 50003 under v2 for the whole request, and per record with HTTP 200.
func TestKafkaErrors(t *testing.T) {
	g := start(t)
	if g.Fake == nil {
		t.Skip("needs kfake to inject errors")
	}
	ktopic, perrec := g.Topic("kerr"), g.Topic("perrec")
	ok := `{"records":[{"value":"dmFsdWU="}]}`

	// Whole request: the metadata of the topic fails.
	var code atomic.Int32
	g.Fake.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		g.Fake.KeepControl()
		mreq := req.(*kmsg.MetadataRequest)
		if len(mreq.Topics) != 1 || mreq.Topics[0].Topic == nil || *mreq.Topics[0].Topic != ktopic {
			return nil, nil, false
		}
		resp := mreq.ResponseKind().(*kmsg.MetadataResponse)
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = kmsg.StringPtr(ktopic)
		rt.ErrorCode = int16(code.Load())
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})
	type kcase struct {
		kerr         *kerr.Error
		ct           string
		status, code int
	}
	for _, tc := range []kcase{
		{kerr.UnknownServerError, binV1, 500, 50001},
		{kerr.UnknownServerError, binV2, 500, 50002},
		{kerr.LeaderNotAvailable, binV1, 500, 50001},
		{kerr.LeaderNotAvailable, binV2, 500, 50003},
		{kerr.TopicAuthorizationFailed, binV2, 403, 40301},
	} {
		code.Store(int32(tc.kerr.Code))
		respCT := "application/vnd.kafka.v2+json"
		if tc.ct == binV1 {
			respCT = "application/vnd.kafka.v1+json"
		}
		t.Run(tc.kerr.Message+" "+tc.ct, func(t *testing.T) {
			checkError(t, g, errCase{method: "POST", path: "/topics/" + ktopic, ct: tc.ct, body: ok, status: tc.status, code: tc.code, respCT: respCT})
		})
	}

	// Per record: Kafka refuses the produce. Only perrec is produced to
	// from here on.
	var pcode atomic.Int32
	g.Fake.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		g.Fake.KeepControl()
		preq := req.(*kmsg.ProduceRequest)
		resp := preq.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range preq.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = int16(pcode.Load())
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	for _, tc := range []kcase{
		{kerr.InvalidRecord, binV2, 200, 50002},
		{kerr.InvalidRecord, binV1, 200, 1},
		{kerr.TopicAuthorizationFailed, binV2, 403, 40301},
	} {
		pcode.Store(int32(tc.kerr.Code))
		t.Run("record "+tc.kerr.Message+" "+tc.ct, func(t *testing.T) {
			resp, b := g.Post(t, "/topics/"+perrec, tc.ct, `{"records":[{"value":"YQ=="},{"value":"Yg=="}]}`)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			var out offsetsResp
			if err := json.Unmarshal(b, &out); err != nil || len(out.Offsets) != 2 {
				t.Fatalf("%s: %v", b, err)
			}
			for _, o := range out.Offsets {
				if o.Partition != nil || o.Offset != nil || o.ErrorCode == nil || *o.ErrorCode != tc.code || o.Error == nil || *o.Error == "" {
					t.Fatalf("offset entry %s", b)
				}
			}
		})
	}
}

// TestProduceMediaTypes produces with every media type Confluent's REST
// Proxy (v1 and v2 resources, Versions.java) or Karapace (test_rest.py's
// valid_headers) accepts for binary or json data, and checks the record in
// Kafka and the answer's media type, which follows the request's version.
func TestProduceMediaTypes(t *testing.T) {
	g := start(t, "types")
	cases := []struct {
		ct, body, value, respCT string
	}{
		{binV1, `{"records":[{"value":"Zm9v"}]}`, "foo", "application/vnd.kafka.v1+json"},
		{binV2, `{"records":[{"value":"Zm9v"}]}`, "foo", "application/vnd.kafka.v2+json"},
		{jsonV1, `{"records":[{"value":{"foo":"bar"}}]}`, `{"foo":"bar"}`, "application/vnd.kafka.v1+json"},
		{jsonV2, `{"records":[{"value":{"foo":"bar"}}]}`, `{"foo":"bar"}`, "application/vnd.kafka.v2+json"},
		// What Confluent's Node.js client (kafka-rest 0.0.5) sends.
		{"application/vnd.kafka.v1+json", `{"records":[{"value":"Zm9v","key":null,"partition":null}]}`, "foo", "application/vnd.kafka.v1+json"},
		{"application/vnd.kafka.v2+json", `{"records":[{"value":"Zm9v"}]}`, "foo", "application/vnd.kafka.v2+json"},
		{"application/vnd.kafka+json", `{"records":[{"value":"Zm9v"}]}`, "foo", "application/vnd.kafka.v2+json"},
		{"application/vnd.kafka.json+json", `{"records":[{"value":{"foo":"bar"}}]}`, `{"foo":"bar"}`, "application/vnd.kafka.v2+json"},
		{"application/vnd.kafka.binary+json", `{"records":[{"value":"Zm9v"}]}`, "foo", "application/vnd.kafka.v2+json"},
		{"application/json", `{"records":[{"value":"Zm9v"}]}`, "foo", "application/vnd.kafka.v2+json"},
		{"application/json; charset=utf-8", `{"records":[{"value":"Zm9v"}]}`, "foo", "application/vnd.kafka.v2+json"},
		{"application/octet-stream", `{"records":[{"value":"Zm9v"}]}`, "foo", "application/vnd.kafka.v2+json"},
		{"", `{"records":[{"value":"Zm9v"}]}`, "foo", "application/vnd.kafka.v2+json"},
	}
	for i, tc := range cases {
		h := http.Header{}
		if tc.ct != "" {
			h.Set("Content-Type", tc.ct)
		}
		resp, b := g.Do(t, "POST", "/topics/"+g.Topic("types")+"/partitions/1", h, tc.body)
		var out offsetsResp
		if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || len(out.Offsets) != 1 ||
			out.Offsets[0].Offset == nil || *out.Offsets[0].Offset != int64(i) {
			t.Fatalf("%q: %d %s", tc.ct, resp.StatusCode, b)
		}
		if got := resp.Header.Get("Content-Type"); got != tc.respCT {
			t.Errorf("%q: answered as %q, want %q", tc.ct, got, tc.respCT)
		}
	}
	recs := g.Records(t, "types", len(cases))
	if len(recs) != len(cases) {
		t.Fatalf("%d records for %d requests", len(recs), len(cases))
	}
	for i, r := range recs {
		if r.Partition != 1 || r.Offset != int64(i) || r.Key != nil || string(r.Value) != cases[r.Offset].value {
			t.Errorf("record %d/%d: key %q value %q, want %q", r.Partition, r.Offset, r.Key, r.Value, cases[r.Offset].value)
		}
	}
}
