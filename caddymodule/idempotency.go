package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/internal/idempotency"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Defaults of IdempotencyConfig.
const (
	defaultIdempotencyWindow  = time.Hour
	defaultIdempotencyMaxKeys = 100000
)

// idempotencyHeader is the request header, in canonical form
// (draft-ietf-httpapi-idempotency-key-header).
const idempotencyHeader = "Idempotency-Key"

// IdempotencyConfig configures the Idempotency-Key header
// (draft-ietf-httpapi-idempotency-key-header) of a kafka_rest handler. A
// request that carries the header produces its records once: a repeat with
// the same key, by the same user, to the same method and path, gets the first
// request's answer, read from memory, and writes nothing; a concurrent
// repeat waits for the first to finish. Keys are remembered per cluster, in
// this Caddy instance only, across config reloads.
type IdempotencyConfig struct {
	// Disabled turns the header off: requests carrying it are produced as
	// any other. Default: false (on).
	Disabled bool `json:"disabled,omitempty"`

	// How long the outcome of a request is remembered, counted from the
	// moment Kafka answered it. A key repeated later produces again.
	// Default: 1h.
	Window caddy.Duration `json:"window,omitempty"`

	// Most keys remembered per cluster; past it the oldest are forgotten
	// first (a repeat of a forgotten key produces again). The results kept
	// are bounded too, at 10 per key on average (a key's request with more
	// records forgets more keys). Each key costs about 230 bytes, plus 24
	// per record of its request beyond the first (100000 keys of one
	// record: about 23MB). Handlers of one cluster with the same window
	// and max_keys share their keys; a reload that changes either starts
	// with no keys. Default: 100000.
	MaxKeys int `json:"max_keys,omitempty"`

	// Key is where a request's key comes from: a template of Caddy
	// placeholders, e.g. {http.request.header.webhook-id} or
	// {http.request.header.X-GitHub-Delivery}, so that a sender's
	// redelivery of the same delivery gets the first answer and writes
	// nothing. A request whose template expands to "" has no key.
	// Default: {http.request.header.Idempotency-Key}.
	Key string `json:"key,omitempty"`

	// RecordHeader, when set, is the name of a record header that carries
	// the request's key on every record it produces, so that consumers can
	// drop duplicates that this instance could not prevent (a retry that
	// reached another instance of a fleet, or came after the window).
	// Default: none.
	RecordHeader string `json:"record_header,omitempty"`
}

// idempotencySupport is a handler's Idempotency-Key support: its store, shared with
// every handler of the same cluster and settings.
type idempotencySupport struct {
	store   *idempotency.Store
	poolKey string
	header  string
	key     string // the key's template; "" for the Idempotency-Key header
}

// defaultIdempotencyKey is the template of the Idempotency-Key header.
const defaultIdempotencyKey = "{http.request.header." + idempotencyHeader + "}"

// keyOf returns r's key values: those of the Idempotency-Key header
// (several are refused later, as the draft says), or the key template's
// expansion; none when r has no key.
func (s *idempotencySupport) keyOf(r *http.Request) []string {
	if s.key == "" {
		return r.Header[idempotencyHeader]
	}
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return nil
	}
	if k := repl.ReplaceAll(s.key, ""); k != "" {
		return []string{k}
	}
	return nil
}

// hasKey reports whether r carries an idempotency key (h's support on).
func (h *Handler) hasKey(r *http.Request) bool {
	return h.idem != nil && len(h.idem.keyOf(r)) > 0
}

// idemStores holds the stores by cluster and settings, across config reloads:
// a reload that leaves them unchanged keeps the keys, and a store no config
// uses any more is dropped.
var idemStores = caddy.NewUsagePool()

// provisionIdempotency sets up the handler's Idempotency-Key support, unless
// it is disabled.
func (h *Handler) provisionIdempotency() error {
	cfg := IdempotencyConfig{}
	if h.Idempotency != nil {
		cfg = *h.Idempotency
	}
	if cfg.Disabled {
		return nil
	}
	window := time.Duration(cfg.Window)
	if window == 0 {
		window = defaultIdempotencyWindow
	}
	maxKeys := cfg.MaxKeys
	if maxKeys == 0 {
		maxKeys = defaultIdempotencyMaxKeys
	}
	key := "kafka.idempotency." + h.cluster + "." + window.String() + "." + strconv.Itoa(maxKeys)
	val, _, err := idemStores.LoadOrNew(key, func() (caddy.Destructor, error) {
		return idempotency.NewStore(window, maxKeys), nil
	})
	if err != nil {
		return fmt.Errorf("idempotency: %w", err)
	}
	h.idem = &idempotencySupport{store: val.(*idempotency.Store), poolKey: key, header: cfg.RecordHeader}
	if cfg.Key != "" && cfg.Key != defaultIdempotencyKey {
		h.idem.key = cfg.Key
	}
	return nil
}

