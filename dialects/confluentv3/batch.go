package confluentv3

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// batchError is a records:batch request Confluent refuses with 42208.
func batchError(msg string) *dialects.Error {
	return &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnprocessableEntity, Code: 42208, Message: msg}
}

type dataReport struct {
	Type string `json:"type"`
	Size int    `json:"size"`
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
		err, _ = jsonError(err)
		return nil, err
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

// produceBatch serves POST .../records:batch.
func (c *ConfluentV3) produceBatch(w http.ResponseWriter, r *http.Request, k dialects.Kafka, clusterID, topic string) {
	maxBody := k.Limits().MaxBody
	if r.ContentLength > maxBody {
		c.WriteError(w, r, errTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.WriteError(w, r, errTooLarge)
		} else {
			c.WriteError(w, r, &dialects.Error{Class: producer.ClassBadRequest, Message: "reading request body failed", Err: err})
		}
		return
	}
	recs, err := c.decodeBatch(body, topic)
	if err != nil {
		c.WriteError(w, r, err)
		return
	}
	req := request(recs, newState(clusterID, topic))
	results, err := k.Produce(r.Context(), req)
	if err != nil {
		c.WriteError(w, r, err)
		return
	}
	out := batchResponse{Successes: make([]batchSuccess, 0, len(recs)), Failures: []batchFailure{}}
	for i, res := range results {
		err := recs[i].err
		if err == nil {
			err = res.Err
		}
		if err != nil {
			_, code, msg := classify(err)
			out.Failures = append(out.Failures, batchFailure{ID: recs[i].id, ErrorCode: code, Message: msg})
			continue
		}
		out.Successes = append(out.Successes, batchSuccess{
			ID: recs[i].id, ClusterID: clusterID, TopicName: topic,
			PartitionID: res.Partition, Offset: res.Offset,
			Timestamp: res.Timestamp.UTC().Format(tsLayout),
			Key:       report(recs[i].formats.key, recs[i].msg.Key),
			Value:     report(recs[i].formats.value, recs[i].msg.Value),
		})
	}
	_ = dialects.WriteJSON(w, http.StatusMultiStatus, "application/json", out)
}

func report(f format, b []byte) *dataReport {
	if b == nil || f == formatNull {
		return nil
	}
	return &dataReport{Type: formatNames[f], Size: len(b)}
}
