// Package ibmeventstreams is the IBM Event Streams REST Producer dialect:
// POST /topics/{topic_name}/records with the request body as the record's
// value, as is, and the key and headers in the query string.
//
// Authenticate clients with the api_key_auth directive (module
// http.authentication.providers.api_key) in front of kafka_rest: it accepts
// "Authorization: Bearer <api key>" as Event Streams does, answers 401 in this
// dialect's error body, and sets {http.auth.user.id} to the key's name for
// per-key allow-lists such as "topics {http.auth.user.id}-*".
//
// Choices where the contract is silent:
//   - Content types: application/octet-stream, text/plain, application/json,
//     text/xml, application/xml and the aliases
//     application/vnd.ibm-event-streams.{json,binary,text}.v1. JSON bodies
//     must be valid JSON (else 400); XML and text are not checked. Any other
//     type is refused with 415, as IBM Cloud's producer does. A request
//     without Content-Type is taken as application/octet-stream, as JAX-RS
//     does. Media type parameters (charset) are ignored: the bytes are kept
//     as sent.
//   - 411 answers an empty body, whether or not Content-Length was sent;
//     chunked bodies with data are accepted.
//   - A body over the handler's max_body, or a record over the cluster's
//     max_message_bytes, is a 400 (IBM answers "exceeded message size"
//     with 400), whose message names the setting; the URI limit is 10 KiB (10240 bytes) of the request
//     target (path and query).
//   - keyType is case-insensitive and defaults to text. A text key must be
//     valid UTF-8 (send other bytes with keyType=binary). "key=" (present but
//     empty) is an empty key, which Java hashes; leaving key out gives a null
//     key, which Java spreads.
//   - headers: "name:hex,name:hex"; the name is everything before the last
//     colon (hex has none), must be non-empty UTF-8; "name:" is an empty
//     value; an empty entry (a stray comma) is a 400; repeated names are kept
//     in order, as Kafka allows.
//   - A query parameter given twice is a 400; unknown query parameters are
//     ignored, as the Java service ignores them. Any of schemaname,
//     schemaversion or schemavalidation, whatever its value, is a 400
//     "schemas are not supported".
//   - A method other than POST on /topics/{topic_name}/records is a 405 with
//     Allow: POST; other paths pass to the next handler.
//   - Status of failures the spec does not list: the gateway failing to
//     authenticate to Kafka and any other Kafka error are 500; overload is
//     503 (with Retry-After, from the handler).
//   - Messages are the spec's descriptions, without the trailing period
//     ("Unauthorized to produce to this topic"), except 400s, which say what
//     was wrong. "incident" is Caddy's request id ({http.request.uuid}), also
//     in the access log; "topic" is the path's topic; "kafka_error_code" is
//     there when Kafka returned an error code.
package ibmeventstreams

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

func init() {
	caddy.RegisterModule(EventStreams{})
}

// MaxURILength is the longest request target (path and query) Event Streams
// accepts: "The total length of the URI must not exceed 10Kb".
const MaxURILength = 10 << 10

// EventStreams speaks the IBM Event Streams REST Producer API. It has no
// options.
type EventStreams struct{}

// CaddyModule returns the Caddy module information.
func (EventStreams) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.kafka_rest.dialects.ibm_event_streams",
		New: func() caddy.Module { return new(EventStreams) },
	}
}

// topicOf returns the topic of a /topics/{topic_name}/records path.
func topicOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/topics/")
	if !ok {
		return "", false
	}
	topic, ok := strings.CutSuffix(rest, "/records")
	if !ok || topic == "" || strings.IndexByte(topic, '/') >= 0 {
		return "", false
	}
	return topic, true
}

func badRequest(format string, args ...any) error {
	return dialects.Errorf(producer.ClassBadRequest, format, args...)
}

// errSchemas answers every schema parameter.
var errSchemas = &dialects.Error{Class: producer.ClassBadRequest, Message: "schemas are not supported"}