// Cleanup releases the handler's hold on its Idempotency-Key store. On a
// reload Caddy cleans up while the old config's requests may still be in
// flight: they keep using the store, which outlives the pool's hold on it.
func (h *Handler) Cleanup() error {
	if h.idem == nil {
		return nil
	}
	_, err := idemStores.Delete(h.idem.poolKey)
	return err
}

// Errors of the Idempotency-Key header, in every dialect's format.
var (
	errIdemConflict = &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnprocessableEntity,
		Code: http.StatusUnprocessableEntity, Message: "Idempotency-Key was already used for a different request"}
	errIdemStream = &dialects.Error{Class: producer.ClassBadRequest,
		Message: "an idempotency key cannot apply to a streamed request: send the body with a Content-Length"}
	errIdemMany = &dialects.Error{Class: producer.ClassBadRequest, Message: "more than one Idempotency-Key"}
	errIdemBad  = &dialects.Error{Class: producer.ClassBadRequest,
		Message: fmt.Sprintf("Idempotency-Key must be 1 to %d characters", idempotency.MaxKeyLen)}
)

// produceIdempotent produces o's records, which have passed the handler's
// policy, at most once per Idempotency-Key: see IdempotencyConfig. ctx bounds
// the wait.
func (h *Handler) produceIdempotent(ctx context.Context, r *http.Request, req *dialects.Request, o outstanding) ([]producer.Result, error) {
	key, err := idempotency.Key(h.idem.keyOf(r))
	switch {
	case errors.Is(err, idempotency.ErrMultipleKeys):
		return nil, errIdemMany
	case err != nil:
		return nil, errIdemBad
	}
	user := ""
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		user, _ = repl.GetString("http.auth.user.id")
	}
	scope := idempotency.Scope(user, r.Method, r.URL.Path, key)
	fp := idempotency.Fingerprint(req.Records, req.Errs)
	st := h.idem.store
	e, wait, created := st.Claim(scope, fp, time.Now())
	if !created {
		if e.Fingerprint() != fp {
			h.metrics.idempotency(idempotencyConflict)
			return nil, errIdemConflict
		}
		if wait == nil {
			h.metrics.idempotency(idempotencyReplayed)
			return told(e.Outcome())
		}
		// The first request is still in flight (a concurrent repeat, or
		// a retry of a request that timed out): its outcome is ours.
		h.metrics.idempotency(idempotencyWaited)
		var expired <-chan time.Time
		if d := h.client.Config().DeliveryTimeout; d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			expired = t.C
		}
		select {
		case <-wait:
			return told(e.Outcome())
		case <-ctx.Done():
		case <-expired:
		}
		return o.timedOut(), nil
	}

	todo := o.todo
	if h.idem.header != "" {
		// After the fingerprint, so that a repeat compares equal; on
		// copies, so that the dialect's records are left as decoded.
		todo = slices.Clone(todo)
		for i := range todo {
			hs := make([]producer.Header, len(todo[i].Headers), len(todo[i].Headers)+1)
			copy(hs, todo[i].Headers)
			todo[i].Headers = append(hs, producer.Header{Key: h.idem.header, Value: []byte(key)})
		}
	}
	if h.Spool != nil { // spool: the route's policy produces or spools, admit included
		sreq := *req
		sreq.Records, _ = h.traced(r, todo)
		results, err := h.produceSpooling(ctx, r, &sreq)
		st.Settle(e, results, err, time.Now())
		return results, err
	}
	todo, traceEnd := h.traced(r, todo)
	p, err := h.client.Start(todo)
	if err != nil {
		// Refused before anything was written (overload, client closed):
		// forget the key, so that a retry produces.
		st.Settle(e, nil, err, time.Now())
		traceEnd(nil, err)
		return nil, err
	}
	settle := func() []producer.Result {
		traceEnd(p.Results(), nil)
		results := o.merge(p.Results())
		st.Settle(e, results, nil, time.Now())
		return results
	}
	res := p.Wait(ctx)
	select {
	case <-p.Done():
		// Settled before answering, so that a retry that follows the
		// answer finds the outcome (or produces, if nothing was written).
		return settle(), nil
	default:
	}
	// The outcome is stored once Kafka answers, although this request no
	// longer waits: a retry after a timeout gets the real outcome and never
	// writes the records twice.
	go func() {
		<-p.Done()
		settle()
	}()
	return o.merge(res), nil
}

// Interface guards
var (
	_ caddy.CleanerUpper = (*Handler)(nil)
	_ caddy.Destructor   = (*idempotency.Store)(nil)
)

// told is a settled key's outcome as a repeat of its request is told it: a
// record that failed indeterminately is told that its outcome is final and
// unknown (dialects.OutcomeUnknown), without Retry-After, since repeating
// the request with the key only gets the same answer.
func told(results []producer.Result, err error) ([]producer.Result, error) {
	var out []producer.Result
	for i := range results {
		if results[i].Err != nil && producer.Indeterminate(results[i].Err) {
			if out == nil {
				out = slices.Clone(results)
			}
			out[i].Err = dialects.OutcomeUnknown(results[i].Err)
		}
	}
	if out == nil {
		return results, err
	}
	return out, err
}
