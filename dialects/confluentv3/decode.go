package confluentv3

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/jsonfast"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// format is a key's or value's type; formatNull is a null key or value.
type format uint8

const (
	formatNull format = iota
	formatBinary
	formatJSON
	formatString
	formatAvro
	formatJSONSchema
	formatProtobuf
)

var formatNames = [...]string{"", "BINARY", "JSON", "STRING", "AVRO", "JSONSCHEMA", "PROTOBUF"}

// formats are a record's key and value types, for its report, with the
// schemas of those written with one.
type formats struct {
	key, value             format
	keySchema, valueSchema *schemaInfo
}

// errSplitTooLarge is an object over the splitter's limit.
var errSplitTooLarge = errors.New("json object over the size limit")

// malformedError is input that is not a sequence of JSON objects.
type malformedError struct{ msg string }

func (e *malformedError) Error() string { return e.msg }

// jsonRecord is Confluent's ProduceRequest, and a records:batch entry with
// its id.
type jsonRecord struct {
	ID          json.RawMessage `json:"id"`
	PartitionID *int32          `json:"partition_id"`
	Headers     []jsonHeader    `json:"headers"`
	Key         *jsonData       `json:"key"`
	Value       *jsonData       `json:"value"`
	Timestamp   *string         `json:"timestamp"`
}

type jsonHeader struct {
	Name  *string         `json:"name"`
	Value json.RawMessage `json:"value"`
}

// jsonData is ProduceRequestData. The schema fields are decoded only to be
// refused with a clear message.
type jsonData struct {
	Type                *string         `json:"type"`
	Data                json.RawMessage `json:"data"`
	Subject             json.RawMessage `json:"subject"`
	SubjectNameStrategy json.RawMessage `json:"subject_name_strategy"`
	SchemaID            json.RawMessage `json:"schema_id"`
	SchemaVersion       json.RawMessage `json:"schema_version"`
	Schema              json.RawMessage `json:"schema"`
}

// decoded is one record read from a request.
type decoded struct {
	msg     producer.Message
	formats formats
	id      string       // records:batch entry id
	size    int          // bytes of JSON it was read from
	err     error        // the record could not be decoded; it gets a report of its own
	pending [2]*jsonData // key and value naming a schema, for resolveSchemas
	fatal   bool         // the request cannot be read further
}

// badRequest is a record's decoding failure.
func badRequest(format string, args ...any) *dialects.Error {
	return &dialects.Error{Class: producer.ClassBadRequest, Status: 400, Code: 400,
		Message: "Bad Request: " + fmt.Sprintf(format, args...)}
}

var errNegativePartition = &dialects.Error{Class: producer.ClassUnknownPartition, Status: 404, Code: 40402, Message: msgUnknownPart}

// decodeRecord decodes one ProduceRequest object. With batch, it also takes
// the entry's id (validated by the caller); without, an id is an unknown
// field. A syntax error is fatal: the caller stops reading.
func decodeRecord(raw []byte, topic string, batch bool) decoded {
	return decodeRecordWith(raw, topic, batch, true)
}

