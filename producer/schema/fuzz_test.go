package schema

import (
	"bytes"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// A schema with every Avro type the JSON encoding treats specially: unions
// of several branches, enums, fixed and bytes (strings of code points
// 0-255), maps, arrays, nested and recursive records, logical types.
const avroFuzzSchema = `{"type":"record","name":"F","namespace":"fz","fields":[
	{"name":"s","type":"string"},
	{"name":"u","type":["null","int","string",{"type":"record","name":"In","fields":[{"name":"x","type":"double"}]}]},
	{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
	{"name":"f","type":{"type":"fixed","name":"Fx","size":2}},
	{"name":"b","type":"bytes"},
	{"name":"m","type":{"type":"map","values":"long"}},
	{"name":"a","type":{"type":"array","items":["null","float"]}},
	{"name":"next","type":["null","F"],"default":null},
	{"name":"d","type":{"type":"int","logicalType":"date"},"default":0}]}`

func FuzzAvroJSON(f *testing.F) {
	s := mustCompile(f, Avro, avroFuzzSchema)
	s.ID = 1
	for _, seed := range []string{
		`{"s":"x","u":null,"e":"A","f":"ab","b":"\u00ff","m":{},"a":[],"next":null,"d":1}`,
		`{"s":"x","u":{"int":3},"e":"B","f":"\u0000\u0001","b":"","m":{"k":1},"a":[{"float":1.5},null],"next":{"fz.F":{"s":"y","u":{"string":"z"},"e":"A","f":"zz","b":"","m":{},"a":[]}}}`,
		`{"s":"x","u":{"fz.In":{"x":1e308}},"e":"A","f":"ab","b":"q","m":{"a":-9223372036854775808},"a":[]}`,
		`{"s":"x","u":"unwrapped","e":"C","f":"abc"}`,
		`[]`, `null`, `{"s":`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := s.AppendEncode([]byte{0xaa}, data)
		if err != nil {
			if KindOf(err) != KindBadData || len(out) != 1 {
				t.Fatalf("error %v (kind %v), dst %x", err, KindOf(err), out)
			}
			return
		}
		payload := header(t, out[1:], 1)
		native, rest, err := s.avro.NativeFromBinary(payload)
		if err != nil || len(rest) != 0 {
			t.Fatalf("encoded record does not decode: %v (%d bytes left)", err, len(rest))
		}
		again, err := s.avro.BinaryFromNative(nil, native)
		if err != nil || !bytes.Equal(again, payload) {
			t.Fatalf("round trip differs: %v", err)
		}
		if err := s.Validate(payload, true); err != nil {
			t.Fatalf("Validate refuses what AppendEncode wrote: %v", err)
		}
	})
}

func FuzzJSONSchema(f *testing.F) {
	s := mustCompile(f, JSONSchema, `{"type":"object","properties":{
		"n":{"type":"integer","maximum":10},"s":{"type":"string","pattern":"^a+$","maxLength":5},
		"l":{"type":"array","items":{"oneOf":[{"type":"string"},{"type":"number","multipleOf":0.5}]}},
		"o":{"$ref":"#"}},"required":["n"],"additionalProperties":false}`)
	s.ID = 2
	for _, seed := range []string{`{"n":1}`, `{"n":1,"s":"aa","l":["x",1.5],"o":{"n":2}}`, `{"n":11}`, `{"n":1.0}`,
		`{"n":1e400}`, `{"n":1,"l":[0.3]}`, ` {"n" : 1 } `, `{"n":1}{}`, `"x"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := s.AppendEncode(nil, data)
		verr := s.Validate(data, false)
		if (err == nil) != (verr == nil) {
			t.Fatalf("AppendEncode %v but Validate %v", err, verr)
		}
		if err != nil {
			if KindOf(err) != KindBadData || len(out) != 0 {
				t.Fatalf("error %v (kind %v), dst %x", err, KindOf(err), out)
			}
			return
		}
		payload := header(t, out, 2)
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil || !bytes.Equal(payload, compact.Bytes()) {
			t.Fatalf("payload %q is not the compacted input (%v)", payload, err)
		}
		if err := s.Validate(payload, false); err != nil {
			t.Fatalf("written payload does not validate: %v", err)
		}
	})
}

func FuzzProtobufJSON(f *testing.F) {
	s := mustCompile(f, Protobuf, `syntax = "proto3";
package fz;
import "google/protobuf/struct.proto";
import "google/protobuf/wrappers.proto";
message M {
  enum Kind { K0 = 0; K1 = 1; }
  string s = 1; int64 i = 2; bytes b = 3; Kind k = 4; repeated double d = 5;
  map<string, M> m = 6; oneof o { string os = 7; uint32 ou = 8; }
  google.protobuf.Struct st = 9; google.protobuf.Int32Value w = 10; optional bool ob = 11;
}`)
	s.ID = 3
	for _, seed := range []string{`{}`, `{"s":"x","i":"-9","b":"AAE=","k":"K1","d":[1,"NaN"],"m":{"a":{"s":"y"}},"os":"o"}`,
		`{"st":{"a":[1,null,{"b":true}]},"w":5,"ob":false}`, `{"os":"a","ou":1}`, `{"i":1.5}`, `{"k":"K9"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := s.AppendEncode(nil, data)
		if err != nil {
			if KindOf(err) != KindBadData || len(out) != 0 {
				t.Fatalf("error %v (kind %v), dst %x", err, KindOf(err), out)
			}
			return
		}
		payload := header(t, out, 3)
		if len(payload) == 0 || payload[0] != 0 {
			t.Fatalf("no message index: %x", payload)
		}
		m := dynamicpb.NewMessage(s.proto)
		if err := proto.Unmarshal(payload[1:], m); err != nil {
			t.Fatalf("encoded record does not decode: %v", err)
		}
		again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil || !bytes.Equal(again, payload[1:]) {
			t.Fatalf("round trip differs: %v", err)
		}
	})
}

// FuzzCompile feeds schema texts to the three compilers: inline schemas come
// from clients, so a text must never panic or hang the gateway, only be
// refused as invalid.
func FuzzCompile(f *testing.F) {
	for _, seed := range []struct {
		f    byte
		text string
	}{
		{0, avroUser}, {0, avroFuzzSchema}, {0, `"string"`}, {0, `["null","string"]`}, {0, `{"type":"array","items":"F"}`},
		{1, jsonUser}, {1, `{"$ref":"#/definitions/a","definitions":{"a":{"$ref":"#/definitions/a"}}}`}, {1, `true`},
		{2, protoUser}, {2, `syntax="proto2"; message A { optional A a = 1; extensions 10 to 20; }`},
	} {
		f.Add(seed.f, seed.text)
	}
	f.Fuzz(func(t *testing.T, which byte, text string) {
		format := []Format{Avro, JSONSchema, Protobuf}[int(which)%3]
		s, err := Compile(format, text)
		if err != nil {
			if KindOf(err) != KindInvalidSchema {
				t.Fatalf("error %v has kind %v", err, KindOf(err))
			}
			return
		}
		// A compiled schema must take data without panicking.
		_, _ = s.AppendEncode(nil, []byte(`{}`))
		_, _ = s.AppendEncode(nil, []byte(`null`))
	})
}
