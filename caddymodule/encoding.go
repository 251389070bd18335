package caddymodule

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/internal/contentcoding"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// decodeBody undoes the request's Content-Encoding (gzip, deflate, zstd, as
// shippers send them) in front of whatever reads the body, so that no
// dialect sees compressed bytes. The compressed bytes are already bounded
// by max_body (boundBody); the decoded ones are too, but for a stream,
// whose dialect bounds each record. A coding it does not undo is a 415
// with Accept-Encoding (RFC 7694); a body corrupt in its coding fails its
// reads with a 400, before anything is produced.
//
// The returned func releases the decoders once nothing reads the body any
// more: the handler calls it when the request is answered.
func (h *Handler) decodeBody(w http.ResponseWriter, r *http.Request, stream bool) (func(), error) {
	values := r.Header.Values("Content-Encoding")
	if len(values) == 0 {
		return nothing, nil
	}
	codings, err := contentcoding.Codings(values)
	if err != nil {
		w.Header().Set("Accept-Encoding", contentcoding.Supported)
		return nothing, &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnsupportedMediaType,
			Code: http.StatusUnsupportedMediaType, Message: err.Error(), Err: err}
	}
	if len(codings) == 0 {
		return nothing, nil
	}
	limit := h.MaxBody
	if stream {
		limit = 0
	}
	body, err := contentcoding.NewReader(r.Body, codings, limit)
	if err != nil {
		return nothing, decodeError(err, codings)
	}
	r.Body = decodedBody{ReadCloser: body, codings: codings}
	// What the dialect reads is the decoded body: its length is unknown.
	r.ContentLength = -1
	r.Header.Del("Content-Encoding")
	return func() { _ = body.Close() }, nil
}

func nothing() {}

// decodedBody tells a body corrupt in its coding as a 400 in every
// dialect's format; the body's own errors (max_body) pass.
type decodedBody struct {
	io.ReadCloser
	codings []string
}

func (b decodedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = decodeError(err, b.codings)
	}
	return n, err
}

func decodeError(err error, codings []string) error {
	if !errors.Is(err, contentcoding.ErrCorrupt) {
		return err
	}
	return &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusBadRequest, Err: err,
		Message: fmt.Sprintf("the body is not valid %s (Content-Encoding): %s; nothing was written",
			strings.Join(codings, ", then "), strings.TrimPrefix(err.Error(), contentcoding.ErrCorrupt.Error()+": "))}
}
