package confluentv3

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

// refSplitter is the splitter as it was before it kept records in its own
// buffers (a copy of each object read through a bufio.Reader): the reference
// FuzzSplitter holds the splitter to.
type refSplitter struct {
	br  *bufio.Reader
	max int64 // largest object in bytes
}

func (s *refSplitter) next() ([]byte, error) {
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		if c != '{' {
			return nil, &malformedError{"Error processing JSON: a record must be a JSON object"}
		}
		break
	}
	out := make([]byte, 1, 256)
	out[0] = '{'
	depth, inStr, esc := 1, false, false
	for {
		if _, err := s.br.Peek(1); err != nil {
			if err == io.EOF {
				return nil, &malformedError{"Error processing JSON: unexpected end of input"}
			}
			return nil, err
		}
		chunk, _ := s.br.Peek(s.br.Buffered())
		for i, c := range chunk {
			if inStr {
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
				}
				continue
			}
			switch c {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					out = append(out, chunk[:i+1]...)
					_, _ = s.br.Discard(i + 1)
					if int64(len(out)) > s.max {
						return nil, errSplitTooLarge
					}
					return out, nil
				}
			}
		}
		out = append(out, chunk...)
		_, _ = s.br.Discard(len(chunk))
		if int64(len(out)) > s.max {
			return nil, errSplitTooLarge
		}
	}
}

// dribble reads its input at most step bytes at a time, and ends with err.
type dribble struct {
	b    []byte
	step int
	err  error
}

func (d *dribble) Read(p []byte) (int, error) {
	if len(d.b) == 0 {
		return 0, d.err
	}
	n := copy(p[:min(len(p), d.step)], d.b)
	d.b = d.b[n:]
	return n, nil
}

var errBroken = errors.New("connection broken")

// FuzzSplitter checks that the splitter cuts any input, read in any steps,
// into the same objects and the same final error as the reference.
func FuzzSplitter(f *testing.F) {
	for _, b := range specBodies {
		f.Add([]byte(b), uint16(1024), uint8(16), uint8(7), false, false)
		f.Add([]byte(b), uint16(20), uint8(1), uint8(255), true, true)
	}
	f.Add([]byte(`{"a":"}\"{"} {"b":[{}]} x`), uint16(12), uint8(3), uint8(2), false, true)
	f.Fuzz(func(t *testing.T, body []byte, max uint16, chunk, step uint8, broken, copyOut bool) {
		end := io.EOF
		if broken {
			end = errBroken
		}
		ref := &refSplitter{br: bufio.NewReaderSize(&dribble{body, int(step) + 1, end}, 16), max: int64(max)}
		sp := newSplitter(&dribble{body, int(step) + 1, end}, int(chunk)+1, int64(max), copyOut)
		var got [][]byte
		for i := 0; ; i++ {
			want, werr := ref.next()
			obj, err := sp.next()
			if !bytes.Equal(obj, want) || fmt.Sprint(err) != fmt.Sprint(werr) || reflect.TypeOf(err) != reflect.TypeOf(werr) {
				t.Fatalf("object %d of %q: got %q %v, want %q %v", i, body, obj, err, want, werr)
			}
			if err != nil {
				break
			}
			if cap(obj) != len(obj) {
				t.Fatalf("object %q has room after it", obj)
			}
			got = append(got, obj)
		}
		// Objects handed out are never written again.
		for i, obj := range got {
			ref := &refSplitter{br: bufio.NewReader(bytes.NewReader(body)), max: int64(max)}
			var want []byte
			for range i + 1 {
				want, _ = ref.next()
			}
			if !bytes.Equal(obj, want) {
				t.Fatalf("object %d changed to %q, want %q", i, obj, want)
			}
		}
	})
}

// describe prints a jsonRecord with every pointer and nil slice visible.
func describe(jr *jsonRecord) string {
	var b strings.Builder
	raw := func(name string, r json.RawMessage) {
		if r == nil {
			fmt.Fprintf(&b, "%s=nil ", name)
		} else {
			fmt.Fprintf(&b, "%s=%q ", name, r)
		}
	}
	str := func(name string, s *string) {
		if s == nil {
			fmt.Fprintf(&b, "%s=nil ", name)
		} else {
			fmt.Fprintf(&b, "%s=%q ", name, *s)
		}
	}
	raw("id", jr.ID)
	if jr.PartitionID == nil {
		b.WriteString("partition=nil ")
	} else {
		fmt.Fprintf(&b, "partition=%d ", *jr.PartitionID)
	}
	if jr.Headers == nil {
		b.WriteString("headers=nil ")
	} else {
		fmt.Fprintf(&b, "headers[%d] ", len(jr.Headers))
	}
	for _, h := range jr.Headers {
		str("name", h.Name)
		raw("value", h.Value)
	}
	for _, d := range []struct {
		name string
		jd   *jsonData
	}{{"key", jr.Key}, {"value", jr.Value}} {
		if d.jd == nil {
			fmt.Fprintf(&b, "%s=nil ", d.name)
			continue
		}
		fmt.Fprintf(&b, "%s{", d.name)
		str("type", d.jd.Type)
		raw("data", d.jd.Data)
		raw("subject", d.jd.Subject)
		raw("subject_name_strategy", d.jd.SubjectNameStrategy)
		raw("schema_id", d.jd.SchemaID)
		raw("schema_version", d.jd.SchemaVersion)
		raw("schema", d.jd.Schema)
		b.WriteString("} ")
	}
	str("timestamp", jr.Timestamp)
	return b.String()
}

