// Package fuzzseed serves the dialects' fuzz targets: it reads the example
// requests of the specs, kept as files under a package's testdata/spec, to
// seed them, and builds requests from fuzzed parts the way the handler hands
// them to a dialect.
//
// A spec file is one HTTP request as it goes on the wire, without
// Content-Length:
//
//	POST /topics/test/partitions/1
//	Content-Type: application/vnd.kafka.binary.v1+json
//
//	{"records":[{"key":"a2V5","value":"dmFsdWU="}]}
//
// The first line is the method and the request target; header lines follow
// up to the first empty line; the body is every byte after it, as is (a file
// that must not end with a newline does not).
package fuzzseed

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Request is one example request.
type Request struct {
	// Name is the file's name.
	Name   string
	Method string
	// Target is the request target: path and query, escaped.
	Target string
	Header http.Header
	Body   []byte
}

// ContentType is the request's Content-Type, or "".
func (r Request) ContentType() string { return r.Header.Get("Content-Type") }

// Load reads every file of dir, in name order. It fails tb on a file that
// is not a request, or on a dir without any.
func Load(tb testing.TB, dir string) []Request {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no spec requests in %s (%v)", dir, err)
	}
	sort.Strings(names)
	reqs := make([]Request, 0, len(names))
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		r, err := parse(b)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		r.Name = filepath.Base(name)
		reqs = append(reqs, r)
	}
	return reqs
}

func parse(b []byte) (Request, error) {
	var r Request
	head, body, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok {
		head = bytes.TrimSuffix(b, []byte("\n"))
	}
	r.Body = body
	sc := bufio.NewScanner(bytes.NewReader(head))
	if !sc.Scan() {
		return r, fmt.Errorf("no request line")
	}
	var found bool
	r.Method, r.Target, found = strings.Cut(sc.Text(), " ")
	if !found || r.Method == "" || !strings.HasPrefix(r.Target, "/") {
		return r, fmt.Errorf("request line %q: want METHOD /target", sc.Text())
	}
	r.Header = http.Header{}
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			return r, fmt.Errorf("header line %q", sc.Text())
		}
		r.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return r, nil
}

// NewRequest builds a request from fuzzed parts as the handler hands it to
// a dialect: with Caddy's replacer in its context (the HTTP placeholders
// and {http.request.uuid} work) and the body bounded by maxBody, the
// handler's max_body, through http.MaxBytesReader on w. With chunked, the
// body has no declared length. ok is false for a method or target that no
// HTTP server would let through: fuzz targets skip those.
func NewRequest(w http.ResponseWriter, method, target string, header http.Header, body []byte, chunked bool, maxBody int64) (r *http.Request, ok bool) {
	if method == "" || strings.ContainsAny(method, " \t\r\n") || !validToken(method) {
		return nil, false
	}
	if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \t\r\n#") || strings.ContainsRune(target, 0) {
		return nil, false
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, false
	}
	r = httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
	r.Method = method
	r.URL = u
	r.RequestURI = target
	r.ContentLength = int64(len(body))
	if chunked {
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
	}
	for name, values := range header {
		for _, v := range values {
			r.Header.Add(name, v)
		}
	}
	// What Caddy's server puts in every request's context.
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{})
	ctx = context.WithValue(ctx, caddyhttp.ExtraLogFieldsCtxKey, new(caddyhttp.ExtraLogFields))
	r = r.WithContext(ctx)
	caddyhttp.NewTestReplacer(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	return r, true
}

// validToken reports whether s is an HTTP token (RFC 9110), as a method
// must be.
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
