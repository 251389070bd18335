package jsonfast

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var seeds = []string{
	`{"a":1}`, `[1,2.5e-3,-0,true,false,null,"x"]`, ` {"a" : [ {} , [] ] } `, `"\u00e9\n\"\\\/\b\f\r\t"`,
	`"\ud83d\ude00"`, `"\ud83d"`, `"\ude00\ud83d"`, `"\ud83dx"`, "\"\xff\xfe\"", `"<&>` + "\u2028\u2029\x7f\"",
	`01`, `1.`, `-`, `1e`, `1e+`, `.5`, `tru`, `nul`, `"\x"`, `"\u12"`, `"a` + "\n" + `"`, `{"a"}`, `{"a":}`, `[1,]`, `{,}`,
	`123456789012345678901`, `-9223372036854775808`, `9223372036854775807`, `2147483648`, `-2147483649`,
	strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
	strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
}

// valid is Value over a whole document, with whitespace around it.
func valid(b []byte) bool {
	i := Value(b, SkipSpace(b, 0))
	return i >= 0 && SkipSpace(b, i) == len(b)
}

func depth(b []byte) int {
	d, max := 0, 0
	for _, c := range b {
		switch c {
		case '[', '{':
			d++
			if d > max {
				max = d
			}
		case ']', '}':
			d--
		}
	}
	return max
}

// FuzzScan checks Value, Number, Int and AppendCompact against
// encoding/json: Value accepts exactly what json.Valid accepts, except
// nesting deeper than MaxDepth, which it refuses.
func FuzzScan(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := valid(b), json.Valid(b)
		if got && !want {
			t.Fatalf("Value accepts %q, encoding/json does not", b)
		}
		if want && !got && depth(b) <= MaxDepth {
			t.Fatalf("Value refuses %q, encoding/json accepts it", b)
		}
		if !got {
			return
		}
		v := bytes.TrimFunc(b, func(r rune) bool { return r < utf8.RuneSelf && IsSpace(byte(r)) })
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			t.Fatal(err)
		}
		if c := AppendCompact(nil, v); !bytes.Equal(c, buf.Bytes()) {
			t.Fatalf("AppendCompact(%q) = %q, json.Compact %q", v, c, buf.Bytes())
		}
		if v[0] == '-' || ('0' <= v[0] && v[0] <= '9') {
			if Number(v, 0) != len(v) {
				t.Fatalf("Number(%q) = %d", v, Number(v, 0))
			}
			for _, bits := range []int{32, 64} {
				n, ok := Int(v, bits)
				want, err := strconv.ParseInt(string(v), 10, 64)
				wantOK := err == nil && want == int64(int64(want)<<(64-bits)>>(64-bits))
				if ok != wantOK || (ok && n != want) {
					t.Fatalf("Int(%q, %d) = %d %v, want %d %v", v, bits, n, ok, want, wantOK)
				}
			}
		}
	})
}

// FuzzStrings checks Unquote and AppendUnquote against json.Unmarshal into
// a string, and AppendString against json.Marshal.
func FuzzStrings(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if q, _ := json.Marshal(string(b)); !bytes.Equal(AppendString(nil, string(b)), q) {
			t.Fatalf("AppendString(%q) = %q, json.Marshal %q", b, AppendString(nil, string(b)), q)
		}
		if !bytes.Equal(AppendString([]byte("x"), string(b))[1:], AppendString(nil, string(b))) {
			t.Fatal("AppendString depends on dst")
		}
		got, ok := Unquote(b)
		var want string
		wantOK := len(b) > 0 && b[0] == '"' && b[len(b)-1] == '"' && json.Unmarshal(b, &want) == nil
		if ok != wantOK || string(got) != want {
			t.Fatalf("Unquote(%q) = %q %v, json.Unmarshal %q %v", b, got, ok, want, wantOK)
		}
		app, ok2 := AppendUnquote([]byte("x"), b)
		if ok2 != ok || string(app[1:]) != want || app[0] != 'x' {
			t.Fatalf("AppendUnquote(%q) = %q %v", b, app, ok2)
		}
		if ok && len(got) > 0 && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) && &got[0] != &b[1] {
			t.Fatalf("Unquote(%q) copied a string without escapes", b)
		}
		if sv, end := StringValue(append(b[:len(b):len(b)], ','), 0); (end == len(b)) != ok || (ok && !bytes.Equal(sv, got)) {
			t.Fatalf("StringValue(%q) = %q %d", b, sv, end)
		}
		if end, esc := String(b, 0); (end == len(b)) != ok || (ok && esc != (bytes.IndexByte(b, '\\') >= 0)) {
			t.Fatalf("String(%q) = %d %v", b, end, esc)
		}
	})
}

func TestAppendStringPlain(t *testing.T) {
	if allocs := testing.AllocsPerRun(100, func() {
		var buf [64]byte
		_ = AppendString(buf[:0], "topic-1")
	}); allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}
