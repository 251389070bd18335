package relcheck

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Position is where Kafka put a record.
type Position struct {
	Partition int32
	Offset    int64
}

func (p Position) String() string { return fmt.Sprintf("%d@%d", p.Partition, p.Offset) }

// Reported is what an answer says of one record: written at At, or not
// (an error in its place).
type Reported struct {
	Written bool
	At      Position
}

// position is the fields every dialect names a record's place with.
type position struct {
	Partition   *int32 `json:"partition"`
	PartitionID *int32 `json:"partition_id"`
	Offset      *int64 `json:"offset"`
	Error       any    `json:"error"`
	ErrorCode   *int   `json:"error_code"`
	ID          string `json:"id"`
	Metadata    *struct {
		Partition *int32 `json:"partition"`
		Offset    *int64 `json:"offset"`
	} `json:"metadata"`
}

// reported is p as a Reported: written where it has a partition and an
// offset and no error (Confluent's error_code 200 is its success).
func (p position) reported() Reported {
	part, off := p.Partition, p.Offset
	if p.PartitionID != nil {
		part = p.PartitionID
	}
	if p.Metadata != nil {
		part, off = p.Metadata.Partition, p.Metadata.Offset
	}
	failed := p.Error != nil || p.ErrorCode != nil && *p.ErrorCode != 200
	if failed || part == nil || off == nil {
		return Reported{}
	}
	return Reported{Written: true, At: Position{*part, *off}}
}

// ReportJSON reads the records' outcomes from an answer in any dialect's
// shape: an object or an array of objects (webhook, upstash, IBM, a v3
// report), {"offsets":[...]} (v2), {"successes","failures"} (v3's
// records:batch, in id order: the ids are "1" to "n"), or concatenated
// objects (a v3 stream's reports). It returns nil for a body that is none
// of these, as an error answer is.
func ReportJSON(body []byte) []Reported {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] == '[' {
		var ps []position
		if json.Unmarshal(body, &ps) != nil {
			return nil
		}
		return reportAll(ps)
	}
	var batch struct {
		Offsets   []position `json:"offsets"`
		Successes []position `json:"successes"`
		Failures  []position `json:"failures"`
	}
	if json.Unmarshal(body, &batch) == nil {
		switch {
		case batch.Offsets != nil:
			return reportAll(batch.Offsets)
		case batch.Successes != nil || batch.Failures != nil:
			out := make([]Reported, len(batch.Successes)+len(batch.Failures))
			for _, p := range append(batch.Successes, batch.Failures...) {
				i, err := strconv.Atoi(p.ID)
				if err != nil || i < 1 || i > len(out) {
					return nil
				}
				out[i-1] = p.reported()
			}
			return out
		}
	}
	var out []Reported
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		var p position
		if err := dec.Decode(&p); err == io.EOF {
			return out
		} else if err != nil {
			return nil
		}
		out = append(out, p.reported())
	}
}

func reportAll(ps []position) []Reported {
	out := make([]Reported, len(ps))
	for i, p := range ps {
		out[i] = p.reported()
	}
	return out
}

// BatchDialects are requests of several records each, every record's
// outcome in the answer: webhook split lines, upstash and v2 arrays, v3's
// records:batch and a v3 stream, each on its own topic, as served by
// Site(). Each record but the webhook's is keyed by its id, so that the
// records of one request spread over the partitions (null keys stick to
// one per batch), and a request is partly written when one partition's
// leader does not answer.
var BatchDialects = []Dialect{
	{Name: "webhook split lines", Topic: "whs", Batch: func(base, _ string, vs [][]byte) *http.Request {
		return NewRequest(base+"/whs/", "application/x-ndjson", string(bytes.Join(vs, []byte("\n")))+"\n")
	}, Classify: ClassifySimple},
	{Name: "upstash array", Topic: "upa", Batch: func(base, topic string, vs [][]byte) *http.Request {
		var ms []any
		for _, v := range vs {
			ms = append(ms, map[string]any{"key": keyOf(v), "value": string(v)})
		}
		b, _ := json.Marshal(ms)
		return NewRequest(base+"/up/produce/"+topic, "application/json", string(b))
	}, Classify: ClassifySimple},
	{Name: "confluent_v2 array", Topic: "v2a", Batch: func(base, topic string, vs [][]byte) *http.Request {
		var rs []any
		for _, v := range vs {
			rs = append(rs, map[string]any{"key": base64.StdEncoding.EncodeToString([]byte(keyOf(v))), "value": base64.StdEncoding.EncodeToString(v)})
		}
		b, _ := json.Marshal(map[string]any{"records": rs})
		return NewRequest(base+"/v2/topics/"+topic, "application/vnd.kafka.binary.v2+json", string(b))
	}, Classify: confluentBatch(42901)},
	{Name: "confluent_v3 records:batch", Topic: "v3b", Batch: func(base, topic string, vs [][]byte) *http.Request {
		var es []any
		for i, v := range vs {
			es = append(es, map[string]any{"id": strconv.Itoa(i + 1), "key": map[string]any{"type": "STRING", "data": keyOf(v)},
				"value": map[string]any{"type": "STRING", "data": string(v)}})
		}
		b, _ := json.Marshal(map[string]any{"entries": es})
		return NewRequest(base+"/v3/clusters/c1/topics/"+topic+"/records:batch", "application/json", string(b))
	}, Classify: confluentBatch(http.StatusTooManyRequests)},
	{Name: "confluent_v3 stream", Topic: "v3s", Batch: func(base, topic string, vs [][]byte) *http.Request {
		var b strings.Builder
		for _, v := range vs {
			j, _ := json.Marshal(map[string]any{"key": map[string]any{"type": "STRING", "data": keyOf(v)},
				"value": map[string]any{"type": "STRING", "data": string(v)}})
			b.Write(j)
			b.WriteByte('\n')
		}
		// A body of unknown length is a stream: each record produced as
		// it is read, its report written as it is acknowledged.
		req, err := http.NewRequest(http.MethodPost, base+"/v3/clusters/c1/topics/"+topic+"/records", bufio.NewReader(strings.NewReader(b.String())))
		if err != nil {
			panic(err)
		}
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		return req
	}, Classify: confluentBatch(http.StatusTooManyRequests)},
}

// confluentBatch classifies a Confluent batch answer whose records carry
// their own outcomes (a 200, or records:batch's 207) as OK: SendBatch then
// reads each record's outcome from it. overloadCode is the dialect's
// error_code for overload.
func confluentBatch(overloadCode int) func(*http.Response, []byte) Outcome {
	return func(resp *http.Response, body []byte) Outcome {
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusMultiStatus {
			return OK
		}
		return classifyConfluentErr(resp, body, overloadCode)
	}
}

// keyOf is a record value's id, its key in the batch requests.
func keyOf(v []byte) string {
	id, _, _ := strings.Cut(string(v), "|")
	return id
}
