package caddymodule_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// compress applies codings in order, as a sender does.
func compress(t *testing.T, data []byte, codings ...string) []byte {
	t.Helper()
	for _, c := range codings {
		var buf bytes.Buffer
		var w io.WriteCloser
		switch c {
		case "gzip":
			w = gzip.NewWriter(&buf)
		case "deflate":
			w = zlib.NewWriter(&buf)
		case "zstd":
			z, err := zstd.NewWriter(&buf)
			if err != nil {
				t.Fatal(err)
			}
			w = z
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		data = buf.Bytes()
	}
	return data
}

// encodedDialect is how one dialect's clients send records: the request
// for a body, and the body carrying values.
type encodedDialect struct {
	name, topic, method, path, contentType string
	body                                   func(values []string) string
	stream                                 bool // sent without a Content-Length
}

func encodedDialects() []encodedDialect {
	jsonStrings := func(vs []string, f func(string) string) string {
		var b strings.Builder
		for _, v := range vs {
			b.WriteString(f(v))
		}
		return b.String()
	}
	v3 := func(vs []string) string {
		return jsonStrings(vs, func(v string) string { return `{"value":{"type":"STRING","data":"` + v + `"}}` })
	}
	return []encodedDialect{
		{name: "webhook", topic: "wh", method: "POST", path: "/wh/", contentType: "application/json",
			body: func(vs []string) string { return vs[0] }},
		{name: "webhook split lines", topic: "nd", method: "POST", path: "/nd/", contentType: "application/x-ndjson",
			body: func(vs []string) string { return strings.Join(vs, "\n") + "\n" }},
		{name: "confluent_v3", topic: "v3", method: "POST", path: "/v3/clusters/c1/topics/{topic}/records", contentType: "application/json",
			body: v3},
		{name: "confluent_v3 stream", topic: "v3s", method: "POST", path: "/v3/clusters/c1/topics/{topic}/records", contentType: "application/json",
			body: v3, stream: true},
		{name: "confluent_v2", topic: "v2", method: "POST", path: "/v2/topics/{topic}", contentType: "application/vnd.kafka.binary.v2+json",
			body: func(vs []string) string {
				recs := make([]string, len(vs))
				for i, v := range vs {
					recs[i] = `{"value":"` + base64.StdEncoding.EncodeToString([]byte(v)) + `"}`
				}
				return `{"records":[` + strings.Join(recs, ",") + `]}`
			}},
		{name: "upstash", topic: "up", method: "POST", path: "/up/produce/{topic}", contentType: "application/json",
			body: func(vs []string) string {
				recs := make([]string, len(vs))
				for i, v := range vs {
					recs[i] = `{"value":"` + v + `"}`
				}
				return "[" + strings.Join(recs, ",") + "]"
			}},
		{name: "ibm_event_streams", topic: "ibm", method: "POST", path: "/ibm/topics/{topic}/records", contentType: "text/plain",
			body: func(vs []string) string { return vs[0] }},
	}
}

func encodingGateway(t *testing.T) *gatewaytest.Gateway {
	topics := map[string]int32{}
	for _, d := range encodedDialects() {
		topics[d.topic] = 1
	}
	return gatewaytest.New(t, gatewaytest.Options{Topics: topics, Site: `
	handle_path /wh/* {
		kafka_rest webhook {
			topic {topic.wh}
			max_body 64KiB
		}
	}
	handle_path /nd/* {
		kafka_rest webhook {
			topic {topic.nd}
			split lines
			max_body 64KiB
		}
	}
	handle_path /v2/* {
		kafka_rest confluent_v2 {
			max_body 64KiB
		}
	}
	handle_path /up/* {
		kafka_rest upstash {
			max_body 64KiB
		}
	}
	handle_path /ibm/* {
		kafka_rest ibm_event_streams {
			max_body 64KiB
		}
	}
	handle /v3/* {
		kafka_rest confluent_v3 {
			cluster_id c1
			max_body 64KiB
		}
	}`})
}

func sendEncoded(t *testing.T, g *gatewaytest.Gateway, d encodedDialect, body []byte, encoding string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(d.method, g.URL+strings.ReplaceAll(d.path, "{topic}", g.Topic(d.topic)), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if d.stream {
		req.ContentLength = -1
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	req.Header.Set("Content-Type", d.contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", d.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Every dialect and operation that reads a body undoes gzip, deflate and
// zstd, and several codings: the records in Kafka are those of the plain
// body, byte for byte.
func TestContentEncodingEveryDialect(t *testing.T) {
	g := encodingGateway(t)
	for _, d := range encodedDialects() {
		n := 0
		for _, enc := range [][]string{nil, {"gzip"}, {"deflate"}, {"zstd"}, {"gzip", "zstd"}} {
			values := []string{fmt.Sprintf("%s-%d-a", strings.Join(enc, "+"), n), fmt.Sprintf("%s-%d-b", strings.Join(enc, "+"), n)}
			if d.name == "webhook" || d.name == "ibm_event_streams" {
				values = values[:1]
			}
			plain := []byte(d.body(values))
			resp, body := sendEncoded(t, g, d, compress(t, plain, enc...), strings.Join(enc, ", "))
			if resp.StatusCode/100 != 2 || strings.Contains(string(body), `"error_code":4`) {
				t.Fatalf("%s %v: %d %s", d.name, enc, resp.StatusCode, body)
			}
			n += len(values)
			recs := g.Records(t, d.topic, n)
			if len(recs) != n {
				t.Fatalf("%s %v: %d records in Kafka, want %d", d.name, enc, len(recs), n)
			}
			for i, v := range values {
				if got := recs[n-len(values)+i].Value; string(got) != v {
					t.Fatalf("%s %v: record %d is %q, want %q", d.name, enc, i, got, v)
				}
			}
		}
	}
}

// Bad encodings write nothing: an unknown coding is a 415 naming the
// supported ones in Accept-Encoding; a corrupt, truncated or
// trailing-garbage body a 400; a bomb (decoded over max_body) the
// dialect's too-large answer (413; Event Streams' 400); each in the
// dialect's format. A stream reports what it read before the corruption,
// then the corruption as its last report.
func TestContentEncodingRefused(t *testing.T) {
	g := encodingGateway(t)
	blanks := bytes.Repeat([]byte{' '}, 8<<20) // valid JSON whitespace: only the size refuses it
	for _, d := range encodedDialects() {
		plain := []byte(d.body([]string{"x", "y"}))
		gz := compress(t, plain, "gzip")
		written := 0 // records a stream reported written before a corruption
		for _, tc := range []struct {
			name     string
			body     []byte
			encoding string
			status   int
		}{
			{"unknown coding", gz, "br", 415},
			{"truncated gzip", gz[:len(gz)/2], "gzip", 400},
			{"corrupt zstd", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, bytes.Repeat([]byte{0xff}, 40)...), "zstd", 400},
			{"gzip then garbage", append(bytes.Clone(gz), "garbage"...), "gzip", 400},
			{"not deflate", plain, "deflate", 400},
			{"bomb", compress(t, append(bytes.Clone(plain), blanks...), "gzip"), "gzip", 413},
		} {
			if d.stream && tc.status == 413 {
				continue // a stream bounds each record, not the body: its own test
			}
			resp, body := sendEncoded(t, g, d, tc.body, tc.encoding)
			status, want := resp.StatusCode, tc.status
			if d.stream && status == 200 {
				// A stream reports each record it read; the corruption
				// is its last report.
				dec := json.NewDecoder(bytes.NewReader(body))
				for dec.More() {
					var rep struct {
						ErrorCode int `json:"error_code"`
					}
					if err := dec.Decode(&rep); err != nil {
						t.Fatalf("%s, %s: reports %q: %v", d.name, tc.name, body, err)
					}
					if rep.ErrorCode == 200 {
						written++
					}
					status = rep.ErrorCode
				}
			} else if !json.Valid(body) {
				t.Errorf("%s, %s: body not in the dialect's JSON format: %q", d.name, tc.name, body)
			}
			if d.name == "ibm_event_streams" && tc.status == 413 {
				want = 400 // Event Streams answers a body too large with 400
			}
			if status != want {
				t.Errorf("%s, %s: %d %s, want %d", d.name, tc.name, resp.StatusCode, body, want)
			}
			if tc.status == 415 && resp.Header.Get("Accept-Encoding") != "gzip, deflate, zstd" {
				t.Errorf("%s: 415 with Accept-Encoding %q", d.name, resp.Header.Get("Accept-Encoding"))
			}
		}
		if recs := g.Records(t, d.topic, written); len(recs) != written {
			t.Errorf("%s: %d records written by refused bodies, %d reported written", d.name, len(recs), written)
		}
	}
}
