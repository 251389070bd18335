package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/fuzzseed"
)

// fuzzMaxBody is the max_body of the fuzz targets: small, so that fuzzed
// bodies reach it.
const fuzzMaxBody = 1 << 10

// FuzzDecode feeds requests through Decode as the handler does (body bounded
// by max_body, then WriteError for a refusal). Every refusal must be a 4xx
// in the dialect's {"error", "status"} envelope; every accepted request must
// give exactly the records the body says (the body, or its non-empty lines
// with one trailing "\r" trimmed), within max_records and max_body.
func FuzzDecode(f *testing.F) {
	for _, r := range fuzzseed.Load(f, "testdata/spec") {
		f.Add(r.Method, r.Body, false, uint8(10), false)
		f.Add(r.Method, r.Body, true, uint8(10), false)
		f.Add(r.Method, r.Body, true, uint8(1), true)
	}
	f.Fuzz(func(t *testing.T, method string, body []byte, split bool, maxRecords uint8, chunked bool) {
		wh := &Webhook{Topic: "t", Key: "{http.request.header.X-Device-Id}", Headers: map[string]string{"m": "{http.request.method}"}}
		if split {
			wh.Split = "lines"
		}
		if err := wh.Provision(caddy.Context{}); err != nil {
			t.Fatal(err)
		}
		lim := dialects.Route{MaxBody: fuzzMaxBody, MaxRecords: int(maxRecords%16) + 1}
		w := httptest.NewRecorder()
		r, ok := fuzzseed.NewRequest(w, method, "/in", http.Header{"X-Device-Id": {"dev-1"}}, body, chunked, lim.MaxBody)
		if !ok {
			return
		}
		m := wh.Match(r)
		if m.Op != dialects.OpProduce {
			if m.Op != dialects.OpMethodNotAllowed || method == http.MethodPost || method == http.MethodPut {
				t.Fatalf("method %q matched as %v", method, m.Op)
			}
			return
		}
		req, err := wh.Decode(r, m, lim)
		if err != nil {
			checkRefusal(t, wh, r, err)
			return
		}
		if int64(len(body)) > lim.MaxBody {
			t.Fatalf("a body of %d bytes accepted with max_body %d", len(body), lim.MaxBody)
		}
		want := [][]byte{body}
		if split {
			want = lines(body)
		}
		if len(req.Records) != len(want) || len(req.Records) > lim.MaxRecords {
			t.Fatalf("%d records from %q (max_records %d), want %d", len(req.Records), body, lim.MaxRecords, len(want))
		}
		for i, rec := range req.Records {
			if rec.Topic != "t" || rec.Partition != -1 || string(rec.Key) != "dev-1" || !bytes.Equal(rec.Value, want[i]) {
				t.Fatalf("record %d: %+v, want value %q", i, rec, want[i])
			}
			if len(rec.Headers) != 1 || rec.Headers[0].Key != "m" || string(rec.Headers[0].Value) != method {
				t.Fatalf("record %d headers %v", i, rec.Headers)
			}
		}
	})
}

// lines is the oracle of split lines: the lines of body, each without its
// "\n" and one trailing "\r", leaving out those of only whitespace.
func lines(body []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(body, []byte("\n")) {
		l = bytes.TrimSuffix(l, []byte("\r"))
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// checkRefusal writes err as the handler would and checks that it is a 4xx
// in the dialect's envelope.
func checkRefusal(t *testing.T, wh *Webhook, r *http.Request, err error) {
	t.Helper()
	w := httptest.NewRecorder()
	wh.WriteError(w, r, err)
	var body dialects.SimpleError
	if w.Code < 400 || w.Code > 499 || w.Header().Get("Content-Type") != "application/json" ||
		json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Status != w.Code || body.Error == "" {
		t.Fatalf("refusal %v written as %d %q %s", err, w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}
