package confluentv3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/fuzzseed"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// specBodies are the request examples of the spec, and some edge cases.
var specBodies = []string{
	`{"partition_id":1,"headers":[{"name":"Header-1","value":"SGVhZGVyLTE="},{"name":"Header-2","value":"SGVhZGVyLTI="}],"key":{"type":"BINARY","data":"Zm9vYmFy"},"value":{"type":"JSON","data":{"foo":"bar"}},"timestamp":"2021-02-05T19:14:42Z"}`,
	`{"value":{"type":"STRING","data":"My message"}}`,
	`{"key":{"data":1000}}`,
	`{"partition_id":0,"headers":[{"name":"string","value":"string"}],"key":{"type":"BINARY"},"value":{"type":"BINARY"},"timestamp":"2024-07-29T15:51:28.071Z"}`,
	`{"value":{"type":"JSON","data":"a \"quoted\" \\ string"}} {"key":null} {}`,
	`{"value":{"type":"STRING","data":"\u00e9\n"}}` + "\n\t" + `{"value":{"type":"AVRO","schema_id":1}}`,
	`{"value":{"data":"}{]["}}{`,
	`[{"value":1}]`,
}

// FuzzDecode feeds arbitrary bodies through the splitter and the record
// decoder, as both the records and the records:batch endpoints use them.
func FuzzDecode(f *testing.F) {
	for _, b := range specBodies {
		f.Add([]byte(b))
	}
	f.Add([]byte(`{"entries":[{"id":"a","value":{"data":"AA=="}}]}`))
	for _, r := range fuzzseed.Load(f, "testdata/spec") {
		f.Add(r.Body)
	}
	c := &ConfluentV3{batchMax: 10}
	f.Fuzz(func(t *testing.T, body []byte) {
		sp := newSplitter(bytes.NewReader(body), 64, 1<<10, len(body)%2 == 0)
		total := 0
		for {
			raw, err := sp.next()
			if err != nil {
				var me *malformedError
				if err != io.EOF && err != errSplitTooLarge && !errors.As(err, &me) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			total += len(raw)
			if total > len(body) || raw[0] != '{' || (raw[len(raw)-1] != '}' && raw[len(raw)-1] != ']') {
				t.Fatalf("bad object %q from %q", raw, body)
			}
			d := decodeRecord(raw, "t", false)
			if d.err == nil {
				if d.msg.Topic != "t" || d.msg.Partition < -1 {
					t.Fatalf("record %+v", d.msg)
				}
				if (d.msg.Key == nil) != (d.formats.key == formatNull) || (d.msg.Value == nil) != (d.formats.value == formatNull) {
					t.Fatalf("formats %+v for %+v", d.formats, d.msg)
				}
				if d.formats.value == formatJSON && !bytes.Contains(raw, d.msg.Value) {
					t.Fatalf("JSON value %q not in %q", d.msg.Value, raw)
				}
			} else if status, code, msg := classify(d.err); status < 400 || status > 499 || code < 400 || msg == "" {
				t.Fatalf("error %v classified %d %d %q", d.err, status, code, msg)
			}
			if d.fatal {
				break
			}
		}
		recs, err := c.decodeBatch(body, "t")
		if err == nil && (len(recs) == 0 || len(recs) > 10) {
			t.Fatalf("batch of %d", len(recs))
		}
	})
}

func TestDecodeRecord(t *testing.T) {
	for _, tc := range []struct {
		in         string
		key, value []byte
		f          formats
		err        string
	}{
		{`{"key":{"type":"JSON","data":"k"},"value":{"type":"JSON","data":{"a" : 1}}}`, []byte(`"k"`), []byte(`{"a" : 1}`), formats{key: formatJSON, value: formatJSON}, ""},
		{`{"key":{"type":"STRING","data":"k\"1"},"value":{"type":"STRING","data":"v"}}`, []byte(`k"1`), []byte("v"), formats{key: formatString, value: formatString}, ""},
		{`{"key":{"data":"AQI"},"value":{"data":null,"type":"JSON"}}`, []byte{1, 2}, nil, formats{key: formatBinary, value: formatNull}, ""},
		{`{"key":{"type":"JSON","data":null}}`, nil, nil, formats{}, ""},
		{`{"value":{"type":"JSON","data":0}}`, nil, []byte("0"), formats{key: formatNull, value: formatJSON}, ""},
		{`{"value":{"type":"json","data":0}}`, nil, nil, formats{}, `Bad Request: value.type "json" is not one of BINARY, JSON, STRING`},
		{`{"value":{"data":"AA=="},"extra":{}}`, nil, nil, formats{}, `Bad Request: unrecognized field "extra": ` + validFields},
		{`{"value":{"type":"STRING","data":{}}}`, nil, nil, formats{}, `Bad Request: data={} is not a string.`},
		{`{"headers":[{"name":"h","value":1}]}`, nil, nil, formats{}, `Bad Request: the value of header "h" is not a base64 string`},
		{`{"key":{"type":"PROTOBUF","data":"x"}}`, nil, nil, formats{}, `Bad Request: key.type PROTOBUF is not supported: the gateway's cluster has no schema_registry; use BINARY, JSON or STRING`},
		{`{"key":{"subject":"s","data":"x"}}`, nil, nil, formats{}, `Bad Request: key.subject is not supported: the gateway's cluster has no schema_registry; use type BINARY, JSON or STRING`},
		{`{"partition_id":-1}`, nil, nil, formats{}, `Partition not found.`},
		// Found by probing the gateway against Kafka: a timestamp before
		// the epoch was produced as a negative Kafka timestamp.
		{`{"value":{"data":"AA=="},"timestamp":"1969-12-31T23:59:59.999Z"}`, nil, nil, formats{}, `Bad Request: timestamp "1969-12-31T23:59:59.999Z" is before 1970-01-01T00:00:00Z`},
		{`{"value":{"data":"AA=="},"timestamp":"0001-01-01T00:00:00Z"}`, nil, nil, formats{}, `Bad Request: timestamp "0001-01-01T00:00:00Z" is before 1970-01-01T00:00:00Z`},
		{`{"value":{"data":"AA=="},"timestamp":"1970-01-01T00:00:00Z"}`, nil, []byte{0}, formats{key: formatNull, value: formatBinary}, ""},
	} {
		d := decodeRecord([]byte(tc.in), "t", false)
		ds := []decoded{d}
		resolveSchemas(context.Background(), nil, ds, "t")
		d = ds[0]
		if tc.err != "" {
			if d.err == nil || d.err.(*dialects.Error).Message != tc.err {
				t.Errorf("%s: error %v, want %q", tc.in, d.err, tc.err)
			}
			continue
		}
		if d.err != nil || !eqBytes(d.msg.Key, tc.key) || !eqBytes(d.msg.Value, tc.value) || d.formats != tc.f {
			t.Errorf("%s: got %q %q %+v %v", tc.in, d.msg.Key, d.msg.Value, d.formats, d.err)
		}
	}
}

func eqBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err          error
		status, code int
	}{
		{kerr.TopicAuthorizationFailed, 403, 40301},
		{dialects.ErrTopicNotAllowed, 403, 40301},
		{kerr.SaslAuthenticationFailed, 401, 40101},
		{producer.ErrUnknownTopic, 404, 40403},
		{producer.ErrUnknownPartition, 404, 40402},
		{kerr.MessageTooLarge, 413, 413},
		{dialects.ErrTooManyRecords, 413, 413},
		{kerr.InvalidRecord, 400, 40002},
		{producer.ErrOverloaded, 429, 429},
		{kgo.ErrRecordTimeout, 500, 50003},
		{context.DeadlineExceeded, 500, 50003},
		{kerr.NotEnoughReplicas, 500, 50003},
		{kerr.InvalidRequiredAcks, 500, 50002},
		{fmt.Errorf("wrapped: %w", kerr.UnknownServerError), 500, 50002},
		{&dialects.Error{Class: producer.ClassInternal, Message: "x\ny"}, 500, 500},
	} {
		status, code, msg := classify(tc.err)
		if status != tc.status || code != tc.code || msg == "" || bytes.ContainsRune([]byte(msg), '\n') {
			t.Errorf("%v: %d %d %q, want %d %d", tc.err, status, code, msg, tc.status, tc.code)
		}
	}
}