// Decode reads one record: the body is the value, the query has the key and
// headers.
func (EventStreams) Decode(r *http.Request, lim dialects.Route) (*dialects.Request, error) {
	topic, ok := topicOf(r.URL.Path)
	if !ok {
		return nil, fmt.Errorf("path %q: %w", r.URL.Path, dialects.ErrNotHandled)
	}
	if r.Method != http.MethodPost {
		return nil, &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusMethodNotAllowed, Message: "method not allowed: use POST"}
	}
	if len(r.RequestURI) > MaxURILength || len(r.URL.RawQuery) > MaxURILength {
		return nil, &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusRequestURITooLong,
			Message: "The total length of the URI must not exceed 10Kb"}
	}
	key, headers, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	isJSON, err := mediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	if r.ContentLength == 0 {
		return nil, errEmpty
	}
	if r.ContentLength > lim.MaxBody && lim.MaxBody > 0 {
		return nil, dialects.BodyTooLarge(lim.MaxBody)
	}
	value, err := dialects.ReadBody(r)
	if err != nil {
		return nil, err
	}
	if len(value) == 0 {
		return nil, errEmpty
	}
	if isJSON && !json.Valid(value) {
		return nil, badRequest("the body is not valid JSON, as its Content-Type says it is")
	}
	return &dialects.Request{Records: []producer.Message{{
		Topic: topic, Partition: -1, Key: key, Value: value, Headers: headers,
	}}}, nil
}

var errEmpty = &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusLengthRequired,
	Message: "The request did not contain any data"}

// parseQuery reads the key, keyType and headers parameters.
func parseQuery(raw string) (key []byte, headers []producer.Header, err error) {
	if raw == "" {
		return nil, nil, nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, nil, badRequest("malformed query string")
	}
	for name, vs := range q {
		switch name {
		case "schemaname", "schemaversion", "schemavalidation":
			return nil, nil, errSchemas
		case "key", "keyType", "headers":
			if len(vs) > 1 {
				return nil, nil, badRequest("query parameter %s given more than once", name)
			}
		}
	}
	binary := false
	if kt, ok := q["keyType"]; ok {
		switch {
		case strings.EqualFold(kt[0], "binary"):
			binary = true
		case strings.EqualFold(kt[0], "text"):
		default:
			return nil, nil, badRequest("keyType must be text or binary")
		}
	}
	if k, ok := q["key"]; ok {
		if binary {
			if key, err = hex.DecodeString(k[0]); err != nil {
				return nil, nil, badRequest("key is not base16 (hex), as keyType=binary says it is")
			}
		} else {
			if !utf8.ValidString(k[0]) {
				return nil, nil, badRequest("key is not valid UTF-8 text: send keyType=binary with the key in base16")
			}
			key = []byte(k[0])
		}
	}
	if h, ok := q["headers"]; ok && h[0] != "" {
		if headers, err = parseHeaders(h[0]); err != nil {
			return nil, nil, err
		}
	}
	return key, headers, nil
}

// parseHeaders reads "name:hexvalue,name:hexvalue".
func parseHeaders(s string) ([]producer.Header, error) {
	headers := make([]producer.Header, 0, strings.Count(s, ",")+1)
	for entry := range strings.SplitSeq(s, ",") {
		i := strings.LastIndexByte(entry, ':')
		if i < 0 {
			return nil, badRequest("headers: %q is not name:hexvalue", entry)
		}
		name := entry[:i]
		if name == "" || !utf8.ValidString(name) {
			return nil, badRequest("headers: a header name must be non-empty UTF-8 text")
		}
		value, err := hex.DecodeString(entry[i+1:])
		if err != nil {
			return nil, badRequest("headers: the value of %q is not base16 (hex)", name)
		}
		headers = append(headers, producer.Header{Key: name, Value: value})
	}
	return headers, nil
}

// mediaType checks the Content-Type and reports whether the body must be
// JSON.
func mediaType(ct string) (isJSON bool, err error) {
	if ct == "" {
		return false, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false, &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnsupportedMediaType,
			Message: "malformed Content-Type"}
	}
	switch mt {
	case "application/json", "application/vnd.ibm-event-streams.json.v1":
		return true, nil
	case "application/octet-stream", "text/plain", "text/xml", "application/xml",
		"application/vnd.ibm-event-streams.binary.v1", "application/vnd.ibm-event-streams.text.v1":
		return false, nil
	}
	return false, &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnsupportedMediaType,
		Message: "unsupported Content-Type " + strconv.Quote(mt) + ": use application/octet-stream, text/plain, application/json, text/xml or application/xml"}
}

