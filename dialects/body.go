package dialects

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

// ReadBody reads the whole request body, already bounded by the handler's
// max_body, into one buffer sized by Content-Length when it is known. Going
// over the limit is a ClassTooLarge *Error.
func ReadBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Error{Class: producer.ClassTooLarge, Message: fmt.Sprintf("request body over %d bytes", mbe.Limit), Err: err}
		}
		return nil, &Error{Class: producer.ClassBadRequest, Message: "reading request body failed", Err: err}
	}
	return buf.Bytes(), nil
}
