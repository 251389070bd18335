// Package contentcoding undoes the Content-Encoding of a request body, as
// log shippers and OTLP exporters send them: gzip (and its alias x-gzip),
// deflate (the zlib format, RFC 9110 8.4.1.2) and zstd, several codings in
// the reverse order of the header (RFC 9110 8.4), identity being no coding.
// It has no Caddy imports, so that it can be fuzzed alone.
//
// The decoders are klauspost/compress's. The caller bounds the compressed
// bytes (the handler's max_body reader sits under the decoders) and NewReader
// bounds the decoded ones, so a small body that inflates without end (a
// "bomb") fails at the limit rather than filling memory. zstd's decoder is
// further held to a window of 8 MiB (zstd's recommended maximum for
// streaming) and single-threaded, so a hostile frame header cannot make it
// allocate more.
package contentcoding

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// Supported is the Accept-Encoding of a 415 (RFC 7694): the codings
// NewReader undoes.
const Supported = "gzip, deflate, zstd"

// ErrUnsupported is the error of a coding NewReader does not undo.
var ErrUnsupported = errors.New("unsupported Content-Encoding")

// ErrCorrupt is the error of a body that is not valid in its coding:
// corrupt, truncated, or followed by bytes that are not.
var ErrCorrupt = errors.New("corrupt compressed body")

// zstdWindow is the largest zstd window accepted: larger frames are refused
// rather than allocated for.
const zstdWindow = 8 << 20

// Codings returns the codings of a request's Content-Encoding header
// values, in the order they were applied, lowercased, identity left out.
// It returns ErrUnsupported, naming it, for a coding it does not undo.
func Codings(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		for c := range strings.SplitSeq(v, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			switch c {
			case "", "identity":
			case "gzip", "x-gzip", "deflate", "zstd":
				out = append(out, c)
			default:
				return nil, fmt.Errorf("%w %q: send %s, or no Content-Encoding", ErrUnsupported, c, Supported)
			}
		}
	}
	return out, nil
}

// NewReader returns a reader of body with codings (as Codings returns them)
// undone, the last applied first. It reads at most maxDecoded bytes: past
// them, its Read fails with an *http.MaxBytesError (0: no bound, for a
// stream whose reader bounds each record). Read errors of the codings wrap
// ErrCorrupt; those of body pass as they are.
func NewReader(body io.Reader, codings []string, maxDecoded int64) (io.ReadCloser, error) {
	r := &reader{body: body}
	var cur io.Reader = body
	for i := len(codings) - 1; i >= 0; i-- {
		var (
			d   io.Reader
			err error
		)
		src := newSource(cur)
		switch codings[i] {
		case "gzip", "x-gzip":
			// Several gzip members are one body, as gunzip reads them;
			// anything else after a member is corrupt.
			z, _ := gzipPool.Get().(*gzip.Reader)
			if z == nil {
				z, err = gzip.NewReader(src)
			} else {
				err = z.Reset(src)
			}
			if err == nil {
				r.closers = append(r.closers, closerFunc(func() error { gzipPool.Put(z); return nil }))
				d = z
			}
		case "deflate":
			var z io.ReadCloser
			if z, err = zlib.NewReader(src); err == nil {
				d = &trailing{r: z, src: src}
			}
		case "zstd":
			z, _ := zstdPool.Get().(*zstd.Decoder)
			if z == nil {
				z, err = zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
					zstd.WithDecoderMaxWindow(zstdWindow), zstd.WithDecoderMaxMemory(zstdWindow*4))
			} else {
				err = z.Reset(src)
			}
			if err == nil {
				r.closers = append(r.closers, closerFunc(func() error {
					// Let go of the body before the decoder waits in the pool.
					_ = z.Reset(nil)
					zstdPool.Put(z)
					return nil
				}))
				d = z
			}
		default:
			return nil, fmt.Errorf("%w %q", ErrUnsupported, codings[i])
		}
		if err != nil {
			if src.err != nil {
				return nil, src.err
			}
			return nil, corrupt(codings[i], err)
		}
		cur = &decoded{r: d, src: src, coding: codings[i]}
	}
	r.r = cur
	if maxDecoded > 0 {
		r.r = &limited{r: cur, left: maxDecoded, max: maxDecoded}
	}
	return r, nil
}

// Decoders are pooled: a zstd decoder costs most of a MiB to make, a gzip
// one tens of KiB (BenchmarkHandlerBulkEncoded).
var (
	gzipPool sync.Pool
	zstdPool sync.Pool
)

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// reader is NewReader's result.
type reader struct {
	r       io.Reader
	body    io.Reader
	closers []io.Closer
}

func (r *reader) Read(p []byte) (int, error) { return r.r.Read(p) }

// Close releases the decoders and closes the body, if it can be.
func (r *reader) Close() error {
	for _, c := range r.closers {
		_ = c.Close()
	}
	if c, ok := r.body.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// source is what a decoder reads: the body, or the coding under it,
// through one buffer that serves both Read and ReadByte (flate reads bytes
// one at a time through a ByteReader, without reading ahead of its stream,
// so that zlib's end is where its stream ends). It keeps the first error of
// what it reads that is not EOF, so that a failure of the body (max_body, a
// client gone) is told as such and not as the corruption a decoder would
// report instead.
type source struct {
	br  *bufio.Reader
	err error
}

func newSource(r io.Reader) *source {
	s := &source{}
	s.br = bufio.NewReaderSize(recorder{r, &s.err}, 4096)
	return s
}

func (s *source) Read(p []byte) (int, error) { return s.br.Read(p) }
func (s *source) ReadByte() (byte, error)    { return s.br.ReadByte() }

type recorder struct {
	r   io.Reader
	err *error
}

func (rec recorder) Read(p []byte) (int, error) {
	n, err := rec.r.Read(p)
	if err != nil && err != io.EOF && *rec.err == nil {
		*rec.err = err
	}
	return n, err
}

// decoded reads one coding's output, telling its errors as ErrCorrupt
// unless what it reads failed.
type decoded struct {
	r      io.Reader
	src    *source
	coding string
}

func (d *decoded) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err == nil || err == io.EOF {
		return n, err
	}
	if d.src.err != nil {
		return n, d.src.err
	}
	return n, corrupt(d.coding, err)
}

// trailing fails a zlib stream followed by more bytes: a body is one
// stream, and what follows it would be silently dropped.
type trailing struct {
	r   io.Reader
	src *source
}

func (t *trailing) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != io.EOF {
		return n, err
	}
	if _, err := t.src.ReadByte(); err == nil {
		return n, fmt.Errorf("%w: deflate: data after the end of the stream", ErrCorrupt)
	} else if err != io.EOF {
		return n, err
	}
	return n, io.EOF
}

// limited is io.LimitReader that fails, rather than ends, past its limit.
type limited struct {
	r         io.Reader
	left, max int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a body of exactly max bytes from a larger one.
		var b [1]byte
		if n, err := l.r.Read(b[:]); n == 0 {
			return 0, err
		}
		return 0, &http.MaxBytesError{Limit: l.max}
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

func corrupt(coding string, err error) error {
	msg := err.Error()
	if errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "truncated"
	}
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, coding, strings.TrimPrefix(msg, "zstd: "))
}
