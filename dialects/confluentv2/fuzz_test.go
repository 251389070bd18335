package confluentv2

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/fuzzseed"
)

// FuzzRequest feeds whole produce requests (method, path, Content-Type,
// Accept, body) through Decode as the handler does: body bounded by
// max_body, refusals written with WriteError. It also reads the Accept of
// the consume endpoints. Every refusal is a 4xx with {"error_code",
// "message"}, the code matching the status, in the Kafka media type of the
// request's version; every accepted request gives records to the path's
// topic.
func FuzzRequest(f *testing.F) {
	for _, r := range fuzzseed.Load(f, "testdata/spec") {
		f.Add(r.Method, r.Target, r.ContentType(), r.Header.Get("Accept"), r.Body)
	}
	f.Add("POST", "/topics/t/partitions/x", "application/vnd.kafka.json.v1+json; charset=utf-8", "", []byte(`{"records":[{"value":{"a" : 1}}]}`))
	f.Add("PUT", "/topics/t", "application/vnd.kafka.protobuf.v2+json", "application/vnd.kafka.jsonschema.v1+json", []byte(`{}`))
	f.Fuzz(func(t *testing.T, method, target, contentType, accept string, body []byte) {
		c := &ConfluentV2{EnableConsume: true}
		lim := dialects.Route{MaxBody: 1 << 10, MaxRecords: 5}
		w := httptest.NewRecorder()
		r, ok := fuzzseed.NewRequest(w, method, target, http.Header{"Content-Type": {contentType}, "Accept": {accept}}, body, false, lim.MaxBody)
		if !ok {
			return
		}
		rt, isRoute := parseRoute(r.URL.Path)

		// The consume endpoints' Accept.
		if _, v, err := acceptFormat(r.Header.Values("Accept")); err != nil {
			checkRefusal(t, r, v, err, http.StatusNotAcceptable)
		} else if v != 1 && v != 2 {
			t.Fatalf("Accept %q: version %d", accept, v)
		}
		if method == http.MethodGet && isRoute && rt.partition != "" {
			return // consume, answered by Consume with a broker
		}

		m := c.Match(r)
		if (m.Op == dialects.OpProduce) != (isRoute && !rt.consume && method == http.MethodPost) {
			t.Fatalf("%s %q matched as %v", method, r.URL.Path, m.Op)
		}
		if m.Op == dialects.OpMethodNotAllowed && m.Allow == "" {
			t.Fatalf("%s %q: 405 without Allow", method, r.URL.Path)
		}
		if m.Op != dialects.OpProduce {
			return
		}
		req, err := c.Decode(r, m, lim)
		if err != nil {
			checkRefusal(t, r, requestVersion(r), err, 0)
			return
		}
		if method != http.MethodPost || int64(len(body)) > lim.MaxBody || len(req.Records) == 0 {
			t.Fatalf("%s with %d bytes accepted, %d records", method, len(body), len(req.Records))
		}
		if v, _ := req.State.(version); v != 1 && v != 2 {
			t.Fatalf("version %v", req.State)
		}
		pathPartition := int32(-1)
		if rt.partition != "" {
			p, err := parsePartition(rt.partition)
			if err != nil {
				t.Fatalf("partition %q accepted", rt.partition)
			}
			pathPartition = p
		}
		var in struct {
			Records []struct {
				Partition *int32 `json:"partition"`
			} `json:"records"`
		}
		if err := json.Unmarshal(body, &in); err != nil || len(in.Records) != len(req.Records) {
			t.Fatalf("%d records from %q (%v)", len(req.Records), body, err)
		}
		for i, rec := range req.Records {
			want := pathPartition
			if in.Records[i].Partition != nil {
				want = *in.Records[i].Partition
			}
			if rec.Topic != rt.topic || rec.Partition != want || want < -1 {
				t.Fatalf("record %d: %+v, want topic %q partition %d", i, rec, rt.topic, want)
			}
		}
	})
}

// checkRefusal writes err as the dialect does for version v and checks the
// answer: a 4xx (status, when not 0), the version's media type, and an
// error body whose code is the status or the status followed by two digits.
func checkRefusal(t *testing.T, r *http.Request, v version, err error, status int) {
	t.Helper()
	w := httptest.NewRecorder()
	writeError(w, v, err)
	var body errorBody
	ct, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if w.Code < 400 || w.Code > 499 || (status != 0 && w.Code != status) || ct != mediaType(v) ||
		json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Message == "" ||
		(body.ErrorCode != w.Code && body.ErrorCode/100 != w.Code) {
		t.Fatalf("refusal %v written as %d %q %s", err, w.Code, ct, w.Body)
	}
	if w.Code == http.StatusMethodNotAllowed && w.Header().Get("Allow") != http.MethodPost {
		t.Fatal("405 without Allow: POST")
	}
	if strings.Contains(body.Message, "\n") {
		t.Fatalf("message %q", body.Message)
	}
}
