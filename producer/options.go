package producer

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"
)

// Option adds to a Client what its Config does not describe: where
// franz-go logs and what it measures.
type Option func(*options)

type options struct {
	logger  *zap.Logger
	metrics *kprom.Metrics
}

// WithLogger sends franz-go's own logs to l, under the name "franz".
func WithLogger(l *zap.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithMetrics measures the client with franz-go's metrics, collected by
// Client.Metrics as caddy_kafka_client_* with the constant label
// cluster=<cluster>, per broker (node_id). They carry no topic label, since
// topics come from request URLs and are unbounded.
func WithMetrics(cluster string) Option {
	return func(o *options) {
		o.metrics = kprom.NewMetrics("caddy",
			kprom.Subsystem("kafka_client"),
			kprom.Registry(nil), // a plain collector: the caller registers it, once per registry
			kprom.WithStaticLabel(prometheus.Labels{"cluster": cluster}),
			kprom.FetchAndProduceDetail(kprom.ByNode, kprom.Batches, kprom.Records,
				kprom.UncompressedBytes, kprom.CompressedBytes, kprom.ConsistentNaming),
			kprom.Histograms(kprom.RequestDurationE2E, kprom.RequestThrottled),
		)
	}
}

// kgoOpts are the franz-go options that o stands for.
func (o *options) kgoOpts() []kgo.Opt {
	var opts []kgo.Opt
	if o.logger != nil {
		opts = append(opts, kgo.WithLogger(kzap.New(o.logger.Named("franz"))))
	}
	if o.metrics != nil {
		opts = append(opts, kgo.WithHooks(o.metrics))
	}
	return opts
}

// Metrics is the collector of the client's franz-go metrics (see
// WithMetrics), or nil when New was not given WithMetrics. It is not
// registered anywhere; registering it with several registries, one after
// the other, keeps its values.
func (c *Client) Metrics() prometheus.Collector {
	if c.metrics == nil {
		return nil // a nil *kprom.Metrics in the interface would not be nil
	}
	return c.metrics
}