// decodeRecordWith is decodeRecord, parsing raw with fastRecord when fast is
// set and it can, else with encoding/json.
func decodeRecordWith(raw []byte, topic string, batch, fast bool) decoded {
	d := decoded{msg: producer.Message{Topic: topic, Partition: -1}, size: len(raw)}
	var (
		fr  fastRec
		fjr jsonRecord
		fts string
		hs  [4]jsonHeader
	)
	jr := &fjr
	if fast && fastRecord(raw, &fr) {
		// fjr is what encoding/json would have decoded, pointing into
		// this frame's variables: built here, so that they stay on the
		// stack.
		fjr.ID = fr.id
		if fr.hasPartition {
			fjr.PartitionID = &fr.partition
		}
		if fr.hasKey {
			fjr.Key = &fr.key
		}
		if fr.hasValue {
			fjr.Value = &fr.value
		}
		if fr.hasTimestamp {
			fts = string(fr.timestamp)
			fjr.Timestamp = &fts
		}
		if fhs := fr.headers(); len(fhs) <= len(hs) && fr.hasHeaders {
			var hn [len(hs)]string // on the heap, but only for headers
			for i, fh := range fhs {
				hs[i].Value = fh.value
				if fh.name != nil {
					hn[i] = string(fh.name)
					hs[i].Name = &hn[i]
				}
			}
			fjr.Headers = hs[:len(fhs)]
		} else if fr.hasHeaders {
			fjr.Headers = make([]jsonHeader, len(fhs))
			for i, fh := range fhs {
				fjr.Headers[i].Value = fh.value
				if fh.name != nil {
					name := string(fh.name)
					fjr.Headers[i].Name = &name
				}
			}
		}
	} else {
		var err error
		if jr, d.fatal, err = slowRecord(raw); err != nil {
			d.err = err
			return d
		}
	}
	if !batch && jr.ID != nil {
		d.err = badRequest(`unrecognized field "id" (records:batch entries only): %s`, validFields)
		return d
	}
	if batch && jr.ID != nil && jr.ID[0] == '"' {
		var id string
		_ = json.Unmarshal(bytes.Clone(jr.ID), &id) // a copy: jr.ID leaking would take jr's pointees to the heap
		d.id = id
	}
	if jr.PartitionID != nil {
		if *jr.PartitionID < 0 {
			d.err = errNegativePartition
			return d
		}
		d.msg.Partition = *jr.PartitionID
	}
	if len(jr.Headers) > 0 {
		d.msg.Headers = make([]producer.Header, len(jr.Headers))
		for i, h := range jr.Headers {
			if h.Name == nil {
				d.err = badRequest("a header has no name")
				return d
			}
			v, err := decodeBase64(h.Value)
			if err != nil {
				d.err = badRequest("the value of header %q is not a base64 string", *h.Name)
				return d
			}
			d.msg.Headers[i] = producer.Header{Key: *h.Name, Value: v}
		}
	}
	var err error
	if d.msg.Key, d.formats.key, err = decodeData(jr.Key, "key"); err == errNeedsSchema {
		d.pending[0] = new(jsonData)
		*d.pending[0] = *jr.Key
	} else if err != nil {
		d.err = err
		return d
	}
	if d.msg.Value, d.formats.value, err = decodeData(jr.Value, "value"); err == errNeedsSchema {
		d.pending[1] = new(jsonData)
		*d.pending[1] = *jr.Value
	} else if err != nil {
		d.err = err
		return d
	}
	if jr.Timestamp != nil {
		ts, err := time.Parse(time.RFC3339Nano, *jr.Timestamp)
		if err != nil {
			d.err = badRequest("timestamp %q is not an RFC 3339 date-time", truncate(*jr.Timestamp))
			return d
		}
		if ts.Before(time.Unix(0, 0)) {
			// Kafka timestamps are epoch milliseconds, and Java's
			// ProducerRecord refuses negative ones.
			d.err = badRequest("timestamp %q is before 1970-01-01T00:00:00Z", truncate(*jr.Timestamp))
			return d
		}
		d.msg.Timestamp = ts
	}
	return d
}

// slowRecord decodes raw with encoding/json; fastRecord must agree with it.
// A syntax error is fatal: the caller stops reading.
func slowRecord(raw []byte) (jr *jsonRecord, fatal bool, err error) {
	jr = new(jsonRecord)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(jr); err != nil {
		err, fatal := jsonError(err)
		return nil, fatal, err
	}
	if dec.More() {
		return nil, true, badRequest("unexpected data after the record")
	}
	return jr, false, nil
}

// jsonError turns a decoding error into a client message, and tells whether
// the input is malformed (fatal) or merely not a valid record.
func jsonError(err error) (error, bool) {
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
		return badRequest("malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: ")), true
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return badRequest("field %s must not be a JSON %s", te.Field, te.Value), false
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badRequest("unrecognized field %s: %s", name, validFields), false
	}
	return badRequest("invalid record"), false
}

// validFields says what a record may hold, for the error of a field that
// is not among them.
const validFields = "a record has partition_id, headers, key, value and timestamp; a key or value has type, data, " +
	"schema_id, schema_version, subject, subject_name_strategy and schema; a header has name and value"

