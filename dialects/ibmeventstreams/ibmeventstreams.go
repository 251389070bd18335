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
//     ignored, as the Java service ignores them.
//   - schemaname (the registry subject) and schemaversion (a version
//     number, or "latest", the default) need the cluster's schema_registry;
//     without one they are a 400 "schemas are not supported". The schema is
//     looked up (cached as the registry's other lookups are), the body is
//     written as sent, and the record gets the headers IBM documents for
//     producers that set them themselves
//     (com.ibm.eventstreams.schemaregistry.schema.id, .schema.version and
//     .encoding: JSON for a JSON Content-Type or a JSON Schema, else BINARY),
//     after any from the headers parameter. A subject or version the
//     registry does not have is a 404 naming it, with "schema" in the error
//     envelope; the registry unreachable is a 503 with Retry-After.
//   - schemavalidation=true checks the body against the schema before
//     anything is written (Avro: its JSON encoding for a JSON Content-Type,
//     else Avro binary; Protobuf likewise JSON or binary; JSON Schema: a JSON
//     document) and refuses a mismatch with 400 naming the first violation.
//     It must be true or false (any case): JAX-RS would read "yes" as false
//     and skip the check silently, so other values are a 400 here. Keys are
//     never validated, as IBM's documentation says. schemaversion or
//     schemavalidation without schemaname is a 400.
//   - The 200 answer has no "Comment": the registry's compatibility API
//     does not say whether a version is deprecated.
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
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/jsonfast"
	"github.com/caddy-kafka/caddy-kafka/producer"
	"github.com/caddy-kafka/caddy-kafka/producer/schema"
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

// Record headers that identify a record's schema, as IBM documents them for
// producers that set them themselves.
const (
	HeaderSchemaID      = "com.ibm.eventstreams.schemaregistry.schema.id"
	HeaderSchemaVersion = "com.ibm.eventstreams.schemaregistry.schema.version"
	HeaderEncoding      = "com.ibm.eventstreams.schemaregistry.encoding"
)

// schemaQuery is a request's schemaname, schemaversion and
// schemavalidation.
type schemaQuery struct {
	subject  string
	version  int // 0 is the latest
	validate bool
}

// Match claims Event Streams' URL space, /topics/...: POST
// /topics/{topic}/records produces, any other method there is a 405, any
// other path under /topics a 404.
func (EventStreams) Match(r *http.Request) dialects.Match {
	if r.URL.Path != "/topics" && !strings.HasPrefix(r.URL.Path, "/topics/") {
		return dialects.Match{}
	}
	topic, ok := topicOf(r.URL.Path)
	switch {
	case !ok:
		return dialects.Match{Op: dialects.OpNotFound}
	case r.Method != http.MethodPost:
		return dialects.Match{Op: dialects.OpMethodNotAllowed, Allow: http.MethodPost}
	}
	return dialects.Match{Op: dialects.OpProduce, Body: true, Topic: topic}
}

// Decode reads one record: the body is the value, the query has the key and
// headers.
func (EventStreams) Decode(r *http.Request, m dialects.Match, lim dialects.Route) (*dialects.Request, error) {
	topic := m.Topic
	if len(r.RequestURI) > MaxURILength || len(r.URL.RawQuery) > MaxURILength {
		return nil, &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusRequestURITooLong,
			Message: "The total length of the URI must not exceed 10Kb"}
	}
	key, headers, sq, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	if sq.subject != "" && lim.Schemas == nil {
		return nil, dialects.ErrSchemasNotSupported
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
	if sq.subject != "" {
		if headers, err = sq.apply(r, lim.Schemas, topic, value, isJSON, headers); err != nil {
			return nil, err
		}
	}
	return &dialects.Request{Records: []producer.Message{{
		Topic: topic, Partition: -1, Key: key, Value: value, Headers: headers,
	}}}, nil
}

var errEmpty = &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusLengthRequired,
	Message: "The request did not contain any data"}

// apply looks the schema up, validates value against it when asked, and
// returns headers with the schema's headers added.
func (sq schemaQuery) apply(r *http.Request, reg dialects.Serializer, topic string, value []byte, isJSON bool, headers []producer.Header) ([]producer.Header, error) {
	res, err := reg.Resolve(r.Context(), schema.Ref{Topic: topic, Subject: sq.subject, Version: sq.version})
	if err != nil {
		return nil, schemaError(err)
	}
	asJSON := isJSON || res.Format == schema.JSONSchema
	if sq.validate {
		if err := res.Validate(value, !asJSON); err != nil {
			return nil, schemaError(err)
		}
	}
	encoding := "BINARY"
	if asJSON {
		encoding = "JSON"
	}
	return append(headers,
		producer.Header{Key: HeaderSchemaID, Value: strconv.AppendInt(nil, int64(res.ID), 10)},
		producer.Header{Key: HeaderSchemaVersion, Value: strconv.AppendInt(nil, int64(res.Version), 10)},
		producer.Header{Key: HeaderEncoding, Value: []byte(encoding)}), nil
}

