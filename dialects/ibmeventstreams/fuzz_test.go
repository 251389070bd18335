package ibmeventstreams

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/fuzzseed"
)

// FuzzRequest feeds whole requests (method, path and query, Content-Type,
// body) through Decode as the handler does: body bounded by max_body,
// refusals written with WriteError. Only paths other than
// /topics/{topic_name}/records are passed on; every refusal is a 4xx in
// Event Streams' envelope (the status in both error_code fields, the topic,
// an incident); every accepted request is one record whose value is the
// body, byte for byte, and whose key and headers are the query's.
func FuzzRequest(f *testing.F) {
	for _, r := range fuzzseed.Load(f, "testdata/spec") {
		f.Add(r.Method, r.Target, r.ContentType(), r.Body, false)
	}
	f.Add("POST", "/topics/t/records?key=%FF", "application/json; charset=utf-8", []byte(`{"a":`), true)
	f.Add("GET", "/topics/t/records", "", []byte("x"), false)
	f.Add("POST", "/topics/a%2Fb/records?headers=a:zz", "text/x", []byte("x"), false)
	f.Fuzz(func(t *testing.T, method, target, contentType string, body []byte, chunked bool) {
		lim := dialects.Route{MaxBody: 1 << 10, MaxRecords: 5}
		w := httptest.NewRecorder()
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		r, ok := fuzzseed.NewRequest(w, method, target, h, body, chunked, lim.MaxBody)
		if !ok {
			return
		}
		topic, isRoute := topicOf(r.URL.Path)
		m := EventStreams{}.Match(r)
		if isRoute != (m.Op == dialects.OpProduce || m.Op == dialects.OpMethodNotAllowed) {
			t.Fatalf("path %q: produce path %v, but matched as %v", r.URL.Path, isRoute, m.Op)
		}
		if m.Op != dialects.OpProduce {
			if m.Op == dialects.OpPass && strings.HasPrefix(r.URL.Path, "/topics/") {
				t.Fatalf("path %q in Event Streams' URL space passed on", r.URL.Path)
			}
			return
		}
		req, err := EventStreams{}.Decode(r, m, lim)
		if err != nil {
			w := httptest.NewRecorder()
			EventStreams{}.WriteError(w, r, err)
			var e errorBody
			if w.Code < 400 || w.Code > 499 || w.Header().Get("Content-Type") != "application/json" ||
				json.Unmarshal(w.Body.Bytes(), &e) != nil || e.ErrorCode != w.Code || e.Error.ErrorCode != w.Code ||
				e.Message == "" || e.Error.Message != e.Message || e.Error.Topic != asJSON(topic) || e.Error.Incident == "" {
				t.Fatalf("refusal %v written as %d %q %s", err, w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			if w.Code == http.StatusMethodNotAllowed && w.Header().Get("Allow") != http.MethodPost {
				t.Fatal("405 without Allow: POST")
			}
			return
		}
		if method != http.MethodPost || len(req.Records) != 1 || len(body) == 0 || int64(len(body)) > lim.MaxBody ||
			len(r.RequestURI) > MaxURILength {
			t.Fatalf("%s %s with %d bytes accepted as %d records", method, target, len(body), len(req.Records))
		}
		rec := req.Records[0]
		if rec.Topic != topic || rec.Partition != -1 || !bytes.Equal(rec.Value, body) {
			t.Fatalf("record %+v from %s %q", rec, target, body)
		}
		if isJSON, err := mediaType(contentType); err != nil || (isJSON && !json.Valid(body)) {
			t.Fatalf("Content-Type %q with body %q accepted", contentType, body)
		}
		key, headers, _, err := parseQuery(r.URL.RawQuery)
		if err != nil || (key == nil) != (rec.Key == nil) || !bytes.Equal(key, rec.Key) || len(headers) != len(rec.Headers) {
			t.Fatalf("record %+v from query %q", rec, r.URL.RawQuery)
		}
	})
}

// asJSON is s as it reads back from JSON: invalid UTF-8 bytes become U+FFFD.
func asJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}
