package caddymodule

import (
	"errors"
	"net/http/httptest"
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

	// A Server's request: the first produce failure wins over the status;
	// without one, the status tells.
	var o requestObs
	w := o.watch(httptest.NewRecorder())
	o.produced(m, time.Now(), 2, nil, dialects.ErrTopicNotAllowed)
	w.WriteHeader(403)
	m.served(&o, nil)
	if got := counterValue(t, requestsTotal.WithLabelValues(dialect, cluster, "not_authorized")); got != 1 {
		t.Errorf("served request with a refused produce: not_authorized = %v", got)
	}
	var o2 requestObs
	rec := httptest.NewRecorder()
	w2 := o2.watch(rec)
	w2.Header().Set("Retry-After", "1")
	w2.WriteHeader(503)
	m.served(&o2, nil)
	if got := counterValue(t, requestsTotal.WithLabelValues(dialect, cluster, "overloaded")); got != 2 {
		t.Errorf("503 with Retry-After: overloaded = %v, want 2", got)
	}
	var o3 requestObs
	o3.watch(httptest.NewRecorder())
	m.served(&o3, errors.New("internal fault"))
	if got := counterValue(t, requestsTotal.WithLabelValues(dialect, cluster, "internal")); got != 1 {
		t.Errorf("Serve's error: internal = %v, want 1", got)
	}
	if rec.Code != 503 {
		t.Errorf("the watched writer did not pass the status on: %d", rec.Code)
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
