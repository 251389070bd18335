package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the handler's limits.
const (
	defaultMaxBody    = 16 << 20
	defaultMaxRecords = 10000
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

	// How long to wait for Kafka's acknowledgements before answering with a
	// timeout. A timed-out record may still be written. Default: no limit
	// other than the cluster's delivery_timeout.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// Idempotency-Key support (draft-ietf-httpapi-idempotency-key-header):
	// a request repeated with the same key gets the first one's answer
	// and writes nothing. Default: on, with IdempotencyConfig's defaults.
	Idempotency *IdempotencyConfig `json:"idempotency,omitempty"`

	dialect  dialects.Dialect
	server   dialects.Server
	client   *pooledClient
	globs    []topicGlob
	limits   dialects.Limits
	logger   *zap.Logger
	cluster  string
	dialName string
	metrics  *handlerMetrics
	idem     *idempotency // nil when disabled
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
	h.server, _ = mod.(dialects.Server)
	h.dialName = string(mod.(caddy.Module).CaddyModule().ID.Name())

	h.cluster = h.Cluster
	if h.cluster == "" {
		h.cluster = "default"
	}
	h.metrics = newHandlerMetrics(h.dialName, h.cluster)
	appIface, err := ctx.AppIfConfigured("kafka")
	if err != nil {
		return fmt.Errorf("kafka app not configured: add a kafka global option with the cluster's brokers: %w", err)
	}
	pc, ok := appIface.(*App).client(h.cluster)
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
	h.limits = dialects.Limits{MaxBody: h.MaxBody, MaxRecords: h.MaxRecords}
	if err := h.provisionIdempotency(); err != nil {
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

// Validate checks the limits and the allow-list's syntax.
func (h *Handler) Validate() error {
	if h.MaxBody < 0 || h.MaxRecords < 0 || h.Timeout < 0 {
		return errors.New("max_body, max_records and timeout must not be negative")
	}
	for _, g := range h.globs {
		if g.dynamic {
			continue
		}
		if _, err := path.Match(g.pattern, ""); err != nil {
			return fmt.Errorf("topics: bad pattern %q: %w", g.pattern, err)
		}
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	h.client.requests.Add(1)
	defer h.client.requests.Add(-1)
	if h.server != nil {
		k := &requestKafka{h: h, r: r}
		handled, err := h.server.Serve(k.obs.watch(w), r, k)
		if handled || err != nil {
			h.metrics.served(&k.obs, err)
			return err
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.MaxBody)
	req, err := h.dialect.Decode(r, h.limits)
	if errors.Is(err, dialects.ErrNotHandled) {
		return next.ServeHTTP(w, r)
	}
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
	outcome := h.metrics.produced(start, results)
	h.metrics.request(outcome)
	h.annotate(r, req.Records, outcome)
	retryAfter(w, results)
	if err := h.dialect.Encode(w, r, req, results); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("encoding response: %w", err))
	}
	return nil
}

// produce applies the handler's policy to req and produces it. An error means
// nothing was produced.
func (h *Handler) produce(r *http.Request, req *dialects.Request) ([]producer.Result, error) {
	if len(req.Records) > h.MaxRecords {
		return nil, &dialects.Error{Class: producer.ClassTooLarge,
			Message: fmt.Sprintf("%s (limit %d)", dialects.ErrTooManyRecords.Message, h.MaxRecords), Err: dialects.ErrTooManyRecords}
	}
	ctx := r.Context()
	if h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(h.Timeout))
		defer cancel()
	}

	// Every topic is checked before anything is produced, so a refused
	// request writes nothing. Requests almost always carry one topic:
	// remember the last one checked instead of building a set.
	var results []producer.Result // allocated at the first record refused on its own
	refuse := func(i int, err error) {
		if results == nil {
			results = make([]producer.Result, len(req.Records))
		}
		results[i] = producer.Result{Partition: -1, Offset: -1, Err: err}
	}
	lastTopic := ""
	for i := range req.Records {
		m := &req.Records[i]
		if req.Errs != nil && req.Errs[i] != nil {
			refuse(i, req.Errs[i])
			continue
		}
		if m.Topic != lastTopic {
			if !h.allowed(r, m.Topic) {
				return nil, dialects.ErrTopicNotAllowed
			}
			if _, err := h.client.Partitions(ctx, m.Topic); err != nil {
				return nil, err
			}
			lastTopic = m.Topic
		}
		if m.Partition >= 0 {
			if err := h.client.CheckPartition(ctx, m.Topic, m.Partition); err != nil {
				if !req.PerRecord || producer.Classify(err) != producer.ClassUnknownPartition {
					return nil, err
				}
				refuse(i, err)
			}
		}
	}
	if h.idem != nil && len(r.Header[idempotencyHeader]) > 0 {
		return h.produceIdempotent(ctx, r, req, results)
	}
	if results == nil {
		return h.client.Produce(ctx, req.Records)
	}
	// Some records were refused on their own: produce the rest and slot
	// their results in.
	var todo []producer.Message
	var todoIdx []int
	for i := range req.Records {
		if results[i].Err == nil {
			todo, todoIdx = append(todo, req.Records[i]), append(todoIdx, i)
		}
	}
	produced, err := h.client.Produce(ctx, todo)
	if err != nil {
		return nil, err
	}
	for j, i := range todoIdx {
		results[i] = produced[j]
	}
	return results, nil
}

