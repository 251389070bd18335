package upstash

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/jsonfast"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Upstash's stateless reads, in the shapes @upstash/kafka decodes (its
// Message, GetTopicsResponse and TopicPartitionOffset types), under the
// route's allow-list:
//
//	GET|POST /fetch               {topic, partition, offset, timeout?, topicPartitionOffsets?: [{topic, partition, offset}]}
//	                              -> [{topic, partition, offset, timestamp, key, value, headers: [{key, value}]}]
//	GET      /topics              -> {"topic": partitions, ...}
//	GET|POST /offsets/{timestamp} [{topic, partition}] (or one)  -> [{topic, partition, offset}]
//
// Choices where the contract is silent:
//   - /fetch reads every partition named (the top-level one first, then
//     topicPartitionOffsets in order) in one call, at most the route's
//     max_records records in all; timeout (ms, default 1000) is how long
//     it waits when no partition has a record yet, capped by the route's
//     timeout. A keyless record's key is "", as Upstash answers; keys,
//     values and header values are strings, invalid UTF-8 replaced by
//     U+FFFD (read binary records with another dialect).
//   - A GET /fetch without a body takes topic, partition, offset and
//     timeout from the query.
//   - /offsets/{timestamp}: earliest, latest, or epoch milliseconds; for a
//     time after every record the offset is -1, as Kafka answers.
//   - The consumer-group endpoints (/consume, /commit, /committed,
//     /consumers, /delete-consumer) answer 501: this gateway keeps no
//     consumer state.
//   - A body over the route's max_body is 413; malformed JSON, a missing
//     field or a negative partition or offset is 400.

// errGroups answers the consumer-group endpoints.
var errGroups = &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusNotImplemented,
	Message: "consumer groups are not supported by this gateway, which keeps no consumer state: read with /fetch (topic, partition, offset) and track offsets in the client"}

// Discover answers GET /topics and the consumer-group endpoints.
func (Upstash) Discover(w http.ResponseWriter, r *http.Request, m dialects.Match, d dialects.Describer) error {
	if m.Endpoint == endpointGroups {
		return errGroups
	}
	info, err := d.Describe(r.Context())
	if err != nil {
		return err
	}
	b := []byte{'{'}
	for i, t := range info.Topics {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonfast.AppendString(b, t.Name)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(len(t.Partitions)), 10)
	}
	b = append(b, '}')
	return writeJSON(w, b)
}

// Consume answers /fetch and /offsets/{timestamp}. The body is bounded by
// the route's max_body.
func (Upstash) Consume(w http.ResponseWriter, r *http.Request, m dialects.Match, f dialects.Fetcher) error {
	body, err := dialects.ReadBody(r)
	if err != nil {
		return err
	}
	if m.Endpoint == endpointFetch {
		return fetch(w, r, f, body)
	}
	return offsets(w, r, f, m.Parts[0], body)
}

// fetchRequest is @upstash/kafka's FetchRequest.
type fetchRequest struct {
	Topic                 *string         `json:"topic"`
	Partition             *int32          `json:"partition"`
	Offset                *int64          `json:"offset"`
	Timeout               *int64          `json:"timeout"`
	TopicPartitionOffsets []fetchPosition `json:"topicPartitionOffsets"`
}

type fetchPosition struct {
	Topic     *string `json:"topic"`
	Partition *int32  `json:"partition"`
	Offset    *int64  `json:"offset"`
}

func fetch(w http.ResponseWriter, r *http.Request, f dialects.Fetcher, body []byte) error {
	positions, wait, err := parseFetch(r, body)
	if err != nil {
		return err
	}
	parts, err := f.FetchMany(r.Context(), positions, wait, 1<<20, 64<<20)
	if err != nil {
		return err
	}
	b := []byte{'['}
	n := 0
	for _, p := range parts {
		if p.Err != nil {
			if errors.Is(p.Err, producer.ErrOffsetOutOfRange) {
				return dialects.Errorf(producer.ClassBadRequest, "offset out of range for partition %d of topic %s: the partition does not hold it", p.Partition, p.Topic)
			}
			return p.Err
		}
		for i := range p.Records {
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendFetched(b, p.Topic, &p.Records[i])
		}
	}
	b = append(b, ']')
	return writeJSON(w, b)
}

