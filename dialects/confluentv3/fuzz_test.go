package confluentv3

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/fuzzseed"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// FuzzRequest feeds whole produce requests (path, Content-Type, body)
// through what Decode does before producing, for records (readAll) and for
// records:batch (decodeBatch), with the body bounded by max_body. A refusal
// of the whole request must be a 4xx with {"error_code", "message"}; every
// record refused on its own a 4xx report; and the reports of a request whose
// records Kafka acknowledged must be one JSON object per record, each a
// success report or an error report with exactly the documented fields.
func FuzzRequest(f *testing.F) {
	for _, r := range fuzzseed.Load(f, "testdata/spec") {
		f.Add(r.Target, r.ContentType(), r.Body)
	}
	f.Add("/v3/clusters/c/topics/t/records", "application/json; charset=utf-8", []byte(`{"value":{"data":"AA"}}{"value":`))
	f.Add("/v3/clusters/c/topics/t/records:batch", "application/json", []byte(`{"entries":[{"id":"a"},{"id":"a"}]}`))
	f.Add("/v3/clusters/c/topics/t/records", "text/plain", []byte(`{}`))
	f.Fuzz(func(t *testing.T, target, contentType string, body []byte) {
		const maxBody = 1 << 10
		c := &ConfluentV3{batchMax: 4}
		w := httptest.NewRecorder()
		r, ok := fuzzseed.NewRequest(w, http.MethodPost, target, http.Header{"Content-Type": {contentType}}, body, false, maxBody)
		if !ok {
			return
		}
		rt := parseRoute(r.URL.Path)
		if rt.kind != routeRecords && rt.kind != routeBatch {
			return
		}
		if rt.cluster == "" || rt.topic == "" {
			t.Fatalf("route %+v from %q", rt, r.URL.Path)
		}
		if !jsonMediaType(contentType) {
			checkRefusal(t, c, r, unsupportedMedia(contentType), http.StatusUnsupportedMediaType)
			return
		}
		if rt.kind == routeBatch {
			fuzzBatch(t, c, r, rt.topic, body)
			return
		}
		recs, err := readAll(r, maxBody, rt.topic)
		if err == nil && len(recs) == 0 {
			err = errEmptyBody
		}
		if err != nil {
			checkRefusal(t, c, r, err, 0)
			return
		}
		size := 0
		results := make([]producer.Result, len(recs))
		for i, d := range recs {
			if d.fatal && i != len(recs)-1 {
				t.Fatalf("record %d of %d is fatal", i, len(recs))
			}
			if d.err != nil {
				if status, _, msg := classify(d.err); status < 400 || status > 499 || msg == "" {
					t.Fatalf("record %d refused with %v: %d %q", i, d.err, status, msg)
				}
				continue
			}
			size += d.size
			if d.msg.Topic != rt.topic || d.msg.Partition < -1 || d.size <= 0 {
				t.Fatalf("record %d: %+v", i, d)
			}
			results[i] = producer.Result{Partition: max(d.msg.Partition, 0), Offset: int64(i), Timestamp: time.UnixMilli(1612552482000)}
		}
		if size > maxBody {
			t.Fatalf("records of %d bytes from a body of %d, max_body %d", size, len(body), maxBody)
		}
		st := newState("c", rt.topic)
		req := request(recs, st)
		var buf []byte
		for i := range recs {
			var err error
			if req.Errs != nil {
				err = req.Errs[i]
			}
			buf = st.appendReport(buf, st.formats[i], &req.Records[i], results[i], err)
		}
		checkReports(t, buf, recs)
	})
}

// fuzzBatch checks a records:batch body.
func fuzzBatch(t *testing.T, c *ConfluentV3, r *http.Request, topic string, body []byte) {
	t.Helper()
	data, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		checkRefusal(t, c, r, dialects.BodyTooLarge(mbe.Limit), http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil || !bytes.Equal(data, body) {
		t.Fatalf("reading the body: %v", err)
	}
	recs, err := c.decodeBatch(data, topic)
	if err != nil {
		checkRefusal(t, c, r, err, 0)
		return
	}
	if len(recs) == 0 || len(recs) > c.batchMax {
		t.Fatalf("a batch of %d entries accepted", len(recs))
	}
	ids := make(map[string]bool, len(recs))
	for i, d := range recs {
		if d.id == "" || utf8.RuneCountInString(d.id) > 80 || ids[d.id] {
			t.Fatalf("entry %d: id %q accepted", i, d.id)
		}
		ids[d.id] = true
		if d.err != nil {
			if status, _, msg := classify(d.err); status < 400 || status > 499 || msg == "" {
				t.Fatalf("entry %d refused with %v: %d %q", i, d.err, status, msg)
			}
		} else if d.msg.Topic != topic || d.msg.Partition < -1 {
			t.Fatalf("entry %d: %+v", i, d)
		}
	}
}

// checkRefusal writes err as the dialect does and checks that it is a 4xx
// (status, when not 0) with {"error_code", "message"}.
func checkRefusal(t *testing.T, c *ConfluentV3, r *http.Request, err error, status int) {
	t.Helper()
	w := httptest.NewRecorder()
	c.WriteError(w, r, err)
	var e errorBody
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if w.Code < 400 || w.Code > 499 || (status != 0 && w.Code != status) || w.Header().Get("Content-Type") != "application/json" ||
		dec.Decode(&e) != nil || e.ErrorCode < 400 || e.Message == "" {
		t.Fatalf("refusal %v written as %d %q %s", err, w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}

// checkReports checks that buf holds one report per record, each followed
// by a newline: a success with exactly its documented fields, or an error
// report for a record refused on its own.
func checkReports(t *testing.T, buf []byte, recs []decoded) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(buf))
	for i, d := range recs {
		var rep map[string]json.RawMessage
		if err := dec.Decode(&rep); err != nil {
			t.Fatalf("report %d of %q: %v", i, buf, err)
		}
		fields := []string{"error_code", "cluster_id", "topic_name", "partition_id", "offset", "timestamp", "key", "value"}
		code := 200
		if d.err != nil {
			fields = []string{"error_code", "message"}
			_, code, _ = classify(d.err)
		}
		if len(rep) != len(fields) || string(rep["error_code"]) != jsonInt(code) {
			t.Fatalf("report %d is %v, want the fields %v and error_code %d", i, rep, fields, code)
		}
		for _, name := range fields {
			if _, ok := rep[name]; !ok {
				t.Fatalf("report %d has no %s: %v", i, name, rep)
			}
		}
	}
	if dec.More() || bytes.Count(buf, []byte("\n")) != len(recs) || buf[len(buf)-1] != '\n' {
		t.Fatalf("%d reports not each followed by one newline: %q", len(recs), buf)
	}
}

func jsonInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
