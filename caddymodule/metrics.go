package caddymodule

import (
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Caddy gives every config a new metrics registry and serves the current
// one at the admin /metrics and through the metrics handler. The collectors
// are therefore built once, here, and registered with each config's registry
// as it is provisioned (tolerating AlreadyRegisteredError), so that their
// values carry over reloads, as caddy-ratelimit does since its fix #102.
// Labels are bounded: dialect and cluster come from the config, outcome and
// result from fixed sets; topics, which come from URLs, are never labels.
var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "kafka",
		Name:      "requests_total",
		Help:      "Requests answered by kafka_rest handlers, by dialect, cluster and outcome (ok, or the class of the first failure).",
	}, []string{"dialect", "cluster", "outcome"})

	recordsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "kafka",
		Name:      "records_total",
		Help:      "Records received by kafka_rest handlers, by dialect, cluster and outcome (ok once Kafka acknowledged the record, else the class of its failure).",
	}, []string{"dialect", "cluster", "outcome"})

	produceDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "caddy",
		Subsystem: "kafka",
		Name:      "produce_duration_seconds",
		Help:      "Time kafka_rest handlers spent producing a request's records, from the policy checks to Kafka's last acknowledgement (or the timeout).",
		Buckets:   []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"dialect", "cluster"})

	readDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "caddy",
		Subsystem: "kafka",
		Name:      "read_duration_seconds",
		Help:      "Time kafka_rest handlers spent answering read-only requests, by operation: describe (metadata) or fetch (records, offsets).",
		Buckets:   []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"dialect", "cluster", "operation"})

	idempotencyTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "kafka",
		Name:      "idempotency_total",
		Help:      "Requests whose Idempotency-Key matched an earlier request: replayed (answered with the stored result), waited (for the earlier request to finish) or conflict (same key, different request).",
	}, []string{"dialect", "cluster", "result"})

	bufferedRecordsDesc = prometheus.NewDesc("caddy_kafka_buffered_records",
		"Records the gateway accepted that Kafka has not yet acknowledged or failed, per cluster.",
		[]string{"cluster"}, nil)
	bufferedBytesDesc = prometheus.NewDesc("caddy_kafka_buffered_bytes",
		"Bytes (keys, values, headers) of the records counted by caddy_kafka_buffered_records.",
		[]string{"cluster"}, nil)
)

