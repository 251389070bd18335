package confluentv3

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// batchError is a records:batch request Confluent refuses with 42208.
func batchError(msg string) *dialects.Error {
	return &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnprocessableEntity, Code: 42208, Message: msg}
}

// notABatch is the answer to a records:batch body that is JSON but not a
// batch, as Confluent gives it: 422.
var notABatch = &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnprocessableEntity,
	Code: http.StatusUnprocessableEntity, Message: `the body is not a batch: send {"entries":[{"id":"1","value":{...}},...]}`}

type dataReport struct {
	Type          string  `json:"type"`
	Size          int     `json:"size"`
	Subject       *string `json:"subject,omitempty"`
	SchemaID      *int    `json:"schema_id,omitempty"`
	SchemaVersion *int    `json:"schema_version,omitempty"`
}

type batchSuccess struct {
	ID          string      `json:"id"`
	ClusterID   string      `json:"cluster_id"`
	TopicName   string      `json:"topic_name"`
	PartitionID int32       `json:"partition_id"`
	Offset      int64       `json:"offset"`
	Timestamp   string      `json:"timestamp"`
	Key         *dataReport `json:"key"`
	Value       *dataReport `json:"value"`
}

type batchFailure struct {
	ID        string `json:"id"`
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

type batchResponse struct {
	Successes []batchSuccess `json:"successes"`
	Failures  []batchFailure `json:"failures"`
}

// decodeBatch reads a records:batch body into its entries.
func (c *ConfluentV3) decodeBatch(body []byte, topic string) ([]decoded, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, batchError("Request body is empty. Data is required.")
	}
	var br struct {
		Entries []json.RawMessage `json:"entries"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&br); err != nil {
		var fields map[string]json.RawMessage
		if json.Unmarshal(body, &fields) == nil && fields["entries"] != nil {
			if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				return nil, badRequest(`unrecognized field %s: a batch has entries, each a record with an "id"`, name)
			}
		}
		if err, malformed := jsonError(err); malformed || fields["entries"] != nil {
			return nil, err
		}
		// Well-formed JSON without entries (a records request's
		// {"records":[...]}, an array): not a batch, as Confluent
		// answers it.
		return nil, notABatch
	}
	if br.Entries == nil {
		return nil, notABatch
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("unexpected data after the batch")
	}
	if len(br.Entries) == 0 {
		return nil, batchError("Empty batch.")
	}
	if len(br.Entries) > c.batchMax {
		return nil, batchError(fmt.Sprintf("Too many entries in batch: %d, at most %d.", len(br.Entries), c.batchMax))
	}
	recs := make([]decoded, len(br.Entries))
	seen := make(map[string]struct{}, len(br.Entries))
	for i, raw := range br.Entries {
		var e struct {
			ID *string `json:"id"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.ID == nil || *e.ID == "" || utf8.RuneCountInString(*e.ID) > 80 {
			return nil, batchError("Batch entry identifier is not a valid string: ids are strings of 1 to 80 characters.")
		}
		if _, dup := seen[*e.ID]; dup {
			return nil, batchError(fmt.Sprintf("Batch entry IDs are not distinct: %q appears more than once.", truncate(*e.ID)))
		}
		seen[*e.ID] = struct{}{}
		recs[i] = decodeRecord(raw, topic, true)
		recs[i].id = *e.ID
	}
	return recs, nil
}

// writeBatch answers a records:batch request: 207, with the successes and
// the failures.
func (st *state) writeBatch(w http.ResponseWriter, req *dialects.Request, results []producer.Result) error {
	out := batchResponse{Successes: make([]batchSuccess, 0, len(results)), Failures: []batchFailure{}}
	for i, res := range results {
		err := res.Err
		if req.Errs != nil && req.Errs[i] != nil {
			err = req.Errs[i]
		}
		if err != nil {
			_, code, msg := classify(err)
			out.Failures = append(out.Failures, batchFailure{ID: st.ids[i], ErrorCode: code, Message: msg})
			continue
		}
		m := &req.Records[i]
		out.Successes = append(out.Successes, batchSuccess{
			ID: st.ids[i], ClusterID: st.clusterID, TopicName: m.Topic,
			PartitionID: res.Partition, Offset: res.Offset,
			Timestamp: res.Timestamp.UTC().Format(tsLayout),
			Key:       report(st.formats[i].key, st.formats[i].keySchema, m.Key),
			Value:     report(st.formats[i].value, st.formats[i].valueSchema, m.Value),
		})
	}
	return dialects.WriteJSON(w, http.StatusMultiStatus, "application/json", out)
}

func report(f format, si *schemaInfo, b []byte) *dataReport {
	if b == nil || f == formatNull {
		return nil
	}
	r := &dataReport{Type: formatNames[f], Size: len(b)}
	if si != nil {
		r.Subject, r.SchemaID, r.SchemaVersion = &si.subject, &si.id, &si.version
	}
	return r
}
