package caddymodule

import (
	"io"
	"net/http"

	"github.com/caddy-kafka/caddy-kafka/dialects"
)

// prepareBody applies the handler's body policy, the same for every
// operation that reads a body, before the dialect reads it: max_body (but
// for a stream, whose dialect bounds each record), a signature checked
// over the bytes as received (a Verifier dialect's produce), then the
// Content-Encoding undone. release frees the decoders once the request is
// answered.
func (h *Handler) prepareBody(w http.ResponseWriter, r *http.Request, op dialects.Op) (release func(), err error) {
	if op != dialects.OpStream {
		h.boundBody(w, r)
	}
	if h.verifier != nil && op == dialects.OpProduce {
		if err := h.verifyBody(r); err != nil {
			return nothing, err
		}
	}
	return h.decodeBody(w, r, op == dialects.OpStream)
}

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
