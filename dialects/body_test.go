package dialects

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

// TestReadBody reads bodies whatever Content-Length claims (exact, short,
// long, unknown) and however the reader hands them out, as io.ReadAll does,
// and refuses those over MaxBytesReader's limit as too large.
func TestReadBody(t *testing.T) {
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	for _, n := range []int{0, 1, 100, 511, 512, 513, 4096, 1<<20 + 3} {
		body := bytes.Repeat([]byte("abcdefg"), n/7+1)[:n]
		for _, declared := range []int64{int64(n), -1, int64(n / 2), int64(n) + 10} {
			for name, wrap := range readers {
				r := httptest.NewRequest(http.MethodPost, "/", nil)
				r.Body = io.NopCloser(wrap(bytes.NewReader(body)))
				r.ContentLength = declared
				got, err := ReadBody(r)
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("%d bytes, Content-Length %d, %s reader: %d bytes back, %v", n, declared, name, len(got), err)
				}
			}
		}
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 101)))
	r.Body = http.MaxBytesReader(w, r.Body, 100)
	_, err := ReadBody(r)
	var e *Error
	if !errors.As(err, &e) || e.Class != producer.ClassTooLarge {
		t.Fatalf("over the limit: %v", err)
	}
}

func BenchmarkReadBody(b *testing.B) {
	body := bytes.Repeat([]byte("v"), 100)
	b.ReportAllocs()
	for b.Loop() {
		r := &http.Request{Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
		if _, err := ReadBody(r); err != nil {
			b.Fatal(err)
		}
	}
}