type metadata struct {
	Topic     string `json:"topic"`
	Timestamp string `json:"timestamp"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

type success struct {
	Metadata metadata `json:"metadata"`
}

// Encode answers {"metadata":{...}} with the timestamp as a string of epoch
// milliseconds, or the record's error.
func (es EventStreams) Encode(w http.ResponseWriter, r *http.Request, req *dialects.Request, results []producer.Result) error {
	res := results[0]
	if res.Err != nil {
		es.WriteError(w, r, res.Err)
		return nil
	}
	return dialects.WriteJSON(w, http.StatusOK, "application/json", success{metadata{
		Topic:     req.Records[0].Topic,
		Timestamp: strconv.FormatInt(res.Timestamp.UnixMilli(), 10),
		Partition: res.Partition,
		Offset:    res.Offset,
	}})
}

// errorBody is Event Streams' error envelope: the status and message, again
// in "error" with the details.
type errorBody struct {
	ErrorCode int         `json:"error_code"`
	Message   string      `json:"message"`
	Error     errorDetail `json:"error"`
}

// errorDetail is the "error" object of errorBody.
type errorDetail struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
	// KafkaErrorCode is Kafka's error code, when Kafka gave one (never 0).
	KafkaErrorCode int16 `json:"kafka_error_code,omitempty"`
	// Topic is the topic of the request, when known.
	Topic string `json:"topic,omitempty"`
	// Incident is the request's id, {http.request.uuid}.
	Incident string `json:"incident"`
}

// status maps a class to Event Streams' status and message.
func status(e *dialects.Error) (int, string) {
	switch e.Class {
	case producer.ClassBadRequest, producer.ClassTooLarge:
		return http.StatusBadRequest, e.Message
	case producer.ClassNotAuthorized:
		return http.StatusUnauthorized, "Unauthorized to produce to this topic"
	case producer.ClassUnknownTopic, producer.ClassUnknownPartition:
		return http.StatusNotFound, dialects.WithHint("The topic does not exist", e)
	case producer.ClassTimeout:
		return http.StatusRequestTimeout, "The request timed out producing to Event Streams; the record may still be written"
	case producer.ClassOverloaded:
		return http.StatusServiceUnavailable, "The request failed because the gateway is overloaded; retry later"
	case producer.ClassUnavailable:
		return http.StatusServiceUnavailable, dialects.WithHint("The request failed due to Event Streams brokers being unavailable", e)
	case producer.ClassAuthFailed:
		return http.StatusServiceUnavailable, "The request failed because the gateway could not authenticate to Event Streams"
	}
	return http.StatusInternalServerError, "The request failed due to an internal server error"
}

// WriteError writes err in Event Streams' error envelope.
func (EventStreams) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := dialects.ErrorOf(err)
	code, msg := status(e)
	if e.Status != 0 {
		code, msg = e.Status, e.Message
	}
	if code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	body := errorBody{ErrorCode: code, Message: msg, Error: errorDetail{ErrorCode: code, Message: msg, Incident: incident(r)}}
	body.Error.KafkaErrorCode, _ = producer.KafkaCode(err)
	body.Error.Topic, _ = topicOf(r.URL.Path)
	_ = dialects.WriteJSON(w, code, "application/json", body)
}

// WriteStatusError writes Event Streams' error envelope with status and msg
// and no Kafka details (no kafka_error_code, no topic): for answers given
// before a request reaches the dialect, such as api_key_auth's 401.
func WriteStatusError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	_ = dialects.WriteJSON(w, status, "application/json",
		errorBody{ErrorCode: status, Message: msg, Error: errorDetail{ErrorCode: status, Message: msg, Incident: incident(r)}})
}

// incident is the request's id for error bodies: Caddy's
// {http.request.uuid}, which the access log carries too.
func incident(r *http.Request) string {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return ""
	}
	id, _ := repl.GetString("http.request.uuid")
	return id
}

// Interface guards
var _ dialects.Dialect = (*EventStreams)(nil)