// describeFast describes fr as describe describes the jsonRecord
// decodeRecordWith makes of it.
func describeFast(fr *fastRec) string {
	jr := jsonRecord{ID: fr.id}
	if fr.hasPartition {
		jr.PartitionID = &fr.partition
	}
	if fr.hasKey {
		jr.Key = &fr.key
	}
	if fr.hasValue {
		jr.Value = &fr.value
	}
	if fr.hasTimestamp {
		ts := string(fr.timestamp)
		jr.Timestamp = &ts
	}
	if fr.hasHeaders {
		jr.Headers = []jsonHeader{}
		for _, fh := range fr.headers() {
			h := jsonHeader{Value: fh.value}
			if fh.name != nil {
				name := string(fh.name)
				h.Name = &name
			}
			jr.Headers = append(jr.Headers, h)
		}
	}
	return describe(&jr)
}

// fastSeeds are records in the shapes the fast path takes, and next to them.
var fastSeeds = []string{
	`{}`, ` {} `, `{"id":"a"}`, `{"id":null,"value":{"data":"AA=="}}`,
	`{"value":{"type":"STRING","data":"a \"b\" \u00e9 \ud83d\ude00"},"key":{"type":"JSON","data":[1, {"x" : null}]}}`,
	`{"value":{"type":"BINARY","data":"AAE="},"headers":[{"name":"a","value":"AA=="},{"name":"b\n","value":null},{},{"value":"AA"},{"name":"c","value":"!"}]}`,
	`{"headers":[{"name":"1"},{"name":"2"},{"name":"3"},{"name":"4"},{"name":"5"},{"name":"6"}]}`,
	`{"headers":[null]}`, `{"headers":[]}`, `{"headers":null}`, `{"headers":{}}`,
	`{"partition_id":-0,"timestamp":"2021-02-05T19:14:42.233+01:00"}`, `{"partition_id":2147483648}`, `{"partition_id":1.0}`, `{"partition_id":null}`,
	`{"timestamp":"2021-02-05T19:14:42Z\u0000"}`, `{"timestamp":1}`, `{"timestamp":null}`,
	`{"value":{"type":null,"data":null,"schema_id":null,"schema":null,"subject":null,"subject_name_strategy":null,"schema_version":null}}`,
	`{"value":{"type":"AVRO","schema_id":1}}`, `{"value":{"type":"json"}}`, `{"value":{"Type":"JSON"}}`, `{"Value":{}}`,
	`{"value":{"data":1},"value":{"type":"JSON"}}`, `{"key":null,"key":{"data":"AA=="}}`,
	`{"value":{"data":"\x"}}`, `{"value":{"data":01}}`, `{"value":{"data":"a"},}`, `{"value":{"data":"a"}}}`, `{"value"`,
	"{\"value\":{\"type\":\"STRING\",\"data\":\"\xff\"}}", "{\"value\":{\"type\":\"STRING\",\"data\":\"\xff\\n\"}}",
	`{"key":{"type":"STRING","data":"k"},"value":{"type":"JSON","data":{"a":"` + strings.Repeat("v", 80) + `","n":[1,2.5,true,null]}},"timestamp":"2021-02-05T19:14:42.233Z"}`,
}

// FuzzFastRecord checks that fastRecord, when it takes a record, parses it
// as encoding/json does, and that decoding with and without the fast path
// gives the same record or the same error, in both endpoints.
func FuzzFastRecord(f *testing.F) {
	for _, s := range append(append([]string(nil), specBodies...), fastSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fr fastRec
		if fastRecord(raw, &fr) {
			want, _, err := slowRecord(raw)
			if err != nil {
				t.Fatalf("fast path took %q, encoding/json: %v", raw, err)
			}
			if got, want := describeFast(&fr), describe(want); got != want {
				t.Fatalf("%q:\nfast %s\nslow %s", raw, got, want)
			}
		}
		for _, batch := range []bool{false, true} {
			got := decodeRecordWith(raw, "t", batch, true)
			want := decodeRecordWith(raw, "t", batch, false)
			if !got.msg.Timestamp.Equal(want.msg.Timestamp) {
				t.Fatalf("%q: timestamp %v, want %v", raw, got.msg.Timestamp, want.msg.Timestamp)
			}
			got.msg.Timestamp = want.msg.Timestamp
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q (batch %v):\nfast %+v\nslow %+v", raw, batch, got, want)
			}
		}
	})
}

// The fast path takes the shapes clients send, not only the benchmark's.
func TestFastRecordTakes(t *testing.T) {
	for _, s := range []string{specBodies[0], specBodies[1], specBodies[3], fastSeeds[4], fastSeeds[5], fastSeeds[6], fastSeeds[len(fastSeeds)-1]} {
		var fr fastRec
		if !fastRecord([]byte(s), &fr) {
			t.Errorf("fast path refused %s", s)
		}
	}
}

// FuzzAppendTimestamp checks the report timestamp cache against formatting
// every time.
func FuzzAppendTimestamp(f *testing.F) {
	f.Add(int64(1612552482233000000), int64(1612552482233999999))
	f.Add(int64(1612552482233999999), int64(1612552482234000000))
	f.Add(int64(-1), int64(0))
	f.Add(int64(-1000001), int64(-999999))
	st := newState("c", "t")
	f.Fuzz(func(t *testing.T, a, b int64) {
		for _, ts := range []time.Time{time.Unix(0, a), time.Unix(0, b), time.Unix(a, b), time.Unix(0, a).In(time.FixedZone("x", 3600))} {
			if got, want := st.appendTimestamp(nil, ts), ts.UTC().AppendFormat(nil, tsLayout); !bytes.Equal(got, want) {
				t.Fatalf("%v: %s, want %s", ts, got, want)
			}
		}
	})
}