// parseFetch reads a fetch request: from the body, or for a GET without
// one from the query. It returns the positions to read, in order, and how
// long to wait for a record.
func parseFetch(r *http.Request, body []byte) ([]producer.FetchPosition, time.Duration, error) {
	var req fetchRequest
	if len(bytes.TrimSpace(body)) == 0 && r.Method == http.MethodGet {
		q := r.URL.Query()
		for name, dst := range map[string]any{"partition": &req.Partition, "offset": &req.Offset, "timeout": &req.Timeout} {
			if v := q.Get(name); v != "" {
				if err := json.Unmarshal([]byte(v), dst); err != nil {
					return nil, 0, dialects.Errorf(producer.ClassBadRequest, "query parameter %s must be an integer", name)
				}
			}
		}
		if q.Has("topic") {
			t := q.Get("topic")
			req.Topic = &t
		}
	} else if err := strictUnmarshal(body, &req); err != nil {
		return nil, 0, dialects.Errorf(producer.ClassBadRequest, "the fetch request is not valid: %v", err)
	}
	var positions []producer.FetchPosition
	add := func(p fetchPosition, where string) error {
		if p.Topic == nil || *p.Topic == "" || p.Partition == nil || p.Offset == nil {
			return dialects.Errorf(producer.ClassBadRequest, "%s needs topic, partition and offset", where)
		}
		if *p.Partition < 0 || *p.Offset < 0 {
			return dialects.Errorf(producer.ClassBadRequest, "%s: partition and offset must not be negative", where)
		}
		positions = append(positions, producer.FetchPosition{Topic: *p.Topic, Partition: *p.Partition, Offset: *p.Offset})
		return nil
	}
	if req.Topic != nil || req.Partition != nil || req.Offset != nil {
		if err := add(fetchPosition{req.Topic, req.Partition, req.Offset}, "the request"); err != nil {
			return nil, 0, err
		}
	}
	for i, p := range req.TopicPartitionOffsets {
		if err := add(p, fmt.Sprintf("topicPartitionOffsets[%d]", i)); err != nil {
			return nil, 0, err
		}
	}
	if len(positions) == 0 {
		return nil, 0, dialects.Errorf(producer.ClassBadRequest, "name a topic, partition and offset, or topicPartitionOffsets")
	}
	wait := time.Second
	if req.Timeout != nil {
		if *req.Timeout < 0 {
			return nil, 0, dialects.Errorf(producer.ClassBadRequest, "timeout must not be negative")
		}
		wait = time.Duration(min(*req.Timeout, int64(time.Hour/time.Millisecond))) * time.Millisecond
	}
	return positions, wait, nil
}

func appendFetched(b []byte, topic string, rec *producer.FetchedRecord) []byte {
	b = append(b, `{"topic":`...)
	b = jsonfast.AppendString(b, topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(rec.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, rec.Offset, 10)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, rec.Timestamp.UnixMilli(), 10)
	b = append(b, `,"key":`...)
	b = jsonfast.AppendString(b, text(rec.Key))
	b = append(b, `,"value":`...)
	b = jsonfast.AppendString(b, text(rec.Value))
	b = append(b, `,"headers":[`...)
	for i, h := range rec.Headers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = jsonfast.AppendString(b, h.Key)
		b = append(b, `,"value":`...)
		b = jsonfast.AppendString(b, text(h.Value))
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// text is a record's bytes as a string, invalid UTF-8 replaced.
func text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

type offsetPart struct {
	Topic     *string `json:"topic"`
	Partition *int32  `json:"partition"`
}

func offsets(w http.ResponseWriter, r *http.Request, f dialects.Fetcher, tsText string, body []byte) error {
	ts, parts, err := parseOffsets(tsText, body)
	if err != nil {
		return err
	}
	got, err := f.ListOffsets(r.Context(), ts, parts)
	if err != nil {
		return err
	}
	b := []byte{'['}
	for i, o := range got {
		if o.Err != nil {
			return o.Err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"topic":`...)
		b = jsonfast.AppendString(b, o.Topic)
		b = append(b, `,"partition":`...)
		b = strconv.AppendInt(b, int64(o.Partition), 10)
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, o.Offset, 10)
		b = append(b, '}')
	}
	b = append(b, ']')
	return writeJSON(w, b)
}

// parseOffsets reads an offsets request: the timestamp of its path and
// the partitions of its body.
func parseOffsets(tsText string, body []byte) (int64, []producer.TopicPartition, error) {
	var ts int64
	switch tsText {
	case "earliest":
		ts = producer.OffsetEarliest
	case "latest":
		ts = producer.OffsetLatest
	default:
		n, err := strconv.ParseInt(tsText, 10, 64)
		if err != nil || n < 0 {
			return 0, nil, dialects.Errorf(producer.ClassBadRequest, "timestamp %q: want earliest, latest or epoch milliseconds", tsText)
		}
		ts = n
	}
	var in []offsetPart
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		var one offsetPart
		if err := strictUnmarshal(body, &one); err != nil {
			return 0, nil, dialects.Errorf(producer.ClassBadRequest, "the offsets request is not valid: %v", err)
		}
		in = []offsetPart{one}
	} else if err := strictUnmarshal(body, &in); err != nil {
		return 0, nil, dialects.Errorf(producer.ClassBadRequest, "the offsets request is not valid (want [{topic, partition}, ...]): %v", err)
	}
	if len(in) == 0 {
		return 0, nil, dialects.Errorf(producer.ClassBadRequest, "name at least one {topic, partition}")
	}
	parts := make([]producer.TopicPartition, len(in))
	for i, p := range in {
		if p.Topic == nil || *p.Topic == "" || p.Partition == nil || *p.Partition < 0 {
			return 0, nil, dialects.Errorf(producer.ClassBadRequest, "entry %d needs a topic and a partition of at least 0", i)
		}
		parts[i] = producer.TopicPartition{Topic: *p.Topic, Partition: *p.Partition}
	}
	return ts, parts, nil
}

// strictUnmarshal decodes one JSON value into v, refusing unknown fields
// and anything after the value.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return fmt.Errorf("got %s", te.Value)
			}
			return fmt.Errorf("%s: want %s, got %s", te.Field, kindOf(te.Type.Kind().String()), te.Value)
		}
		if err == io.EOF {
			return errors.New("empty body")
		}
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("invalid data after the JSON value")
	}
	return nil
}

// kindOf names a Go kind as JSON does.
func kindOf(k string) string {
	switch {
	case strings.HasPrefix(k, "int"):
		return "an integer"
	case k == "string":
		return "a string"
	case k == "slice":
		return "an array"
	}
	return "an object"
}

func writeJSON(w http.ResponseWriter, b []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}
