package producer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestWithLoggerAndMetrics checks that franz-go's logs reach the logger,
// named franz, and that its metrics are collected with the cluster label.
func TestWithLoggerAndMetrics(t *testing.T) {
	c := newCluster(t, 1, "observed")
	core, logs := observer.New(zapcore.DebugLevel)
	cl := newClientOn(t, c.ListenAddrs(), WithLogger(zap.New(core)), WithMetrics("east"))
	if res, err := cl.Produce(context.Background(), []Message{{Topic: "observed", Partition: -1, Value: []byte("v")}}); err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}

	if logs.Filter(func(e observer.LoggedEntry) bool { return e.LoggerName == "franz" }).Len() == 0 {
		t.Fatalf("no franz-go log under the name franz, of %d entries", logs.Len())
	}

	reg := prometheus.NewRegistry()
	if err := reg.Register(cl.Metrics()); err != nil {
		t.Fatal(err)
	}
	// franz-go runs the batch-written hook after the produce promise, so
	// the count may trail the acknowledgement a little: wait for it.
	var records float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		records = producedRecords(t, reg)
		if records >= 1 {
			break
		}
	}
	if records != 1 {
		t.Fatalf("caddy_kafka_client_produce_records_total = %v, want 1", records)
	}
}

func producedRecords(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var records float64
	for _, f := range families {
		if f.GetName() != "caddy_kafka_client_produce_records_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["cluster"] != "east" || labels["node_id"] == "" {
				t.Fatalf("labels %v, want cluster=east and a node_id", labels)
			}
			records += m.GetCounter().GetValue()
		}
	}
	return records
}

func TestMetricsNilWithoutOption(t *testing.T) {
	c := newCluster(t, 1, "plain")
	if m := newClientOn(t, c.ListenAddrs()).Metrics(); m != nil {
		t.Fatalf("Metrics() = %v without WithMetrics", m)
	}
}

func TestKafkaDescription(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
		ok   bool
	}{
		{kerr.InvalidRecord, kerr.InvalidRecord.Description, true},
		{fmt.Errorf("producing: %w", kerr.MessageTooLarge), kerr.MessageTooLarge.Description, true},
		{ErrUnknownTopic, kerr.UnknownTopicOrPartition.Description, true},
		{ErrUnknownPartition, "", false},
		{ErrOverloaded, "", false},
		{errors.New("dial tcp 10.0.0.1:9092: connection refused"), "", false},
		{nil, "", false},
	} {
		if got, ok := KafkaDescription(tc.err); got != tc.want || ok != tc.ok {
			t.Errorf("KafkaDescription(%v) = %q, %v; want %q, %v", tc.err, got, ok, tc.want, tc.ok)
		}
	}
}