// registerMetrics registers the kafka metrics with the registry of the
// config a is part of: the handlers' collectors, the buffered gauges of a's
// clients and each client's franz-go metrics.
func (a *App) registerMetrics(ctx caddy.Context) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	cs := []prometheus.Collector{requestsTotal, recordsTotal, produceDuration, readDuration, idempotencyTotal, bufferedCollector{a},
		spoolDrained, spoolCollector{a}}
	for _, pc := range a.clients {
		if m := pc.Metrics(); m != nil {
			cs = append(cs, m)
		}
	}
	for _, c := range cs {
		var already prometheus.AlreadyRegisteredError
		if err := reg.Register(c); err != nil && !errors.As(err, &already) {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	return nil
}

// bufferedCollector reports the buffered records and bytes of an App's
// clients. It is registered with the App's own config registry, so it always
// reports the clients of the config being served.
type bufferedCollector struct{ a *App }

func (b bufferedCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- bufferedRecordsDesc
	ch <- bufferedBytesDesc
}

func (b bufferedCollector) Collect(ch chan<- prometheus.Metric) {
	for name, pc := range b.a.clients {
		records, bytes := pc.Buffered()
		ch <- prometheus.MustNewConstMetric(bufferedRecordsDesc, prometheus.GaugeValue, float64(records), name)
		ch <- prometheus.MustNewConstMetric(bufferedBytesDesc, prometheus.GaugeValue, float64(bytes), name)
	}
}

// idempotencyResult is what became of a request whose Idempotency-Key was
// seen before.
type idempotencyResult uint8

const (
	// idempotencyReplayed: answered with the stored result of the earlier
	// request.
	idempotencyReplayed idempotencyResult = iota
	// idempotencyWaited: waited for the earlier request with the same key
	// to finish, then answered with its result.
	idempotencyWaited
	// idempotencyConflict: same key as an earlier, different request.
	idempotencyConflict
	numIdempotencyResults
)

var idempotencyResultNames = [numIdempotencyResults]string{"replayed", "waited", "conflict"}

// handlerMetrics are one handler's children of the collectors above. Its
// labels (dialect, cluster) are fixed per handler and its outcomes are a
// small enum, so every child is resolved once at Provision: recording costs
// an atomic add, never a label lookup. Its methods are nil-safe.
type handlerMetrics struct {
	requests []prometheus.Counter // by producer.Class
	records  []prometheus.Counter // by producer.Class
	duration prometheus.Observer
	reads    [numReadOps]prometheus.Observer
	idem     [numIdempotencyResults]prometheus.Counter
}

func newHandlerMetrics(dialect, cluster string) *handlerMetrics {
	m := &handlerMetrics{duration: produceDuration.WithLabelValues(dialect, cluster)}
	for c := producer.ClassOK; c.String() != "unknown" && c < 255; c++ {
		m.requests = append(m.requests, requestsTotal.WithLabelValues(dialect, cluster, c.String()))
		m.records = append(m.records, recordsTotal.WithLabelValues(dialect, cluster, c.String()))
	}
	for r, name := range idempotencyResultNames {
		m.idem[r] = idempotencyTotal.WithLabelValues(dialect, cluster, name)
	}
	for op, name := range readOpNames {
		m.reads[op] = readDuration.WithLabelValues(dialect, cluster, name)
	}
	return m
}

// readOp is the kind of a read-only request.
type readOp uint8

const (
	readDescribe readOp = iota // metadata
	readFetch                  // records and offsets
	numReadOps
)

var readOpNames = [numReadOps]string{"describe", "fetch"}

// read observes the duration of a read-only request that started at start.
func (m *handlerMetrics) read(op readOp, start time.Time) {
	if m != nil && op < numReadOps {
		m.reads[op].Observe(time.Since(start).Seconds())
	}
}

// request counts one request with outcome c.
func (m *handlerMetrics) request(c producer.Class) {
	if m != nil && int(c) < len(m.requests) {
		m.requests[c].Inc()
	}
}

// failed counts a request refused whole with class c, and its records.
func (m *handlerMetrics) failed(c producer.Class, records int) {
	m.request(c)
	m.refused(c, records)
}

// refused counts records refused whole with class c.
func (m *handlerMetrics) refused(c producer.Class, records int) {
	if m != nil && records > 0 && int(c) < len(m.records) {
		m.records[c].Add(float64(records))
	}
}

// produced counts the records of a produce that started at start by their
// outcome, observes its duration, and returns the request's outcome: ok, or
// the class of its first failed record.
func (m *handlerMetrics) produced(start time.Time, results []producer.Result) producer.Class {
	outcome := producer.ClassOK
	ok := 0
	var lastErr error
	var last producer.Class
	for i := range results {
		err := results[i].Err
		if err == nil {
			ok++
			continue
		}
		// Failures come in runs of one error value (a timeout, a
		// partition down): classify each value once.
		if err != lastErr {
			lastErr, last = err, dialects.ErrorOf(err).Class
		}
		if outcome == producer.ClassOK {
			outcome = last
		}
		if m != nil && int(last) < len(m.records) {
			m.records[last].Inc()
		}
	}
	if m != nil {
		if ok > 0 {
			m.records[producer.ClassOK].Add(float64(ok))
		}
		m.duration.Observe(time.Since(start).Seconds())
	}
	return outcome
}

// idempotency counts a request whose Idempotency-Key was seen before.
func (m *handlerMetrics) idempotency(r idempotencyResult) {
	if m != nil && r < numIdempotencyResults {
		m.idem[r].Inc()
	}
}
