package schema

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

const (
	avroUser = `{"type":"record","name":"User","namespace":"com.example","fields":[
		{"name":"name","type":"string"},
		{"name":"age","type":"int"},
		{"name":"email","type":["null","string"],"default":null}]}`
	jsonUser = `{"title":"User","type":"object","properties":{
		"name":{"type":"string"},"age":{"type":"integer","minimum":0}},
		"required":["name","age"],"additionalProperties":false}`
	protoUser = `syntax = "proto3";
package com.example;
import "google/protobuf/timestamp.proto";
message User {
  string name = 1;
  int32 age = 2;
  google.protobuf.Timestamp seen = 3;
}
message Other { string x = 1; }
`
)

func mustCompile(t testing.TB, f Format, text string) *Schema {
	t.Helper()
	s, err := Compile(f, text)
	if err != nil {
		t.Fatalf("compile %s: %v", f, err)
	}
	return s
}

// header checks Confluent's wire-format prefix and returns the payload.
func header(t testing.TB, b []byte, id int) []byte {
	t.Helper()
	if len(b) < 5 || b[0] != 0 {
		t.Fatalf("no magic byte: % x", b)
	}
	if got := int(binary.BigEndian.Uint32(b[1:5])); got != id {
		t.Fatalf("schema id in record = %d, want %d", got, id)
	}
	return b[5:]
}

