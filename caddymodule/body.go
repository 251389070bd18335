package caddymodule

import (
	"io"
	"net/http"
)

// boundBody bounds the body of a request whose operation reads it by the
// route's max_body: every operation's but a stream's, whose dialect bounds
// each record by max_body instead.
func (h *Handler) boundBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > h.MaxBody {
		// Refused without reading a byte: the declared length is over.
		r.Body = overLimit{r.Body, h.MaxBody}
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.MaxBody)
}

// overLimit is the body of a request whose declared length is over max_body:
// its first read fails as http.MaxBytesReader's would once past the limit.
type overLimit struct {
	io.ReadCloser
	limit int64
}

func (b overLimit) Read([]byte) (int, error) { return 0, &http.MaxBytesError{Limit: b.limit} }
