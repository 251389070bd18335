package dialects

import (
	"errors"
	"io"
	"net/http"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

// maxPrealloc caps the buffer ReadBody sizes from Content-Length: that is
// the client's word, and a request declaring 2 GiB must not get 2 GiB
// allocated before max_body refuses it.
const maxPrealloc = 1 << 20

// ReadBody reads the whole request body, already bounded by the handler's
// max_body, into one buffer sized by Content-Length when it is known (up to
// 1 MiB; larger bodies grow it as they arrive), so that a body of known
// length costs one allocation of its size. Going over the limit is a
// ClassTooLarge *Error.
func ReadBody(r *http.Request) ([]byte, error) {
	size := 512
	if r.ContentLength > 0 {
		// One byte more than declared: the read that finds the end needs
		// room, else the buffer would grow for nothing.
		size = int(min(r.ContentLength, maxPrealloc)) + 1
	}
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, BodyError(err)
		}
	}
}

// BodyError is the error of a failed read of a request body: over
// max_body, an *Error the handler's reader gave (a body corrupt in its
// Content-Encoding), else a generic 400.
func BodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return BodyTooLarge(mbe.Limit)
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Class: producer.ClassBadRequest, Message: "reading request body failed", Err: err}
}