func TestAvroJSONEncodingWithUnions(t *testing.T) {
	s := mustCompile(t, Avro, avroUser)
	s.ID = 42
	if s.RecordName() != "com.example.User" {
		t.Errorf("record name %q", s.RecordName())
	}
	out, err := s.AppendEncode([]byte("prefix"), []byte(`{"name":"ann","age":7,"email":{"string":"a@example.com"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("prefix")) {
		t.Fatalf("dst not kept: %q", out)
	}
	payload := header(t, out[len("prefix"):], 42)
	// Decode with an independent codec made from the schema text.
	codec, err := goavro.NewCodec(avroUser)
	if err != nil {
		t.Fatal(err)
	}
	native, rest, err := codec.NativeFromBinary(payload)
	if err != nil || len(rest) != 0 {
		t.Fatalf("decode: %v, %d bytes left", err, len(rest))
	}
	want := map[string]any{"name": "ann", "age": int32(7), "email": map[string]any{"string": "a@example.com"}}
	if !reflect.DeepEqual(native, want) {
		t.Fatalf("decoded %#v, want %#v", native, want)
	}
	// Avro's binary form: zigzag varint lengths and ints, union branch 1.
	wantBytes := append([]byte{6}, "ann"...)
	wantBytes = append(wantBytes, 14, 2, 26)
	wantBytes = append(wantBytes, "a@example.com"...)
	if !bytes.Equal(payload, wantBytes) {
		t.Fatalf("payload % x, want % x", payload, wantBytes)
	}
}

func TestAvroRefusesUnwrappedUnionAndMismatches(t *testing.T) {
	s := mustCompile(t, Avro, avroUser)
	for _, data := range []string{
		`{"name":"ann","age":7,"email":"a@example.com"}`, // union value without its {"string": ...} wrapper
		`{"name":"ann","age":"7"}`,
		`{"name":"ann"}`,
		`{"name":"ann","age":7} {}`,
		`not json`,
	} {
		out, err := s.AppendEncode([]byte("x"), []byte(data))
		if KindOf(err) != KindBadData {
			t.Errorf("%s: err %v (kind %v), want bad data", data, err, KindOf(err))
		}
		if string(out) != "x" {
			t.Errorf("%s: dst changed to %q", data, out)
		}
	}
	// Validation of Avro binary as sent (IBM's REST producer path).
	good, _ := s.AppendEncode(nil, []byte(`{"name":"a","age":1,"email":null}`))
	if err := s.Validate(good[5:], true); err != nil {
		t.Errorf("valid binary refused: %v", err)
	}
	if err := s.Validate(append(good[5:], 0), true); KindOf(err) != KindBadData {
		t.Errorf("binary with a trailing byte: %v", err)
	}
	if err := s.Validate([]byte(`{"name":"a","age":1,"email":null}`), false); err != nil {
		t.Errorf("valid Avro JSON refused: %v", err)
	}
}

func TestJSONSchema(t *testing.T) {
	s := mustCompile(t, JSONSchema, jsonUser)
	s.ID = 7
	out, err := s.AppendEncode(nil, []byte("{ \"name\" : \"ann\",\n \"age\": 7 }"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(header(t, out, 7)); got != `{"name":"ann","age":7}` {
		t.Fatalf("payload %s", got)
	}
	if s.RecordName() != "User" {
		t.Errorf("record name %q", s.RecordName())
	}
	_, err = s.AppendEncode(nil, []byte(`{"name":"ann","age":-1}`))
	if KindOf(err) != KindBadData || !strings.Contains(err.Error(), "at /age") {
		t.Fatalf("err %v, want bad data naming /age", err)
	}
	for _, data := range []string{`{"name":"ann"}`, `{"name":"ann","age":1,"x":1}`, `[]`, `{"name":"a","age":1} 2`, `{`} {
		if _, err := s.AppendEncode(nil, []byte(data)); KindOf(err) != KindBadData {
			t.Errorf("%s: err %v, want bad data", data, err)
		}
	}
}

func TestJSONSchemaDoesNotLoadReferences(t *testing.T) {
	for _, ref := range []string{"file:///etc/passwd", "http://127.0.0.1:1/x.json", "other.json"} {
		_, err := Compile(JSONSchema, `{"$ref":"`+ref+`"}`)
		if KindOf(err) != KindInvalidSchema {
			t.Errorf("$ref %s: err %v, want invalid schema", ref, err)
		}
	}
	// Local references and the draft's meta-schema still work.
	s := mustCompile(t, JSONSchema, `{"$schema":"http://json-schema.org/draft-07/schema#",
		"definitions":{"n":{"type":"integer"}},"properties":{"a":{"$ref":"#/definitions/n"}}}`)
	if err := s.Validate([]byte(`{"a":"x"}`), false); KindOf(err) != KindBadData {
		t.Errorf("local $ref not applied: %v", err)
	}
}

func TestProtobuf(t *testing.T) {
	s := mustCompile(t, Protobuf, protoUser)
	s.ID = 9
	if s.RecordName() != "com.example.User" {
		t.Errorf("record name %q", s.RecordName())
	}
	out, err := s.AppendEncode(nil, []byte(`{"name":"ann","age":7,"seen":"2026-12-01T10:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	payload := header(t, out, 9)
	if payload[0] != 0 {
		t.Fatalf("message index of the first message is % x, want the 0 shortcut", payload[0])
	}
	m := dynamicpb.NewMessage(s.proto)
	if err := proto.Unmarshal(payload[1:], m); err != nil {
		t.Fatal(err)
	}
	js, _ := protojson.Marshal(m)
	if got := strings.ReplaceAll(string(js), " ", ""); got != `{"name":"ann","age":7,"seen":"2026-12-01T10:00:00Z"}` {
		t.Fatalf("decoded %s", got)
	}
	for _, data := range []string{`{"name":1}`, `{"nope":1}`, `{"age":"x"}`, `[`} {
		if _, err := s.AppendEncode(nil, []byte(data)); KindOf(err) != KindBadData {
			t.Errorf("%s: err %v, want bad data", data, err)
		}
	}
	if err := s.Validate(payload[1:], true); err != nil {
		t.Errorf("valid binary refused: %v", err)
	}
}

func TestInvalidSchemas(t *testing.T) {
	for _, c := range []struct {
		f    Format
		text string
	}{
		{Avro, `{"type":"recrd"}`},
		{Avro, `{"type":"record","name":"R","fields":[{"name":"a","type":"nope"}]}`},
		{JSONSchema, `{"type":"objekt"}`},
		{JSONSchema, `{`},
		{Protobuf, `syntax = "proto3"; message M { strin a = 1; }`},
		{Protobuf, `syntax = "proto3";`},
		{Protobuf, `syntax = "proto3"; import "elsewhere.proto"; message M {}`},
		{FormatNone, `"string"`},
		{Avro, "\"\xff\""},
	} {
		_, err := Compile(c.f, c.text)
		if KindOf(err) != KindInvalidSchema {
			t.Errorf("%s %q: err %v, want invalid schema", c.f, c.text, err)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s %q: message spans lines: %q", c.f, c.text, err)
		}
	}
}

func TestStrategies(t *testing.T) {
	s := mustCompile(t, Avro, avroUser)
	for _, c := range []struct {
		st   Strategy
		key  bool
		want string
	}{
		{TopicName, false, "orders-value"},
		{TopicName, true, "orders-key"},
		{RecordName, false, "com.example.User"},
		{TopicRecordName, true, "orders-com.example.User"},
	} {
		got, err := c.st.Subject("orders", c.key, s)
		if err != nil || got != c.want {
			t.Errorf("%s key=%v: %q, %v; want %q", c.st, c.key, got, err, c.want)
		}
		if p, err := ParseStrategy(strings.ToLower(c.st.String())); err != nil || p != c.st {
			t.Errorf("parse %s: %v %v", c.st, p, err)
		}
	}
	if _, err := RecordName.Subject("t", false, nil); KindOf(err) != KindInvalidSchema {
		t.Errorf("RECORD_NAME without a schema: %v", err)
	}
	if _, err := RecordName.Subject("t", false, mustCompile(t, JSONSchema, `{}`)); KindOf(err) != KindInvalidSchema {
		t.Errorf("RECORD_NAME with an untitled JSON schema: %v", err)
	}
	if s := mustCompile(t, Avro, `"string"`); s.RecordName() != "string" {
		t.Errorf("primitive's name %q", s.RecordName())
	}
}
