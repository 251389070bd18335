// Package confluentv3 is the confluent_v3 dialect: Confluent REST Proxy's v3
// produce API (POST .../records, with streaming, and .../records:batch) and
// the read-only v3 discovery endpoints clients use to find the cluster ID and
// partitions. Paths are served with and without the /kafka prefix, as
// Confluent Cloud and the self-hosted REST Proxy serve them.
//
// The handler drives every request: records with a declared length and
// records:batch go through Decode and Encode, records without one through
// Stream (see dialects.Streamer), the GET endpoints through Discover.
//
// Choices where the contract is silent:
//   - A path under /v3/clusters the dialect does not know
//     (/v3/clusters/x/acls) is a JSON 404, not the next handler's answer. A
//     known path with another method is a 405 with Allow.
//   - A charset other than UTF-8 or ISO-8859-1 (read as Latin-1, as
//     Confluent's JsonStreamMessageBodyReader does) in the Content-Type is
//     a 400.
//   - The cluster ID in the path, then the topic (allow-list, existence) are
//     checked before the body is read, as Confluent checks them first.
//   - A request is streaming when its body has no declared length
//     (Transfer-Encoding: chunked, or HTTP/2 without Content-Length). The
//     status is decided by the first batch of records: an empty body (422),
//     a first record over max_body (413) or a first batch the handler
//     refuses whole (403 topic not allowed, 404 unknown topic, 429 overload)
//     get their own status; otherwise the answer is 200 and every later
//     failure is a report. The server therefore writes nothing before the
//     first record arrives: a client must send a record without waiting for
//     the response headers (curl, Go's and Python's clients do).
//   - Over HTTP/1.1 a streaming answer carries Connection: close: a stream
//     that ends before its body does would otherwise leave net/http draining
//     the body of a full-duplex request while the next one is read.
//   - Each report is followed by a newline: still concatenated JSON, and
//     line-based clients can read it too.
//   - A request with a Content-Length is read whole (max_body bounds the body)
//     and produced with one call, so max_records bounds it too; its reports are
//     written at once, concatenated, in order.
//   - Malformed JSON (and, in streaming mode, a record over max_body) gets a
//     400 (413) report and ends the request: the stream cannot be resynced,
//     as in Confluent's StreamingResponse. A well-formed record that is
//     invalid (unknown field, bad base64, schema fields) gets a 400 report and
//     the next records are produced.
//   - Only JSON objects are records; a body of anything else is malformed.
//     Fields set to null count as absent, so clients that serialize every
//     optional field (schema_id: null) work; a non-null schema field is a 400.
//   - JSON data is produced as the exact bytes of the data field in the
//     request (no re-serialization). STRING data must be a JSON string, as in
//     Confluent ("data=1 is not a string.").
//   - In reports, key and value are null when the record's key or value is
//     null (omitted, or data null), even if a type was given.
//   - Report timestamps are RFC 3339 in UTC with milliseconds
//     ("2021-02-05T19:14:42.233Z").
//   - Error codes: 400 decode errors; 40002 invalid records refused by Kafka;
//     40101 Kafka refusing the gateway's credentials; 40301 topic not allowed
//     or Kafka ACL; 40402 partition_id < 0 or beyond the topic's partitions
//     (per record); 40403 unknown topic; 413 too large; 429 overload (with
//     Retry-After); 50003 retriable Kafka errors and timeouts; 50002 other
//     Kafka errors; 500 internal. Messages are cut at the first newline.
//   - Discovery answers only with allowed topics; a topic outside the
//     allow-list is a 404 there (as Confluent's access lists answer GETs), but
//     a 403 (40301) when producing to it. Links in discovery answers are built
//     from the request's scheme, Host and prefix. Topics are described from
//     Kafka metadata: is_internal is always false (internal topics are left
//     out), replication_factor is the first partition's replica count.
//   - records:batch answers 207 with successes (no error_code, as in
//     Confluent's ProduceBatchResponseSuccessEntry) and failures; a batch the
//     handler refuses whole (topic not allowed, unknown topic, overload) gets
//     that error's status instead.
package confluentv3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"golang.org/x/text/encoding/charmap"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

func init() {
	caddy.RegisterModule(ConfluentV3{})
}

const defaultBatchMaxEntries = 10

// ConfluentV3 speaks Confluent REST Proxy's v3 produce and discovery API.
type ConfluentV3 struct {
	// The cluster ID in URLs (/v3/clusters/{cluster_id}/...). Requests
	// naming another ID get 404. Default: the Kafka cluster's own ID, as
	// reported in metadata.
	ClusterID string `json:"cluster_id,omitempty"`

	// Most entries in one records:batch request. Default: 10, as Confluent's
	// api.v3.produce.batch.maximum.entries.
	BatchMaxEntries int `json:"batch_max_entries,omitempty"`

	batchMax int
}

