package caddymodule

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	_ "github.com/caddy-kafka/caddy-kafka/dialects/confluentv2"
	_ "github.com/caddy-kafka/caddy-kafka/dialects/confluentv3"
	_ "github.com/caddy-kafka/caddy-kafka/dialects/ibmeventstreams"
	_ "github.com/caddy-kafka/caddy-kafka/dialects/upstash"
	_ "github.com/caddy-kafka/caddy-kafka/dialects/webhook"
)

// benchCase is one dialect's request shape.
type benchCase struct {
	name, dialect, method, path, contentType string
	body                                     func(records int) []byte
}

var value100 = strings.Repeat("v", 100)

var benchCases = []benchCase{
	{"webhook", `{"name":"webhook","topic":"bench","split":"lines"}`, "POST", "/in", "application/x-ndjson",
		func(n int) []byte { return bytes.Repeat([]byte(value100+"\n"), n) }},
	{"confluent_v2", `{"name":"confluent_v2"}`, "POST", "/topics/bench", "application/vnd.kafka.binary.v2+json",
		func(n int) []byte {
			rec := `{"value":"` + strings.Repeat("dm", 50) + `"}` // 100 bytes of base64
			return []byte(`{"records":[` + strings.TrimSuffix(strings.Repeat(rec+",", n), ",") + `]}`)
		}},
	{"confluent_v3", `{"name":"confluent_v3","cluster_id":"c"}`, "POST", "/v3/clusters/c/topics/bench/records", "application/json",
		func(n int) []byte {
			return bytes.Repeat([]byte(`{"value":{"type":"STRING","data":"`+value100+`"}}`), n)
		}},
	{"upstash", `{"name":"upstash"}`, "POST", "/produce/bench", "application/json",
		func(n int) []byte {
			if n == 1 {
				return []byte(`{"value":"` + value100 + `"}`)
			}
			return []byte(`[` + strings.TrimSuffix(strings.Repeat(`{"value":"`+value100+`"},`, n), ",") + `]`)
		}},
	{"ibm_event_streams", `{"name":"ibm_event_streams"}`, "POST", "/topics/bench/records", "text/plain",
		func(int) []byte { return []byte(value100) }},
}

