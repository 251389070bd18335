package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

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
