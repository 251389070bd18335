package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
	"github.com/caddy-kafka/caddy-kafka/producer/schema"
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

	// Store and forward (webhook routes only): while Kafka cannot take a
	// request's records at once, they are written to the cluster's spool
	// and answered 202. Default: off (an unavailable Kafka is a 503).
	Spool *SpoolRoute `json:"spool,omitempty"`

	dialect    dialects.Dialect
	streamer   dialects.Streamer   // nil when the dialect does not stream
	discoverer dialects.Discoverer // nil when it has no metadata endpoints
	consumer   dialects.Consumer   // nil when it has no read endpoints
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
	h.route = dialects.Route{MaxBody: h.MaxBody, MaxRecords: h.MaxRecords, ClusterID: h.clusterID, CheckTopic: h.checkTopic}
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
	if h.MaxBody < 0 || h.MaxRecords < 0 || h.Timeout < 0 {
		return errors.New("max_body, max_records and timeout must not be negative")
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

// ServeHTTP implements caddyhttp.MiddlewareHandler. It offers the request to
// the dialect's read-only capabilities, then to its Streamer, then to Decode,
// and passes to the next handler a request none of them claims.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	h.client.requests.Add(1)
	defer h.client.requests.Add(-1)
	if h.discoverer != nil {
		if err := h.discoverer.Discover(w, r, (*lender)(h)); !errors.Is(err, dialects.ErrNotHandled) {
			h.answered(w, r, err)
			return nil
		}
	}
	if h.consumer != nil {
		if err := h.consumer.Consume(w, r, (*lender)(h)); !errors.Is(err, dialects.ErrNotHandled) {
			h.answered(w, r, err)
			return nil
		}
	}
	if h.streamer != nil {
		s, err := h.streamer.Stream(w, r, h.route)
		if err != nil {
			h.fail(w, r, err, 0)
			return nil
		}
		if s != nil {
			h.serveStream(w, r, s)
			return nil
		}
	}
	if r.ContentLength > h.MaxBody {
		// Refused without reading a byte: the declared length is over.
		r.Body = overLimit{r.Body, h.MaxBody}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, h.MaxBody)
	}
	req, err := h.dialect.Decode(r, h.route)
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
	for i := range results {
		if results[i].Err != nil {
			results[i].Err = h.unreachable(results[i].Err)
		}
	}
	outcome := h.metrics.produced(start, results)
	h.metrics.request(outcome)
	h.annotate(r, firstTopic(req.Records), len(req.Records), outcome)
	retryAfter(w, results)
	if err := h.dialect.Encode(w, r, req, results); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("encoding response: %w", err))
	}
	return nil
}

// overLimit is the body of a request whose declared length is over max_body:
// its first read fails as http.MaxBytesReader's would once past the limit.
type overLimit struct {
	io.ReadCloser
	limit int64
}

func (b overLimit) Read([]byte) (int, error) { return 0, &http.MaxBytesError{Limit: b.limit} }

// streamBatch is the most records of a stream produced in one call: a client
// sending in lockstep gets batches of one, a flood large ones.
const streamBatch = 500

// streamDepth is the most batches of one stream on their way to Kafka at
// once: the next batches are read and produced while the first are
// acknowledged, so a stream is not one Kafka round trip per batch. Batches
// are as small as what the client has sent when one is taken, often tens of
// records: 8 held a stream to 350k records/s, 16 to 500k, 32 and 64 reach
// 530-600k (64 with 5 MiB more RSS). The dialect's read-ahead budget bounds
// the bytes.
const streamDepth = 32

