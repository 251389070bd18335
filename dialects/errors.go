package dialects

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddy-kafka/caddy-kafka/producer"
	"github.com/caddy-kafka/caddy-kafka/producer/schema"
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
	// Hint is what the client can do about the error, when the gateway
	// knows (which limit a request is over, why a topic is missing); it is
	// already part of Message. Dialects that answer with fixed texts
	// (Confluent's, IBM's) add it to theirs with WithHint.
	Hint string
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

// Errors the handler raises, for dialects that need to tell them apart
// (errors.Is): the errors of TooManyRecords, BodyTooLarge and
// RecordOverMaxBody wrap them.
var (
	ErrTopicNotAllowed = &Error{Class: producer.ClassNotAuthorized, Message: "topic not allowed"}
	ErrTooManyRecords  = &Error{Class: producer.ClassTooLarge, Message: "too many records in one request"}
	ErrBodyTooLarge    = &Error{Class: producer.ClassTooLarge, Message: "request body too large"}
)

// Errors of a request's path and method, as its dialect's Match tells them
// (OpNotFound, OpMethodNotAllowed): the handler answers them, and a
// dialect with words of its own for them finds them with errors.Is.
var (
	ErrNotFound         = &Error{Class: producer.ClassBadRequest, Status: http.StatusNotFound, Code: http.StatusNotFound, Message: "not found"}
	ErrMethodNotAllowed = &Error{Class: producer.ClassBadRequest, Status: http.StatusMethodNotAllowed, Code: http.StatusMethodNotAllowed, Message: "method not allowed"}
)

// NotFound is the error of a path inside a dialect's URL space that it does
// not serve, r's.
func NotFound(r *http.Request) *Error {
	return &Error{Class: producer.ClassBadRequest, Status: http.StatusNotFound, Code: http.StatusNotFound,
		Message: fmt.Sprintf("not found: this route has no endpoint %s %s; see the dialect's documentation for its paths", r.Method, r.URL.Path),
		Err:     ErrNotFound}
}

// MethodNotAllowed is the error of a method a path does not allow; allow
// lists those it does ("POST, PUT").
func MethodNotAllowed(allow string) *Error {
	return &Error{Class: producer.ClassBadRequest, Status: http.StatusMethodNotAllowed, Code: http.StatusMethodNotAllowed,
		Message: "method not allowed: use " + strings.ReplaceAll(allow, ", ", " or "), Allow: allow, Err: ErrMethodNotAllowed}
}

// TopicNotAllowed is the error of a topic the route's allow-list refuses:
// it names the topic and the setting, so that whoever reads it knows what
// to change. It wraps ErrTopicNotAllowed.
func TopicNotAllowed(topic string) *Error {
	h := fmt.Sprintf("topic %q is not allowed by this route (its kafka_rest topics setting)", topic)
	return &Error{Class: producer.ClassNotAuthorized, Message: h, Hint: h, Err: ErrTopicNotAllowed}
}

// UnknownTopic is err, Kafka's answer that topic does not exist, naming
// the topic.
func UnknownTopic(topic string, err error) *Error {
	e := ErrorOf(err)
	h := fmt.Sprintf("topic %q does not exist", topic)
	if e.Hint != "" {
		h += "; " + e.Hint
	}
	return &Error{Class: producer.ClassUnknownTopic, Message: "topic not found: " + h, Hint: h, Err: err}
}

// TooManyRecords is the error of a request with more records than the
// route's max_records.
func TooManyRecords(limit int) *Error {
	return tooLarge(fmt.Sprintf("request has more than max_records (%d) records; raise max_records in the kafka_rest route or send fewer", limit),
		ErrTooManyRecords)
}

// BodyTooLarge is the error of a request body over the route's max_body
// (limit bytes).
func BodyTooLarge(limit int64) *Error {
	return tooLarge(fmt.Sprintf("request body is over max_body (%s); raise max_body in the kafka_rest route or send less",
		producer.FormatBytes(limit)), ErrBodyTooLarge)
}

