package confluentv3

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

const benchRecords = 1000

var value100 = strings.Repeat("v", 100)

// benchBodies are 1,000 concatenated records of a 100-byte value, in each
// data type, and with a key, headers, a partition and a timestamp.
var benchBodies = []struct{ name, record string }{
	{"string", `{"value":{"type":"STRING","data":"` + value100 + `"}}`},
	{"json", `{"value":{"type":"JSON","data":"` + value100 + `"}}`},
	{"binary", `{"value":{"type":"BINARY","data":"` + base64.StdEncoding.EncodeToString([]byte(value100)) + `"}}`},
	{"full", `{"partition_id":1,"headers":[{"name":"h","value":"aGVhZGVy"}],"key":{"type":"STRING","data":"key-1"},` +
		`"value":{"type":"JSON","data":{"a":"` + value100[:80] + `","n":[1,2.5,true,null]}},"timestamp":"2021-02-05T19:14:42.233Z"}`},
}

// BenchmarkReadAll decodes a 1,000-record body with a Content-Length.
func BenchmarkReadAll(b *testing.B) {
	for _, bb := range benchBodies {
		b.Run(bb.name, func(b *testing.B) {
			body := []byte(strings.Repeat(bb.record, benchRecords))
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
				recs, err := readAll(r, 1<<30, "t")
				if err != nil || len(recs) != benchRecords || recs[0].err != nil {
					b.Fatalf("%d records, %v", len(recs), err)
				}
			}
			b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkReadStream decodes a 1,000-record streamed body into the queue a
// streaming request's producer reads.
func BenchmarkReadStream(b *testing.B) {
	for _, bb := range benchBodies {
		b.Run(bb.name, func(b *testing.B) {
			body := []byte(strings.Repeat(bb.record, benchRecords))
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				q := make(chan []decoded, streamQueue/queueChunk)
				bud := dialects.NewBudget(64 << 20)
				var held atomic.Int64
				go func() {
					defer close(q)
					readStream(context.Background(), bytes.NewReader(body), 1<<20, "t", q, nil, bud, &held)
				}()
				n := 0
				for chunk := range q {
					for _, d := range chunk {
						if d.err != nil {
							b.Fatal(d.err)
						}
						bud.Release(int64(d.size))
						n++
					}
				}
				if n != benchRecords {
					b.Fatalf("%d records", n)
				}
			}
			b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkEncode writes the reports of 1,000 records.
func BenchmarkEncode(b *testing.B) {
	body := []byte(strings.Repeat(benchBodies[0].record, benchRecords))
	recs, err := readAll(httptest.NewRequest("POST", "/", bytes.NewReader(body)), 1<<30, "t")
	if err != nil {
		b.Fatal(err)
	}
	results := make([]producer.Result, len(recs))
	ts := time.Now()
	for i := range results {
		results[i] = producer.Result{Partition: int32(i % 3), Offset: int64(i) * 1000, Timestamp: ts}
	}
	c := &ConfluentV3{}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		req := request(recs, newState("cluster-1", "topic-1"))
		if err := c.Encode(w, nil, req, results); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
}

var _ dialects.Dialect = (*ConfluentV3)(nil)