// serveStream drives a streaming request: each batch the dialect reads goes
// through the same policy as a one-shot request and is produced at once;
// a second goroutine waits for each batch's results, in order, and hands
// them to the dialect to write. The first batch decides the status: refused
// whole, it is answered as a one-shot request would be; after it, failures
// are the dialect's per-batch reports.
func (h *Handler) serveStream(w http.ResponseWriter, r *http.Request, s dialects.Stream) {
	defer s.Close()
	// Cancelled when the answer cannot be written any more: Next stops.
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	maxBatch := min(streamBatch, h.MaxRecords)
	var (
		flights chan *flight
		written chan producer.Class
		records int
		topic   string
		mine    []*producer.Pending // the stream's, oldest first; some may be done
	)
read:
	for {
		batch, err := s.Next(ctx, maxBatch)
		if err == io.EOF {
			break
		}
		if err != nil {
			if flights == nil {
				h.fail(w, r, err, 0)
				return
			}
			break
		}
		if flights == nil && h.idem != nil && len(r.Header[idempotencyHeader]) > 0 {
			// Refused once a record is read, not before: a client still
			// sending would see its connection reset instead of the answer.
			h.fail(w, r, errIdemStream, 0)
			return
		}
		f := h.startFlight(r, batch, &mine)
		if flights == nil {
			if f.err != nil {
				f.cancel()
				h.fail(w, r, f.err, len(batch.Records))
				return
			}
			flights, written = make(chan *flight, streamDepth-1), make(chan producer.Class, 1)
			go func() { written <- h.writeFlights(s, flights, stop) }()
			topic = batch.Records[0].Topic
		}
		records += len(batch.Records)
		select {
		case flights <- f:
		case <-ctx.Done(): // the client is gone, or a Write failed
			f.cancel()
			break read
		}
	}
	if flights == nil {
		return // the dialect's Next broke its contract: EOF before any batch
	}
	close(flights)
	outcome := <-written
	h.metrics.request(outcome)
	// Once, when nothing else uses the request: the log fields of the whole
	// stream.
	h.annotate(r, topic, records, outcome)
}

// flight is a batch of a stream on its way to Kafka: refused whole (err),
// or what is left to produce of it and, unless nothing is, its Pending.
type flight struct {
	batch  *dialects.Request
	o      outstanding
	p      *producer.Pending
	err    error
	ctx    context.Context // bounds the batch by the handler's timeout
	cancel context.CancelFunc
	start  time.Time
}

// startFlight applies the handler's policy to batch and starts producing
// what passes it. The buffer being full is overload only when none of the
// stream's own batches (mine) holds part of it: a stream waits for its
// earlier batches, as a client waits for its earlier requests, and is not
// refused for them.
func (h *Handler) startFlight(r *http.Request, batch *dialects.Request, mine *[]*producer.Pending) *flight {
	f := &flight{batch: batch, start: time.Now()}
	f.ctx, f.cancel = h.withTimeout(r.Context())
	if f.o, f.err = h.admit(f.ctx, r, batch); f.err != nil || len(f.o.todo) == 0 {
		return f
	}
	for {
		f.p, f.err = h.client.Start(f.o.todo)
		if !errors.Is(f.err, producer.ErrOverloaded) || len(*mine) == 0 {
			break
		}
		select {
		case <-(*mine)[0].Done():
			*mine = (*mine)[1:]
		case <-f.ctx.Done():
			return f
		}
	}
	if f.p != nil {
		for len(*mine) > 0 && isDone((*mine)[0]) {
			*mine = (*mine)[1:]
		}
		*mine = append(*mine, f.p)
	}
	return f
}

func isDone(p *producer.Pending) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// writeFlights waits for each flight's results in order and writes them,
// and returns the stream's outcome: that of its first batch that was not
// OK. Once a Write fails it stops the stream and lets the flights still
// coming go without waiting for them.
func (h *Handler) writeFlights(s dialects.Stream, flights <-chan *flight, stop context.CancelFunc) producer.Class {
	outcome := producer.ClassOK
	failed := false
	for f := range flights {
		if failed {
			f.cancel()
			continue
		}
		var results []producer.Result
		c := producer.ClassOK
		switch {
		case f.err != nil:
			c = dialects.ErrorOf(f.err).Class
			h.metrics.refused(c, len(f.batch.Records))
		case f.p == nil:
			results = f.o.refused
			c = h.metrics.produced(f.start, results)
		default:
			results = f.o.merge(f.p.Wait(f.ctx))
			c = h.metrics.produced(f.start, results)
		}
		f.cancel()
		if outcome == producer.ClassOK {
			outcome = c
		}
		if err := s.Write(f.batch, results, f.err); err != nil {
			failed = true
			stop()
		}
	}
	return outcome
}

// answered records the outcome of a read-only request: nil once the
// dialect answered it, else an error to answer in its format.
func (h *Handler) answered(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		h.fail(w, r, err, 0)
		return
	}
	h.metrics.request(producer.ClassOK)
	h.annotate(r, "", 0, producer.ClassOK)
}

// withTimeout bounds ctx by the handler's timeout, if any.
func (h *Handler) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if h.Timeout > 0 {
		return context.WithTimeout(ctx, time.Duration(h.Timeout))
	}
	return ctx, func() {}
}

// checkTopic refuses a topic the allow-list does not allow or Kafka does not
// have.
func (h *Handler) checkTopic(r *http.Request, topic string) error {
	ctx, cancel := h.withTimeout(r.Context())
	defer cancel()
	return h.topicExists(ctx, r, topic)
}