// schemaError maps a schema failure to Event Streams' statuses: 404 for a
// schema the registry does not have, 400 for a body that does not match,
// 503 for the registry unreachable, 500 for the rest.
func schemaError(err error) error {
	e := dialects.SchemaError(err)
	switch schema.KindOf(err) {
	case schema.KindUnknownSubject, schema.KindUnknownVersion, schema.KindUnknownID:
		e.Status = http.StatusNotFound
	case schema.KindInvalidSchema:
		// The registry holds a schema that does not compile: nothing the
		// client can fix.
		e.Class = producer.ClassInternal
	}
	return e
}

// parseQuery reads the key, keyType, headers and schema parameters.
func parseQuery(raw string) (key []byte, headers []producer.Header, sq schemaQuery, err error) {
	if raw == "" {
		return nil, nil, sq, nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, nil, sq, badRequest("malformed query string")
	}
	for name, vs := range q {
		switch name {
		case "key", "keyType", "headers", "schemaname", "schemaversion", "schemavalidation":
			if len(vs) > 1 {
				return nil, nil, sq, badRequest("query parameter %s given more than once", name)
			}
		}
	}
	if sq, err = parseSchemaQuery(q); err != nil {
		return nil, nil, sq, err
	}
	key, headers, err = parseKeyHeaders(q)
	return key, headers, sq, err
}

// parseSchemaQuery reads schemaname, schemaversion and schemavalidation.
func parseSchemaQuery(q url.Values) (sq schemaQuery, err error) {
	name, hasName := q["schemaname"]
	if hasName {
		if sq.subject = name[0]; sq.subject == "" {
			return sq, badRequest("schemaname is empty: give the name of a schema in the registry")
		}
	}
	if v, ok := q["schemaversion"]; ok {
		if !hasName {
			return sq, badRequest("schemaversion needs schemaname")
		}
		if !strings.EqualFold(v[0], "latest") {
			n, err := strconv.ParseInt(v[0], 10, 32)
			if err != nil || n < 1 {
				return sq, badRequest("schemaversion %q is not a version number (1, 2, ...) or latest", v[0])
			}
			sq.version = int(n)
		}
	}
	if v, ok := q["schemavalidation"]; ok {
		if !hasName {
			return sq, badRequest("schemavalidation needs schemaname")
		}
		switch {
		case strings.EqualFold(v[0], "true"):
			sq.validate = true
		case strings.EqualFold(v[0], "false"):
		default:
			return sq, badRequest("schemavalidation must be true or false")
		}
	}
	return sq, nil
}

// parseKeyHeaders reads the key, keyType and headers parameters.
func parseKeyHeaders(q url.Values) (key []byte, headers []producer.Header, err error) {
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
	mt, _, err := dialects.ParseMediaType(ct)
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
	// Written by hand, as json.Marshal of success would: this runs for
	// every request.
	b := make([]byte, 0, 96+len(req.Records[0].Topic))
	b = append(b, `{"metadata":{"topic":`...)
	b = jsonfast.AppendString(b, req.Records[0].Topic)
	b = append(b, `,"timestamp":"`...)
	b = strconv.AppendInt(b, res.Timestamp.UnixMilli(), 10)
	b = append(b, `","partition":`...)
	b = strconv.AppendInt(b, int64(res.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, res.Offset, 10)
	b = append(b, "}}"...)
	return dialects.WriteBody(w, http.StatusOK, "application/json", b)
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
	// Schema is the request's schemaname, when it has one.
	Schema string `json:"schema,omitempty"`
}

// status maps a class to Event Streams' status and message.
func status(e *dialects.Error) (int, string) {
	switch e.Class {
	case producer.ClassBadRequest, producer.ClassTooLarge:
		return http.StatusBadRequest, e.Message
	case producer.ClassNotAuthorized:
		return http.StatusUnauthorized, dialects.WithHint("Unauthorized to produce to this topic", e)
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
	body := errorBody{ErrorCode: code, Message: msg, Error: errorDetail{ErrorCode: code, Message: msg, Incident: incident(r)}}
	body.Error.KafkaErrorCode, _ = producer.KafkaCode(err)
	body.Error.Topic, _ = topicOf(r.URL.Path)
	if r.URL.RawQuery != "" {
		body.Error.Schema = r.URL.Query().Get("schemaname")
	}
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
