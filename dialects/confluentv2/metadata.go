package confluentv2

import (
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Confluent v2's read-only metadata, in its JSON shapes (GetTopicResponse,
// GetPartitionResponse, BrokerList), under the route's allow-list:
//
//	GET /topics                          ["name", ...]
//	GET /topics/{t}                      {"name","configs":{...},"partitions":[...]}
//	GET /topics/{t}/partitions           [{"partition","leader","replicas":[{"broker","leader","in_sync"}]}]
//	GET /topics/{t}/partitions/{p}       one of those (with ?offset=N it is the v1 consume)
//	GET /brokers                         {"brokers":[id, ...]}
//
// Answers have the Content-Type application/vnd.kafka.v2+json, or v1+json
// when Accept's first Kafka type is a v1 one (as Confluent's Node.js client
// sends). An Accept that allows no JSON type is 406, as Jersey answers it.

type partitionJSON struct {
	Partition int32         `json:"partition"`
	Leader    int32         `json:"leader"`
	Replicas  []replicaJSON `json:"replicas"`
}

type replicaJSON struct {
	Broker int32 `json:"broker"`
	Leader bool  `json:"leader"`
	InSync bool  `json:"in_sync"`
}

type topicJSON struct {
	Name       string             `json:"name"`
	Configs    map[string]*string `json:"configs"`
	Partitions []partitionJSON    `json:"partitions"`
}

type brokersJSON struct {
	Brokers []int32 `json:"brokers"`
}

var errNotAcceptable = &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusNotAcceptable, Code: http.StatusNotAcceptable,
	Message: "HTTP 406 Not Acceptable: accept application/vnd.kafka.v2+json, application/vnd.kafka.v1+json, application/vnd.kafka+json or application/json"}

// Confluent v2's endpoints, as Match tells them.
const (
	endpointProduce    uint8 = iota // POST /topics/{t}[/partitions/{p}]
	endpointTopics                  // GET /topics
	endpointBrokers                 // GET /brokers
	endpointTopic                   // GET /topics/{t}
	endpointPartitions              // GET /topics/{t}/partitions
	endpointPartition               // GET /topics/{t}/partitions/{p}
	endpointOffsets                 // GET /topics/{t}/partitions/{p}/offsets
	endpointConsume                 // GET .../messages, /consume/..., a partition with ?offset
)

// Match claims Confluent v2's URL space: /topics, /brokers, /consume and
// /consumers (whose consumer-group API this gateway does not serve: 404).
// Partition consume answers only with consume set; without it, it is a
// 404.
func (c *ConfluentV2) Match(r *http.Request) dialects.Match {
	p := r.URL.Path
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	switch first {
	case "topics", "brokers", "consume", "consumers":
	default:
		return dialects.Match{}
	}
	if r.Method == http.MethodPost {
		// The produce paths first: the one request a route sees most.
		if rt, ok := parseRoute(p); ok && !rt.consume {
			return dialects.Match{Op: dialects.OpProduce, Endpoint: endpointProduce, Body: true, Topic: rt.topic, Parts: [3]string{rt.partition}}
		}
	}
	get := func(e uint8, rt route) dialects.Match {
		if r.Method != http.MethodGet {
			return dialects.Match{Op: dialects.OpMethodNotAllowed, Allow: http.MethodGet}
		}
		op := dialects.OpDescribe
		if e == endpointOffsets || e == endpointConsume {
			op = dialects.OpFetch
		}
		return dialects.Match{Op: op, Endpoint: e, Topic: rt.topic, Parts: [3]string{rt.partition}}
	}
	switch p {
	case "/topics", "/topics/":
		return get(endpointTopics, route{})
	case "/brokers", "/brokers/":
		return get(endpointBrokers, route{})
	}
	if rest, ok := strings.CutSuffix(p, "/offsets"); ok {
		if rt, ok := parseRoute(rest); ok && !rt.consume && rt.partition != "" {
			return get(endpointOffsets, rt)
		}
	}
	if rest, ok := strings.CutSuffix(p, "/partitions"); ok && strings.HasPrefix(rest, "/topics/") {
		if topic := rest[len("/topics/"):]; topic != "" && !strings.Contains(topic, "/") {
			return get(endpointPartitions, route{topic: topic})
		}
	}
	rt, ok := parseRoute(p)
	switch {
	case !ok:
		return dialects.Match{Op: dialects.OpNotFound}
	case rt.consume || rt.partition != "" && r.Method == http.MethodGet && r.URL.Query().Has("offset"):
		if !c.EnableConsume {
			return dialects.Match{Op: dialects.OpNotFound}
		}
		return get(endpointConsume, rt)
	case r.Method == http.MethodPost:
		return dialects.Match{Op: dialects.OpProduce, Endpoint: endpointProduce, Body: true, Topic: rt.topic, Parts: [3]string{rt.partition}}
	case r.Method != http.MethodGet:
		return dialects.Match{Op: dialects.OpMethodNotAllowed, Allow: "GET, POST"}
	case rt.partition != "":
		return get(endpointPartition, rt)
	}
	return get(endpointTopic, rt)
}

