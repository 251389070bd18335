package upstash

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

const benchRecords = 1000

var value100 = strings.Repeat("v", 100)

// benchBodies are bodies of 1,000 messages with a 100-byte value, and one
// message.
var benchBodies = []struct {
	name, topic, body string
	n                 int
}{
	{"array", "t", `[` + strings.TrimSuffix(strings.Repeat(`{"value":"`+value100+`"},`, benchRecords), ",") + `]`, benchRecords},
	{"array-full", "", `[` + strings.TrimSuffix(strings.Repeat(`{"topic":"t","partition":1,"timestamp":1637745834744,"key":"k","value":"`+
		value100[:90]+`\"x\"","headers":[{"key":"h","value":"v"}]},`, benchRecords), ",") + `]`, benchRecords},
	{"single", "t", `{"value":"` + value100 + `"}`, 1},
}

func BenchmarkDecode(b *testing.B) {
	for _, bb := range benchBodies {
		b.Run(bb.name, func(b *testing.B) {
			body := []byte(bb.body)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				recs, err := decodeMessages(body, bb.topic, 0)
				if err != nil || len(recs) != bb.n {
					b.Fatalf("%d records, %v", len(recs), err)
				}
			}
			b.ReportMetric(float64(b.N*bb.n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func BenchmarkEncode(b *testing.B) {
	results := make([]producer.Result, benchRecords)
	recs := make([]producer.Message, benchRecords)
	for i := range results {
		results[i] = producer.Result{Partition: int32(i % 3), Offset: int64(i) * 1000, Timestamp: time.Now()}
		recs[i].Topic = "topic-1"
	}
	req := &dialects.Request{Records: recs}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		if err := (Upstash{}).Encode(w, nil, req, results); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
}
