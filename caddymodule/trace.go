package caddymodule

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// The W3C trace context headers, as Caddy's tracing handler leaves them on
// the request (continuing or starting the trace) or a client sends them.
const (
	traceparent = "traceparent"
	tracestate  = "tracestate"
)

// tracerName is the instrumentation scope of the produce spans.
const tracerName = "github.com/caddy-kafka/caddy-kafka"

// traced prepares records for Kafka under trace_context: copies that carry
// the request's traceparent (and tracestate), unless a record has a header
// of that name already, so that a consumer can continue the trace; and,
// when Caddy's tracing is on, a producer span, child of the request's, that
// the returned func ends with the records' results. Without trace_context,
// records are returned as they are and the func does nothing.
//
// It runs after the Idempotency-Key fingerprint: a retry that carries a
// new traceparent is the same request.
func (h *Handler) traced(r *http.Request, records []producer.Message) ([]producer.Message, func([]producer.Result, error)) {
	if !h.TraceContext || len(records) == 0 {
		return records, func([]producer.Result, error) {}
	}
	if tp := r.Header.Get(traceparent); tp != "" {
		add := []producer.Header{{Key: traceparent, Value: []byte(tp)}}
		if ts := r.Header.Get(tracestate); ts != "" {
			add = append(add, producer.Header{Key: tracestate, Value: []byte(ts)})
		}
		out := make([]producer.Message, len(records))
		for i, m := range records {
			hs := make([]producer.Header, len(m.Headers), len(m.Headers)+len(add))
			copy(hs, m.Headers)
			for _, a := range add {
				if !hasHeader(m.Headers, a.Key) {
					hs = append(hs, a)
				}
			}
			m.Headers = hs
			out[i] = m
		}
		records = out
	}
	parent := trace.SpanFromContext(r.Context())
	if !parent.IsRecording() {
		return records, func([]producer.Result, error) {}
	}
	topic := records[0].Topic
	_, span := parent.TracerProvider().Tracer(tracerName).Start(r.Context(), "send "+topic,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", topic),
			attribute.Int("messaging.batch.message_count", len(records)),
		))
	return records, func(results []producer.Result, err error) {
		if err == nil {
			for i := range results {
				if results[i].Err != nil {
					err = results[i].Err
					break
				}
			}
		}
		if err != nil {
			e := dialects.ErrorOf(err)
			span.SetAttributes(attribute.String("error.type", e.Class.String()))
			span.SetStatus(codes.Error, e.Message)
		}
		span.End()
	}
}

func hasHeader(hs []producer.Header, key string) bool {
	for _, h := range hs {
		if h.Key == key {
			return true
		}
	}
	return false
}