// metaVersion is the version a metadata answer speaks: that of Accept's
// first Kafka type naming one, else 2.
func metaVersion(r *http.Request) version {
	for _, header := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(header, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if _, v, ok := parseVendorType(strings.ToLower(strings.TrimSpace(mt))); ok && v != 0 {
				return v
			}
		}
	}
	return 2
}

// acceptsJSON reports whether Accept allows a JSON answer.
func acceptsJSON(r *http.Request) bool {
	accept := r.Header.Values("Accept")
	if len(accept) == 0 {
		return true
	}
	for _, header := range accept {
		for part := range strings.SplitSeq(header, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch mt {
			case "*/*", "*", "application/*", "*/json", "application/json":
				return true
			}
			if _, _, ok := parseVendorType(mt); ok {
				return true
			}
		}
	}
	return false
}

// Discover answers the metadata endpoints.
func (c *ConfluentV2) Discover(w http.ResponseWriter, r *http.Request, m dialects.Match, d dialects.Describer) error {
	rt := route{topic: m.Topic, partition: m.Parts[0], consume: m.Endpoint == endpointPartitions}
	if !acceptsJSON(r) {
		return errNotAcceptable
	}
	ctx := r.Context()
	var answer any
	switch {
	case m.Endpoint == endpointBrokers:
		info, err := d.Brokers(ctx)
		if err != nil {
			return err
		}
		ids := make([]int32, 0, len(info.Brokers))
		for _, b := range info.Brokers {
			ids = append(ids, b.NodeID)
		}
		answer = brokersJSON{Brokers: ids}
	case rt.topic == "":
		info, err := d.Describe(ctx)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(info.Topics))
		for _, t := range info.Topics {
			names = append(names, t.Name)
		}
		answer = names
	default:
		info, err := d.Describe(ctx, rt.topic)
		if err != nil {
			return err
		}
		if len(info.Topics) != 1 {
			return producer.ErrUnknownTopic
		}
		t := info.Topics[0]
		parts := make([]partitionJSON, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			parts = append(parts, partitionOf(p))
		}
		switch {
		case rt.consume: // /topics/{t}/partitions
			answer = parts
		case rt.partition != "":
			id, err := parsePartition(rt.partition)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(parts, func(p partitionJSON) bool { return p.Partition == id })
			if i < 0 {
				return errPartition
			}
			answer = parts[i]
		default:
			cfgs, err := d.TopicConfigs(ctx, rt.topic)
			if err != nil {
				return fmt.Errorf("describing the configs of the topic: %w", err)
			}
			m := make(map[string]*string, len(cfgs))
			for _, e := range cfgs {
				m[e.Name] = e.Value
			}
			answer = topicJSON{Name: t.Name, Configs: m, Partitions: parts}
		}
	}
	return dialects.WriteJSON(w, http.StatusOK, mediaType(metaVersion(r)), answer)
}

func partitionOf(p producer.PartitionInfo) partitionJSON {
	out := partitionJSON{Partition: p.ID, Leader: p.Leader, Replicas: make([]replicaJSON, 0, len(p.Replicas))}
	for _, b := range p.Replicas {
		out.Replicas = append(out.Replicas, replicaJSON{Broker: b, Leader: b == p.Leader, InSync: slices.Contains(p.ISR, b)})
	}
	return out
}
