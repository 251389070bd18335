package upstash

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/fuzzseed"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// fastSeeds are bodies in the shapes the fast path takes, and next to them.
var fastSeeds = []string{
	`{"topic":null,"partition":null,"timestamp":null,"key":null,"value":"v","headers":null}`,
	`{"key":"","value":""}`, `{"topic":"t","value":"v","timestamp":0,"partition":0}`, `{"value":"v","partition":-0}`,
	`{"value":"v","headers":[{"key":"a","value":null},{"key":"","value":""}]}`, `{"value":"v","headers":[]}`,
	`{"value":"\u00e9\n\"x\""}`, "{\"value\":\"\xff\"}", `{"value":"\ud800"}`, ` []`, `[null]`, `[1]`, `[{}]`, `{}`,
	`{"value":"a","value":"b"}`, `{"Value":"a"}`, `{"value":"a","partiton":1}`, `{"value":"a","headers":[{"key":"b","name":"c"}]}`,
	`{"value":"a","headers":[{"value":"b"}]}`, `{"value":"a","headers":[{"key":null}]}`, `{"value":"a","headers":[null]}`,
	`{"value":"a","partition":1.5}`, `{"value":"a","partition":4294967296}`, `{"value":"a","partition":-1}`,
	`{"value":"a","timestamp":9223372036854775807}`, `{"value":"a","timestamp":9223372036854775808}`,
	`{"value":1}`, `{"key":1,"value":"a"}`, `{"topic":"","value":"a"}`, `{"topic":"u","value":"a"}`, `{"topic":"t","value":"a"}`,
	`{"value":"x"} {"value":"y"}`, `{"value":"x"}]`, `[{"value":"x"}`, `[{"value":"x"},,]`,
	`[{"value":"a"},{"value":"b"},{"value":"c"}]`, `[{"topic":"a","value":"1"},{"topic":"b","value":"2"},{"topic":"a","value":"3"}]`,
	`[{"topic":"t","partition":1,"timestamp":1637745834744,"key":"k","value":"` + value100[:90] + `\"x\"","headers":[{"key":"h","value":"v"}]}]`,
}

// FuzzFastMessages checks that decodeMessages, fast path first, gives what
// the encoding/json path gives for any body: the same records or the same
// error.
func FuzzFastMessages(f *testing.F) {
	for _, b := range append(append([]string(nil), specBodies...), fastSeeds...) {
		f.Add([]byte(b), "", uint8(0))
		f.Add([]byte(b), "t", uint8(2))
	}
	for _, r := range fuzzseed.Load(f, "testdata/spec") {
		f.Add(r.Body, "", uint8(0))
		f.Add(r.Body, "greetings", uint8(0))
	}
	f.Fuzz(func(t *testing.T, body []byte, topic string, maxRecords uint8) {
		trimmed := trimTrailingCommas(body)
		if want := trimCommas(body); !bytes.Equal(trimmed, want) || (len(body) > 0 && &trimmed[0] == &body[0]) != (len(want) > 0 && &want[0] == &body[0]) {
			t.Fatalf("trimTrailingCommas(%q) = %q, want %q", body, trimmed, want)
		}
		start := bytes.TrimLeft(trimmed, " \t\r\n")
		if len(start) == 0 {
			return
		}
		fast, ok := fastMessages(start, topic, int(maxRecords))
		want, werr := slowMessages(start, topic, int(maxRecords))
		if ok && (werr != nil || !reflect.DeepEqual(fast, want)) {
			t.Fatalf("%q: fast path took it:\n%+v\nencoding/json: %+v %v", body, fast, want, werr)
		}
		got, err := decodeMessages(body, topic, int(maxRecords))
		if fmt.Sprint(err) != fmt.Sprint(werr) || !reflect.DeepEqual(err, werr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %+v %v\nwant %+v %v", body, got, err, want, werr)
		}
	})
}

// The fast path takes the shapes clients send.
func TestFastMessagesTakes(t *testing.T) {
	for _, tc := range []struct{ body, topic string }{
		{specBodies[0], "t"}, {specBodies[1], "t"}, {specBodies[2], "t"}, {specBodies[4], ""}, {specBodies[5], ""},
		{fastSeeds[0], "t"}, {fastSeeds[4], "t"}, {fastSeeds[6], "t"}, {fastSeeds[len(fastSeeds)-1], ""},
		{`[` + strings.TrimSuffix(strings.Repeat(`{"value":"`+value100+`"},`, 3), ",") + `]`, "t"},
	} {
		start := bytes.TrimLeft(trimTrailingCommas([]byte(tc.body)), " \t\r\n")
		if _, ok := fastMessages(start, tc.topic, 0); !ok {
			t.Errorf("fast path refused %s", tc.body)
		}
	}
}

// FuzzEncode checks Encode's answers against json.Marshal of the metadata.
func FuzzEncode(f *testing.F) {
	f.Add("t", "u", int32(0), int64(7), int64(5), uint8(2), false)
	f.Add("a<b>&\"c\"\u2028\xff", "", int32(-1), int64(-1), int64(-62135596800000), uint8(0), false)
	f.Add("t", "t", int32(2147483647), int64(9223372036854775807), int64(1637745834744), uint8(1), true)
	f.Fuzz(func(t *testing.T, topic, other string, partition int32, offset, ms int64, n uint8, one bool) {
		n %= 8
		if one {
			n = 1
		}
		req := &dialects.Request{Records: make([]producer.Message, n)}
		results := make([]producer.Result, n)
		want := make([]metadata, n)
		for i := range results {
			tp := topic
			if i%3 == 2 {
				tp = other
			}
			req.Records[i].Topic = tp
			results[i] = producer.Result{Partition: partition + int32(i), Offset: offset - int64(i), Timestamp: time.UnixMilli(ms + int64(i))}
			want[i] = metadata{Topic: tp, Partition: results[i].Partition, Offset: results[i].Offset, Timestamp: results[i].Timestamp.UnixMilli()}
		}
		var wb []byte
		if one {
			req.State = single{}
			wb, _ = json.Marshal(want[0])
		} else {
			wb, _ = json.Marshal(want)
		}
		w := httptest.NewRecorder()
		if err := (Upstash{}).Encode(w, nil, req, results); err != nil {
			t.Fatal(err)
		}
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || !bytes.Equal(w.Body.Bytes(), wb) {
			t.Fatalf("got %d %q %s, want %s", w.Code, w.Header().Get("Content-Type"), w.Body, wb)
		}
	})
}
