package confluentv2

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// defaultCount is the most records a consume answer has without a count.
const defaultCount = 100

// Consume answers the partition consume endpoints when Consume is on.
func (c *ConfluentV2) Consume(w http.ResponseWriter, r *http.Request, m dialects.Match, f dialects.Fetcher) error {
	rt := route{topic: m.Topic, partition: m.Parts[0]}
	if m.Endpoint == endpointOffsets {
		return partitionOffsets(w, r, f, rt)
	}
	fm, v, err := acceptFormat(r.Header.Values("Accept"))
	if err != nil {
		return err
	}
	partition, err := parsePartition(rt.partition)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	offset, err := queryInt(q.Get("offset"), "offset", 0, 0)
	if err != nil {
		return err
	}
	count, err := queryInt(q.Get("count"), "count", defaultCount, 1)
	if err != nil {
		return err
	}
	// The fetcher caps count at max_records and the bytes at max_body.
	recs, err := f.Fetch(r.Context(), rt.topic, partition, offset, int(min(count, maxInt32)), maxInt32)
	if errors.Is(err, producer.ErrOffsetOutOfRange) {
		err = &dialects.Error{Class: producer.ClassBadRequest, Code: 40002, Err: err,
			Message: fmt.Sprintf("offset %d is out of range: the partition does not hold it", offset)}
	}
	if err != nil {
		return err
	}
	body, err := encodeRecords(rt.topic, recs, fm)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", embeddedMediaType(fm, v))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// partitionOffsets answers GET /topics/{t}/partitions/{p}/offsets, as
// Confluent v2 and Karapace do: {"beginning_offset","end_offset"}.
func partitionOffsets(w http.ResponseWriter, r *http.Request, f dialects.Fetcher, rt route) error {
	if !acceptsJSON(r) {
		return errNotAcceptable
	}
	partition, err := parsePartition(rt.partition)
	if err != nil {
		return err
	}
	tp := []producer.TopicPartition{{Topic: rt.topic, Partition: partition}}
	first, err := f.ListOffsets(r.Context(), producer.OffsetEarliest, tp)
	if err != nil {
		return err
	}
	end, err := f.ListOffsets(r.Context(), producer.OffsetLatest, tp)
	if err != nil {
		return err
	}
	if first[0].Err != nil {
		return first[0].Err
	}
	if end[0].Err != nil {
		return end[0].Err
	}
	b := append([]byte(`{"beginning_offset":`), strconv.AppendInt(nil, first[0].Offset, 10)...)
	b = append(b, `,"end_offset":`...)
	b = strconv.AppendInt(b, end[0].Offset, 10)
	b = append(b, '}')
	return dialects.WriteBody(w, http.StatusOK, mediaType(metaVersion(r)), b)
}

// queryInt parses a non-negative query parameter no smaller than least,
// with a default for an absent one.
func queryInt(s, name string, def, least int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < least {
		return 0, &dialects.Error{Class: producer.ClassBadRequest, Code: 40002,
			Message: fmt.Sprintf("query parameter %s must be an integer of at least %d", name, least)}
	}
	return n, nil
}

// acceptFormat picks the embedded format of a consume answer: the first
// binary or json Kafka vendor type in Accept, binary v1 when it names none.
// The version is that of the first Kafka vendor type, if any.
func acceptFormat(accept []string) (format, version, error) {
	v := version(0)
	for _, header := range accept {
		for part := range strings.SplitSeq(header, ",") {
			mt, _, _ := strings.Cut(part, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			embedded, ev, ok := parseVendorType(mt)
			if !ok {
				continue
			}
			if embedded == "" {
				if v == 0 {
					v = ev
				}
				continue
			}
			if ev == 0 {
				ev = v
			}
			if ev == 0 {
				ev = 1
			}
			if f, ok := formatOf(embedded); ok {
				return f, ev, nil
			}
			return 0, ev, &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusNotAcceptable, Code: 40601,
				Message: fmt.Sprintf("the %s embedded format is not supported (it needs a schema registry): accept binary or json", embedded)}
		}
	}
	if v == 0 {
		v = 1
	}
	return formatBinary, v, nil
}

func embeddedMediaType(f format, v version) string {
	switch {
	case f == formatJSON && v == 1:
		return "application/vnd.kafka.json.v1+json"
	case f == formatJSON:
		return "application/vnd.kafka.json.v2+json"
	case v == 1:
		return "application/vnd.kafka.binary.v1+json"
	}
	return "application/vnd.kafka.binary.v2+json"
}

// encodeRecords writes [{"topic","key","value","partition","offset"}...]. In
// the json format it stops before the first record that is not JSON, and
// fails if that is the first.
func encodeRecords(topic string, recs []producer.FetchedRecord, f format) ([]byte, error) {
	qtopic, _ := json.Marshal(topic)
	size := 2
	for i := range recs {
		size += 64 + len(qtopic) + (len(recs[i].Key)+len(recs[i].Value))*4/3
	}
	b := make([]byte, 0, size)
	b = append(b, '[')
	for i := range recs {
		rec := &recs[i]
		if f == formatJSON && !(validJSON(rec.Key) && validJSON(rec.Value)) {
			if i == 0 {
				return nil, &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusNotAcceptable, Code: 40601,
					Message: fmt.Sprintf("the record at offset %d is not JSON: read it with Accept: application/vnd.kafka.binary.v2+json", rec.Offset)}
			}
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"topic":`...)
		b = append(b, qtopic...)
		b = append(b, `,"key":`...)
		b = appendEmbedded(b, rec.Key, f)
		b = append(b, `,"value":`...)
		b = appendEmbedded(b, rec.Value, f)
		b = append(b, `,"partition":`...)
		b = strconv.AppendInt(b, int64(rec.Partition), 10)
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, rec.Offset, 10)
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

func validJSON(data []byte) bool { return data == nil || json.Valid(data) }

func appendEmbedded(b, data []byte, f format) []byte {
	switch {
	case data == nil:
		return append(b, "null"...)
	case f == formatJSON:
		return append(b, data...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, '"')
}
