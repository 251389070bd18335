package caddymodule

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/plugin/kprom"
	"go.uber.org/zap"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

// A pooled client's health check asks a broker for the cluster's metadata
// (brokers only, no topics) every healthInterval, each attempt bounded by
// healthTimeout, so that the state seen by kafka_ready and the admin API
// follows the cluster within a few seconds.
const (
	healthInterval = 2 * time.Second
	healthTimeout  = 2 * time.Second
	maxErrorText   = 512
)

// Connection states of a cluster.
const (
	stateUnknown     = "unknown" // not checked yet
	stateReachable   = "reachable"
	stateUnreachable = "unreachable"
)

// clientObs is what can be observed of one pooled client: its franz-go
// metrics and its health. It lives as long as the client, across reloads.
type clientObs struct {
	cluster  string
	embedded bool
	seeds    []string // the configured brokers, without credentials
	kprom    *kprom.Metrics
	redact   *strings.Replacer // masks the cluster's secrets in error texts
	logger   *zap.Logger

	state atomic.Pointer[health]

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// health is a snapshot of a cluster's health. Snapshots are immutable.
type health struct {
	State       string
	Since       time.Time // of the current state
	CheckedAt   time.Time // zero before the first check
	LastError   string    // sanitized; kept after the cluster recovers
	LastErrorAt time.Time
	Kafka       *clusterSummary // from the last successful check
}

// clusterSummary is what a broker says of its cluster.
type clusterSummary struct {
	ClusterID    string          `json:"cluster_id,omitempty"`
	ControllerID int32           `json:"controller_id"`
	Brokers      []brokerSummary `json:"brokers"`
}

type brokerSummary struct {
	NodeID int32  `json:"node_id"`
	Host   string `json:"host"`
	Port   int32  `json:"port"`
	Rack   string `json:"rack,omitempty"`
}

// newClientObs prepares the observation of the client of cluster name, whose
// expanded configuration is cl. Its kprom hooks must be given to the client.
func newClientObs(name string, cl Cluster, logger *zap.Logger) *clientObs {
	o := &clientObs{
		cluster: name,
		logger:  logger,
		kprom: kprom.NewMetrics("caddy",
			kprom.Subsystem("kafka_client"),
			kprom.Registry(nil), // a plain collector, registered with each config's registry
			kprom.WithStaticLabel(prometheus.Labels{"cluster": name}),
			// No topic label: topics come from URLs.
			kprom.FetchAndProduceDetail(kprom.ByNode, kprom.Batches, kprom.Records,
				kprom.UncompressedBytes, kprom.CompressedBytes, kprom.ConsistentNaming),
			kprom.Histograms(kprom.RequestDurationE2E, kprom.RequestThrottled),
		),
	}
	o.embedded = len(cl.Brokers) == 1 && cl.Brokers[0] == "embedded"
	for _, b := range cl.Brokers {
		// host:port never carries credentials, but a URL-like entry
		// ("user:pass@host:port") would: keep what follows the last @.
		if i := strings.LastIndexByte(b, '@'); i >= 0 {
			b = b[i+1:]
		}
		o.seeds = append(o.seeds, b)
	}
	if cl.SASL != nil {
		var pairs []string
		for _, s := range []string{cl.SASL.Password, cl.SASL.Token} {
			if s != "" {
				pairs = append(pairs, s, "[redacted]")
			}
		}
		if len(pairs) > 0 {
			o.redact = strings.NewReplacer(pairs...)
		}
	}
	o.state.Store(&health{State: stateUnknown, Since: time.Now()})
	return o
}

// snapshot returns the current health.
func (o *clientObs) snapshot() *health { return o.state.Load() }

// start starts checking c's health, once; stop ends it.
func (o *clientObs) start(c *producer.Client) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started || o.stopped {
		return
	}
	o.started = true
	var ctx context.Context
	ctx, o.cancel = context.WithCancel(context.Background())
	o.done = make(chan struct{})
	go o.run(ctx, c.Kgo())
}

// stop ends the health checks and waits for the last one to return.
func (o *clientObs) stop() {
	o.mu.Lock()
	o.stopped = true
	started := o.started
	o.mu.Unlock()
	if started {
		o.cancel()
		<-o.done
	}
}

func (o *clientObs) run(ctx context.Context, kc *kgo.Client) {
	defer close(o.done)
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for {
		o.check(ctx, kc)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check asks the cluster for its metadata once and records the outcome,
// logging when the state changes.
func (o *clientObs) check(ctx context.Context, kc *kgo.Client) {
	cctx, cancel := context.WithTimeout(ctx, healthTimeout)
	sum, err := clusterMetadata(cctx, kc)
	cancel()
	if ctx.Err() != nil {
		return // stopping: the failure is ours, not the cluster's
	}
	now := time.Now()
	prev := o.state.Load()
	next := *prev
	next.CheckedAt = now
	if err == nil {
		next.State, next.Kafka = stateReachable, sum
		if prev.State != stateReachable {
			next.Since = now
			if prev.State == stateUnreachable {
				o.logger.Info("kafka cluster reachable again", zap.Duration("unreachable_for", now.Sub(prev.Since)))
			}
		}
	} else {
		next.State, next.LastError, next.LastErrorAt = stateUnreachable, o.sanitize(err), now
		if prev.State != stateUnreachable {
			next.Since = now
			o.logger.Warn("kafka cluster unreachable: requests to it fail and kafka_ready answers 503 until it answers",
				zap.String("error", next.LastError))
		}
	}
	o.state.Store(&next)
}

// clusterMetadata asks the brokers the client knows, then the seeds, for the
// cluster's metadata without topics, as kgo.Client.Ping does, and returns the
// first answer or the last error.
func clusterMetadata(ctx context.Context, kc *kgo.Client) (*clusterSummary, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // empty, not nil: no topics
	err := errors.New("no broker to ask")
	for _, brokers := range [2][]*kgo.Broker{kc.DiscoveredBrokers(), kc.SeedBrokers()} {
		for _, b := range brokers {
			var resp *kmsg.MetadataResponse
			if resp, err = req.RequestWith(ctx, b); err == nil {
				return summarize(resp), nil
			}
			if ctx.Err() != nil {
				return nil, err
			}
		}
	}
	return nil, err
}

func summarize(resp *kmsg.MetadataResponse) *clusterSummary {
	s := &clusterSummary{ControllerID: resp.ControllerID, Brokers: make([]brokerSummary, 0, len(resp.Brokers))}
	if resp.ClusterID != nil {
		s.ClusterID = *resp.ClusterID
	}
	for _, b := range resp.Brokers {
		bs := brokerSummary{NodeID: b.NodeID, Host: b.Host, Port: b.Port}
		if b.Rack != nil {
			bs.Rack = *b.Rack
		}
		s.Brokers = append(s.Brokers, bs)
	}
	sort.Slice(s.Brokers, func(i, j int) bool { return s.Brokers[i].NodeID < s.Brokers[j].NodeID })
	return s
}

// sanitize makes an error's text fit to show in the admin API and logs: the
// cluster's secrets masked, control characters replaced, length bounded.
func (o *clientObs) sanitize(err error) string {
	s := err.Error()
	if o.redact != nil {
		s = o.redact.Replace(s)
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
