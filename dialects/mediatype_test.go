package dialects

import (
	"mime"
	"testing"
)

// FuzzParseMediaType checks the fast path against mime.ParseMediaType: where
// it applies, it gives the library's answer (the same type, no parameters,
// no error); elsewhere it is the library.
func FuzzParseMediaType(f *testing.F) {
	for _, s := range []string{"application/json", "application/vnd.kafka.binary.v2+json", "text/plain",
		"application/json; charset=utf-8", "Application/JSON", "a/", "/b", "a/b/c", "", " text/plain", "x/y_z-1.2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mt, params, err := ParseMediaType(s)
		wmt, wparams, werr := mime.ParseMediaType(s)
		if mt != wmt || (err == nil) != (werr == nil) || len(params) != len(wparams) {
			t.Fatalf("%q: %q %v %v, mime says %q %v %v", s, mt, params, err, wmt, wparams, werr)
		}
	})
}

func BenchmarkParseMediaType(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseMediaType("application/vnd.kafka.json.v2+json"); err != nil {
			b.Fatal(err)
		}
	}
}