func (h *Handler) topicExists(ctx context.Context, r *http.Request, topic string) error {
	if !h.allowed(r.Context(), topic) {
		return dialects.TopicNotAllowed(topic)
	}
	_, err := h.client.Partitions(ctx, topic)
	if err != nil && producer.Classify(err) == producer.ClassUnknownTopic {
		return dialects.UnknownTopic(topic, err)
	}
	return err
}

// produce applies the handler's policy to req and produces it. An error means
// nothing was produced.
func (h *Handler) produce(r *http.Request, req *dialects.Request) ([]producer.Result, error) {
	ctx, cancel := h.withTimeout(r.Context())
	defer cancel()
	if h.Spool != nil { // spool: the route's store-and-forward policy
		if h.idem != nil && len(r.Header[idempotencyHeader]) > 0 {
			return h.produceIdempotent(ctx, r, req, outstanding{todo: req.Records})
		}
		return h.produceSpooling(ctx, r, req)
	}
	o, err := h.admit(ctx, r, req)
	if err != nil {
		return nil, err
	}
	if h.idem != nil && len(r.Header[idempotencyHeader]) > 0 {
		return h.produceIdempotent(ctx, r, req, o)
	}
	if len(o.todo) == 0 {
		return o.refused, nil
	}
	produced, err := h.client.Produce(ctx, o.todo)
	if err != nil {
		return nil, err
	}
	return o.merge(produced), nil
}

// admit applies the handler's policy to req: what is left to produce once
// the records refused on their own are set aside, or why nothing of req may
// be produced.
func (h *Handler) admit(ctx context.Context, r *http.Request, req *dialects.Request) (outstanding, error) {
	var o outstanding
	if len(req.Records) > h.MaxRecords {
		return o, dialects.TooManyRecords(h.MaxRecords)
	}
	// Every topic is checked before anything is produced, so a refused
	// request writes nothing; that of a record that failed to decode too,
	// so that a request to a topic that is missing or not allowed gets that
	// answer, whatever its records. Requests almost always carry one
	// topic: remember the last one checked instead of building a set.
	for i := range req.Records {
		m := &req.Records[i]
		if i == 0 || m.Topic != req.Records[i-1].Topic {
			if err := h.topicExists(ctx, r, m.Topic); err != nil {
				return o, err
			}
		}
		if req.Errs != nil && req.Errs[i] != nil {
			o.refuse(len(req.Records), i, req.Errs[i])
			continue
		}
		if err := h.client.CheckSize(m); err != nil {
			// Refused here rather than by franz-go once produced, so that
			// the other records of a request refused whole are not written.
			if !req.PerRecord {
				return o, err
			}
			o.refuse(len(req.Records), i, err)
			continue
		}
		if m.Partition >= 0 {
			if err := h.client.CheckPartition(ctx, m.Topic, m.Partition); err != nil {
				if !req.PerRecord || producer.Classify(err) != producer.ClassUnknownPartition {
					return o, err
				}
				o.refuse(len(req.Records), i, err)
			}
		}
	}
	o.collect(req.Records)
	return o, nil
}

// outstanding is what is left to produce of a request once the records
// refused on their own are set aside: todo, which are the records at idx,
// and the results of the refused ones. Without refusals, todo is every
// record and refused and idx are nil.
type outstanding struct {
	refused []producer.Result // zero for the records to produce
	todo    []producer.Message
	idx     []int
}

// refuse sets record i of n aside with err as its result.
func (o *outstanding) refuse(n, i int, err error) {
	if o.refused == nil {
		o.refused = make([]producer.Result, n)
	}
	o.refused[i] = producer.Result{Partition: -1, Offset: -1, Err: err}
}

// collect gathers the records left to produce.
func (o *outstanding) collect(records []producer.Message) {
	if o.refused == nil {
		o.todo = records
		return
	}
	for i := range records {
		if o.refused[i].Err == nil {
			o.todo, o.idx = append(o.todo, records[i]), append(o.idx, i)
		}
	}
}

// merge returns the results of every record, given those of todo.
func (o *outstanding) merge(produced []producer.Result) []producer.Result {
	if o.refused == nil {
		return produced
	}
	out := slices.Clone(o.refused)
	for j, i := range o.idx {
		out[i] = produced[j]
	}
	return out
}