// allowed reports whether topic passes the allow-list for request r.
func (h *Handler) allowed(r *http.Request, topic string) bool {
	if len(h.globs) == 0 {
		return topic != ""
	}
	for _, g := range h.globs {
		pattern := g.pattern
		if g.dynamic {
			var ok bool
			if pattern, ok = expandGlob(r, pattern); !ok {
				continue
			}
		}
		if ok, _ := path.Match(pattern, topic); ok {
			return true
		}
	}
	return false
}

var errEmptyPlaceholder = errors.New("empty placeholder")

// expandGlob expands a glob's placeholders with glob metacharacters in their
// values escaped, so that a user named "*" gets no wildcard. A placeholder
// that is empty or unknown makes the glob match nothing.
func expandGlob(r *http.Request, pattern string) (string, bool) {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return "", false
	}
	out, err := repl.ReplaceFunc(pattern, func(_ string, val any) (any, error) {
		s := caddy.ToString(val)
		if s == "" {
			return nil, errEmptyPlaceholder
		}
		return globEscaper.Replace(s), nil
	})
	return out, err == nil
}

var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)

// retryAfter sets Retry-After when a record failed in a way the same
// request may overcome later (a dialect answering a record's failure as the
// whole request's status answers it as fail would).
func retryAfter(w http.ResponseWriter, results []producer.Result) {
	for _, res := range results {
		if res.Err == nil {
			continue
		}
		switch dialects.ErrorOf(res.Err).Class {
		case producer.ClassOverloaded, producer.ClassUnavailable, producer.ClassTimeout, producer.ClassAuthFailed:
			w.Header().Set("Retry-After", "1")
			return
		}
	}
}

// fail writes err in the dialect's format, with Retry-After on every
// failure that the same request may overcome later unchanged: overload,
// Kafka unavailable or timing out, the gateway failing to authenticate.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error, records int) {
	e := dialects.ErrorOf(err)
	switch e.Class {
	case producer.ClassOverloaded, producer.ClassUnavailable, producer.ClassTimeout, producer.ClassAuthFailed:
		w.Header().Set("Retry-After", "1")
	}
	h.annotate(r, nil, e.Class)
	h.metrics.failed(e.Class, records)
	if records > 0 {
		if info := infoOf(r); info != nil {
			info.records = records
		}
	}
	if e.Class == producer.ClassInternal || e.Class == producer.ClassKafka {
		h.logger.Error("request failed", zap.String("dialect", h.dialName), zap.String("cluster", h.cluster), zap.Error(err))
	}
	h.dialect.WriteError(w, r, err)
}

// annotate sets the placeholders and access-log fields of a request. A
// request annotated twice (a stream) keeps its latest figures.
func (h *Handler) annotate(r *http.Request, records []producer.Message, outcome producer.Class) {
	info := infoOf(r)
	if info == nil {
		info = new(requestInfo)
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			repl.Map(info.replace)
		}
		if extra, ok := r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
			extra.Add(zap.Inline(info))
		}
	}
	info.topic = ""
	if len(records) > 0 {
		info.topic = records[0].Topic
	}
	info.records, info.outcome = len(records), outcome
}

// requestInfo is what a request did: its placeholders (one replacer
// provider, read only when a placeholder is used) and its access-log fields
// (one field, encoded only when the access log is written).
type requestInfo struct {
	topic   string
	records int
	outcome producer.Class
}

const infoKey = "http.kafka_rest._info"

// infoOf finds the request's requestInfo, if annotate has run.
func infoOf(r *http.Request) *requestInfo {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return nil
	}
	info, _ := repl.Get(infoKey)
	ri, _ := info.(*requestInfo)
	return ri
}

func (ri *requestInfo) replace(key string) (any, bool) {
	switch key {
	case "http.kafka_rest.topic":
		return ri.topic, true
	case "http.kafka_rest.records":
		return ri.records, true
	case "http.kafka_rest.outcome":
		return ri.outcome.String(), true
	case infoKey:
		return ri, true
	}
	return nil, false
}

// MarshalLogObject implements zapcore.ObjectMarshaler: the access log's
// kafka_topic, kafka_records and kafka_outcome fields.
func (ri *requestInfo) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if ri.topic != "" {
		enc.AddString("kafka_topic", ri.topic)
	}
	enc.AddInt("kafka_records", ri.records)
	enc.AddString("kafka_outcome", ri.outcome.String())
	return nil
}

// requestKafka is the handler's cluster and policy, bound to one request, as
// lent to a dialects.Server.
type requestKafka struct {
	h   *Handler
	r   *http.Request
	obs requestObs
}

func (k *requestKafka) Produce(ctx context.Context, req *dialects.Request) ([]producer.Result, error) {
	start := time.Now()
	results, err := k.h.produce(k.r.WithContext(ctx), req)
	outcome := k.obs.produced(k.h.metrics, start, len(req.Records), results, err)
	k.h.annotate(k.r, req.Records, outcome)
	return results, err
}

func (k *requestKafka) Allowed(topic string) bool { return k.h.allowed(k.r, topic) }

func (k *requestKafka) Describe(ctx context.Context, topics ...string) (producer.ClusterInfo, error) {
	for _, t := range topics {
		if !k.h.allowed(k.r, t) {
			return producer.ClusterInfo{}, dialects.ErrTopicNotAllowed
		}
	}
	info, err := k.h.client.Describe(ctx, topics...)
	if err != nil {
		return info, err
	}
	kept := info.Topics[:0]
	for _, t := range info.Topics {
		if k.h.allowed(k.r, t.Name) {
			kept = append(kept, t)
		}
	}
	info.Topics = kept
	return info, nil
}

func (k *requestKafka) Limits() dialects.Limits { return k.h.limits }

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ dialects.Kafka              = (*requestKafka)(nil)
)