// RecordOverMaxBody is the error of a record of a streaming request over the
// route's max_body, which bounds each record of a stream.
func RecordOverMaxBody(limit int64) *Error {
	return tooLarge(fmt.Sprintf("record is over max_body (%s), the limit of each record of a streaming request; "+
		"raise max_body in the kafka_rest route or send smaller records", producer.FormatBytes(limit)), ErrBodyTooLarge)
}

func tooLarge(msg string, cause error) *Error {
	return &Error{Class: producer.ClassTooLarge, Message: msg, Hint: msg, Err: cause}
}

// unavailableHint points a client, or rather its operator, at the place that
// knows why Kafka cannot be reached.
const unavailableHint = "see GET /kafka/clusters on Caddy's admin API for why"

// Unavailable is the error of a request that failed because the cluster
// has been unreachable since the given time: cause, a timeout say, is only
// how that showed.
func Unavailable(since string, cause error) *Error {
	h := "no broker has answered the gateway since " + since
	if producer.Classify(cause) == producer.ClassTimeout {
		h += " (records sent may still be written once one does)"
	}
	h += "; " + unavailableHint
	return &Error{Class: producer.ClassUnavailable, Message: "kafka is unavailable: " + h, Hint: h, Err: cause}
}

// Retriable reports whether a request that failed with err may succeed if
// sent again unchanged, later: producer's rule (Class.Retriable, and Kafka's
// own retriable errors), on err as the dialects see it (ErrorOf); never
// for an outcome that is final (OutcomeUnknown).
func Retriable(err error) bool {
	if errors.Is(err, ErrOutcomeUnknown) {
		return false
	}
	return ErrorOf(err).Class.Retriable() || producer.Retriable(err)
}

// ErrOutcomeUnknown is wrapped by OutcomeUnknown's errors.
var ErrOutcomeUnknown = errors.New("the outcome is final and unknown")

// OutcomeUnknown is the answer to a repeat of an Idempotency-Key whose
// request failed indeterminately with err (producer.Indeterminate): Kafka
// did not say whether the record was written, and never will to this
// gateway (its client was closed with the record in flight, say). The
// repeat gets err's class, so the dialect's status for it, and a message
// that says so; it is not Retriable, so no Retry-After: sending it again
// with the same key gets the same answer until the key expires.
func OutcomeUnknown(err error) *Error {
	e := ErrorOf(err)
	h := "Kafka did not say whether this record was written, and this Idempotency-Key gets this answer until it expires; " +
		"to write the record again, at the risk of a duplicate, send it with a new key"
	return &Error{Class: e.Class, Code: e.Code, Status: e.Status, Message: e.Message + "; " + h, Hint: h, Err: ErrOutcomeUnknown}
}

// WithHint adds e's hint, if it has one, to msg, a dialect's fixed text for
// e's class.
func WithHint(msg string, e *Error) string {
	if e.Hint == "" || strings.Contains(msg, e.Hint) {
		return msg
	}
	return strings.TrimSuffix(msg, ".") + ": " + e.Hint
}

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
		return BodyTooLarge(mbe.Limit)
	}
	var se *schema.Error
	if errors.As(err, &se) {
		return SchemaError(err)
	}
	c := producer.Classify(err)
	msg := classMessages[c]
	d, isKafka := producer.KafkaDescription(err)
	if isKafka && c != producer.ClassUnknownTopic {
		msg = d
	}
	hint := producer.Hint(err)
	if hint == "" && c == producer.ClassUnavailable && !isKafka {
		hint = unavailableHint
	}
	switch {
	case hint == "":
	case c == producer.ClassTooLarge: // the hint says it all
		msg = hint
	default:
		msg += ": " + hint
	}
	return &Error{Class: c, Message: msg, Hint: hint, Err: err}
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
