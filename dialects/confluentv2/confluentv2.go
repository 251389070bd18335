// Package confluentv2 is the dialect of Confluent REST Proxy's v1 and v2
// produce API (POST /topics/{topic} and /topics/{topic}/partitions/{p}) in the
// binary and json embedded formats, in the avro, jsonschema and protobuf
// formats when the cluster has a schema_registry (schema.go, as Confluent's
// Errors.java answers), its read-only metadata (GET /topics, /topics/{t},
// /topics/{t}/partitions, /topics/{t}/partitions/{p},
// .../partitions/{p}/offsets and /brokers: see metadata.go), and, with the
// consume option, of its v1 partition consume API (GET
// /topics/{topic}/partitions/{p}?offset=N).
//
// Choices where the contract is silent:
//   - A record's own "partition" wins over the one in a
//     /topics/{t}/partitions/{p} path, as Confluent v2 does
//     (AbstractProduceAction: record.getPartition().orElse(partition)).
//   - json format: the record bytes are the JSON text of key/value with
//     insignificant whitespace removed, as Confluent's Jackson writes them; a
//     JSON string keeps its quotes. JSON null, or a missing key/value, is a
//     null key/value. binary format: base64, padded or not (Guava's decoder,
//     which Confluent uses, accepts both); anything but a string or null is
//     malformed.
//   - Malformed bodies (bad JSON, bad base64, no "records", an empty
//     "records") are refused whole with 422 (42206); a negative partition is
//     404 (40402). Nothing is produced for a refused request, and an explicit
//     partition that does not exist refuses the whole request (40402).
//   - Per-record failures keep HTTP 200 with the record's error_code and
//     error, as Confluent v2 does; a record refused by a Kafka ACL (40301)
//     lifts the status to 403, as Confluent's ProduceResponse does. Under v2
//     per-record codes are 40301, 40401, 40402, else 50003 when retrying may
//     help and 50002 when not; under v1 they are Confluent's v1 codes: 2
//     retriable, 1 not.
//   - Whole-request errors: 40002 (400) for what Kafka refused as invalid,
//     413 (413) for a body or record count over the handler's limits or a
//     record over the cluster's max_message_bytes (refused whole, where
//     Confluent reports 50002 for that record and writes the others), 415
//     (415) for a media type other than binary/json v1/v2, 405 (405) for a
//     method other than POST on a produce path, 500 (500) for a fault of the
//     gateway, and 50001 under v1 media types, 50002/50003 under v2, for
//     Kafka's errors, timeouts and unavailability (also when the gateway
//     fails to authenticate to Kafka: the client cannot fix that).
//   - Overload (the producer buffer is full) is 429 with error_code 42901
//     and Retry-After: Confluent answers its own rate limiting with 429.
//   - Error bodies and produce answers have the Content-Type
//     application/vnd.kafka.v1+json or v2+json, following the version of the
//     request's Content-Type (for GET, its Accept); v2 when it names none,
//     except v1 for a consume GET (consume is a v1 API).
//   - Produce media types: every one Confluent's REST Proxy (Versions.java,
//     v1 and v2) or Karapace accepts. application/vnd.kafka[.{format}][.vN]+json,
//     where a type without a format, application/json,
//     application/octet-stream and no Content-Type are binary, and a type
//     without a version is v2.
//   - Decoding is strict, as Jackson's is for Confluent: field names match
//     exactly, and an unknown field at the top level or in a record, a
//     record that is not an object, or a non-null key_schema, value_schema,
//     key_schema_id or value_schema_id with binary or json is a 422 (42206)
//     naming it. Nothing is produced.
//   - Consume: GET /topics/{t}/partitions/{p} consumes only with an offset
//     parameter (without one it is the partition's metadata, as in v1);
//     .../messages and /consume/... default it to 0. count defaults to 100 (the spec page's
//     example answers several records without a count; Confluent's v1 docs
//     said 1, which makes a client pay a round trip per record); count is
//     capped at the handler's max_records and the bytes read
//     at its max_body (a first batch over it is still returned whole). A
//     malformed offset or count is 400 (40002); an offset the partition does
//     not hold is 400 (40002, as Redpanda's proxy answers offset_out_of_range)
//     with a message saying so; an offset at the end of the partition is
//     not an error: the answer waits up to 1s (less if the handler's timeout
//     is shorter) for a record and is an empty array if none comes.
//   - Consume format: the first binary or json embedded type in Accept; the
//     binary format when Accept names none (Accept absent, */*,
//     application/json), as Confluent v1 did; avro, jsonschema and protobuf
//     are 406 (40601). The answer's Content-Type is the embedded type, e.g.
//     application/vnd.kafka.binary.v1+json. In the json format a record that
//     is not valid JSON ends the answer before it; if it is the first, the
//     answer is 406 (40601) saying to read it as binary.
package confluentv2

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/jsonfast"
	"github.com/caddy-kafka/caddy-kafka/producer"
	"github.com/caddy-kafka/caddy-kafka/producer/schema"
)

