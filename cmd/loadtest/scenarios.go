package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// kind is how a scenario is loaded.
type kind int

const (
	kindRespond    kind = iota // wrk against Caddy's respond
	kindKafkaSync              // franz-go ProduceSync from 64 goroutines
	kindKafkaAsync             // franz-go async Produce from one goroutine
	kindGateway                // wrk against a kafka_rest route, with the prober
	kindStream                 // one confluent_v3 streaming connection
	kindPixy                   // wrk against kafka-pixy, with the prober
)

// scenario is one line of the table.
type scenario struct {
	name    string
	kind    kind
	dialect *dialect // gateway and stream scenarios
	conns   int      // connections (goroutines for kafka-sync)
	records int      // records per request
	ceiling string   // the scenario this one is a ratio of, if any
	peers   []string // peers measured in the same rounds, compared like the ceiling
}

// bulk reports whether the scenario's requests carry many records.
func (sc *scenario) bulk() bool { return sc.records > 1 }

var defaultConns = []int{64, 256}

const (
	bulkRecords = 1000
	valueSize   = 100
	syncWorkers = 64
)

// allScenarios lists every scenario in run order: each ceiling runs right
// before the scenarios measured against it, so that a ratio compares
// measurements minutes apart at most, even on a machine whose load drifts.
// The peers (kafka-pixy and the naive handler) run in the same rounds,
// between the ceiling and the gateway's dialects.
func allScenarios(conns []int, bulkConns, bulk int) []*scenario {
	var out []*scenario
	for _, c := range conns {
		respond := fmt.Sprintf("respond-c%d", c)
		pixy := fmt.Sprintf("pixy-c%d", c)
		naive := fmt.Sprintf("naive-c%d", c)
		out = append(out,
			&scenario{name: respond, kind: kindRespond, dialect: dialectWebhook, conns: c, records: 1},
			&scenario{name: pixy, kind: kindPixy, dialect: dialectPixy, conns: c, records: 1, ceiling: respond},
			&scenario{name: naive, kind: kindGateway, dialect: dialectNaive, conns: c, records: 1, ceiling: respond,
				peers: []string{pixy}},
		)
		for _, d := range dialectList {
			out = append(out, &scenario{name: fmt.Sprintf("%s-c%d", d.name, c), kind: kindGateway, dialect: d,
				conns: c, records: 1, ceiling: respond, peers: []string{pixy, naive}})
		}
		if c == conns[0] {
			// Avro through the schema registry, beside the same records as
			// plain JSON in the same dialect.
			out = append(out, &scenario{name: fmt.Sprintf("%s-c%d", dialectAvro.name, c), kind: kindGateway, dialect: dialectAvro,
				conns: c, records: 1, ceiling: respond, peers: []string{fmt.Sprintf("%s-c%d", dialectConfluentV2.name, c), naive}})
		}
	}
	out = append(out,
		&scenario{name: fmt.Sprintf("kafka-sync-g%d", syncWorkers), kind: kindKafkaSync, conns: syncWorkers, records: 1},
		&scenario{name: "kafka-async", kind: kindKafkaAsync, conns: 1, records: 1},
	)
	// Bulk requests on bulkConns connections, then on one, each after the
	// naive handler's same load.
	for _, c := range []int{bulkConns, 1} {
		suffix := ""
		if c != bulkConns {
			suffix = fmt.Sprintf("-c%d", c)
		}
		naive := fmt.Sprintf("naive-ndjson-%d%s", bulk, suffix)
		out = append(out, &scenario{name: naive, kind: kindGateway, dialect: dialectNaive,
			conns: c, records: bulk, ceiling: "kafka-async"})
		ds := []*dialect{dialectWebhook, dialectConfluentV2, dialectConfluentV3}
		if c != bulkConns {
			ds = ds[:1] // the NDJSON shape, to compare with the naive handler
		}
		for _, d := range ds {
			out = append(out, &scenario{name: fmt.Sprintf("%s-%s-%d%s", d.name, d.bulkName, bulk, suffix), kind: kindGateway,
				dialect: d, conns: c, records: bulk, ceiling: "kafka-async", peers: []string{naive}})
		}
	}
	out = append(out, &scenario{name: "confluent_v3-stream", kind: kindStream, dialect: dialectConfluentV3,
		conns: 1, records: 1, ceiling: "kafka-async"})
	return out
}

// ack is where Kafka acknowledged a record.
type ack struct {
	partition int32
	offset    int64
}

