package caddymodule

import (
	"bytes"
	"io"
	"net/http"

	"github.com/caddy-kafka/caddy-kafka/dialects"
)

// verifyBody reads the body as received, bounded by max_body, and has the
// dialect check its signature before anything else reads it; the same
// bytes are then the body (Content-Encoding still to undo).
func (h *Handler) verifyBody(r *http.Request) error {
	raw, err := dialects.ReadBody(r)
	if err != nil {
		return err
	}
	if err := h.verifier.VerifyBody(r, raw); err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	r.ContentLength = int64(len(raw))
	return nil
}