// timedOut is the answer when the wait ended before Kafka answered: the
// refused records keep their refusal, the others time out.
func (o *outstanding) timedOut() []producer.Result {
	produced := make([]producer.Result, len(o.todo))
	for i := range produced {
		produced[i] = producer.Result{Partition: -1, Offset: -1, Err: producer.ErrTimeout}
	}
	return o.merge(produced)
}

// allowed reports whether topic passes the allow-list for the request whose
// context (and placeholders) ctx is.
func (h *Handler) allowed(ctx context.Context, topic string) bool {
	if len(h.globs) == 0 {
		return topic != ""
	}
	for _, g := range h.globs {
		pattern := g.pattern
		if g.dynamic {
			var ok bool
			if pattern, ok = expandGlob(ctx, pattern); !ok {
				continue
			}
		}
		if ok, _ := path.Match(pattern, topic); ok {
			return true
		}
	}
	return false
}

// checkGlob refuses a topics glob path.Match cannot use. One with
// placeholders is checked with them removed, which keeps its syntax.
func checkGlob(g string) error {
	static := g
	if strings.ContainsAny(g, "{}") {
		static = caddy.NewEmptyReplacer().ReplaceAll(g, "x")
	}
	if _, err := path.Match(static, ""); err != nil {
		return fmt.Errorf("bad pattern %q: %w (a glob as in path.Match: * ? [a-z] \\ escapes)", g, err)
	}
	return nil
}

var errEmptyPlaceholder = errors.New("empty placeholder")

// expandGlob expands a glob's placeholders with glob metacharacters in their
// values escaped, so that a user named "*" gets no wildcard. A placeholder
// that is empty or unknown makes the glob match nothing.
func expandGlob(ctx context.Context, pattern string) (string, bool) {
	repl, ok := ctx.Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
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
		if retriable(dialects.ErrorOf(res.Err).Class) {
			w.Header().Set("Retry-After", "1")
			return
		}
	}
}

// retriable reports whether the same request may overcome a failure of
// class c later, unchanged.
func retriable(c producer.Class) bool {
	switch c {
	case producer.ClassOverloaded, producer.ClassUnavailable, producer.ClassTimeout, producer.ClassAuthFailed:
		return true
	}
	return false
}

// fail writes err in the dialect's format, with Retry-After on every
// failure that the same request may overcome later unchanged: overload,
// Kafka unavailable or timing out, the gateway failing to authenticate.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error, records int) {
	err = h.unreachable(err)
	e := dialects.ErrorOf(err)
	if retriable(e.Class) || schema.Retriable(err) {
		w.Header().Set("Retry-After", "1")
	}
	h.annotate(r, "", 0, e.Class)
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

// unreachable tells a failure that only shows the cluster being unreachable
// (a timeout waiting for a broker that does not answer) as what it is, when
// the health check knows: the client gets the dialect's unavailable status,
// with a pointer to the admin API that knows why. Other errors pass as they
// are.
func (h *Handler) unreachable(err error) error {
	switch dialects.ErrorOf(err).Class {
	case producer.ClassTimeout, producer.ClassUnavailable:
	default:
		return err
	}
	if h.client.obs == nil {
		return err
	}
	st := h.client.obs.snapshot()
	if st.State != stateUnreachable {
		return err
	}
	return dialects.Unavailable(st.Since.UTC().Format(time.RFC3339), err)
}

// annotate sets the placeholders and access-log fields of a request: the
// topic of its first record, how many records it carried (a stream's, all of
// its batches) and its outcome.
func (h *Handler) annotate(r *http.Request, topic string, records int, outcome producer.Class) {
	info := infoOf(r)
	if info == nil {
		info = new(requestInfo)
		caddyhttp.SetVar(r.Context(), infoVar, info)
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			repl.Map(info.replace)
		}
		if extra, ok := r.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok && accessLogged(r) {
			extra.Add(zap.Inline(info))
		}
	}
	info.topic, info.records, info.outcome = topic, records, outcome
}

// firstTopic is the topic of a request's first record, the one its log
// fields name.
func firstTopic(records []producer.Message) string {
	if len(records) == 0 {
		return ""
	}
	return records[0].Topic
}

// accessLogged reports whether r's server writes access logs, the only
// reader of the extra log fields: adding one costs three allocations (Caddy
// clears a sync.Map on every Add).
func accessLogged(r *http.Request) bool {
	srv, _ := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	return srv == nil || srv.Logs != nil
}

// requestInfo is what a request did: its placeholders (one replacer
// provider, read only when a placeholder is used) and its access-log fields
// (one field, encoded only when the access log is written).
type requestInfo struct {
	topic   string
	records int
	outcome producer.Class
}

