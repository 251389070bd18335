package dialects

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Error is a failure with a message that is safe to show a client.
type Error struct {
	// Class decides the status in every dialect's mapping.
	Class producer.Class
	// Code is a dialect-specific code (Confluent's 42206, say) that
	// overrides the dialect's mapping of Class; 0 for none.
	Code int
	// Status is an HTTP status that overrides the dialect's mapping of
	// Class; 0 for none.
	Status int
	// Message is shown to the client.
	Message string
	// Allow is the Allow header of a 405 answer: the methods the path
	// takes.
	Allow string
	// Err is the cause, for logs; it is never shown to the client.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of class c with a formatted client message.
func Errorf(c producer.Class, format string, args ...any) *Error {
	return &Error{Class: c, Message: fmt.Sprintf(format, args...)}
}

// Errors the handler raises, for dialects that need to tell them apart.
var (
	ErrTopicNotAllowed = &Error{Class: producer.ClassNotAuthorized, Message: "topic not allowed"}
	ErrTooManyRecords  = &Error{Class: producer.ClassTooLarge, Message: "too many records in one request"}
	ErrBodyTooLarge    = &Error{Class: producer.ClassTooLarge, Message: "request body too large"}
)

// ErrorOf returns err as an *Error: itself if it is one, else one whose class
// is producer.Classify(err) and whose message says what went wrong without
// the internals (addresses, stack) that err's own text may carry.
func ErrorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &Error{Class: producer.ClassTooLarge, Message: ErrBodyTooLarge.Message, Err: err}
	}
	c := producer.Classify(err)
	msg := classMessages[c]
	var ke *kerr.Error
	if errors.As(err, &ke) && c != producer.ClassUnknownTopic {
		msg = ke.Description
	}
	return &Error{Class: c, Message: msg, Err: err}
}

var classMessages = map[producer.Class]string{
	producer.ClassOK:               "ok",
	producer.ClassBadRequest:       "bad request",
	producer.ClassUnknownTopic:     "topic not found",
	producer.ClassUnknownPartition: "partition not found",
	producer.ClassTooLarge:         "record too large",
	producer.ClassNotAuthorized:    "not authorized to produce to this topic",
	producer.ClassAuthFailed:       "the gateway failed to authenticate to kafka",
	producer.ClassTimeout:          "timed out waiting for kafka to acknowledge; the record may still be written",
	producer.ClassOverloaded:       "the gateway is overloaded; retry later",
	producer.ClassUnavailable:      "kafka is unavailable",
	producer.ClassKafka:            "kafka error",
	producer.ClassInternal:         "internal error",
}

// WriteJSON writes v as the JSON body of a response with the given status.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// WriteBody writes b, already encoded, as the body of a response with the
// given status and content type.
func WriteBody(w http.ResponseWriter, status int, contentType string, b []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}
