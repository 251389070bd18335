package caddymodule_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// spans is the exporter Caddy's tracing handler exports to in this test:
// autoexport, which Caddy builds its exporter with, takes it by the name
// OTEL_TRACES_EXPORTER gives.
var (
	spansOnce sync.Once
	spans     = tracetest.NewInMemoryExporter()
)

// With Caddy's tracing directive and trace_context, each record carries the
// request's traceparent and tracestate (the server span's, continuing the
// client's trace), a record's own traceparent is kept, and the produce is
// a producer span, child of the request's, with the messaging attributes.
func TestTraceContext(t *testing.T) {
	spansOnce.Do(func() {
		autoexport.RegisterSpanExporter("caddykafkatest", func(context.Context) (sdktrace.SpanExporter, error) { return spans, nil })
	})
	t.Setenv("OTEL_TRACES_EXPORTER", "caddykafkatest")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"tr": 1, "plain": 1, "own": 1},
		Site: `
	tracing {
		span gateway
	}
	handle /tr {
		kafka_rest webhook {
			topic {topic.tr}
			split lines
			trace_context
		}
	}
	handle /own {
		kafka_rest webhook {
			topic {topic.own}
			header traceparent 00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01
			trace_context
		}
	}
	handle /plain {
		kafka_rest webhook {
			topic {topic.plain}
		}
	}`,
	})
	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	h := http.Header{
		"Traceparent": {"00-" + clientTrace + "-00f067aa0ba902b7-01"},
		"Tracestate":  {"vendor=value"},
	}
	for _, p := range []string{"/tr", "/own", "/plain"} {
		body := "one\ntwo\n"
		if resp, b := g.Do(t, http.MethodPost, p, h, body); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, b)
		}
	}

	recs := g.Records(t, "tr", 2)
	var recordParent string
	for _, r := range recs {
		tp, _ := gatewaytest.Header(r, "traceparent")
		ts, _ := gatewaytest.Header(r, "tracestate")
		parts := strings.Split(string(tp), "-")
		if len(parts) != 4 || parts[1] != clientTrace || parts[2] == "00f067aa0ba902b7" || string(ts) != "vendor=value" {
			t.Fatalf("record headers traceparent %q tracestate %q: want the server span's, in the client's trace", tp, ts)
		}
		recordParent = parts[2]
	}
	if own := g.Records(t, "own", 1); len(own) != 1 {
		t.Fatal("own: no record")
	} else if tp, _ := gatewaytest.Header(own[0], "traceparent"); string(tp) != "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01" {
		t.Fatalf("a record's own traceparent was replaced: %q", tp)
	}
	if plain := g.Records(t, "plain", 1); len(plain) != 1 {
		t.Fatal("plain: no record")
	} else if _, ok := gatewaytest.Header(plain[0], "traceparent"); ok {
		t.Fatal("trace_context off, but the record carries a traceparent")
	}

	// The producer span reaches the exporter.
	var send tracetest.SpanStub
	deadline := time.Now().Add(10 * time.Second)
	for send.Name == "" && time.Now().Before(deadline) {
		for _, s := range spans.GetSpans() {
			if s.Name == "send "+g.Topic("tr") {
				send = s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if send.Name == "" {
		t.Fatalf("no send span exported among %d spans", len(spans.GetSpans()))
	}
	if send.SpanKind != trace.SpanKindProducer || send.Parent.TraceID().String() != clientTrace || send.Parent.SpanID().String() != recordParent {
		t.Fatalf("send span kind %v, parent %v: want a producer span, child of the request's span %s", send.SpanKind, send.Parent, recordParent)
	}
	want := map[attribute.Key]attribute.Value{
		"messaging.system":              attribute.StringValue("kafka"),
		"messaging.operation.type":      attribute.StringValue("send"),
		"messaging.destination.name":    attribute.StringValue(g.Topic("tr")),
		"messaging.batch.message_count": attribute.IntValue(2),
	}
	for _, kv := range send.Attributes {
		if v, ok := want[kv.Key]; ok && v == kv.Value {
			delete(want, kv.Key)
		}
	}
	if len(want) > 0 {
		t.Fatalf("send span lacks %v: %v", want, send.Attributes)
	}
}