// CaddyModule returns the Caddy module information.
func (ConfluentV3) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.kafka_rest.dialects.confluent_v3",
		New: func() caddy.Module { return new(ConfluentV3) },
	}
}

// Provision sets defaults.
func (c *ConfluentV3) Provision(caddy.Context) error {
	c.batchMax = c.BatchMaxEntries
	if c.batchMax == 0 {
		c.batchMax = defaultBatchMaxEntries
	}
	return nil
}

// Validate checks the options.
func (c *ConfluentV3) Validate() error {
	if c.BatchMaxEntries < 0 {
		return errors.New("batch_max_entries must be positive")
	}
	return nil
}

// route is a parsed request path.
type route struct {
	prefix  string // "/kafka" or ""
	kind    routeKind
	cluster string
	topic   string
	// partition is the still unparsed ID of routePartition.
	partition string
}

type routeKind uint8

const (
	routeNone routeKind = iota
	routeClusters
	routeCluster
	routeTopics
	routeTopic
	routePartitions
	routeRecords
	routeBatch
	routePartition
	// routeUnknown is any other path under /v3/clusters: a JSON 404.
	routeUnknown
)

// Match claims the v3 URL space, /v3/clusters and /kafka/v3/clusters: the
// records endpoints take POST (a records request without a declared length
// is a stream), the others GET; any other path under them is a 404.
func (c *ConfluentV3) Match(r *http.Request) dialects.Match {
	rt := parseRoute(r.URL.Path)
	m := dialects.Match{Endpoint: uint8(rt.kind), Topic: rt.topic, Parts: [3]string{rt.cluster, rt.partition, rt.prefix}}
	switch rt.kind {
	case routeNone:
		return dialects.Match{}
	case routeUnknown:
		m.Op = dialects.OpNotFound
	case routeRecords, routeBatch:
		switch {
		case r.Method != http.MethodPost:
			m.Op, m.Allow = dialects.OpMethodNotAllowed, http.MethodPost
		case rt.kind == routeRecords && r.ContentLength < 0:
			m.Op, m.Body = dialects.OpStream, true
		default:
			m.Op, m.Body = dialects.OpProduce, true
		}
	default:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			m.Op, m.Allow = dialects.OpMethodNotAllowed, http.MethodGet
		} else {
			m.Op = dialects.OpDescribe
		}
	}
	return m
}

// routeOf is the route Match parsed.
func routeOf(m dialects.Match) route {
	return route{kind: routeKind(m.Endpoint), topic: m.Topic, cluster: m.Parts[0], partition: m.Parts[1], prefix: m.Parts[2]}
}

// parseRoute recognizes this dialect's paths. It allocates nothing: it
// runs for every request of the route.
func parseRoute(p string) route {
	var rt route
	if rest, ok := strings.CutPrefix(p, "/kafka/v3/clusters"); ok {
		rt.prefix, p = "/kafka", rest
	} else if rest, ok := strings.CutPrefix(p, "/v3/clusters"); ok {
		p = rest
	} else {
		return rt
	}
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		rt.kind = routeClusters
		return rt
	}
	if p[0] != '/' {
		return rt // /v3/clustersX is not this dialect's
	}
	rt.kind = routeUnknown
	var parts [5]string
	n := 0 // segments, of which parts holds the first five
	for rest, more := p[1:], true; more; n++ {
		var seg string
		seg, rest, more = strings.Cut(rest, "/")
		if seg == "" {
			return rt
		}
		if n < len(parts) {
			parts[n] = seg
		}
	}
	rt.cluster = parts[0]
	switch {
	case n == 1:
		rt.kind = routeCluster
	case parts[1] != "topics":
	case n == 2:
		rt.kind = routeTopics
	case n == 3:
		rt.kind, rt.topic = routeTopic, parts[2]
	case n == 4 && parts[3] == "partitions":
		rt.kind, rt.topic = routePartitions, parts[2]
	case n == 4 && parts[3] == "records":
		rt.kind, rt.topic = routeRecords, parts[2]
	case n == 4 && parts[3] == "records:batch":
		rt.kind, rt.topic = routeBatch, parts[2]
	case n == 5 && parts[3] == "partitions":
		rt.kind, rt.topic, rt.partition = routePartition, parts[2], parts[4]
	}
	return rt
}

// target is a produce request's cluster ID and topic, checked.
type target struct {
	clusterID, topic string
}

