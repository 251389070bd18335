package confluentv2_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

const (
	avroV2     = "application/vnd.kafka.avro.v2+json"
	avroV1     = "application/vnd.kafka.avro.v1+json"
	jsonSchV2  = "application/vnd.kafka.jsonschema.v2+json"
	protobufV2 = "application/vnd.kafka.protobuf.v2+json"

	userAvro = `{"type":"record","name":"User","namespace":"com.example","fields":[{"name":"name","type":"string"},{"name":"email","type":["null","string"],"default":null}]}`
	userJSON = `{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`
	userPB   = "syntax = \"proto3\";\npackage com.example;\nmessage User { string name = 1; int32 age = 2; }\n"
)

// startSchemas runs a gateway whose cluster has the test registry, with
// fresh topics (subjects outlive runs) by base name.
func startSchemas(t *testing.T, registry string, bases ...string) *gatewaytest.Gateway {
	t.Helper()
	tops := map[string]int32{}
	for _, b := range bases {
		tops[b] = 1
	}
	return gatewaytest.New(t, gatewaytest.Options{
		Topics: tops,
		Kafka:  "schema_registry " + registry,
		Site:   `kafka_rest confluent_v2`,
	})
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestSchemaProduceAvroJSONSchemaProtobuf(t *testing.T) {
	url := gatewaytest.RegistryURL(t)
	avro, js, pb := gatewaytest.Unique("v2avro"), gatewaytest.Unique("v2json"), gatewaytest.Unique("v2pb")
	g := startSchemas(t, url, avro, js, pb)

	body := fmt.Sprintf(`{"key_schema":%s,"value_schema":%s,"records":[
		{"key":"k1","value":{"name":"ann","email":{"string":"a@example.com"}}},
		{"value":{"name":"bob","email":null}}]}`, quote(`"string"`), quote(userAvro))
	resp, b := g.Post(t, "/topics/"+g.Topic(avro), avroV2, body)
	var out offsetsResp
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || out.KeySchemaID == nil || out.ValueSchemaID == nil {
		t.Fatalf("avro: %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.kafka.v2+json" {
		t.Errorf("content type %q", ct)
	}
	// Again by id, under v1's avro media type.
	resp, b = g.Post(t, "/topics/"+g.Topic(avro), avroV1, fmt.Sprintf(`{"value_schema_id":%d,"records":[{"value":{"name":"cy","email":null}}]}`, *out.ValueSchemaID))
	var again offsetsResp
	if resp.StatusCode != 200 || json.Unmarshal(b, &again) != nil || again.ValueSchemaID == nil || *again.ValueSchemaID != *out.ValueSchemaID || again.KeySchemaID != nil {
		t.Fatalf("avro by id: %d %s", resp.StatusCode, b)
	}
	recs := g.Records(t, avro, 3)
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	want := []struct{ key, value string }{
		{`"k1"`, `{"name":"ann","email":{"string":"a@example.com"}}`},
		{"", `{"name":"bob","email":null}`},
		{"", `{"name":"cy","email":null}`},
	}
	for i, r := range recs {
		v := gatewaytest.DecodeWire(t, url, r.Value)
		if v.ID != *out.ValueSchemaID || gatewaytest.CompactJSON(t, v.JSON) != gatewaytest.CompactJSON(t, want[i].value) {
			t.Errorf("record %d value: id %d %s", i, v.ID, v.JSON)
		}
		if want[i].key == "" {
			if r.Key != nil {
				t.Errorf("record %d: key %q, want null", i, r.Key)
			}
			continue
		}
		if k := gatewaytest.DecodeWire(t, url, r.Key); k.ID != *out.KeySchemaID || k.JSON != want[i].key {
			t.Errorf("record %d key: id %d %s", i, k.ID, k.JSON)
		}
	}

	resp, b = g.Post(t, "/topics/"+g.Topic(js), jsonSchV2, fmt.Sprintf(`{"value_schema":%s,"records":[{"value":{"name":"ann", "extra": [1, 2]}}]}`, quote(userJSON)))
	if resp.StatusCode != 200 {
		t.Fatalf("jsonschema: %d %s", resp.StatusCode, b)
	}
	if v := gatewaytest.DecodeWire(t, url, g.Records(t, js, 1)[0].Value); v.Type != "JSON" || v.JSON != `{"name":"ann","extra":[1,2]}` {
		t.Errorf("jsonschema record %+v", v)
	}

	resp, b = g.Post(t, "/topics/"+g.Topic(pb), protobufV2, fmt.Sprintf(`{"value_schema":%s,"records":[{"value":{"name":"ann","age":7}}]}`, quote(userPB)))
	if resp.StatusCode != 200 {
		t.Fatalf("protobuf: %d %s", resp.StatusCode, b)
	}
	if v := gatewaytest.DecodeWire(t, url, g.Records(t, pb, 1)[0].Value); v.Type != "PROTOBUF" || v.JSON != `{"age":7,"name":"ann"}` {
		t.Errorf("protobuf record %+v", v)
	}
}

func TestSchemaProduceErrors(t *testing.T) {
	url := gatewaytest.RegistryURL(t)
	tp := gatewaytest.Unique("v2errs")
	g := startSchemas(t, url, tp)
	path := "/topics/" + g.Topic(tp)
	resp, b := g.Post(t, path, avroV2, fmt.Sprintf(`{"value_schema":%s,"records":[{"value":{"name":"a","email":null}}]}`, quote(userAvro)))
	var ok offsetsResp
	if resp.StatusCode != 200 || json.Unmarshal(b, &ok) != nil {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	pbResp, b := g.Post(t, path, protobufV2, fmt.Sprintf(`{"key_schema":%s,"records":[{"key":{"name":"a"}}]}`, quote(userPB)))
	var pbIDs offsetsResp
	if pbResp.StatusCode != 200 || json.Unmarshal(b, &pbIDs) != nil {
		t.Fatalf("%d %s", pbResp.StatusCode, b)
	}
	cases := []struct {
		name, ct, body string
		status, code   int
		msg            string
	}{
		{"value schema missing", avroV2, `{"records":[{"value":{"name":"a"}}]}`, 422, 42202, "value schema"},
		{"key schema missing", avroV2, fmt.Sprintf(`{"value_schema_id":%d,"records":[{"key":"k","value":{"name":"a","email":null}}]}`, *ok.ValueSchemaID), 422, 42201, "key schema"},
		{"unwrapped union", avroV2, fmt.Sprintf(`{"value_schema_id":%d,"records":[{"value":{"name":"a","email":null}},{"value":{"name":"a","email":"x@y"}}]}`, *ok.ValueSchemaID), 422, 42203, "records[1].value"},
		{"invalid schema", avroV2, `{"value_schema":"{\"type\":\"recrd\"}","records":[{"value":1}]}`, 422, 42205, "Invalid schema"},
		{"unknown id", avroV2, `{"value_schema_id":1073741824,"records":[{"value":1}]}`, 422, 42207, "1073741824"},
		{"id of another type", avroV2, fmt.Sprintf(`{"value_schema_id":%d,"records":[{"value":{"name":"a"}}]}`, *pbIDs.KeySchemaID), 422, 42205, "PROTOBUF"},
		{"json schema violation", jsonSchV2, fmt.Sprintf(`{"value_schema":%s,"records":[{"value":{"name":5}}]}`, quote(userJSON)), 422, 42203, "/name"},
		{"unknown field", avroV2, `{"value_schema_id":1,"records":[],"valu_schema":"x"}`, 422, 42206, "valu_schema"},
	}
	for _, c := range cases {
		resp, b := g.Post(t, path, c.ct, c.body)
		var e struct {
			ErrorCode int    `json:"error_code"`
			Message   string `json:"message"`
		}
		if resp.StatusCode != c.status || json.Unmarshal(b, &e) != nil || e.ErrorCode != c.code || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%s: %d %s, want %d %d containing %q", c.name, resp.StatusCode, b, c.status, c.code, c.msg)
		}
	}
	// Nothing of the refused requests was written: 2 records in all.
	if n := len(g.Records(t, tp, 2)); n != 2 {
		t.Errorf("%d records, want 2", n)
	}
}

// TestSchemaRegistryDown needs no registry: the cluster names one that does
// not answer, and a schema request gets 500 50003 with Retry-After while
// binary requests go on.
func TestSchemaRegistryDown(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"down": 1},
		Kafka:  "schema_registry http://127.0.0.1:1/apis/ccompat/v7",
		Site:   `kafka_rest confluent_v2`,
	})
	resp, b := g.Post(t, "/topics/"+g.Topic("down"), avroV2, `{"value_schema_id":1,"records":[{"value":1}]}`)
	var e struct {
		ErrorCode int `json:"error_code"`
	}
	if resp.StatusCode != 500 || json.Unmarshal(b, &e) != nil || e.ErrorCode != 50003 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("registry down: %d %s Retry-After %q", resp.StatusCode, b, resp.Header.Get("Retry-After"))
	}
	resp, b = g.Post(t, "/topics/"+g.Topic("down"), binV2, `{"records":[{"value":"AA=="}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("binary with the registry down: %d %s", resp.StatusCode, b)
	}
}
