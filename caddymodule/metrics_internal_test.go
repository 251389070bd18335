package caddymodule

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// TestHandlerMetrics checks the recorders a handler resolves at Provision:
// records counted by their own class (a dialect's per-record error by its
// class, not as a Kafka error), the request's outcome being the first
// failure, idempotency results, and nil-safety.
func TestHandlerMetrics(t *testing.T) {
	const dialect, cluster = "test_dialect", "test_cluster"
	for _, v := range []*prometheus.MetricVec{requestsTotal.MetricVec, recordsTotal.MetricVec, idempotencyTotal.MetricVec} {
		v.DeletePartialMatch(prometheus.Labels{"dialect": dialect}) // from an earlier -count run
	}
	m := newHandlerMetrics(dialect, cluster)
	records := func(outcome string) float64 {
		t.Helper()
		return counterValue(t, recordsTotal.WithLabelValues(dialect, cluster, outcome))
	}
	bad := &dialects.Error{Class: producer.ClassBadRequest, Message: "bad record"}
	results := []producer.Result{
		{}, {Err: bad}, {}, {Err: producer.ErrTimeout}, {Err: producer.ErrTimeout}, {},
	}
	if got := m.produced(time.Now(), results); got != producer.ClassBadRequest {
		t.Errorf("outcome %v, want bad_request (the first failure)", got)
	}
	if records("ok") != 3 || records("bad_request") != 1 || records("timeout") != 2 || records("kafka_error") != 0 {
		t.Errorf("records ok=%v bad_request=%v timeout=%v kafka_error=%v", records("ok"), records("bad_request"), records("timeout"), records("kafka_error"))
	}
	m.failed(producer.ClassOverloaded, 5)
	if records("overloaded") != 5 || counterValue(t, requestsTotal.WithLabelValues(dialect, cluster, "overloaded")) != 1 {
		t.Error("a request refused whole is counted once, with its records")
	}
	m.idempotency(idempotencyReplayed)
	m.idempotency(idempotencyConflict)
	m.idempotency(idempotencyConflict)
	for name, want := range map[string]float64{"replayed": 1, "waited": 0, "conflict": 2} {
		if got := counterValue(t, idempotencyTotal.WithLabelValues(dialect, cluster, name)); got != want {
			t.Errorf("idempotency %s = %v, want %v", name, got, want)
		}
	}

	var none *handlerMetrics
	none.request(producer.ClassOK)
	none.failed(producer.ClassOK, 1)
	none.idempotency(idempotencyWaited)
	if got := none.produced(time.Now(), []producer.Result{{}, {Err: errors.New("x")}}); got != producer.ClassKafka {
		t.Errorf("nil metrics still tell the outcome: %v", got)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var pb dto.Metric
	if err := c.Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetCounter().GetValue()
}

// BenchmarkHandlerMetrics is what recording costs a one-record request:
// the clock reads, the record and request counters, the histogram.
func BenchmarkHandlerMetrics(b *testing.B) {
	m := newHandlerMetrics("bench_dialect", "bench_cluster")
	results := []producer.Result{{}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			m.request(m.produced(start, results))
		}
	})
}
