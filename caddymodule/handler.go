package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the handler's limits.
const (
	defaultMaxBody      = 16 << 20
	defaultMaxRecords   = 10000
	defaultStreamBuffer = 64 << 20
)

// Handler accepts REST produce requests in one dialect and produces them
// through a cluster of the kafka app. It answers every request its dialect
// recognizes itself, in the dialect's format, and passes the others to the
// next handler.
//
// It applies one policy for every dialect: the topic allow-list, the body and
// record limits, the existence of topics and explicit partitions (so a refused
// request writes nothing), overload shedding with Retry-After, the
// optional timeout and Idempotency-Key. Results are reported in request
// order.
//
// Placeholder | Description
// ------------|-------------
// `{http.kafka_rest.topic}` | Topic of the request's first record
// `{http.kafka_rest.records}` | Number of records in the request
// `{http.kafka_rest.outcome}` | Outcome: ok, or the failure's class
type Handler struct {
	// The dialect: the wire format this route speaks.
	DialectRaw json.RawMessage `json:"dialect,omitempty" caddy:"namespace=http.kafka_rest.dialects inline_key=name"`

	// Name of the kafka app's cluster to produce to. Default: "default".
	Cluster string `json:"cluster,omitempty"`

	// Allow-list of topics, as path.Match globs ("orders.*"). Placeholders
	// are expanded per request, with glob characters in their values taken
	// literally, so "{http.auth.user.id}-*" scopes each user to their own
	// prefix; a glob whose placeholder is empty matches nothing. Default:
	// every topic.
	Topics []string `json:"topics,omitempty"`

	// Largest request body in bytes; in streaming mode, largest record.
	// Default: 16MiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// Most records in one request. Default: 10000.
	MaxRecords int `json:"max_records,omitempty"`

	// Bytes of records that the route's streaming requests (confluent_v3's
	// chunked records) may hold read ahead of their reports, all streams
	// of the route together: past it, each stream reads on only as its
	// records are acknowledged. A record larger than it is still read,
	// alone. Default: 64MiB.
	StreamBuffer int64 `json:"stream_buffer,omitempty"`

	// How long to wait for Kafka's acknowledgements before answering with a
	// timeout. A timed-out record may still be written. Default: no limit
	// other than the cluster's delivery_timeout.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// TraceContext copies the request's W3C trace context (traceparent,
	// and tracestate when present), as Caddy's tracing handler leaves it
	// or the client sent it, into every record the request produces,
	// unless a record already has a header of that name; with Caddy's
	// tracing on, each produce is a child span (kind producer,
	// OpenTelemetry's messaging attributes). Default: off, so that
	// consumers see the records as before.
	TraceContext bool `json:"trace_context,omitempty"`

	// Idempotency-Key support (draft-ietf-httpapi-idempotency-key-header):
	// a request repeated with the same key gets the first one's answer
	// and writes nothing. Default: on, with IdempotencyConfig's defaults.
	Idempotency *IdempotencyConfig `json:"idempotency,omitempty"`

	// Store and forward (webhook routes only): while Kafka cannot take a
	// request's records at once, they are written to the cluster's spool
	// and answered 202. Default: off (an unavailable Kafka is a 503).
	Spool *SpoolRoute `json:"spool,omitempty"`

	dialect    dialects.Dialect
	streamer   dialects.Streamer   // nil when the dialect does not stream
	discoverer dialects.Discoverer // nil when it has no metadata endpoints
	consumer   dialects.Consumer   // nil when it has no read endpoints
	verifier   dialects.Verifier   // nil unless the route checks signatures
	client     *pooledClient
	globs      []topicGlob
	route      dialects.Route
	kafkaID    *atomic.Pointer[string] // the Kafka cluster ID, once looked up
	logger     *zap.Logger
	cluster    string
	dialName   string
	metrics    *handlerMetrics
	idem       *idempotencySupport // nil when disabled
}

