package confluentv3

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer/schema"
)

// schemaInfo is what a report says of a key or value written with a schema.
type schemaInfo struct {
	subject     string
	id, version int
}

// errNeedsSchema is decodeData's answer for a key or value that names a
// schema: it is resolved after decoding, with the route's registry.
var errNeedsSchema = errors.New("needs a schema")

func schemaFields(jd *jsonData) bool {
	if !isNull(jd.Subject) || !isNull(jd.SubjectNameStrategy) || !isNull(jd.SchemaID) || !isNull(jd.SchemaVersion) || !isNull(jd.Schema) {
		return true
	}
	if jd.Type != nil {
		switch *jd.Type {
		case "AVRO", "PROTOBUF", "JSONSCHEMA":
			return true
		}
	}
	return false
}

// noRegistry is the report of a key or value naming a schema on a route
// whose cluster has no schema_registry, naming the field.
func noRegistry(jd *jsonData, which string) error {
	for _, f := range [...]struct {
		name string
		raw  json.RawMessage
	}{{"subject", jd.Subject}, {"subject_name_strategy", jd.SubjectNameStrategy},
		{"schema_id", jd.SchemaID}, {"schema_version", jd.SchemaVersion}, {"schema", jd.Schema}} {
		if !isNull(f.raw) {
			return badRequest("%s.%s is not supported: the gateway's cluster has no schema_registry; use type BINARY, JSON or STRING", which, f.name)
		}
	}
	return badRequest("%s.type %s is not supported: the gateway's cluster has no schema_registry; use BINARY, JSON or STRING", which, *jd.Type)
}

// schemaError is a record's report for a schema failure, as Confluent's
// REST Proxy answers: 42203 for data that does not convert, 42205 for an
// invalid schema, 42207 for an unknown id or subject or a schema the
// registry refused, 400 for an unknown version ("Schema does not exist"),
// 500 with 50003 (retriable) or 50002 for the registry failing.
func schemaError(which string, err error) error {
	e := dialects.SchemaError(err)
	msg := which + ": " + e.Message
	switch schema.KindOf(err) {
	case schema.KindBadData:
		e.Status, e.Code, e.Message = http.StatusUnprocessableEntity, 42203, "Conversion of JSON to Object failed: "+msg
	case schema.KindInvalidSchema:
		e.Status, e.Code, e.Message = http.StatusUnprocessableEntity, 42205, "Invalid schema: "+msg
	case schema.KindUnknownVersion:
		e.Status, e.Code, e.Message = http.StatusBadRequest, 400, "Bad Request: Schema does not exist: "+msg
	case schema.KindUnknownID, schema.KindUnknownSubject, schema.KindIncompatible:
		e.Status, e.Code, e.Message = http.StatusUnprocessableEntity, 42207, "Error serializing message. "+msg
	case schema.KindUnavailable:
		e.Status, e.Code, e.Message = http.StatusInternalServerError, 50003, msg
	default:
		e.Status, e.Code, e.Message = http.StatusInternalServerError, 50002, msg
	}
	return e
}

// resolveSchemas encodes the keys and values of recs that name a schema,
// each record on its own: a failure is that record's report.
func resolveSchemas(ctx context.Context, ser dialects.Serializer, recs []decoded, topic string) {
	for i := range recs {
		d := &recs[i]
		for slot := range d.pending {
			jd := d.pending[slot]
			if jd == nil || d.err != nil {
				continue
			}
			d.pending[slot] = nil
			which := [...]string{"key", "value"}[slot]
			if ser == nil {
				d.err = noRegistry(jd, which)
				continue
			}
			b, f, info, err := encodeWithSchema(ctx, ser, jd, topic, slot == 0, which)
			if err != nil {
				d.err = err
				continue
			}
			if slot == 0 {
				d.msg.Key, d.formats.key, d.formats.keySchema = b, f, info
			} else {
				d.msg.Value, d.formats.value, d.formats.valueSchema = b, f, info
			}
		}
	}
}

func encodeWithSchema(ctx context.Context, ser dialects.Serializer, jd *jsonData, topic string, key bool, which string) ([]byte, format, *schemaInfo, error) {
	ref := schema.Ref{Topic: topic, Key: key}
	if jd.Type != nil {
		f, err := schema.ParseFormat(*jd.Type)
		if err != nil || *jd.Type == "JSON" {
			return nil, 0, nil, badRequest("%s.type %q is not one of AVRO, JSONSCHEMA, PROTOBUF with schema fields", which, truncate(*jd.Type))
		}
		ref.Format = f
	}
	str := func(raw json.RawMessage, name string, dst *string) error {
		if isNull(raw) {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return badRequest("%s.%s must be a string", which, name)
		}
		return nil
	}
	num := func(raw json.RawMessage, name string, dst *int) error {
		if isNull(raw) {
			return nil
		}
		n, err := strconv.Atoi(string(raw))
		if err != nil || n <= 0 {
			return badRequest("%s.%s must be a positive integer", which, name)
		}
		*dst = n
		return nil
	}
	var strategy string
	for _, err := range []error{str(jd.Subject, "subject", &ref.Subject), str(jd.SubjectNameStrategy, "subject_name_strategy", &strategy),
		str(jd.Schema, "schema", &ref.Schema), num(jd.SchemaID, "schema_id", &ref.ID), num(jd.SchemaVersion, "schema_version", &ref.Version)} {
		if err != nil {
			return nil, 0, nil, err
		}
	}
	if strategy != "" {
		st, err := schema.ParseStrategy(strategy)
		if err != nil {
			return nil, 0, nil, badRequest("%s.%s", which, err)
		}
		ref.Strategy = st
	}
	if ref.ID != 0 && (ref.Version != 0 || ref.Schema != "") {
		return nil, 0, nil, badRequest("%s: schema_id goes alone, without schema_version or schema", which)
	}
	if ref.Schema != "" && ref.Version != 0 {
		return nil, 0, nil, badRequest("%s: schema goes without schema_version", which)
	}
	if ref.Schema != "" && ref.Format == schema.FormatNone {
		return nil, 0, nil, badRequest("%s: an inline schema needs its type: AVRO, JSONSCHEMA or PROTOBUF", which)
	}
	res, err := ser.Resolve(ctx, ref)
	if err != nil {
		return nil, 0, nil, schemaError(which, err)
	}
	if isNull(jd.Data) {
		return nil, formatNull, nil, nil
	}
	b, err := res.AppendEncode(nil, jd.Data)
	if err != nil {
		return nil, 0, nil, schemaError(which, err)
	}
	f := map[schema.Format]format{schema.Avro: formatAvro, schema.JSONSchema: formatJSONSchema, schema.Protobuf: formatProtobuf}[res.Format]
	return b, f, &schemaInfo{subject: res.Subject, id: res.ID, version: res.Version}, nil
}

// appendSchemaInfo appends a report's subject, schema_id and
// schema_version.
func appendSchemaInfo(buf []byte, si *schemaInfo) []byte {
	buf = append(buf, `,"subject":`...)
	buf = appendString(buf, si.subject)
	buf = append(buf, `,"schema_id":`...)
	buf = strconv.AppendInt(buf, int64(si.id), 10)
	buf = append(buf, `,"schema_version":`...)
	return strconv.AppendInt(buf, int64(si.version), 10)
}
