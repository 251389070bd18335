package schema

import (
	"encoding/base64"
	"testing"
)

// The benchmarks measure one core (run with -cpu 1): a record's serialization
// from its JSON form, against what the same record costs as bytes the client
// already encoded (a copy, and v2/v3 BINARY's base64 decode).
//
//	go test -run XXX -bench . -benchmem -cpu 1 ./producer/schema/

const benchAvroRecord = `{"name":"Ann Example","age":42,"email":{"string":"ann@example.com"}}`

func benchEncode(b *testing.B, s *Schema, data []byte) {
	b.Helper()
	s.ID = 1
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var err error
		if _, err = s.AppendEncode(dst[:0], data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkAvroSerialize(b *testing.B) {
	benchEncode(b, mustCompile(b, Avro, avroUser), []byte(benchAvroRecord))
}

func BenchmarkJSONSchemaSerialize(b *testing.B) {
	benchEncode(b, mustCompile(b, JSONSchema, jsonUser), []byte(`{"name":"Ann Example","age":42}`))
}

func BenchmarkProtobufSerialize(b *testing.B) {
	benchEncode(b, mustCompile(b, Protobuf, protoUser), []byte(`{"name":"Ann Example","age":42,"seen":"2026-12-01T10:00:00Z"}`))
}

// avroWire is the benchmark record already in Confluent's wire format, as a
// client that encodes Avro itself would send it as BINARY.
func avroWire(b *testing.B) []byte {
	s := mustCompile(b, Avro, avroUser)
	s.ID = 1
	w, err := s.AppendEncode(nil, []byte(benchAvroRecord))
	if err != nil {
		b.Fatal(err)
	}
	return w
}

func BenchmarkRawBytes(b *testing.B) {
	w := avroWire(b)
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(w)))
	for b.Loop() {
		dst = append(dst[:0], w...)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkBase64Binary(b *testing.B) {
	enc := []byte(base64.StdEncoding.EncodeToString(avroWire(b)))
	dst := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := base64.StdEncoding.Decode(dst, enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRegistrySerialize is Serialize with the schema's lookups cached,
// as for every record after a subject's first: the registry is not asked.
func BenchmarkRegistrySerialize(b *testing.B) {
	r := newRegistry(b, registryURL(b), nil)
	tp := topic(b)
	for _, c := range []struct {
		name string
		ref  Ref
	}{
		{"inline", Ref{Topic: tp, Schema: avroUser, Format: Avro}},
		{"latest", Ref{Topic: tp}},
	} {
		b.Run(c.name, func(b *testing.B) {
			data := []byte(benchAvroRecord)
			if _, err := r.Serialize(b.Context(), c.ref, data); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Serialize(b.Context(), c.ref, data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