// check refuses, before the body is read, a produce request to rt with the
// wrong method or media type, or to a cluster or topic that is not there.
func (c *ConfluentV3) check(r *http.Request, rt route, lim dialects.Route) (target, error) {
	if !jsonMediaType(r.Header.Get("Content-Type")) {
		return target{}, unsupportedMedia(r.Header.Get("Content-Type"))
	}
	latin1, err := checkCharset(r.Header.Get("Content-Type"))
	if err != nil {
		return target{}, err
	}
	if latin1 {
		r.Body = latin1Body(r.Body)
	}
	clusterID, err := c.clusterID(r.Context(), lim.ClusterID)
	if err != nil {
		return target{}, err
	}
	if rt.cluster != clusterID {
		return target{}, errUnknownCluster(rt.cluster)
	}
	if err := lim.CheckTopic(r, rt.topic); err != nil {
		return target{}, err
	}
	return target{clusterID, rt.topic}, nil
}

// Decode reads a records request with a declared length, whole, or a
// records:batch request.
func (c *ConfluentV3) Decode(r *http.Request, m dialects.Match, lim dialects.Route) (*dialects.Request, error) {
	rt := routeOf(m)
	t, err := c.check(r, rt, lim)
	if err != nil {
		return nil, err
	}
	st := newState(t.clusterID, t.topic)
	st.schemas, st.ctx = lim.Schemas, r.Context()
	if rt.kind == routeBatch {
		body, err := dialects.ReadBody(r)
		if err != nil {
			return nil, err
		}
		recs, err := c.decodeBatch(body, t.topic)
		if err != nil {
			return nil, err
		}
		st.batch = true
		return request(recs, st), nil
	}
	recs, err := readAll(r, lim.MaxBody, t.topic)
	if err == nil && len(recs) == 0 {
		err = errEmptyBody
	}
	if err != nil {
		return nil, err
	}
	return request(recs, st), nil
}

// Encode writes the delivery reports of a records request, concatenated, in
// order, or the answer of a records:batch request.
func (c *ConfluentV3) Encode(w http.ResponseWriter, r *http.Request, req *dialects.Request, results []producer.Result) error {
	st := req.State.(*state)
	if st.batch {
		return st.writeBatch(w, req, results)
	}
	buf := make([]byte, 0, len(results)*(len(st.prefix)+136)) // a report with a STRING key and value fits
	buf = st.appendReports(buf, req, results, nil)
	return dialects.WriteBody(w, http.StatusOK, "application/json", buf)
}

// clusterID is the configured cluster ID, else the Kafka cluster's ID.
func (c *ConfluentV3) clusterID(ctx context.Context, kafkaID func(context.Context) (string, error)) (string, error) {
	if c.ClusterID != "" {
		return c.ClusterID, nil
	}
	id, err := kafkaID(ctx)
	if id == "" && err == nil {
		// Kafka older than 0.10.1 has no cluster ID; any fixed name will do.
		id = "default"
	}
	return id, err
}

// checkCharset refuses a Content-Type whose charset Confluent refuses, with
// its 400: its JSON reader (JsonStreamMessageBodyReader) takes UTF-8 and
// ISO-8859-1 only. It reports whether the body is ISO-8859-1.
func checkCharset(ct string) (latin1 bool, err error) {
	_, params, err := dialects.ParseMediaType(ct)
	if err != nil {
		return false, &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusBadRequest, Code: http.StatusBadRequest,
			Message: fmt.Sprintf("Content-Type %q cannot be parsed: send Content-Type: application/json", ct)}
	}
	cs, ok := params["charset"]
	switch {
	case !ok, strings.EqualFold(cs, "utf-8"), strings.EqualFold(cs, "utf8"):
		return false, nil
	case strings.EqualFold(cs, "iso-8859-1"), strings.EqualFold(cs, "latin1"):
		return true, nil
	}
	return false, &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusBadRequest, Code: http.StatusBadRequest,
		Message: fmt.Sprintf("unsupported charset %q: send UTF-8 or ISO-8859-1 JSON (Content-Type: application/json; charset=utf-8)", cs)}
}

// latin1Body reads an ISO-8859-1 body as UTF-8: each byte is the code
// point of the same value.
func latin1Body(body io.ReadCloser) io.ReadCloser {
	return struct {
		io.Reader
		io.Closer
	}{charmap.ISO8859_1.NewDecoder().Reader(body), body}
}

// jsonMediaType reports whether ct is application/json, with parameters.
func jsonMediaType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

// errMethodNotAllowed is Jersey's 405, as Confluent answers it.
var errMethodNotAllowed = &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusMethodNotAllowed,
	Code: http.StatusMethodNotAllowed, Message: "HTTP 405 Method Not Allowed"}