// dialect is how one dialect is configured, spoken to and answered by.
type dialect struct {
	name     string
	bulkName string // the bulk scenario's name part, "" if the dialect has none
	// route is the site block's kafka_rest directive for topic; bulk for
	// the route of the bulk scenario. brokers is for routes that have their
	// own client (the naive handler).
	route   func(topic string, brokers []string, bulk bool) string
	path    func(topic string) string
	headers map[string]string
	// body is a request carrying values (one, or many when bulk).
	body func(values [][]byte, bulk bool) []byte
	// parse reads the acknowledgements of a 2xx answer, in record order.
	parse func(body []byte) ([]ack, error)
	// registry is set for dialects that need the schema registry;
	// written then gives the bytes Kafka holds for a value.
	registry bool
	written  func(value []byte) ([]byte, error)
}

// stored is the record Kafka holds for value, as the read-back compares it.
func (d *dialect) stored(value []byte) ([]byte, error) {
	if d.written == nil {
		return value, nil
	}
	return d.written(value)
}

const clusterID = "loadtest"

var (
	dialectWebhook = &dialect{
		name:     "webhook",
		bulkName: "ndjson",
		route: func(topic string, _ []string, bulk bool) string {
			split := ""
			if bulk {
				split = "\n\t\tsplit lines"
			}
			return fmt.Sprintf("kafka_rest /ingest webhook {\n\t\ttopic %s%s\n\t}", topic, split)
		},
		path:    func(string) string { return "/ingest" },
		headers: map[string]string{"Content-Type": "application/json"},
		body: func(values [][]byte, bulk bool) []byte {
			if !bulk {
				return values[0]
			}
			return append(bytes.Join(values, []byte("\n")), '\n')
		},
		parse: parseTopicPartitionOffset,
	}
	dialectConfluentV2 = &dialect{
		name:     "confluent_v2",
		bulkName: "array",
		route: func(topic string, _ []string, _ bool) string {
			return fmt.Sprintf("kafka_rest confluent_v2 {\n\t\ttopics %s\n\t}", topic)
		},
		path: func(topic string) string { return "/topics/" + topic },
		headers: map[string]string{
			"Content-Type": "application/vnd.kafka.json.v2+json",
			"Accept":       "application/vnd.kafka.v2+json",
		},
		body: func(values [][]byte, _ bool) []byte {
			b := []byte(`{"records":[`)
			for i, v := range values {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"value":`...)
				b = append(b, v...)
				b = append(b, '}')
			}
			return append(b, "]}"...)
		},
		parse: func(body []byte) ([]ack, error) {
			var resp struct {
				Offsets []struct {
					Partition *int32  `json:"partition"`
					Offset    *int64  `json:"offset"`
					ErrorCode *int    `json:"error_code"`
					Error     *string `json:"error"`
				} `json:"offsets"`
			}
			if err := json.Unmarshal(body, &resp); err != nil {
				return nil, fmt.Errorf("answer is not v2 offsets: %w", err)
			}
			out := make([]ack, len(resp.Offsets))
			for i, o := range resp.Offsets {
				if o.ErrorCode != nil || o.Partition == nil || o.Offset == nil {
					return nil, fmt.Errorf("record %d failed: error_code %v", i, deref(o.ErrorCode))
				}
				out[i] = ack{*o.Partition, *o.Offset}
			}
			return out, nil
		},
	}
	dialectConfluentV3 = &dialect{
		name:     "confluent_v3",
		bulkName: "concat",
		route: func(topic string, _ []string, _ bool) string {
			return fmt.Sprintf("kafka_rest confluent_v3 {\n\t\tcluster_id %s\n\t\ttopics %s\n\t}", clusterID, topic)
		},
		path:    func(topic string) string { return "/v3/clusters/" + clusterID + "/topics/" + topic + "/records" },
		headers: map[string]string{"Content-Type": "application/json"},
		body: func(values [][]byte, _ bool) []byte {
			var b []byte
			for i, v := range values {
				if i > 0 {
					b = append(b, '\n')
				}
				b = appendV3Record(b, v)
			}
			return b
		},
		parse: func(body []byte) ([]ack, error) {
			dec := json.NewDecoder(bytes.NewReader(body))
			var out []ack
			for dec.More() {
				var rep struct {
					ErrorCode   int    `json:"error_code"`
					Message     string `json:"message"`
					PartitionID *int32 `json:"partition_id"`
					Offset      *int64 `json:"offset"`
				}
				if err := dec.Decode(&rep); err != nil {
					return nil, fmt.Errorf("answer is not v3 reports: %w", err)
				}
				if rep.ErrorCode != 200 || rep.PartitionID == nil || rep.Offset == nil {
					return nil, fmt.Errorf("record %d failed: error_code %d %q", len(out), rep.ErrorCode, rep.Message)
				}
				out = append(out, ack{*rep.PartitionID, *rep.Offset})
			}
			return out, nil
		},
	}
	// dialectWebhookSpool is the webhook route with spool on, on a healthy
	// cluster: what spooling costs when nothing is spooled (issue 23).
	dialectWebhookSpool = &dialect{
		name: "webhook_spool",
		route: func(topic string, _ []string, _ bool) string {
			return fmt.Sprintf("kafka_rest /ingest webhook {\n\t\ttopic %s\n\t\tspool on\n\t}", topic)
		},
		path:    func(string) string { return "/ingest" },
		headers: map[string]string{"Content-Type": "application/json"},
		body:    func(values [][]byte, _ bool) []byte { return values[0] },
		parse:   parseTopicPartitionOffset,
	}

	dialectUpstash = &dialect{
		name: "upstash",
		route: func(topic string, _ []string, _ bool) string {
			return fmt.Sprintf("kafka_rest upstash {\n\t\ttopics %s\n\t}", topic)
		},
		path:    func(topic string) string { return "/produce/" + topic },
		headers: map[string]string{"Content-Type": "application/json"},
		body: func(values [][]byte, _ bool) []byte {
			b := []byte{'['}
			for i, v := range values {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"value":`...)
				b = strconv.AppendQuote(b, string(v)) // values are ASCII: a JSON string too
				b = append(b, '}')
			}
			b = append(b, ']')
			if len(values) == 1 {
				b = b[1 : len(b)-1] // one message, as Upstash's docs send it
			}
			return b
		},
		parse: parseTopicPartitionOffset,
	}
	dialectIBM = &dialect{
		name: "ibm_event_streams",
		route: func(topic string, _ []string, _ bool) string {
			return fmt.Sprintf("kafka_rest ibm_event_streams {\n\t\ttopics %s\n\t}", topic)
		},
		path: func(topic string) string { return "/topics/" + topic + "/records" },
		// As the Event Streams producer guide's curl command sends it.
		headers: map[string]string{"Content-Type": "text/plain", "Accept": "application/json"},
		body:    func(values [][]byte, _ bool) []byte { return values[0] },
		parse: func(body []byte) ([]ack, error) {
			var resp struct {
				Metadata *struct {
					Partition *int32 `json:"partition"`
					Offset    *int64 `json:"offset"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(body, &resp); err != nil {
				return nil, fmt.Errorf("answer is not Event Streams metadata: %w", err)
			}
			if resp.Metadata == nil || resp.Metadata.Partition == nil || resp.Metadata.Offset == nil {
				return nil, errors.New("answer has no metadata.partition/offset")
			}
			return []ack{{*resp.Metadata.Partition, *resp.Metadata.Offset}}, nil
		},
	}
	// dialectNaive is the harness's naive handler (package naive): the
	// webhook dialect's request and answer shapes.
	dialectNaive = &dialect{
		name:     "naive",
		bulkName: "ndjson",
		route: func(topic string, brokers []string, bulk bool) string {
			split := ""
			if bulk {
				split = "\n\t\tsplit lines"
			}
			return fmt.Sprintf("loadtest_naive {\n\t\tbrokers %s\n\t\ttopic %s%s\n\t}", strings.Join(brokers, " "), topic, split)
		},
		path:    dialectWebhook.path,
		headers: dialectWebhook.headers,
		body:    dialectWebhook.body,
		parse:   parseTopicPartitionOffset,
	}
	// dialectPixy is kafka-pixy's produce API, synchronous: the body is the
	// value and the answer {"partition":p,"offset":o}.
	dialectPixy = &dialect{
		name:    "pixy",
		path:    func(topic string) string { return "/topics/" + topic + "/messages?sync=true" },
		headers: map[string]string{"Content-Type": "application/json"},
		body:    func(values [][]byte, _ bool) []byte { return values[0] },
		parse:   parseTopicPartitionOffset,
	}
	// dialectAvro is confluent_v2's Avro produce with the value's schema
	// by id (avroSchema, registered by the harness): the same JSON values,
	// written in Confluent's wire format.
	dialectAvro = &dialect{
		name:  "confluent_v2-avro",
		route: dialectConfluentV2.route,
		path:  dialectConfluentV2.path,
		headers: map[string]string{
			"Content-Type": "application/vnd.kafka.avro.v2+json",
			"Accept":       "application/vnd.kafka.v2+json",
		},
		body: func(values [][]byte, bulk bool) []byte {
			b := dialectConfluentV2.body(values, bulk)
			return append([]byte(fmt.Sprintf(`{"value_schema_id":%d,`, avroSchemaID)), b[1:]...)
		},
		parse:    dialectConfluentV2.parse,
		registry: true,
		written:  avroWire,
	}
	dialectList = []*dialect{dialectWebhook, dialectWebhookSpool, dialectConfluentV2, dialectConfluentV3, dialectUpstash, dialectIBM}
)

// avroSchema is the schema of the harness's values, {"id":..., "pad":...}.
const avroSchema = `{"type":"record","name":"LoadtestValue","fields":[{"name":"id","type":"string"},{"name":"pad","type":"string"}]}`

// avroSchemaID is avroSchema's id in the registry, set before any round.
var avroSchemaID int

// avroWire is a value in Confluent's wire format with avroSchema: the
// magic byte, the id, then each field as Avro binary (a zig-zag varint
// length and the bytes).
func avroWire(value []byte) ([]byte, error) {
	var v struct {
		ID  string `json:"id"`
		Pad string `json:"pad"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return nil, fmt.Errorf("value is not the harness's JSON: %w", err)
	}
	b := binary.BigEndian.AppendUint32([]byte{0}, uint32(avroSchemaID))
	for _, f := range []string{v.ID, v.Pad} {
		b = binary.AppendVarint(b, int64(len(f)))
		b = append(b, f...)
	}
	return b, nil
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// appendV3Record appends a Confluent v3 produce record with a JSON value.
func appendV3Record(b, v []byte) []byte {
	b = append(b, `{"value":{"type":"JSON","data":`...)
	b = append(b, v...)
	return append(b, "}}"...)
}

// parseTopicPartitionOffset reads {topic, partition, offset, ...} or an
// array of them (webhook, Upstash).
func parseTopicPartitionOffset(body []byte) ([]ack, error) {
	type meta struct {
		Partition *int32 `json:"partition"`
		Offset    *int64 `json:"offset"`
	}
	var metas []meta
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &metas); err != nil {
			return nil, fmt.Errorf("answer is not an array of metadata: %w", err)
		}
	} else {
		var m meta
		if err := json.Unmarshal(t, &m); err != nil {
			return nil, fmt.Errorf("answer is not metadata: %w", err)
		}
		metas = []meta{m}
	}
	out := make([]ack, len(metas))
	for i, m := range metas {
		if m.Partition == nil || m.Offset == nil {
			return nil, fmt.Errorf("record %d: answer has no partition/offset", i)
		}
		out[i] = ack{*m.Partition, *m.Offset}
	}
	return out, nil
}

// Values are 100-byte JSON objects {"id":"<prefix><n>","pad":"<letters>"}:
// a unique id for read-back, and random letters (the same 1,000 fillers in
// every scenario) so that compression treats gateway and ceiling alike.
var fillers = func() [bulkRecords][]byte {
	var f [bulkRecords][]byte
	r := rand.New(rand.NewPCG(7, 7))
	for i := range f {
		b := make([]byte, valueSize)
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		f[i] = b
	}
	return f
}()

// appendValue appends the 100-byte value of record n with the given id
// prefix. It panics if the id leaves no room for padding.
func appendValue(b []byte, prefix string, n int64) []byte {
	start := len(b)
	b = append(b, `{"id":"`...)
	b = append(b, prefix...)
	b = appendPadded(b, n)
	b = append(b, `","pad":"`...)
	pad := valueSize - (len(b) - start) - 2
	b = append(b, fillers[n%bulkRecords][:pad]...)
	return append(b, `"}`...)
}

// appendPadded appends n in 10 digits, so that every value of a prefix has
// the same layout.
func appendPadded(b []byte, n int64) []byte {
	var d [10]byte
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, d[:]...)
}

// bulkValues are the values of the load's requests and of the Kafka
// ceilings: records 0..999 of prefix "b-".
var bulkValues = func() [][]byte {
	v := make([][]byte, bulkRecords)
	for i := range v {
		v[i] = appendValue(nil, "b-", int64(i))
	}
	return v
}()
