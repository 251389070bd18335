package upstash

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/fuzzseed"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// FuzzRequest feeds whole requests (method, path and query, body) through
// Decode as the handler does: body bounded by max_body, refusals written
// with WriteError. A request is passed on only if its path is not one of the
// three produce forms; every refusal is a 4xx in {"error", "status"}; every
// accepted request gives at most max_records records, each with a topic and
// a value, as many as the body has messages.
func FuzzRequest(f *testing.F) {
	for _, r := range fuzzseed.Load(f, "testdata/spec") {
		f.Add(r.Method, r.Target, r.ContentType(), r.Body, false)
	}
	f.Add("POST", "/produce/a%2Fb", "", []byte(`[{"value":"v"},]`), true)
	f.Add("GET", "/produce/t/%ZZ?key=a+b", "", []byte(nil), false)
	f.Add("PUT", "/produce/t", "application/json", []byte(`{"value":"v"}`), false)
	f.Fuzz(func(t *testing.T, method, target, contentType string, body []byte, chunked bool) {
		lim := dialects.Route{MaxBody: 1 << 10, MaxRecords: 5}
		w := httptest.NewRecorder()
		r, ok := fuzzseed.NewRequest(w, method, target, http.Header{"Content-Type": {contentType}}, body, chunked, lim.MaxBody)
		if !ok {
			return
		}
		segments := produceSegments(r.URL.EscapedPath())
		m := Upstash{}.Match(r)
		if (segments >= 0) != (m.Op == dialects.OpProduce || m.Op == dialects.OpMethodNotAllowed && strings.HasPrefix(r.URL.Path, "/produce")) {
			t.Fatalf("%s %q: produce form %d, matched as %v", method, r.URL.EscapedPath(), segments, m.Op)
		}
		if m.Op == dialects.OpMethodNotAllowed && m.Allow == "" {
			t.Fatal("405 without Allow")
		}
		if m.Op != dialects.OpProduce {
			return
		}
		req, err := Upstash{}.Decode(r, m, lim)
		if err != nil {
			w := httptest.NewRecorder()
			Upstash{}.WriteError(w, r, err)
			var e dialects.SimpleError
			if w.Code < 400 || w.Code > 499 || w.Header().Get("Content-Type") != "application/json" ||
				json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Status != w.Code || e.Error == "" {
				t.Fatalf("refusal %v written as %d %q %s", err, w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			return
		}
		if segments == 2 {
			if method != http.MethodGet || len(req.Records) != 1 {
				t.Fatalf("%s %s gave %d records", method, target, len(req.Records))
			}
			_, msg, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/produce/"), "/")
			if want, _ := url.PathUnescape(msg); string(req.Records[0].Value) != want {
				t.Fatalf("value %q from path %q", req.Records[0].Value, r.URL.EscapedPath())
			}
			return
		}
		if method != http.MethodGet && method != http.MethodPost {
			t.Fatalf("method %q accepted", method)
		}
		if int64(len(body)) > lim.MaxBody || len(req.Records) > lim.MaxRecords {
			t.Fatalf("%d records from a body of %d bytes accepted", len(req.Records), len(body))
		}
		var pathTopic string
		if segments == 1 {
			pathTopic, _ = url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/produce/"))
		}
		for i, rec := range req.Records {
			if rec.Topic == "" || (pathTopic != "" && rec.Topic != pathTopic) || rec.Value == nil || rec.Partition < -1 {
				t.Fatalf("record %d: %+v", i, rec)
			}
		}
		// For well-formed JSON, as many records as messages.
		var many []json.RawMessage
		if json.Unmarshal(body, &many) == nil && len(many) != len(req.Records) {
			t.Fatalf("%d records from %d messages", len(req.Records), len(many))
		}
		var one map[string]json.RawMessage
		if json.Unmarshal(body, &one) == nil && len(req.Records) != 1 {
			t.Fatalf("%d records from one message", len(req.Records))
		}
	})
}

// produceSegments is how many segments after /produce an escaped path of
// one of the three produce forms has (0, 1 or 2), or -1 for another path.
func produceSegments(p string) int {
	if p == "/produce" {
		return 0
	}
	rest, ok := strings.CutPrefix(p, "/produce/")
	if !ok {
		return -1
	}
	parts := strings.Split(rest, "/")
	if len(parts) > 2 {
		return -1
	}
	for _, s := range parts {
		if s == "" {
			return -1
		}
	}
	return len(parts)
}

// FuzzReads feeds fetch and offsets requests to their parsers: every
// request is either refused with a 400 that has a message, or gives
// positions (partitions) with a topic and no negative partition or offset,
// as many as the request names.
func FuzzReads(f *testing.F) {
	for _, s := range []string{
		`{"topic":"t","partition":1,"offset":2,"timeout":1000}`,
		`{"topicPartitionOffsets":[{"topic":"a","partition":0,"offset":0},{"topic":"b","partition":3,"offset":9}],"timeout":5}`,
		`{"topic":"t","partition":1,"offset":2,"topicPartitionOffsets":[{"topic":"b","partition":0,"offset":0}]}`,
		`[{"topic":"t","partition":1},{"topic":"u","partition":0}]`, `{"topic":"t","partition":0}`,
		`{"topic":"t","partition":-1,"offset":0}`, `{"timout":1}`, `[]`, `{}`, ``, `null`, `[{"topic":""}]`,
	} {
		f.Add(s, "latest")
		f.Add(s, "1637455583829")
	}
	f.Fuzz(func(t *testing.T, body, ts string) {
		check := func(err error) {
			var e *dialects.Error
			if !errors.As(err, &e) || e.Class != producer.ClassBadRequest || e.Message == "" || e.Status != 0 {
				t.Fatalf("%q: refusal %#v", body, err)
			}
		}
		r := httptest.NewRequest(http.MethodPost, "/fetch", nil)
		positions, wait, err := parseFetch(r, []byte(body))
		if err != nil {
			check(err)
		} else {
			if len(positions) == 0 || wait < 0 {
				t.Fatalf("%q: %v %v", body, positions, wait)
			}
			for _, p := range positions {
				if p.Topic == "" || p.Partition < 0 || p.Offset < 0 {
					t.Fatalf("%q: position %+v", body, p)
				}
			}
		}
		stamp, parts, err := parseOffsets(ts, []byte(body))
		if err != nil {
			check(err)
			return
		}
		if len(parts) == 0 || (stamp < 0 && stamp != producer.OffsetEarliest && stamp != producer.OffsetLatest) {
			t.Fatalf("%q %q: %d %v", body, ts, stamp, parts)
		}
		for _, p := range parts {
			if p.Topic == "" || p.Partition < 0 {
				t.Fatalf("%q: partition %+v", body, p)
			}
		}
	})
}
