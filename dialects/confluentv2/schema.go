package confluentv2

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
	"github.com/caddy-kafka/caddy-kafka/producer/schema"
)

// schemaFormat is the schema format of an embedded format name, or
// FormatNone.
func schemaFormat(embedded string, v version) schema.Format {
	switch embedded {
	case "avro":
		return schema.Avro
	case "jsonschema":
		if v == 2 {
			return schema.JSONSchema
		}
	case "protobuf":
		if v == 2 {
			return schema.Protobuf
		}
	}
	return schema.FormatNone
}

// schemaState is the State of a request with schemas: Encode answers the ids
// used.
type schemaState struct {
	v              version
	keyID, valueID int // 0 for none
}

type schemaRequest struct {
	Records       *[]schemaRecord `json:"records"`
	KeySchema     *string         `json:"key_schema"`
	KeySchemaID   *int            `json:"key_schema_id"`
	ValueSchema   *string         `json:"value_schema"`
	ValueSchemaID *int            `json:"value_schema_id"`
}

type schemaRecord struct {
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	Partition *int32          `json:"partition"`
}

// Confluent's Errors.java codes for schema failures.
var (
	errKeySchemaMissing = &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnprocessableEntity, Code: 42201,
		Message: "Request includes keys but does not include key schema: send key_schema or key_schema_id"}
	errValueSchemaMissing = &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnprocessableEntity, Code: 42202,
		Message: "Request includes values but does not include value schema: send value_schema or value_schema_id"}
)

// schemaError maps a schema failure to Confluent's codes: 42203 for data
// that does not convert, 42205 for an invalid schema, 42207 (Confluent's
// serialization error) for an unknown or incompatible schema, 500 with
// 50003 for a registry that is down and 50002 for any other registry
// failure.
func schemaError(err error) *dialects.Error {
	e := dialects.SchemaError(err)
	switch schema.KindOf(err) {
	case schema.KindBadData:
		e.Status, e.Code, e.Message = http.StatusUnprocessableEntity, 42203, "Conversion of JSON to Object failed: "+e.Message
	case schema.KindInvalidSchema:
		e.Status, e.Code, e.Message = http.StatusUnprocessableEntity, 42205, "Invalid schema: "+e.Message
	case schema.KindUnknownID, schema.KindUnknownSubject, schema.KindUnknownVersion, schema.KindIncompatible:
		e.Status, e.Code, e.Message = http.StatusUnprocessableEntity, 42207, "Error serializing message. "+e.Message
	case schema.KindUnavailable:
		e.Status, e.Code = http.StatusInternalServerError, 50003
	case schema.KindRegistry:
		e.Status, e.Code = http.StatusInternalServerError, 50002
	}
	return e
}

// decodeSchemaRecords decodes a produce body in the avro, jsonschema or
// protobuf embedded format: every record's key and value are encoded in
// Confluent's wire format with the request's key and value schemas. One
// record that does not convert refuses the request.
func decodeSchemaRecords(r *http.Request, rt dialects.Route, body []byte, f schema.Format, v version, topic string, partition int32) (*dialects.Request, error) {
	var req schemaRequest
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&req); err != nil {
		return nil, malformed("request body is not a valid produce request: %s", jsonErr(err))
	}
	if d.More() {
		return nil, malformed("request body is not a valid produce request: data after the object")
	}
	if req.Records == nil || len(*req.Records) == 0 {
		return nil, errNoRecords
	}
	in := *req.Records
	var hasKey, hasValue bool
	for i := range in {
		hasKey = hasKey || !isNull(in[i].Key)
		hasValue = hasValue || !isNull(in[i].Value)
	}
	if hasKey && req.KeySchema == nil && req.KeySchemaID == nil {
		return nil, errKeySchemaMissing
	}
	if hasValue && req.ValueSchema == nil && req.ValueSchemaID == nil {
		return nil, errValueSchemaMissing
	}
	ctx := r.Context()
	resolve := func(key bool, text *string, id *int) (*schema.Resolved, error) {
		if text == nil && id == nil {
			return nil, nil
		}
		ref := schema.Ref{Topic: topic, Key: key, Format: f, SkipVersion: true}
		if id != nil {
			ref.ID = *id
			if ref.ID <= 0 {
				return nil, schemaError(&schema.Error{Kind: schema.KindUnknownID, Msg: fmt.Sprintf("schema id %d: ids are positive", ref.ID)})
			}
		} else {
			ref.Schema = *text
		}
		res, err := rt.Schemas.Resolve(ctx, ref)
		if err != nil {
			return nil, schemaError(err)
		}
		return &res, nil
	}
	keySchema, err := resolve(true, req.KeySchema, req.KeySchemaID)
	if err != nil {
		return nil, err
	}
	valueSchema, err := resolve(false, req.ValueSchema, req.ValueSchemaID)
	if err != nil {
		return nil, err
	}
	st := &schemaState{v: v}
	if keySchema != nil {
		st.keyID = keySchema.ID
	}
	if valueSchema != nil {
		st.valueID = valueSchema.ID
	}
	out := make([]producer.Message, len(in))
	for i := range in {
		rec := &in[i]
		m := &out[i]
		m.Topic, m.Partition = topic, partition
		if rec.Partition != nil {
			if *rec.Partition < 0 {
				return nil, errPartition
			}
			m.Partition = *rec.Partition
		}
		if !isNull(rec.Key) {
			if m.Key, err = keySchema.AppendEncode(nil, rec.Key); err != nil {
				e := schemaError(err)
				e.Message = fmt.Sprintf("records[%d].key: %s", i, e.Message)
				return nil, e
			}
		}
		if !isNull(rec.Value) {
			if m.Value, err = valueSchema.AppendEncode(nil, rec.Value); err != nil {
				e := schemaError(err)
				e.Message = fmt.Sprintf("records[%d].value: %s", i, e.Message)
				return nil, e
			}
		}
	}
	return &dialects.Request{Records: out, State: st}, nil
}

// isNull reports a missing or JSON null key or value: a null record key or
// value, which is not serialized (as Confluent's serializers leave null).
func isNull(raw json.RawMessage) bool { return raw == nil || string(raw) == "null" }