func init() {
	caddy.RegisterModule(ConfluentV2{})
}

// ConfluentV2 speaks Confluent REST Proxy's v1/v2 produce API and, with
// Consume, its v1 partition consume API.
type ConfluentV2 struct {
	// Consume enables GET /topics/{topic}/partitions/{p}?offset=N[&count=M]
	// (also at .../partitions/{p}/messages and /consume/{topic}/partitions/{p}):
	// reads from one partition, under the same topics allow-list as
	// produce. Default: off.
	EnableConsume bool `json:"consume,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (ConfluentV2) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.kafka_rest.dialects.confluent_v2",
		New: func() caddy.Module { return new(ConfluentV2) },
	}
}

// format is an embedded format.
type format uint8

const (
	formatBinary format = iota
	formatJSON
)

// version is the API version of a media type: 1 or 2. It is the Request's
// State; a uint8 in an interface does not allocate.
type version = uint8

// Errors of this dialect.
var (
	errNoRecords = malformed("request body has no records")
	errPartition = &dialects.Error{Class: producer.ClassUnknownPartition, Message: "partition not found"}
)

func malformed(format string, args ...any) *dialects.Error {
	return &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnprocessableEntity, Code: 42206,
		Message: fmt.Sprintf(format, args...)}
}

// route is a path of this dialect.
type route struct {
	topic     string
	partition string // "" for /topics/{topic}
	consume   bool   // the .../messages or /consume/... forms, only for GET
}

// parseRoute recognizes /topics/{t}, /topics/{t}/partitions/{p},
// /topics/{t}/partitions/{p}/messages and /consume/{t}/partitions/{p}.
func parseRoute(p string) (route, bool) {
	var rt route
	rest, ok := strings.CutPrefix(p, "/topics/")
	if !ok {
		if rest, ok = strings.CutPrefix(p, "/consume/"); !ok {
			return rt, false
		}
		rt.consume = true
	}
	topic, rest, more := strings.Cut(rest, "/")
	if topic == "" || (!more && rt.consume) {
		return rt, false
	}
	rt.topic = topic
	if !more {
		return rt, true
	}
	part, ok := strings.CutPrefix(rest, "partitions/")
	if !ok {
		return rt, false
	}
	part, suffix, more := strings.Cut(part, "/")
	if part == "" || (more && (rt.consume || suffix != "messages")) {
		return rt, false
	}
	rt.partition = part
	rt.consume = rt.consume || more
	return rt, true
}

// consumePath reports whether r's path is one of partition consume's.
func consumePath(r *http.Request) bool {
	rt, ok := parseRoute(r.URL.Path)
	return ok && (rt.consume || rt.partition != "" && r.URL.Query().Has("offset"))
}

// parsePartition reads a partition from the path; anything but an int32 of
// at least 0 is a partition that does not exist.
func parsePartition(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, errPartition
	}
	return int32(n), nil
}

// parseVendorType reads a Kafka vendor media type,
// application/vnd.kafka[.{format}][.v{1|2}]+json, as Confluent's REST Proxy
// (Versions.java) and Karapace (rapu.REST_CONTENT_TYPE_RE) name them.
// embedded is the format's name, "" when the type names none; v is 0 when it
// names no version. ok is false for anything else, including an unknown
// format or version.
func parseVendorType(mt string) (embedded string, v version, ok bool) {
	rest, found := strings.CutPrefix(mt, "application/vnd.kafka")
	if !found {
		return "", 0, false
	}
	if rest, found = strings.CutSuffix(rest, "+json"); !found {
		return "", 0, false
	}
	if rest == "" {
		return "", 0, true
	}
	if rest, found = strings.CutPrefix(rest, "."); !found {
		return "", 0, false
	}
	for part := range strings.SplitSeq(rest, ".") {
		switch {
		case v != 0:
			return "", 0, false // nothing follows the version
		case part == "v1":
			v = 1
		case part == "v2":
			v = 2
		case embedded == "" && knownEmbedded(part):
			embedded = part
		default:
			return "", 0, false
		}
	}
	return embedded, v, true
}

// knownEmbedded reports the embedded formats a Kafka media type may name.
func knownEmbedded(name string) bool {
	switch name {
	case "binary", "json", "avro", "jsonschema", "protobuf":
		return true
	}
	return false
}

func formatOf(embedded string) (format, bool) {
	switch embedded {
	case "binary", "":
		return formatBinary, true
	case "json":
		return formatJSON, true
	}
	return 0, false
}

// produceTypes is what a 415 lists.
const produceTypes = "application/vnd.kafka.binary.v2+json, application/vnd.kafka.json.v2+json (or their v1 forms), " +
	"application/vnd.kafka.v2+json, application/vnd.kafka.v1+json, application/vnd.kafka+json or application/json (binary)"

// contentFormat reads a produce request's Content-Type. A Kafka vendor type
// without an embedded format is binary, as Confluent's produceBinary
// consumes it; so are application/json and application/octet-stream, and
// no Content-Type at all (which Confluent's Jersey takes as
// application/octet-stream and Karapace as application/json). A type
// without a version is v2, the version Karapace (the one proxy still
// accepting them) speaks.
func contentFormat(ct string) (format, version, error) {
	if strings.TrimSpace(ct) == "" {
		return formatBinary, 2, nil
	}
	mt, _, err := dialects.ParseMediaType(ct)
	if err == nil {
		switch mt {
		case "application/json", "application/octet-stream":
			return formatBinary, 2, nil
		}
		if embedded, v, ok := parseVendorType(mt); ok {
			if v == 0 {
				v = 2
			}
			if f, ok := formatOf(embedded); ok {
				return f, v, nil
			}
			if sf := schemaFormat(embedded, v); sf != schema.FormatNone {
				return 0, v, &schemaType{unsupported(embedded), sf}
			}
			return 0, 0, unsupported(embedded)
		}
	}
	return 0, 0, &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnsupportedMediaType, Code: http.StatusUnsupportedMediaType,
		Message: fmt.Sprintf("HTTP 415 Unsupported Media Type: Content-Type %q is not one of %s", ct, produceTypes)}
}

// schemaType is contentFormat's answer for a schema embedded format: the
// 415 for a cluster without a schema registry, and the schema format.
type schemaType struct {
	refusal *dialects.Error
	format  schema.Format
}

func (e *schemaType) Error() string { return e.refusal.Error() }
func (e *schemaType) Unwrap() error { return e.refusal }

func schemaFormatOf(err error) schema.Format {
	if st, ok := err.(*schemaType); ok {
		return st.format
	}
	return schema.FormatNone
}

func unsupported(embedded string) *dialects.Error {
	return &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnsupportedMediaType, Code: http.StatusUnsupportedMediaType,
		Message: fmt.Sprintf("HTTP 415 Unsupported Media Type: the %s embedded format is not supported (it needs a schema registry): use binary or json", embedded)}
}

// Decode reads a produce request.
func (c *ConfluentV2) Decode(r *http.Request, m dialects.Match, rt2 dialects.Route) (*dialects.Request, error) {
	rt := route{topic: m.Topic, partition: m.Parts[0]}
	partition := int32(-1)
	if rt.partition != "" {
		p, err := parsePartition(rt.partition)
		if err != nil {
			return nil, err
		}
		partition = p
	}
	f, v, err := contentFormat(r.Header.Get("Content-Type"))
	if sf := schemaFormatOf(err); sf != schema.FormatNone {
		if rt2.Schemas == nil {
			return nil, err
		}
		body, err := dialects.ReadBody(r)
		if err != nil {
			return nil, err
		}
		return decodeSchemaRecords(r, rt2, body, sf, v, rt.topic, partition)
	}
	if err != nil {
		return nil, err
	}
	body, err := dialects.ReadBody(r)
	if err != nil {
		return nil, err
	}
	records, err := decodeRecords(body, f, rt.topic, partition)
	if err != nil {
		return nil, err
	}
	return &dialects.Request{Records: records, State: v}, nil
}

// decodeRecords decodes a produce body in format f. partition is the path's,
// or -1.
func decodeRecords(body []byte, f format, topic string, partition int32) ([]producer.Message, error) {
	if out, ok := fastRecords(body, f, topic, partition); ok {
		return out, nil
	}
	return slowRecords(body, f, topic, partition)
}

// The fields of a produce request and of its records. Field names match
// exactly, as Jackson matches them for Confluent: "Value" is not "value".
const (
	topFields    = "records, key_schema, key_schema_id, value_schema and value_schema_id"
	recordFields = "key, value and partition"
)

// slowRecords is decodeRecords with encoding/json: every body fastRecords
// does not take, and the reference it is checked against. It is strict: an
// unknown field, at the top level or in a record, refuses the request,
// since dropping it would write something other than what the client
// meant (a misspelt "valur" would write a null value).
func slowRecords(body []byte, f format, topic string, partition int32) ([]producer.Message, error) {
	top, err := objectFields(body)
	if err != nil {
		return nil, malformed("request body is not a valid produce request: %s", err)
	}
	var records json.RawMessage
	for _, fl := range top {
		switch fl.name {
		case "records":
			records = fl.value
		case "key_schema", "key_schema_id", "value_schema", "value_schema_id":
			if string(fl.value) != "null" {
				return nil, malformed("%s is only for the avro, jsonschema and protobuf formats, which need a schema registry: "+
					"remove it to produce binary or json records", fl.name)
			}
		default:
			return nil, malformed("unknown field %q: a produce request has %s", fl.name, topFields)
		}
	}
	var in []json.RawMessage
	if records != nil {
		if err := json.Unmarshal(records, &in); err != nil {
			return nil, malformed("records must be an array of records")
		}
	}
	if len(in) == 0 {
		return nil, errNoRecords
	}
	out := make([]producer.Message, len(in))
	for i, raw := range in {
		fields, err := objectFields(raw)
		if err != nil {
			return nil, malformed("records[%d] must be an object with %s", i, recordFields)
		}
		m := &out[i]
		m.Topic, m.Partition = topic, partition
		var key, value json.RawMessage
		for _, fl := range fields {
			switch fl.name {
			case "key":
				key = fl.value
			case "value":
				value = fl.value
			case "partition":
				if string(fl.value) == "null" {
					m.Partition = partition
					continue
				}
				var p int32
				if err := json.Unmarshal(fl.value, &p); err != nil {
					return nil, malformed("records[%d].partition must be an integer partition number", i)
				}
				if p < 0 {
					return nil, errPartition
				}
				m.Partition = p
			default:
				return nil, malformed("records[%d]: unknown field %q: a record has %s", i, fl.name, recordFields)
			}
		}
		if m.Key, err = embedded(key, f); err != nil {
			return nil, malformed("records[%d].key: %s", i, err)
		}
		if m.Value, err = embedded(value, f); err != nil {
			return nil, malformed("records[%d].value: %s", i, err)
		}
	}
	return out, nil
}

// field is one member of a JSON object.
type field struct {
	name  string
	value json.RawMessage
}

// objectFields returns the members of the JSON object b, in order, names
// unescaped; a name given twice is there twice, the last one winning for
// its readers as in encoding/json. Anything but one object (with nothing
// after it but space) is an error.
func objectFields(b []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, errors.New(jsonErr(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("expected an object")
	}
	var out []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New(jsonErr(err))
		}
		name, _ := tok.(string) // the decoder allows only strings here
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New(jsonErr(err))
		}
		out = append(out, field{name, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, errors.New(jsonErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid character after the object")
	}
	return out, nil
}

// jsonErr describes a JSON decoding error without Go type names.
func jsonErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected an object, got %s", te.Value)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return "unexpected end of JSON input"
	}
	return err.Error()
}

// embedded returns the record bytes of a key or value; nil for null.
func embedded(raw json.RawMessage, f format) ([]byte, error) {
	if raw == nil || string(raw) == "null" {
		return nil, nil
	}
	if f == formatJSON {
		if bytes.ContainsAny(raw, " \t\r\n") {
			var buf bytes.Buffer
			buf.Grow(len(raw))
			if err := json.Compact(&buf, raw); err != nil {
				return nil, err
			}
			return buf.Bytes(), nil
		}
		return raw, nil
	}
	if raw[0] != '"' {
		return nil, errors.New("binary data must be a base64 string or null")
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return nil, err
		}
		s = []byte(str)
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	out := make([]byte, enc.DecodedLen(len(s)))
	n, err := enc.Decode(out, s)
	if err != nil {
		return nil, errors.New("invalid base64")
	}
	return out[:n], nil
}

// Encode answers {"offsets":[...],"key_schema_id":null,"value_schema_id":null}.
func (c *ConfluentV2) Encode(w http.ResponseWriter, _ *http.Request, req *dialects.Request, results []producer.Result) error {
	v, _ := req.State.(version)
	st, _ := req.State.(*schemaState)
	if st != nil {
		v = st.v
	}
	status := http.StatusOK
	b := make([]byte, 0, 16+len(results)*64)
	b = append(b, `{"offsets":[`...)
	for i, res := range results {
		if i > 0 {
			b = append(b, ',')
		}
		if res.Err == nil {
			b = append(b, `{"partition":`...)
			b = strconv.AppendInt(b, int64(res.Partition), 10)
			b = append(b, `,"offset":`...)
			b = strconv.AppendInt(b, res.Offset, 10)
			b = append(b, `,"error_code":null,"error":null}`...)
			continue
		}
		code, msg := recordError(res.Err, v)
		if code == 40301 {
			status = http.StatusForbidden
		}
		b = append(b, `{"partition":null,"offset":null,"error_code":`...)
		b = strconv.AppendInt(b, int64(code), 10)
		b = append(b, `,"error":`...)
		b = appendString(b, msg)
		b = append(b, '}')
	}
	if st == nil {
		b = append(b, `],"key_schema_id":null,"value_schema_id":null}`...)
	} else {
		b = append(b, `],"key_schema_id":`...)
		b = appendID(b, st.keyID)
		b = append(b, `,"value_schema_id":`...)
		b = appendID(b, st.valueID)
		b = append(b, '}')
	}
	w.Header().Set("Content-Type", mediaType(v))
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}

func appendID(b []byte, id int) []byte {
	if id == 0 {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(id), 10)
}

// appendString appends s quoted as json.Marshal quotes it.
func appendString(b []byte, s string) []byte { return jsonfast.AppendString(b, s) }

func mediaType(v version) string {
	if v == 1 {
		return "application/vnd.kafka.v1+json"
	}
	return "application/vnd.kafka.v2+json"
}

// recordError is a failed record's error_code and error.
func recordError(err error, v version) (int, string) {
	e := dialects.ErrorOf(err)
	if v == 1 {
		if dialects.Retriable(err) {
			return 2, e.Message
		}
		return 1, e.Message
	}
	switch e.Class {
	case producer.ClassNotAuthorized:
		return 40301, e.Message
	case producer.ClassUnknownTopic:
		return 40401, e.Message
	case producer.ClassUnknownPartition:
		return 40402, e.Message
	}
	if dialects.Retriable(err) {
		return 50003, e.Message
	}
	return 50002, e.Message
}

// statusCode is the HTTP status and error_code of a whole-request error.
func statusCode(e *dialects.Error, err error, v version) (int, int) {
	if e.Status != 0 && e.Code != 0 {
		return e.Status, e.Code
	}
	if e.Code != 0 {
		return e.Code / 100, e.Code
	}
	if e.Status != 0 {
		return e.Status, e.Status
	}
	return classStatusCode(e, err, v)
}

func classStatusCode(e *dialects.Error, err error, v version) (int, int) {
	switch e.Class {
	case producer.ClassBadRequest:
		return http.StatusBadRequest, 40002
	case producer.ClassUnknownTopic:
		return http.StatusNotFound, 40401
	case producer.ClassUnknownPartition:
		return http.StatusNotFound, 40402
	case producer.ClassTooLarge:
		return http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge
	case producer.ClassNotAuthorized:
		return http.StatusForbidden, 40301
	case producer.ClassOverloaded:
		return http.StatusTooManyRequests, 42901
	case producer.ClassInternal:
		return http.StatusInternalServerError, http.StatusInternalServerError
	}
	// Kafka's errors, timeouts, unavailability, failed authentication.
	if v == 1 {
		return http.StatusInternalServerError, 50001
	}
	if dialects.Retriable(err) {
		return http.StatusInternalServerError, 50003
	}
	return http.StatusInternalServerError, 50002
}

type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// WriteError writes {"error_code": N, "message": "..."}.
func (c *ConfluentV2) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, requestVersion(r), err)
}

func writeError(w http.ResponseWriter, v version, err error) {
	e := dialects.ErrorOf(err)
	status, code := statusCode(e, err, v)
	msg := e.Message
	if errors.Is(err, dialects.ErrMethodNotAllowed) {
		msg = "HTTP 405 Method Not Allowed" // Jersey's words, as Confluent answers
	}
	_ = dialects.WriteJSON(w, status, mediaType(v), errorBody{ErrorCode: code, Message: msg})
}

// requestVersion is the API version a request speaks: its Content-Type's,
// or for GET its Accept's; 2 when it names none, 1 for GET.
func requestVersion(r *http.Request) version {
	if r.Method == http.MethodGet {
		if !consumePath(r) {
			return metaVersion(r)
		}
		_, v, _ := acceptFormat(r.Header.Values("Accept"))
		return v
	}
	if mt, _, err := dialects.ParseMediaType(r.Header.Get("Content-Type")); err == nil {
		if _, v, ok := parseVendorType(mt); ok && v != 0 {
			return v
		}
		if strings.HasPrefix(mt, "application/vnd.kafka.v1") || strings.Contains(mt, ".v1+") {
			return 1
		}
	}
	return 2
}

// UnmarshalCaddyfile sets up the dialect from the lines of its kafka_rest
// block that the handler does not own, given as a block of the dialect's
// name. Syntax:
//
//	confluent_v2 {
//		consume
//	}
func (c *ConfluentV2) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the dialect's name
	seen := dialects.Seen{}
	for d.NextBlock(0) {
		switch d.Val() {
		case "consume":
			if err := seen.Once(d); err != nil {
				return err
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			c.EnableConsume = true
		default:
			return dialects.UnknownSubdirective(d, "confluent_v2", "consume")
		}
	}
	return nil
}

// maxInt32 bounds the bytes of one fetch.
const maxInt32 = math.MaxInt32

// Interface guards
var (
	_ dialects.Dialect      = (*ConfluentV2)(nil)
	_ dialects.Consumer     = (*ConfluentV2)(nil)
	_ dialects.Discoverer   = (*ConfluentV2)(nil)
	_ caddyfile.Unmarshaler = (*ConfluentV2)(nil)
)
