package confluentv3_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

func q(s string) string { b, _ := json.Marshal(s); return string(b) }

const (
	v3Avro  = `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"note","type":["null","string"],"default":null}]}`
	v3JSON  = `{"title":"Click","type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}`
	v3Proto = "syntax = \"proto3\";\npackage shop;\nmessage Item { string sku = 1; }\n"
)

func TestSchemaRecords(t *testing.T) {
	url := gatewaytest.RegistryURL(t)
	tp := gatewaytest.Unique("v3s")
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{tp: 1},
		Kafka:  "schema_registry " + url,
		Site:   "kafka_rest confluent_v3 {\n\tcluster_id cluster-1\n}",
	})
	path := recordsPath(g, tp)
	topic := g.Topic(tp)
	body := strings.Join([]string{
		// 1: inline Avro value, TopicNameStrategy.
		fmt.Sprintf(`{"value":{"type":"AVRO","schema":%s,"data":{"id":1,"note":{"string":"first"}}}}`, q(v3Avro)),
		// 2: latest version of the subject just registered, no type.
		fmt.Sprintf(`{"value":{"subject":%s,"data":{"id":2,"note":null}}}`, q(topic+"-value")),
		// 3: version 1 explicitly; an inline JSON Schema key by RECORD_NAME.
		fmt.Sprintf(`{"key":{"type":"JSONSCHEMA","subject_name_strategy":"RECORD_NAME","schema":%s,"data":{"x":3}},"value":{"schema_version":1,"data":{"id":3,"note":null}}}`, q(v3JSON)),
		// 4: Protobuf key by TOPIC_RECORD_NAME.
		fmt.Sprintf(`{"key":{"type":"PROTOBUF","subject_name_strategy":"TOPIC_RECORD_NAME","schema":%s,"data":{"sku":"a-1"}},"value":{"type":"BINARY","data":"AA=="}}`, q(v3Proto)),
		// 5-8: failures, each its own report.
		`{"value":{"subject":"` + topic + `-value","data":{"id":"five"}}}`,
		`{"value":{"schema_id":1073741824,"data":{}}}`,
		`{"value":{"schema_version":99,"data":{}}}`,
		`{"value":{"type":"AVRO","schema":"{\"type\":\"recrd\"}","data":1}}`,
	}, "\n")
	resp, b := g.Post(t, path, "application/json", body)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	rs := reports(t, b)
	if len(rs) != 8 {
		t.Fatalf("%d reports: %s", len(rs), b)
	}
	field := func(r map[string]any, side, name string) any {
		m, _ := r[side].(map[string]any)
		return m[name]
	}
	for i := 0; i < 3; i++ {
		if rs[i]["error_code"] != 200. || field(rs[i], "value", "type") != "AVRO" || field(rs[i], "value", "subject") != topic+"-value" || field(rs[i], "value", "schema_version") != 1. {
			t.Errorf("report %d: %v", i+1, rs[i])
		}
	}
	if field(rs[2], "key", "type") != "JSONSCHEMA" || field(rs[2], "key", "subject") != "Click" {
		t.Errorf("report 3 key: %v", rs[2]["key"])
	}
	if field(rs[3], "key", "type") != "PROTOBUF" || field(rs[3], "key", "subject") != topic+"-shop.Item" || field(rs[3], "value", "type") != "BINARY" || field(rs[3], "value", "subject") != nil {
		t.Errorf("report 4: %v", rs[3])
	}
	for i, want := range []struct {
		code float64
		msg  string
	}{{42203, "value"}, {42207, "1073741824"}, {400, "Schema does not exist"}, {42205, "Invalid schema"}} {
		r := rs[4+i]
		if r["error_code"] != want.code || !strings.Contains(fmt.Sprint(r["message"]), want.msg) {
			t.Errorf("report %d: %v, want %v containing %q", 5+i, r, want.code, want.msg)
		}
	}
	recs := g.Records(t, tp, 4)
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	id := int(field(rs[0], "value", "schema_id").(float64))
	for i, want := range []string{`{"id":1,"note":{"string":"first"}}`, `{"id":2,"note":null}`, `{"id":3,"note":null}`} {
		w := gatewaytest.DecodeWire(t, url, recs[i].Value)
		if w.ID != id || gatewaytest.CompactJSON(t, w.JSON) != gatewaytest.CompactJSON(t, want) {
			t.Errorf("record %d: id %d %s", i+1, w.ID, w.JSON)
		}
	}
	if k := gatewaytest.DecodeWire(t, url, recs[2].Key); k.Type != "JSON" || k.JSON != `{"x":3}` {
		t.Errorf("record 3 key %+v", k)
	}
	if k := gatewaytest.DecodeWire(t, url, recs[3].Key); k.Type != "PROTOBUF" || k.JSON != `{"sku":"a-1"}` {
		t.Errorf("record 4 key %+v", k)
	}
}