// infoVar is the request variable (caddyhttp.SetVar) holding the
// request's requestInfo: a map lookup, where the replacer would ask every
// placeholder provider in turn.
const infoVar = "kafka_rest._info"

// infoOf finds the request's requestInfo, if annotate has run.
func infoOf(r *http.Request) *requestInfo {
	ri, _ := caddyhttp.GetVar(r.Context(), infoVar).(*requestInfo)
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

// lender is the handler as lent to a dialect's read-only capabilities: its
// cluster under its policy. The allow-list's placeholders are those of the
// request whose context a call is given, so lending allocates nothing.
type lender Handler

func (l *lender) ClusterID(ctx context.Context) (string, error) { return (*Handler)(l).clusterID(ctx) }

func (l *lender) Describe(ctx context.Context, topics ...string) (producer.ClusterInfo, error) {
	h := (*Handler)(l)
	for _, t := range topics {
		if !h.allowed(ctx, t) {
			return producer.ClusterInfo{}, dialects.TopicNotAllowed(t)
		}
	}
	tctx, cancel := h.withTimeout(ctx)
	defer cancel()
	info, err := h.client.Describe(tctx, topics...)
	if err != nil {
		return info, err
	}
	info.Topics = slices.DeleteFunc(info.Topics, func(t producer.TopicInfo) bool { return !h.allowed(ctx, t.Name) })
	return info, nil
}

func (l *lender) Fetch(ctx context.Context, topic string, partition int32, offset int64, maxRecords int, maxBytes int32) ([]producer.FetchedRecord, error) {
	h := (*Handler)(l)
	if !h.allowed(ctx, topic) {
		return nil, dialects.TopicNotAllowed(topic)
	}
	ctx, cancel := h.withTimeout(ctx)
	defer cancel()
	maxRecords = min(maxRecords, h.MaxRecords)
	maxBytes = int32(min(int64(maxBytes), h.MaxBody, math.MaxInt32))
	return h.client.Fetch(ctx, topic, partition, offset, maxRecords, maxBytes)
}

func (l *lender) Brokers(ctx context.Context) (producer.ClusterInfo, error) {
	h := (*Handler)(l)
	ctx, cancel := h.withTimeout(ctx)
	defer cancel()
	return h.client.ClusterState(ctx)
}

func (l *lender) TopicConfigs(ctx context.Context, topic string) ([]producer.TopicConfig, error) {
	h := (*Handler)(l)
	if !h.allowed(ctx, topic) {
		return nil, dialects.TopicNotAllowed(topic)
	}
	tctx, cancel := h.withTimeout(ctx)
	defer cancel()
	return h.client.TopicConfigs(tctx, topic)
}

func (l *lender) FetchMany(ctx context.Context, positions []producer.FetchPosition, maxRecords int, maxBytes int32) ([]producer.FetchedPartition, error) {
	h := (*Handler)(l)
	for _, p := range positions {
		if !h.allowed(ctx, p.Topic) {
			return nil, dialects.TopicNotAllowed(p.Topic)
		}
	}
	tctx, cancel := h.withTimeout(ctx)
	defer cancel()
	maxRecords = min(maxRecords, h.MaxRecords)
	maxBytes = int32(min(int64(maxBytes), h.MaxBody, math.MaxInt32))
	return h.client.FetchMany(tctx, positions, maxRecords, maxBytes)
}

func (l *lender) ListOffsets(ctx context.Context, ts int64, parts []producer.TopicPartition) ([]producer.PartitionOffset, error) {
	h := (*Handler)(l)
	for _, p := range parts {
		if !h.allowed(ctx, p.Topic) {
			return nil, dialects.TopicNotAllowed(p.Topic)
		}
	}
	tctx, cancel := h.withTimeout(ctx)
	defer cancel()
	return h.client.ListOffsets(tctx, ts, parts)
}

// clusterID is the Kafka cluster's ID, looked up once.
func (h *Handler) clusterID(ctx context.Context) (string, error) {
	if id := h.kafkaID.Load(); id != nil {
		return *id, nil
	}
	ctx, cancel := h.withTimeout(ctx)
	defer cancel()
	info, err := h.client.ClusterState(ctx)
	if err != nil {
		return "", err
	}
	h.kafkaID.Store(&info.ID)
	return info.ID, nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ dialects.Describer          = (*lender)(nil)
	_ dialects.Fetcher            = (*lender)(nil)
)
