package ibmeventstreams

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

func TestParseQuery(t *testing.T) {
	key, headers, _, err := parseQuery("key=0a0b&keyType=binary&headers=colour:726463,size:666f726d696461626c65&other=ignored")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, []byte{0x0a, 0x0b}) {
		t.Fatalf("key %x", key)
	}
	if len(headers) != 2 || headers[0].Key != "colour" || string(headers[0].Value) != "rdc" ||
		headers[1].Key != "size" || string(headers[1].Value) != "formidable" {
		t.Fatalf("headers %v", headers)
	}
	key, headers, _, err = parseQuery("headers=")
	if err != nil || key != nil || headers != nil {
		t.Fatalf("empty headers: key %v headers %v err %v", key, headers, err)
	}
	key, _, _, err = parseQuery("key=")
	if err != nil || key == nil || len(key) != 0 {
		t.Fatalf("key= must be an empty, non-null key: %v %v", key, err)
	}
	if _, _, _, err := parseQuery("key=%zz"); err == nil {
		t.Fatal("malformed query accepted")
	}
}

func TestMediaType(t *testing.T) {
	for ct, isJSON := range map[string]bool{
		"":                                false,
		"application/json":                true,
		"Application/JSON; charset=utf-8": true,
		"application/vnd.ibm-event-streams.json.v1":   true,
		"application/vnd.ibm-event-streams.binary.v1": false,
		"application/vnd.ibm-event-streams.text.v1":   false,
		"text/plain":               false,
		"text/xml":                 false,
		"application/xml":          false,
		"application/octet-stream": false,
	} {
		got, err := mediaType(ct)
		if err != nil || got != isJSON {
			t.Errorf("%q: json %v err %v", ct, got, err)
		}
	}
	for _, ct := range []string{"application/avro", "multipart/form-data; boundary=x", "text/", ";"} {
		_, err := mediaType(ct)
		var e *dialects.Error
		if !errors.As(err, &e) || e.Status != http.StatusUnsupportedMediaType {
			t.Errorf("%q: %v, want 415", ct, err)
		}
	}
}

// TestWriteErrorStatuses covers the classes the end-to-end tests cannot
// provoke against kfake.
func TestWriteErrorStatuses(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
	}{
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, 503},
		{producer.ErrOverloaded, 503},
		{producer.ErrTimeout, 408},
		{producer.ErrUnknownTopic, 404},
		{dialects.ErrTopicNotAllowed, 401},
		{dialects.ErrBodyTooLarge, 400},
		{errors.New("boom"), 500},
		{dialects.Errorf(producer.ClassInternal, "secret internals"), 500},
		{dialects.Errorf(producer.ClassAuthFailed, "sasl"), 503},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/topics/t1/records", nil)
		EventStreams{}.WriteError(w, r, c.err)
		if w.Code != c.status {
			t.Errorf("%v: status %d, want %d", c.err, w.Code, c.status)
		}
		var body errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.ErrorCode != c.status ||
			body.Error.ErrorCode != c.status || body.Error.Topic != "t1" || body.Message == "" || strings.Contains(body.Message, "secret") {
			t.Errorf("%v: body %s", c.err, w.Body.Bytes())
		}
	}
}

// FuzzQuery checks that parseQuery never panics, and that what it accepts
// round-trips: encoding the decoded key and headers back into a query gives
// the same key and headers.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"headers=colour:726463,size:666f726d696461626c65",
		"key=0a0b&keyType=binary",
		"key=user-42&keyType=text",
		"key=caf%C3%A9",
		"key=",
		"headers=a:,b:00,a:ff",
		"headers=urn%3Ax:00",
		"schemaname=s&schemaversion=1&schemavalidation=true",
		"schemaname=s&schemaversion=latest&schemavalidation=FALSE",
		"schemaversion=2",
		"schemaname=&schemavalidation=true",
		"key=a&key=b",
		"keyType=binary&key=zz",
		"headers=,",
		"%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		key, headers, sq, err := parseQuery(raw)
		if err != nil {
			var e *dialects.Error
			if !errors.As(err, &e) || e.Class != producer.ClassBadRequest || e.Message == "" {
				t.Fatalf("error %v is not a 400 with a message", err)
			}
			return
		}
		q := url.Values{}
		if key != nil {
			q.Set("key", hex.EncodeToString(key))
			q.Set("keyType", "binary")
		}
		var parts []string
		for _, h := range headers {
			if h.Key == "" || !utf8.ValidString(h.Key) || h.Value == nil {
				t.Fatalf("header %q:%v accepted", h.Key, h.Value)
			}
			parts = append(parts, h.Key+":"+hex.EncodeToString(h.Value))
		}
		if len(parts) > 0 {
			q.Set("headers", strings.Join(parts, ","))
		}
		if sq.subject != "" {
			q.Set("schemaname", sq.subject)
			if sq.version != 0 {
				q.Set("schemaversion", strconv.Itoa(sq.version))
			}
			q.Set("schemavalidation", strconv.FormatBool(sq.validate))
		} else if sq != (schemaQuery{}) {
			t.Fatalf("%q: schema options %+v without a schemaname", raw, sq)
		}
		key2, headers2, sq2, err := parseQuery(q.Encode())
		if err != nil {
			t.Fatalf("re-encoded %q: %v", q.Encode(), err)
		}
		if sq != sq2 || (sq.version < 0) {
			t.Fatalf("round trip of %q: schema %+v/%+v", raw, sq, sq2)
		}
		if (key == nil) != (key2 == nil) || !bytes.Equal(key, key2) || len(headers) != len(headers2) {
			t.Fatalf("round trip of %q: key %q/%q headers %v/%v", raw, key, key2, headers, headers2)
		}
		for i := range headers {
			if headers[i].Key != headers2[i].Key || !bytes.Equal(headers[i].Value, headers2[i].Value) {
				t.Fatalf("round trip of %q: headers %v/%v", raw, headers, headers2)
			}
		}
	})
}

// FuzzEncode checks the hand-written success answer against json.Marshal of
// the success type it stands for.
func FuzzEncode(f *testing.F) {
	f.Add("orders", int32(0), int64(0), int64(1796167051893))
	f.Add("a<b>&\u2028\xff", int32(-1), int64(-1), int64(-62135596800000))
	f.Fuzz(func(t *testing.T, topic string, partition int32, offset, ms int64) {
		w := httptest.NewRecorder()
		req := &dialects.Request{Records: []producer.Message{{Topic: topic}}}
		res := []producer.Result{{Partition: partition, Offset: offset, Timestamp: time.UnixMilli(ms)}}
		if err := (EventStreams{}).Encode(w, httptest.NewRequest(http.MethodPost, "/", nil), req, res); err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(success{metadata{Topic: topic, Timestamp: strconv.FormatInt(time.UnixMilli(ms).UnixMilli(), 10), Partition: partition, Offset: offset}})
		if err != nil {
			t.Fatal(err)
		}
		if w.Body.String() != string(want) || w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%d %s, json.Marshal gives %s", w.Code, w.Body, want)
		}
	})
}
