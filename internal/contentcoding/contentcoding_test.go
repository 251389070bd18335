package contentcoding

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// encode applies codings in order, as a sender does.
func encode(t testing.TB, data []byte, codings ...string) []byte {
	t.Helper()
	for _, c := range codings {
		var buf bytes.Buffer
		var w io.WriteCloser
		switch c {
		case "gzip", "x-gzip":
			w = gzip.NewWriter(&buf)
		case "deflate":
			w = zlib.NewWriter(&buf)
		case "zstd":
			z, err := zstd.NewWriter(&buf)
			if err != nil {
				t.Fatal(err)
			}
			w = z
		default:
			t.Fatalf("coding %q", c)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		data = buf.Bytes()
	}
	return data
}

func decode(header []string, body []byte, max int64) ([]byte, error) {
	codings, err := Codings(header)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(bytes.NewReader(body), codings, max)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

var ndjson = []byte(strings.Repeat(`{"level":"info","msg":"hello","n":12345}`+"\n", 200))

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		header  []string
		applied []string
	}{
		{nil, nil},
		{[]string{"identity"}, nil},
		{[]string{"gzip"}, []string{"gzip"}},
		{[]string{"x-gzip"}, []string{"gzip"}},
		{[]string{"GZip"}, []string{"gzip"}},
		{[]string{"deflate"}, []string{"deflate"}},
		{[]string{"zstd"}, []string{"zstd"}},
		// Several codings, in the order applied (RFC 9110 8.4), in one
		// header or several.
		{[]string{"gzip, zstd"}, []string{"gzip", "zstd"}},
		{[]string{"deflate", "gzip"}, []string{"deflate", "gzip"}},
		{[]string{"identity, zstd"}, []string{"zstd"}},
	} {
		body := encode(t, ndjson, tc.applied...)
		got, err := decode(tc.header, body, 1<<20)
		if err != nil || !bytes.Equal(got, ndjson) {
			t.Errorf("%q: %d bytes, %v", tc.header, len(got), err)
		}
	}
}

func TestRefused(t *testing.T) {
	gz := encode(t, ndjson, "gzip")
	zl := encode(t, ndjson, "deflate")
	zs := encode(t, ndjson, "zstd")
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0xff
		return b
	}
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		want   error
	}{
		{"unknown coding", "br", gz, ErrUnsupported},
		{"compress", "compress", gz, ErrUnsupported},
		{"gzip truncated", "gzip", gz[:len(gz)/2], ErrCorrupt},
		{"gzip no trailer", "gzip", gz[:len(gz)-4], ErrCorrupt},
		{"gzip checksum", "gzip", flip(gz, len(gz)-6), ErrCorrupt},
		{"gzip trailing garbage", "gzip", append(bytes.Clone(gz), "garbage"...), ErrCorrupt},
		{"gzip not gzip", "gzip", ndjson, ErrCorrupt},
		{"gzip empty", "gzip", nil, ErrCorrupt},
		{"deflate truncated", "deflate", zl[:len(zl)/2], ErrCorrupt},
		{"deflate checksum", "deflate", flip(zl, len(zl)-1), ErrCorrupt},
		{"deflate trailing garbage", "deflate", append(bytes.Clone(zl), "x"...), ErrCorrupt},
		{"deflate raw, not zlib", "deflate", gz[10:], ErrCorrupt},
		{"zstd truncated", "zstd", zs[:len(zs)/2], ErrCorrupt},
		{"zstd trailing garbage", "zstd", append(bytes.Clone(zs), "garbage"...), ErrCorrupt},
		{"zstd not zstd", "zstd", ndjson, ErrCorrupt},
		{"stacked, outer corrupt", "gzip, zstd", flip(encode(t, ndjson, "gzip", "zstd"), 8), ErrCorrupt},
	} {
		_, err := decode([]string{tc.header}, tc.body, 1<<20)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
}

// A bomb: a few KiB that inflate to far more than the limit are refused
// at the limit, having decoded no more than it.
func TestBomb(t *testing.T) {
	zeros := make([]byte, 64<<20)
	for _, c := range []string{"gzip", "deflate", "zstd"} {
		body := encode(t, zeros, c)
		if len(body) > 1<<20 {
			t.Fatalf("%s: the bomb is %d bytes", c, len(body))
		}
		got, err := decode([]string{c}, body, 1<<20)
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) || mbe.Limit != 1<<20 || len(got) > 1<<20 {
			t.Errorf("%s: %d bytes, error %v, want a MaxBytesError at 1 MiB", c, len(got), err)
		}
	}
	// Exactly the limit is not over it.
	if got, err := decode([]string{"gzip"}, encode(t, zeros[:1<<20], "gzip"), 1<<20); err != nil || len(got) != 1<<20 {
		t.Errorf("a body of exactly the limit: %d bytes, %v", len(got), err)
	}
}

// The body's own failure (max_body on the compressed bytes, a client gone)
// is told as itself, not as corruption.
func TestBodyErrorsPass(t *testing.T) {
	for _, c := range [][]string{{"gzip"}, {"gzip", "zstd"}} {
		body := encode(t, ndjson, c...)
		limited := http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(body)), int64(len(body)/2))
		codings, _ := Codings(c)
		r, err := NewReader(limited, codings, 1<<20)
		if err == nil {
			_, err = io.ReadAll(r)
		}
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) || errors.Is(err, ErrCorrupt) {
			t.Errorf("%v: error %v, want the body's MaxBytesError", c, err)
		}
	}
}

// FuzzDecode feeds arbitrary bodies to every coding: no panic, never more
// than the limit, and any error is ErrCorrupt or the limit's.
func FuzzDecode(f *testing.F) {
	for _, c := range []string{"gzip", "deflate", "zstd"} {
		f.Add(c, encode(f, ndjson, c))
		f.Add(c, encode(f, make([]byte, 1<<20), c))
		b := encode(f, ndjson, c)
		f.Add(c, b[:len(b)/2])
	}
	f.Add("gzip, zstd", encode(f, ndjson, "gzip", "zstd"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		const max = 64 << 10
		got, err := decode([]string{header}, body, max)
		if len(got) > max {
			t.Fatalf("%d bytes decoded, over %d", len(got), max)
		}
		var mbe *http.MaxBytesError
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) && !errors.As(err, &mbe) {
			t.Fatalf("error %v is neither corrupt, unsupported nor the limit", err)
		}
	})
}