// BenchmarkHandler measures the handler's own path, ServeHTTP, for a
// single-record request in each dialect, 64 requests at a time, against a
// kfake broker that acknowledges without storing. It includes the
// per-request set-up Caddy's server does (caddyhttp.PrepareRequest).
// kgo-sync is the broker's and franz-go's share: franz-go's ProduceSync of
// the same record from as many goroutines on the same broker, which is all
// a naive handler adds to HTTP. cpu-ns/op is the process's CPU time per
// request (the in-process broker included), steadier than ns/op on a
// shared machine.
func BenchmarkHandler(b *testing.B) {
	bc := benchKafka(b)
	for _, tc := range benchCases {
		b.Run(tc.name, func(b *testing.B) {
			h := benchHandler(b, bc, tc.dialect)
			body := tc.body(1)
			benchParallel(b, func() { serveOnce(b, h, tc, body) })
		})
	}
	b.Run("kgo-sync", func(b *testing.B) {
		brokers := benchBrokers(b)
		kc, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("bench"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(kc.Close)
		value := []byte(value100)
		benchParallel(b, func() {
			if err := kc.ProduceSync(context.Background(), &kgo.Record{Value: value}).FirstErr(); err != nil {
				b.Error(err)
			}
		})
	})
}

func benchParallel(b *testing.B, op func()) {
	b.SetParallelism(32)
	b.ReportAllocs()
	cpu := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			op()
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// processCPU is the process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandlerBulk is 1,000-record requests, one at a time, in the
// dialects that take several records per request.
func BenchmarkHandlerBulk(b *testing.B) {
	bc := benchKafka(b)
	for _, tc := range benchCases {
		if tc.name == "ibm_event_streams" {
			continue // one record per request
		}
		b.Run(tc.name, func(b *testing.B) {
			h := benchHandler(b, bc, tc.dialect)
			body := tc.body(1000)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for range b.N {
				serveOnce(b, h, tc, body)
			}
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkHandlerBulkEncoded is the webhook's 1,000-line NDJSON request
// (split lines) as shippers send it, plain, gzip'd and zstd'd: what
// decoding costs per record on the bulk path.
func BenchmarkHandlerBulkEncoded(b *testing.B) {
	bc := benchKafka(b)
	tc := benchCases[0]
	plain := tc.body(1000)
	for _, enc := range []string{"", "gzip", "zstd"} {
		name := enc
		if name == "" {
			name = "plain"
		}
		b.Run(name, func(b *testing.B) {
			h := benchHandler(b, bc, tc.dialect)
			body := plain
			switch enc {
			case "gzip":
				var buf bytes.Buffer
				w := gzip.NewWriter(&buf)
				_, _ = w.Write(plain)
				_ = w.Close()
				body = buf.Bytes()
			case "zstd":
				w, _ := zstd.NewWriter(nil)
				body = w.EncodeAll(plain, nil)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			cpu := processCPU()
			b.ResetTimer()
			for range b.N {
				serveOnce(b, h, tc, body, enc)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N*1000), "cpu-ns/record")
		})
	}
}

// BenchmarkHandlerBulkAvro is confluent_v2's 1,000-record requests in Avro
// (Avro's JSON encoding in, by schema id, written in Confluent's wire
// format), beside the same records already in the wire format as BINARY
// (base64), as a client that encodes Avro itself sends them, through the
// test registry (SCHEMA_REGISTRY_URL, else srfake). cpu-ns/record is the process's CPU
// per record, the in-process broker included.
func BenchmarkHandlerBulkAvro(b *testing.B) {
	url := os.Getenv("SCHEMA_REGISTRY_URL")
	if url == "" {
		reg := srfake.New()
		b.Cleanup(reg.Close)
		url = reg.URL()
	}
	const schema = `{"type":"record","name":"BenchValue","fields":[{"name":"id","type":"long"},{"name":"pad","type":"string"}]}`
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		b.Fatal(err)
	}
	ss, err := cl.CreateSchema(context.Background(), "caddy-kafka-bench-value", sr.Schema{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	codec, err := goavro.NewCodec(schema)
	if err != nil {
		b.Fatal(err)
	}
	var avroRecs, binRecs []string
	for i := range 1000 {
		text := fmt.Sprintf(`{"id":%d,"pad":"%s"}`, i, strings.Repeat("p", 80))
		native, _, err := codec.NativeFromTextual([]byte(text))
		if err != nil {
			b.Fatal(err)
		}
		wire, err := codec.BinaryFromNative(binary.BigEndian.AppendUint32([]byte{0}, uint32(ss.ID)), native)
		if err != nil {
			b.Fatal(err)
		}
		avroRecs = append(avroRecs, `{"value":`+text+`}`)
		binRecs = append(binRecs, `{"value":"`+base64.StdEncoding.EncodeToString(wire)+`"}`)
	}
	bc := benchKafka(b, url)
	h := benchHandler(b, bc, `{"name":"confluent_v2"}`)
	for _, c := range []struct {
		name, contentType, body string
	}{
		{"avro", "application/vnd.kafka.avro.v2+json", fmt.Sprintf(`{"value_schema_id":%d,"records":[%s]}`, ss.ID, strings.Join(avroRecs, ","))},
		{"binary", "application/vnd.kafka.binary.v2+json", `{"records":[` + strings.Join(binRecs, ",") + `]}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			tc := benchCase{name: c.name, method: "POST", path: "/topics/bench", contentType: c.contentType}
			body := []byte(c.body)
			serveOnce(b, h, tc, body) // the schema lookup, once
			b.ReportAllocs()
			cpu := processCPU()
			b.ResetTimer()
			for range b.N {
				serveOnce(b, h, tc, body)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N*1000), "cpu-ns/record")
		})
	}
}

// benchServer is the server of the benchmarks' requests: one without access
// logs, as Caddy's default and the load harness's.
var benchServer = new(caddyhttp.Server)

func serveOnce(b *testing.B, h *Handler, tc benchCase, body []byte, encoding ...string) {
	r := httptest.NewRequest(tc.method, tc.path, bytes.NewReader(body))
	r.Header.Set("Content-Type", tc.contentType)
	if len(encoding) > 0 {
		r.Header.Set("Content-Encoding", encoding[0])
	}
	w := httptest.NewRecorder()
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, benchServer)
	if err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		return fmt.Errorf("not handled")
	})); err != nil {
		b.Error(err)
	}
	if w.Code/100 != 2 {
		b.Errorf("%s: status %d: %s", tc.name, w.Code, w.Body)
	}
}

// benchKafka loads a config with only the kafka app, on a kfake broker that
// acknowledges without storing, and returns its context. A registry URL
// gives the cluster that schema registry.
func benchKafka(b *testing.B, registry ...string) caddy.Context {
	b.Helper()
	brokers, _ := json.Marshal(benchBrokers(b))
	sr := ""
	if len(registry) > 0 {
		urls, _ := json.Marshal(registry)
		sr = fmt.Sprintf(`,"schema_registry":{"urls":%s}`, urls)
	}
	cfg := fmt.Sprintf(`{"admin":{"disabled":true},"logging":{"logs":{"default":{"level":"ERROR"}}},
		"apps":{"kafka":{"clusters":{"default":{"brokers":%s%s}}}}}`, brokers, sr)
	if err := caddy.Load([]byte(cfg), true); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = caddy.Stop() })
	return caddy.ActiveContext()
}

// benchBrokers starts a kfake broker that acknowledges without storing.
func benchBrokers(b *testing.B) []string {
	b.Helper()
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "bench"), kfake.BlackholeProduce())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(fake.Close)
	return fake.ListenAddrs()
}

func benchHandler(b *testing.B, ctx caddy.Context, dialect string) *Handler {
	b.Helper()
	h := &Handler{DialectRaw: json.RawMessage(dialect)}
	if err := h.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	return h
}
