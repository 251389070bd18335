package ibmeventstreams_test

import (
	"encoding/json"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/caddy-kafka/caddy-kafka/dialects/ibmeventstreams"
	"github.com/caddy-kafka/caddy-kafka/internal/cutproxy"
	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

const (
	readingV1 = `{"type":"record","name":"Reading","fields":[{"name":"temp","type":"double"}]}`
	readingV2 = `{"type":"record","name":"Reading","fields":[{"name":"temp","type":"double"},{"name":"unit","type":["null","string"],"default":null}]}`
)

// registerAll registers schemas under subject in order and returns their ids.
func registerAll(t *testing.T, url, subject string, schemas ...sr.Schema) []int {
	t.Helper()
	var ids []int
	for _, s := range schemas {
		ids = append(ids, gatewaytest.Register(t, url, subject, s))
	}
	return ids
}

func avroBinary(t *testing.T, schema, textual string) string {
	t.Helper()
	c, err := goavro.NewCodec(schema)
	if err != nil {
		t.Fatal(err)
	}
	native, _, err := c.NativeFromTextual([]byte(textual))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.BinaryFromNative(nil, native)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// schemaHeaders checks that r carries IBM's schema headers with these values
// after the headers the request set itself.
func schemaHeaders(t *testing.T, r *kgo.Record, own int, id, version int, encoding string) {
	t.Helper()
	want := []kgo.RecordHeader{
		{Key: ibmeventstreams.HeaderSchemaID, Value: []byte(strconv.Itoa(id))},
		{Key: ibmeventstreams.HeaderSchemaVersion, Value: []byte(strconv.Itoa(version))},
		{Key: ibmeventstreams.HeaderEncoding, Value: []byte(encoding)},
	}
	if len(r.Headers) != own+len(want) {
		t.Fatalf("headers %v, want %d of the request's and %v", r.Headers, own, want)
	}
	for i, h := range want {
		got := r.Headers[own+i]
		if got.Key != h.Key || string(got.Value) != string(h.Value) {
			t.Errorf("header %d: %s=%q, want %s=%q", own+i, got.Key, got.Value, h.Key, h.Value)
		}
	}
}

func TestSchemaLookupLabelsAndValidates(t *testing.T) {
	url := gatewaytest.RegistryURL(t)
	avroSubj, jsonSubj, pbSubj := gatewaytest.Unique("es-avro"), gatewaytest.Unique("es-json"), gatewaytest.Unique("es-pb")
	avroIDs := registerAll(t, url, avroSubj, sr.Schema{Schema: readingV1}, sr.Schema{Schema: readingV2})
	jsonIDs := registerAll(t, url, jsonSubj, sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"level":{"enum":["info","error"]}},"required":["level"]}`})
	pbIDs := registerAll(t, url, pbSubj, sr.Schema{Type: sr.TypeProtobuf, Schema: "syntax = \"proto3\";\nmessage Ping { string from = 1; }\n"})
	g := newGateway(t, "schema_registry "+url, "")
	path := "/topics/" + g.Topic("es-main") + "/records?"
	q := func(kv ...string) string {
		v := neturl.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return path + v.Encode()
	}
	v1Binary := avroBinary(t, readingV1, `{"temp":21.5}`)
	pb := string(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "edge-1"))

	type sent struct {
		value     string
		own       int
		id, ver   int
		encoding  string
		validated bool
	}
	var written []sent
	for _, c := range []struct {
		name, target, ct, body string
		want                   sent
	}{
		{"avro binary, version 1", q("schemaname", avroSubj, "schemaversion", "1"), "application/octet-stream", v1Binary,
			sent{id: avroIDs[0], ver: 1, encoding: "BINARY"}},
		{"avro binary validated, with own headers", q("schemaname", avroSubj, "schemaversion", "1", "schemavalidation", "true", "headers", "trace:0102"),
			"application/octet-stream", v1Binary, sent{own: 1, id: avroIDs[0], ver: 1, encoding: "BINARY", validated: true}},
		{"avro json, latest, validated", q("schemaname", avroSubj, "schemavalidation", "TRUE"), "application/json", `{"temp":3.5,"unit":{"string":"C"}}`,
			sent{id: avroIDs[1], ver: 2, encoding: "JSON", validated: true}},
		{"avro text, not validated", q("schemaname", avroSubj, "schemaversion", "latest", "schemavalidation", "false"), "text/plain", "anything",
			sent{id: avroIDs[1], ver: 2, encoding: "BINARY"}},
		{"json schema", q("schemaname", jsonSubj, "schemavalidation", "true"), "application/json", `{"level":"info"}`,
			sent{id: jsonIDs[0], ver: 1, encoding: "JSON", validated: true}},
		{"protobuf binary", q("schemaname", pbSubj, "schemavalidation", "true"), "application/octet-stream", pb,
			sent{id: pbIDs[0], ver: 1, encoding: "BINARY", validated: true}},
	} {
		resp, body := post(t, g, esKey, c.target, c.ct, c.body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", c.name, resp.StatusCode, body)
		}
		checkSuccess(t, resp, body)
		c.want.value = c.body
		written = append(written, c.want)
	}

	for _, c := range []struct {
		name, target, ct, body string
		status                 int
		message                string
	}{
		{"avro binary mismatch", q("schemaname", avroSubj, "schemaversion", "1", "schemavalidation", "true"), "application/octet-stream", "\x01", 400, "data does not match schema"},
		{"avro json mismatch", q("schemaname", avroSubj, "schemavalidation", "true"), "application/json", `{"temp":"warm"}`, 400, "data does not match schema"},
		{"json schema violation", q("schemaname", jsonSubj, "schemavalidation", "true"), "application/json", `{"level":"debug"}`, 400, "at /level"},
		{"unknown subject", q("schemaname", avroSubj+"-missing"), "text/plain", "x", 404, avroSubj + "-missing"},
		{"unknown version", q("schemaname", avroSubj, "schemaversion", "9"), "text/plain", "x", 404, "9"},
	} {
		resp, body := post(t, g, esKey, c.target, c.ct, c.body)
		if resp.StatusCode != c.status {
			t.Fatalf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.status)
		}
		d := failure(t, resp, body, c.status, messageOf(t, body))
		if !strings.Contains(d.Message, c.message) {
			t.Errorf("%s: message %q does not contain %q", c.name, d.Message, c.message)
		}
		u, _ := neturl.Parse(c.target)
		if d.Schema != u.Query().Get("schemaname") {
			t.Errorf("%s: error's schema %q, want the request's schemaname", c.name, d.Schema)
		}
	}

	recs := g.Records(t, "es-main", len(written))
	if len(recs) != len(written) {
		t.Fatalf("%d records, want %d (refused requests must write nothing)", len(recs), len(written))
	}
	for i, r := range recs {
		w := written[i]
		if string(r.Value) != w.value {
			t.Errorf("record %d: value %q, want the body as sent %q", i, r.Value, w.value)
		}
		schemaHeaders(t, r, w.own, w.id, w.ver, w.encoding)
	}
}

// messageOf is the message of an error body, for failure's exact check when
// the test checks only part of it.
func messageOf(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	return e.Message
}

// TestSchemaRegistryOutage cuts the network to a running registry: a schema
// looked up before goes on working from the cache, one never seen gets a 503
// with Retry-After, and a request without schema parameters is untouched.
func TestSchemaRegistryOutage(t *testing.T) {
	url := gatewaytest.RegistryURL(t)
	known, unseen := gatewaytest.Unique("es-known"), gatewaytest.Unique("es-unseen")
	registerAll(t, url, known, sr.Schema{Schema: readingV1})
	registerAll(t, url, unseen, sr.Schema{Schema: readingV1})
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	p := cutproxy.New(t, u.Host)
	u.Host = p.Addr()
	g := newGateway(t, "schema_registry "+u.String(), "")
	path := "/topics/" + g.Topic("es-main") + "/records?schemaname="
	body := avroBinary(t, readingV1, `{"temp":1}`)
	if resp, b := post(t, g, esKey, path+known, "application/octet-stream", body); resp.StatusCode != 200 {
		t.Fatalf("before the outage: %d %s", resp.StatusCode, b)
	}
	p.Cut()
	if resp, b := post(t, g, esKey, path+known+"&schemavalidation=true", "application/octet-stream", body); resp.StatusCode != 200 {
		t.Fatalf("a known schema during the outage: %d %s", resp.StatusCode, b)
	}
	resp, b := post(t, g, esKey, path+unseen, "application/octet-stream", body)
	d := failure(t, resp, b, 503, messageOf(t, b))
	if resp.Header.Get("Retry-After") == "" || d.Schema != unseen {
		t.Fatalf("an unseen schema during the outage: Retry-After %q, %s", resp.Header.Get("Retry-After"), b)
	}
	if resp, b := post(t, g, esKey, "/topics/"+g.Topic("es-main")+"/records", "text/plain", "plain"); resp.StatusCode != 200 {
		t.Fatalf("no schema during the outage: %d %s", resp.StatusCode, b)
	}
	if n := len(g.Records(t, "es-main", 3)); n != 3 {
		t.Fatalf("%d records, want 3", n)
	}
}
