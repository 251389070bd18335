package confluentv2

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

const benchRecords = 1000

// benchBodies are produce requests of 1,000 records with a 100-byte value.
var benchBodies = []struct {
	name   string
	f      format
	record string
}{
	{"binary", formatBinary, `{"value":"` + strings.Repeat("dm", 50) + `"}`},
	{"binary-key", formatBinary, `{"key":"a2V5","value":"` + strings.Repeat("dm", 50) + `","partition":1}`},
	{"json", formatJSON, `{"value":"` + strings.Repeat("v", 98) + `"}`},
	{"json-object", formatJSON, `{"key":"k","value":{"a":"` + strings.Repeat("v", 80) + `","n":[1,2.5,true,null]}}`},
}

func BenchmarkDecode(b *testing.B) {
	for _, bb := range benchBodies {
		b.Run(bb.name, func(b *testing.B) {
			body := []byte(`{"records":[` + strings.TrimSuffix(strings.Repeat(bb.record+",", benchRecords), ",") + `]}`)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				recs, err := decodeRecords(body, bb.f, "t", -1)
				if err != nil || len(recs) != benchRecords {
					b.Fatalf("%d records, %v", len(recs), err)
				}
			}
			b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func BenchmarkEncode(b *testing.B) {
	results := make([]producer.Result, benchRecords)
	for i := range results {
		results[i] = producer.Result{Partition: int32(i % 3), Offset: int64(i) * 1000, Timestamp: time.Now()}
	}
	req := &dialects.Request{Records: make([]producer.Message, benchRecords), State: version(2)}
	w := &discard{h: http.Header{}}
	c := &ConfluentV2{}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Encode(w, nil, req, results); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
}
