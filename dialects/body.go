package dialects

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

// maxPrealloc caps the buffer ReadBody sizes from Content-Length: that is
// the client's word, and a request declaring 2 GiB must not get 2 GiB
// allocated before max_body refuses it.
const maxPrealloc = 1 << 20

// ReadBody reads the whole request body, already bounded by the handler's
// max_body, into one buffer sized by Content-Length when it is known (up to
// 1 MiB; larger bodies grow it as they arrive). Going over the limit is a
// ClassTooLarge *Error.
func ReadBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, maxPrealloc)))
	}
	if _, err := buf.ReadFrom(r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, BodyTooLarge(mbe.Limit)
		}
		return nil, &Error{Class: producer.ClassBadRequest, Message: "reading request body failed", Err: err}
	}
	return buf.Bytes(), nil
}
