package confluentv3

import (
	"context"
	"strconv"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/jsonfast"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// state is what reports need besides the results: the IDs in the path and
// each record's formats.
type state struct {
	prefix    []byte // `{"error_code":200,"cluster_id":…,"topic_name":…,"partition_id":`
	formats   []formats
	clusterID string
	batch     bool     // a records:batch request
	ids       []string // its entries' ids
	tsMilli   int64    // the instant, in epoch milliseconds, that tsText has
	tsText    []byte   // a report timestamp, formatted; nil for none yet
	queued    int      // a stream's batch: the bytes of the stream's budget it holds

	// For keys and values that name a schema: the route's registry, the
	// request's context and the topic.
	schemas dialects.Serializer
	ctx     context.Context
	topic   string
}

func newState(clusterID, topic string) *state {
	buf := make([]byte, 0, 80+len(clusterID)+len(topic))
	buf = append(buf, `{"error_code":200,"cluster_id":`...)
	buf = appendString(buf, clusterID)
	buf = append(buf, `,"topic_name":`...)
	buf = appendString(buf, topic)
	buf = append(buf, `,"partition_id":`...)
	return &state{prefix: buf, clusterID: clusterID, topic: topic, ctx: context.Background()}
}

// tsLayout is RFC 3339 with milliseconds, as Java's Instant prints them.
const tsLayout = "2006-01-02T15:04:05.000Z07:00"

// appendReports appends the reports of req's records: err when the request
// was refused whole, else each record's decoding failure or result.
func (st *state) appendReports(buf []byte, req *dialects.Request, results []producer.Result, err error) []byte {
	for i := range req.Records {
		e := err
		if req.Errs != nil && req.Errs[i] != nil {
			e = req.Errs[i]
		}
		var res producer.Result
		if results != nil {
			res = results[i]
		}
		buf = st.appendReport(buf, st.formats[i], &req.Records[i], res, e)
	}
	return buf
}

// appendReport appends a record's delivery report and a newline: err is the
// record's decoding or policy failure, else res tells how producing went.
func (st *state) appendReport(buf []byte, f formats, m *producer.Message, res producer.Result, err error) []byte {
	if err == nil {
		err = res.Err
	}
	if err != nil {
		_, code, msg := classify(err)
		buf = append(buf, `{"error_code":`...)
		buf = strconv.AppendInt(buf, int64(code), 10)
		buf = append(buf, `,"message":`...)
		buf = appendString(buf, msg)
		return append(buf, "}\n"...)
	}
	buf = append(buf, st.prefix...)
	buf = st.appendResult(buf, f, m, res)
	return append(buf, "}\n"...)
}

// appendResult appends the fields of a successful report after cluster and
// topic: partition, offset, timestamp, key, value.
func (st *state) appendResult(buf []byte, f formats, m *producer.Message, res producer.Result) []byte {
	buf = strconv.AppendInt(buf, int64(res.Partition), 10)
	buf = append(buf, `,"offset":`...)
	buf = strconv.AppendInt(buf, res.Offset, 10)
	buf = append(buf, `,"timestamp":"`...)
	buf = st.appendTimestamp(buf, res.Timestamp)
	buf = append(buf, `","key":`...)
	buf = appendData(buf, f.key, f.keySchema, m.Key)
	buf = append(buf, `,"value":`...)
	return appendData(buf, f.value, f.valueSchema, m.Value)
}

// appendTimestamp appends t in tsLayout. The text depends only on t's
// millisecond, and the records of a batch often share one: the last is kept.
func (st *state) appendTimestamp(buf []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	if ms < 0 || ms >= 1<<50 { // outside 1970 to year 37,000: no overflow in ms
		return t.UTC().AppendFormat(buf, tsLayout)
	}
	if st.tsText == nil || ms != st.tsMilli {
		st.tsText = t.UTC().AppendFormat(st.tsText[:0], tsLayout)
		st.tsMilli = ms
	}
	return append(buf, st.tsText...)
}

func appendData(buf []byte, f format, si *schemaInfo, b []byte) []byte {
	if b == nil || f == formatNull {
		return append(buf, "null"...)
	}
	buf = append(buf, `{"type":"`...)
	buf = append(buf, formatNames[f]...)
	buf = append(buf, `","size":`...)
	buf = strconv.AppendInt(buf, int64(len(b)), 10)
	if si != nil {
		buf = appendSchemaInfo(buf, si)
	}
	return append(buf, '}')
}

// appendString appends s quoted as json.Marshal quotes it.
func appendString(buf []byte, s string) []byte { return jsonfast.AppendString(buf, s) }