type topicGlob struct {
	pattern string
	dynamic bool // has placeholders to expand per request
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.kafka_rest",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision loads the dialect and finds the cluster's client.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.DialectRaw == nil {
		return errors.New("no dialect")
	}
	mod, err := ctx.LoadModule(h, "DialectRaw")
	if err != nil {
		return fmt.Errorf("loading dialect: %w", err)
	}
	h.dialect = mod.(dialects.Dialect)
	h.streamer, _ = mod.(dialects.Streamer)
	h.discoverer, _ = mod.(dialects.Discoverer)
	h.consumer, _ = mod.(dialects.Consumer)
	if v, ok := mod.(dialects.Verifier); ok && v.VerifiesBody() {
		h.verifier = v
	}
	h.dialName = string(mod.(caddy.Module).CaddyModule().ID.Name())

	h.cluster = h.Cluster
	if h.cluster == "" {
		h.cluster = "default"
	}
	h.metrics = newHandlerMetrics(h.dialName, h.cluster)
	app, err := kafkaApp(ctx)
	if err != nil {
		return err
	}
	pc, ok := app.client(h.cluster)
	if !ok {
		return fmt.Errorf("unknown kafka cluster %q", h.cluster)
	}
	h.client = pc

	if h.MaxBody == 0 {
		h.MaxBody = defaultMaxBody
	}
	if h.MaxRecords == 0 {
		h.MaxRecords = defaultMaxRecords
	}
	h.kafkaID = new(atomic.Pointer[string])
	if h.StreamBuffer == 0 {
		h.StreamBuffer = defaultStreamBuffer
	}
	h.route = dialects.Route{MaxBody: h.MaxBody, MaxRecords: h.MaxRecords, ClusterID: h.clusterID, CheckTopic: h.checkTopic,
		StreamBuffer: dialects.NewBudget(h.StreamBuffer)}
	if pc.registry != nil { // a nil *schema.Registry must not become a non-nil interface
		h.route.Schemas = pc.registry
	}
	if err := h.provisionIdempotency(); err != nil {
		return err
	}
	if err := h.provisionSpool(); err != nil { // spool
		return err
	}
	for _, g := range h.Topics {
		h.globs = append(h.globs, topicGlob{pattern: g, dynamic: strings.ContainsAny(g, "{}")})
	}
	if len(h.Topics) == 0 {
		h.logger.Info("no topics allow-list: every topic of the cluster can be written through this route",
			zap.String("dialect", h.dialName))
	}
	return nil
}

// Validate checks the limits, the Idempotency-Key settings and the
// allow-list's syntax.
func (h *Handler) Validate() error {
	if h.MaxBody < 0 || h.MaxRecords < 0 || h.Timeout < 0 || h.StreamBuffer < 0 {
		return errors.New("max_body, max_records, stream_buffer and timeout must not be negative")
	}
	if idem := h.Idempotency; idem != nil && !idem.Disabled && (idem.Window < 0 || idem.MaxKeys < 0) {
		return errors.New("idempotency: window and max_keys must not be negative")
	}
	for _, g := range h.Topics {
		if err := checkGlob(g); err != nil {
			return fmt.Errorf("topics: %w", err)
		}
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler. The dialect says once
// what the request is (Match); the handler answers a path or method the
// dialect does not serve, and dispatches the others to the operation,
// applying its policy to each. Requests outside the dialect's URL space go
// to the next handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	m := h.dialect.Match(r)
	if m.Op == dialects.OpPass {
		return next.ServeHTTP(w, r)
	}
	h.client.requests.Add(1)
	defer h.client.requests.Add(-1)
	if m.Body {
		release, err := h.prepareBody(w, r, m.Op)
		defer release()
		if err != nil {
			h.fail(w, r, err, 0)
			return nil
		}
	}
	switch m.Op {
	case dialects.OpProduce:
		return h.serveProduce(w, r, m)
	case dialects.OpStream:
		if h.streamer == nil {
			break
		}
		s, err := h.streamer.Stream(w, r, m, h.route)
		if err != nil {
			h.fail(w, r, err, 0)
			return nil
		}
		h.serveStream(w, r, s)
		return nil
	case dialects.OpDescribe:
		if h.discoverer == nil {
			break
		}
		start := time.Now()
		h.answered(w, r, start, readDescribe, h.discoverer.Discover(w, r, m, (*lender)(h)))
		return nil
	case dialects.OpFetch:
		if h.consumer == nil {
			break
		}
		start := time.Now()
		h.answered(w, r, start, readFetch, h.consumer.Consume(w, r, m, (*lender)(h)))
		return nil
	case dialects.OpNotFound:
		h.fail(w, r, dialects.NotFound(r), 0)
		return nil
	case dialects.OpMethodNotAllowed:
		h.fail(w, r, dialects.MethodNotAllowed(m.Allow), 0)
		return nil
	}
	// A dialect that matches an operation it does not implement.
	h.fail(w, r, dialects.Errorf(producer.ClassInternal, "the %s dialect has no operation %d", h.dialName, m.Op), 0)
	return nil
}

// serveProduce answers a one-shot produce request.
func (h *Handler) serveProduce(w http.ResponseWriter, r *http.Request, m dialects.Match) error {
	req, err := h.dialect.Decode(r, m, h.route)
	if err != nil {
		h.fail(w, r, err, 0)
		return nil
	}
	start := time.Now()
	results, err := h.produce(r, req)
	if err != nil {
		h.fail(w, r, err, len(req.Records))
		return nil
	}
	for i := range results {
		if results[i].Err != nil {
			results[i].Err = h.unreachable(results[i].Err)
		}
	}
	outcome := h.metrics.produced(start, results)
	h.metrics.request(outcome)
	h.annotate(r, firstTopic(req.Records), len(req.Records), outcome)
	retryAfter(w, nil, results)
	if err := h.dialect.Encode(w, r, req, results); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("encoding response: %w", err))
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ dialects.Describer          = (*lender)(nil)
	_ dialects.Fetcher            = (*lender)(nil)
)