func TestParseRoute(t *testing.T) {
	for _, tc := range []struct {
		path string
		want route
	}{
		{"/kafka/v3/clusters", route{prefix: "/kafka", kind: routeClusters}},
		{"/v3/clusters/", route{kind: routeClusters}},
		{"/v3/clusters/c", route{kind: routeCluster, cluster: "c"}},
		{"/v3/clusters/c/topics", route{kind: routeTopics, cluster: "c"}},
		{"/v3/clusters/c/topics/t", route{kind: routeTopic, cluster: "c", topic: "t"}},
		{"/v3/clusters/c/topics/t/partitions", route{kind: routePartitions, cluster: "c", topic: "t"}},
		{"/kafka/v3/clusters/c/topics/t/records", route{prefix: "/kafka", kind: routeRecords, cluster: "c", topic: "t"}},
		{"/v3/clusters/c/topics/t/records:batch", route{kind: routeBatch, cluster: "c", topic: "t"}},
		{"/v3/clusters/c/topics/t/partitions/2", route{kind: routePartition, cluster: "c", topic: "t", partition: "2"}},
		{"/v3/clusters/c/acls", route{kind: routeUnknown, cluster: "c"}},
		{"/v3/clusters/c/topics/t/partitions/2/replicas", route{kind: routeUnknown, cluster: "c"}},
		{"/v3/clusters//topics", route{kind: routeUnknown}},
		{"/v3/clustersx", route{}},
		{"/v2/topics/t", route{}},
	} {
		if got := parseRoute(tc.path); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.path, got, tc.want)
		}
	}
}