// unsupportedMedia is the 415 of a produce request whose Content-Type, ct,
// is not JSON: it says which type to send.
func unsupportedMedia(ct string) *dialects.Error {
	got := "no Content-Type"
	if ct != "" {
		got = fmt.Sprintf("Content-Type %q", ct)
	}
	return &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnsupportedMediaType,
		Code:    http.StatusUnsupportedMediaType,
		Message: "HTTP 415 Unsupported Media Type: " + got + " is not supported: send Content-Type: application/json"}
}

func errUnknownCluster(id string) *dialects.Error {
	return &dialects.Error{Class: producer.ClassUnknownTopic, Status: http.StatusNotFound,
		Code: http.StatusNotFound, Message: "Cluster " + id + " cannot be found."}
}

// Errors of this dialect with Confluent's codes and messages.
var (
	errEmptyBody = &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnprocessableEntity,
		Code: 42206, Message: "Payload error. Request body is empty. Data is required."}
)

const (
	msgUnknownTopic    = "This server does not host this topic-partition."
	msgUnknownPart     = "Partition not found."
	msgInternal        = "Internal Server Error"
	msgAuthFailed      = "Authentication failed"
	codeKafka          = 50002
	codeKafkaRetriable = 50003
)

// errorBody is Confluent's error envelope, also used for failed reports.
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// classify maps an error to its HTTP status, error code and message.
func classify(err error) (status, code int, msg string) {
	e := dialects.ErrorOf(err)
	msg = e.Message
	if e.Code != 0 && e.Status != 0 { // one of this dialect's own errors
		msg, _, _ = strings.Cut(msg, "\n")
		return e.Status, e.Code, msg
	}
	switch e.Class {
	case producer.ClassBadRequest:
		status, code = http.StatusBadRequest, http.StatusBadRequest
		if _, ok := producer.KafkaCode(err); ok {
			code = 40002
		}
	case producer.ClassUnknownTopic:
		status, code, msg = http.StatusNotFound, 40403, dialects.WithHint(msgUnknownTopic, e)
	case producer.ClassUnknownPartition:
		status, code, msg = http.StatusNotFound, 40402, msgUnknownPart
	case producer.ClassTooLarge:
		status, code = http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge
	case producer.ClassNotAuthorized:
		status, code = http.StatusForbidden, 40301
	case producer.ClassAuthFailed:
		status, code, msg = http.StatusUnauthorized, 40101, msgAuthFailed
	case producer.ClassOverloaded:
		status, code = http.StatusTooManyRequests, http.StatusTooManyRequests
	case producer.ClassInternal:
		status, code, msg = http.StatusInternalServerError, http.StatusInternalServerError, msgInternal
	default: // timeout, unavailable, other Kafka errors
		status, code = http.StatusInternalServerError, codeKafka
		if dialects.Retriable(err) {
			code = codeKafkaRetriable
		}
	}
	if e.Status != 0 {
		status = e.Status
	}
	if e.Code != 0 {
		code = e.Code
	}
	msg, _, _ = strings.Cut(msg, "\n")
	return status, code, msg
}

// WriteError writes {"error_code": N, "message": "..."}.
func (c *ConfluentV3) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, dialects.ErrNotFound):
		err = errNotFound
	case errors.Is(err, dialects.ErrMethodNotAllowed):
		err = errMethodNotAllowed
	}
	status, code, msg := classify(err)
	_ = dialects.WriteJSON(w, status, "application/json", errorBody{ErrorCode: code, Message: msg})
}

// UnmarshalCaddyfile sets up the dialect from the lines of its kafka_rest
// block that the handler does not own, given as a block of the dialect's
// name. Syntax:
//
//	confluent_v3 {
//		cluster_id <id>
//		batch_max_entries <n>
//	}
func (c *ConfluentV3) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the dialect's name
	seen := dialects.Seen{}
	for d.NextBlock(0) {
		switch d.Val() {
		case "cluster_id":
			if err := seen.Once(d); err != nil {
				return err
			}
			if !d.AllArgs(&c.ClusterID) {
				return d.ArgErr()
			}
		case "batch_max_entries":
			if err := seen.Once(d); err != nil {
				return err
			}
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return d.Errf("batch_max_entries: want a positive integer, got %q", s)
			}
			c.BatchMaxEntries = n
		default:
			return dialects.UnknownSubdirective(d, "confluent_v3", "cluster_id", "batch_max_entries")
		}
	}
	return nil
}

// Interface guards
var (
	_ dialects.Dialect      = (*ConfluentV3)(nil)
	_ dialects.Streamer     = (*ConfluentV3)(nil)
	_ dialects.Discoverer   = (*ConfluentV3)(nil)
	_ caddyfile.Unmarshaler = (*ConfluentV3)(nil)
	_ caddy.Provisioner     = (*ConfluentV3)(nil)
	_ caddy.Validator       = (*ConfluentV3)(nil)
)
