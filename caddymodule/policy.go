package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// withTimeout bounds ctx by the handler's timeout, if any.
func (h *Handler) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if h.Timeout > 0 {
		return context.WithTimeout(ctx, time.Duration(h.Timeout))
	}
	return ctx, func() {}
}

// reach bounds ctx by the handler's timeout for a call to Kafka, or says at
// once, without waiting, that the cluster is away (see away).
func (h *Handler) reach(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := h.away(); err != nil {
		return ctx, func() {}, err
	}
	ctx, cancel := h.withTimeout(ctx)
	return ctx, cancel, nil
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
	if err := h.away(); err != nil {
		return err
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
		if h.hasKey(r) {
			return h.produceIdempotent(ctx, r, req, outstanding{todo: req.Records})
		}
		sreq := *req
		sreq.Records, _ = h.traced(r, req.Records) // spooled with their trace context
		return h.produceSpooling(ctx, r, &sreq)
	}
	o, err := h.admit(ctx, r, req)
	if err != nil {
		return nil, err
	}
	if h.hasKey(r) {
		return h.produceIdempotent(ctx, r, req, o)
	}
	if len(o.todo) == 0 {
		return o.refused, nil
	}
	todo, traceEnd := h.traced(r, o.todo)
	produced, err := h.client.Produce(ctx, todo)
	traceEnd(produced, err)
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