// decodeData turns a key or value into bytes: nil for a null one.
func decodeData(jd *jsonData, which string) ([]byte, format, error) {
	if jd == nil {
		return nil, formatNull, nil
	}
	if schemaFields(jd) {
		return nil, 0, errNeedsSchema
	}
	typ := formatBinary
	if jd.Type != nil {
		switch *jd.Type {
		case "BINARY":
		case "JSON":
			typ = formatJSON
		case "STRING":
			typ = formatString
		default:
			return nil, 0, badRequest("%s.type %q is not one of BINARY, JSON, STRING", which, truncate(*jd.Type))
		}
	}
	if isNull(jd.Data) {
		return nil, formatNull, nil
	}
	switch typ {
	case formatJSON:
		return jd.Data, typ, nil
	case formatString:
		s, ok := jsonString(jd.Data)
		if !ok {
			return nil, 0, badRequest("data=%s is not a string.", truncate(string(jd.Data)))
		}
		return s, typ, nil
	}
	if jd.Data[0] != '"' {
		return nil, 0, badRequest("data=%s is not a base64 string.", truncate(string(jd.Data)))
	}
	b, err := decodeBase64(jd.Data)
	if err != nil {
		return nil, 0, badRequest("data=%s is not a valid base64 string.", truncate(string(jd.Data)))
	}
	return b, typ, nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// jsonString returns the text of a JSON string, without a copy when it has
// no escapes.
func jsonString(raw json.RawMessage) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1 : len(raw)-1], true
	}
	return jsonfast.Unquote(raw) // as json.Unmarshal into a string
}

// decodeBase64 decodes a JSON string of base64, padded or not; null is nil.
func decodeBase64(raw json.RawMessage) ([]byte, error) {
	if isNull(raw) {
		return nil, nil
	}
	s, ok := jsonString(raw)
	if !ok {
		return nil, errors.New("not a string")
	}
	s = bytes.TrimRight(s, "=")
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(s)))
	n, err := base64.RawStdEncoding.Decode(out, s)
	if err != nil {
		return nil, fmt.Errorf("decoding base64: %w", err)
	}
	return out[:n], nil
}

// truncate shortens client input echoed in messages.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// readAll reads every record of a body that has a length. It stops after
// malformed input, whose record carries the error.
func readAll(r *http.Request, maxBody int64, topic string) ([]decoded, error) {
	sp := newSplitter(r.Body, wholeChunk(r.ContentLength), maxBody, false)
	var recs []decoded
	for {
		raw, err := sp.next()
		if err == io.EOF {
			return recs, nil
		}
		switch {
		case err != nil && (isMaxBytes(err) || errors.Is(err, errSplitTooLarge)):
			return nil, dialects.BodyTooLarge(maxBody)
		case err != nil:
			var me *malformedError
			if !errors.As(err, &me) {
				return nil, dialects.BodyError(err)
			}
			d := decoded{msg: producer.Message{Topic: topic, Partition: -1}, err: badRequest("%s", me.msg), fatal: true}
			return append(recs, d), nil
		}
		d := decodeRecord(raw, topic, false)
		if recs == nil {
			recs = make([]decoded, 0, recordsEstimate(r.ContentLength, len(raw)))
		}
		recs = append(recs, d)
		if d.fatal {
			return recs, nil
		}
	}
}

// isMaxBytes reports whether err is http.MaxBytesReader's. A function of its
// own so that the target errors.As moves to the heap is allocated only for
// an error, not for every request.
func isMaxBytes(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// recordsEstimate guesses how many records a body of n bytes holds from its
// first record's size, for bulk requests whose records look alike: a little
// more, so that the slice is not grown, and at most one per 32 bytes.
func recordsEstimate(n int64, first int) int {
	est := n / int64(first+1)
	return int(min(est+est/8+1, n/32+1, 1<<16))
}

// request builds the handler's request for records, with the reports' state,
// encoding the keys and values that name a schema first.
func request(recs []decoded, st *state) *dialects.Request {
	resolveSchemas(st.ctx, st.schemas, recs, st.topic)
	req := &dialects.Request{Records: make([]producer.Message, len(recs)), PerRecord: true, State: st}
	st.formats = st.formats[:0]
	st.ids = st.ids[:0]
	for i := range recs {
		req.Records[i] = recs[i].msg
		st.formats = append(st.formats, recs[i].formats)
		if st.batch {
			st.ids = append(st.ids, recs[i].id)
		}
		if recs[i].err != nil {
			if req.Errs == nil {
				req.Errs = make([]error, len(recs))
			}
			req.Errs[i] = recs[i].err
		}
	}
	return req
}
