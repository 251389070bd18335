package confluentv2

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/fuzzseed"
)

func TestParseRoute(t *testing.T) {
	for path, want := range map[string]*route{
		"/topics/t":                        {topic: "t"},
		"/topics/t/partitions/1":           {topic: "t", partition: "1"},
		"/topics/t/partitions/1/messages":  {topic: "t", partition: "1", consume: true},
		"/consume/t/partitions/1":          {topic: "t", partition: "1", consume: true},
		"/topics/":                         nil,
		"/topics//partitions/1":            nil,
		"/topics/t/partitions/":            nil,
		"/topics/t/partitions/1/other":     nil,
		"/topics/t/records":                nil,
		"/consume/t":                       nil,
		"/consume/t/partitions/1/messages": nil,
		"/v3/clusters/x/topics/t/records":  nil,
	} {
		got, ok := parseRoute(path)
		if ok != (want != nil) || (ok && got != *want) {
			t.Errorf("%s: got %+v %v, want %+v", path, got, ok, want)
		}
	}
}

func TestContentFormat(t *testing.T) {
	for ct, want := range map[string]struct {
		f   format
		v   version
		err bool
	}{
		"application/vnd.kafka.binary.v1+json":              {formatBinary, 1, false},
		"application/vnd.kafka.binary.v2+json":              {formatBinary, 2, false},
		"application/vnd.kafka.json.v1+json":                {formatJSON, 1, false},
		"Application/VND.kafka.json.v2+json; charset=utf-8": {formatJSON, 2, false},
		"application/vnd.kafka.avro.v2+json":                {err: true},
		"application/vnd.kafka.binary.v3+json":              {err: true},
		"application/json":                                  {err: true},
		"":                                                  {err: true},
	} {
		f, v, err := contentFormat(ct)
		if (err != nil) != want.err || (!want.err && (f != want.f || v != want.v)) {
			t.Errorf("%q: %v %v %v", ct, f, v, err)
		}
		var e *dialects.Error
		if err != nil && (!errors.As(err, &e) || e.Status != http.StatusUnsupportedMediaType) {
			t.Errorf("%q: %v is not a 415", ct, err)
		}
	}
}

func TestDecodeRecords(t *testing.T) {
	recs, err := decodeRecords([]byte(`{"records":[{"key":"a2V5","value":"dmFsdWU="},{"value":"dmFsdWU","partition":1},{"key":null,"value":"\u0061Q=="}]}`), formatBinary, "t", -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || string(recs[0].Key) != "key" || string(recs[0].Value) != "value" || recs[0].Partition != -1 ||
		recs[1].Key != nil || string(recs[1].Value) != "value" || recs[1].Partition != 1 || recs[2].Key != nil || string(recs[2].Value) != "i" ||
		recs[0].Topic != "t" {
		t.Fatalf("%+v", recs)
	}
	// The record's partition wins over the path's.
	recs, err = decodeRecords([]byte(`{"records":[{"value":{"a": [1, "x y"]}},{"key":"k","value":1,"partition":0}]}`), formatJSON, "t", 2)
	if err != nil {
		t.Fatal(err)
	}
	if string(recs[0].Value) != `{"a":[1,"x y"]}` || recs[0].Key != nil || recs[0].Partition != 2 ||
		string(recs[1].Key) != `"k"` || string(recs[1].Value) != "1" || recs[1].Partition != 0 {
		t.Fatalf("%+v", recs)
	}
	for _, body := range []string{``, `[]`, `{}`, `{"records":null}`, `{"records":[]}`, `{"records":[{"value":1}]`, `{"records":[{"value":"%%%"}]}`,
		`{"records":[{"value":true}]}`, `{"records":[{"partition":"1"}]}`, `{"records":[{"partition":1.5}]}`, `{"records":[{"partition":4294967296}]}`} {
		_, err := decodeRecords([]byte(body), formatBinary, "t", -1)
		var e *dialects.Error
		if !errors.As(err, &e) || e.Code != 42206 {
			t.Errorf("%s: %v, want 42206", body, err)
		}
	}
	if _, err := decodeRecords([]byte(`{"records":[{"partition":-2}]}`), formatJSON, "t", -1); err != errPartition {
		t.Errorf("negative partition: %v", err)
	}
}

func TestUnmarshalCaddyfileOption(t *testing.T) {
	var c ConfluentV2
	d := caddyfile.NewTestDispenser("consume")
	d.Next()
	if err := c.UnmarshalCaddyfileOption(d); err != nil || !c.EnableConsume {
		t.Fatalf("consume: %v %v", err, c.EnableConsume)
	}
	for _, in := range []string{"consume yes", "topic x"} {
		d := caddyfile.NewTestDispenser(in)
		d.Next()
		if err := (&ConfluentV2{}).UnmarshalCaddyfileOption(d); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// FuzzDecode checks that any body decodes to records or to a 42206/40402
// error, never panics, and that decoded records are what the body says.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"records":[{"key":"a2V5","value":"dmFsdWU="},{"value":"dmFsdWU=","partition":1}]}`,
		`{"records":[{"key":"a2V5","value":"dmFsdWU="},{"value":"dmFsdWU="}]}`,
		`{"records":[{"key":"somekey","value":{"foo":"bar"}},{"value":53.5}]}`,
		`{"records":[{"key":"a2V5","value":"Y29uZmx1ZW50"},{"value":"a2Fma2E="}]}`,
		`{"value_schema":"{\"name\":\"int\",\"type\": \"int\"}","records":[{"value":25},{"value":26}]}`,
		`{"records":[{"value":"\u0061Q"}]}`,
		`{"records":[]}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	for _, r := range fuzzseed.Load(f, "testdata/spec") {
		f.Add(r.Body, strings.Contains(r.ContentType(), ".json."))
	}
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		fm := formatBinary
		if asJSON {
			fm = formatJSON
		}
		recs, err := decodeRecords(body, fm, "t", -1)
		if err != nil {
			var e *dialects.Error
			if !errors.As(err, &e) || (e.Code != 42206 && err != errPartition) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		var req struct {
			Records []struct{ Key, Value json.RawMessage }
		}
		if json.Unmarshal(body, &req) != nil || len(req.Records) != len(recs) || len(recs) == 0 {
			t.Fatalf("decoded %d records from %q", len(recs), body)
		}
		for i, r := range recs {
			for _, kv := range []struct {
				raw json.RawMessage
				got []byte
			}{{req.Records[i].Key, r.Key}, {req.Records[i].Value, r.Value}} {
				if kv.raw == nil || string(kv.raw) == "null" {
					if kv.got != nil {
						t.Fatalf("null became %q", kv.got)
					}
					continue
				}
				if asJSON {
					var want bytes.Buffer
					_ = json.Compact(&want, kv.raw)
					if !bytes.Equal(want.Bytes(), kv.got) {
						t.Fatalf("json %s became %s", kv.raw, kv.got)
					}
					continue
				}
				var s string
				if json.Unmarshal(kv.raw, &s) != nil {
					t.Fatalf("non-string %s accepted as binary", kv.raw)
				}
				enc := base64.StdEncoding
				if len(s)%4 != 0 {
					enc = base64.RawStdEncoding
				}
				if want, err := enc.DecodeString(s); err != nil || !bytes.Equal(want, kv.got) {
					t.Fatalf("base64 %q became %q (%v)", s, kv.got, err)
				}
			}
		}
	})
}
