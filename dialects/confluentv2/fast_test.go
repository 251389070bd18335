package confluentv2

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/dialects/internal/fuzzseed"
)

// fastSeeds are bodies in the shapes the fast path takes, and next to them.
var fastSeeds = []string{
	`{"records":[{"key":"a2V5","value":"dmFsdWU="},{"value":"dmFsdWU","partition":1},{"key":null,"value":"\u0061Q=="}]}`,
	`{"records":[{"value":{"a": [1, "x y"]}},{"key":"k","value":1,"partition":0}]}`,
	` { "records" : [ { "value" : 25 } , {"value":26,"partition":null} ] } `,
	` { "value_schema" : "{\"type\": \"int\"}", "records" : [ { "value" : 25 } ] } `, `{"records":[{"value":1}],"key_schema":null}`,
	`{"records":[{"valur":1}]}`, `{"records":[{"value":1}],"foo":1}`, `{"records":[{"value":1},"x"]}`,
	`{"records":[{}]}`, `{"records":[null]}`, `{"records":[]}`, `{"records":null}`, `{}`, `[]`, ``, `{"records":[1]}`,
	`{"records":[{"value":"AA=="}],"records":[{"key":"AA=="}]}`, `{"Records":[{"value":"AA=="}]}`, `{"RECORDS":[{"Value":"AA=="}]}`,
	`{"records":[{"value":"AA==","value":"AQ=="}]}`, `{"records":[{"value":"AA==","partition":1,"partition":2}]}`,
	`{"records":[{"value":"AA==","partitions":1,"x":{"y":[]}}]}`, "{\"records\":[{\"value\":\"AA==\",\"\u212aey\":\"AA==\"}]}",
	`{"records":[{"value":"AA==","partition":-1}]}`, `{"records":[{"value":"AA==","partition":2147483648}]}`, `{"records":[{"value":"AA==","partition":1e0}]}`,
	`{"records":[{"value":"AA=="}]} x`, `{"records":[{"value":"AA=="}]`, `{"records":[{"value":"%%%"}]}`, `{"records":[{"value":"AAA"}]}`,
	`{"records":[{"value":"A\u0041=="}]}`, `{"records":[{"value":true}]}`, `{"records":[{"value":"\ud800"}]}`,
	`{"records":[{"value":"` + strings.Repeat("dm", 50) + `"},{"value":"` + strings.Repeat("dm", 50) + `"}]}`,
	`{"records":[{"key":"k","value":{"a":"` + strings.Repeat("v", 80) + `","n":[1,2.5,true,null]}}]}`,
}

// FuzzFastRecords checks that decodeRecords, fast path first, gives what the
// encoding/json path gives for any body: the same records or the same
// error.
func FuzzFastRecords(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s), false, int32(-1))
		f.Add([]byte(s), true, int32(2))
	}
	for _, r := range fuzzseed.Load(f, "testdata/spec") {
		f.Add(r.Body, strings.Contains(r.ContentType(), ".json."), int32(-1))
	}
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool, partition int32) {
		fm := formatBinary
		if asJSON {
			fm = formatJSON
		}
		fast, ok := fastRecords(body, fm, "t", partition)
		want, werr := slowRecords(body, fm, "t", partition)
		if ok && (werr != nil || !reflect.DeepEqual(fast, want)) {
			t.Fatalf("%q: fast path took it:\n%+v\nencoding/json: %+v %v", body, fast, want, werr)
		}
		got, err := decodeRecords(body, fm, "t", partition)
		if fmt.Sprint(err) != fmt.Sprint(werr) || !reflect.DeepEqual(err, werr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %+v %v\nwant %+v %v", body, got, err, want, werr)
		}
	})
}

// The fast path takes the shapes clients send.
func TestFastRecordsTakes(t *testing.T) {
	for _, tc := range []struct {
		body string
		f    format
	}{
		{fastSeeds[0], formatBinary}, {fastSeeds[1], formatJSON}, {fastSeeds[2], formatJSON},
		{fastSeeds[len(fastSeeds)-2], formatBinary}, {fastSeeds[len(fastSeeds)-1], formatJSON},
	} {
		if _, ok := fastRecords([]byte(tc.body), tc.f, "t", -1); !ok {
			t.Errorf("fast path refused %s (format %d)", tc.body, tc.f)
		}
	}
}
