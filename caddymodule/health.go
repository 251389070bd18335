package caddymodule

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

// A pooled client's health check asks a broker for the cluster's metadata
// (brokers only, no topics) every healthInterval, each attempt bounded by
// healthTimeout, so that the state seen by kafka_ready and the admin API
// follows the cluster within a few seconds. While the cluster is
// unreachable, and requests to it are answered at once without trying it
// (Handler.away), it is checked every healthRetry instead, so that it is
// served again soon after it is back; a refused connection costs little.
const (
	healthInterval = 2 * time.Second
	healthRetry    = 500 * time.Millisecond
	healthTimeout  = 2 * time.Second
	maxErrorText   = 512
)

// Connection states of a cluster.
const (
	stateUnknown     = "unknown" // not checked yet
	stateReachable   = "reachable"
	stateUnreachable = "unreachable"
)

// clientObs is what can be observed of one pooled client's health. It
// lives as long as the client, across reloads.
type clientObs struct {
	cluster  string
	embedded bool
	seeds    []string          // the configured brokers, without credentials
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
	// lastErr is the last failed check's error, never shown: its class
	// decides the answer given while the cluster is unreachable.
	lastErr error
	Kafka   *clusterSummary // from the last successful check
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
// expanded configuration is cl.
func newClientObs(name string, cl Cluster, logger *zap.Logger) *clientObs {
	o := &clientObs{cluster: name, logger: logger}
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
	go o.run(ctx, c)
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

func (o *clientObs) run(ctx context.Context, c *producer.Client) {
	defer close(o.done)
	for {
		start := time.Now()
		o.check(ctx, c)
		every := healthInterval
		if o.snapshot().State == stateUnreachable {
			every = healthRetry
		}
		t := time.NewTimer(time.Until(start.Add(every)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// check asks the cluster for its metadata once and records the outcome,
// logging when the state changes.
func (o *clientObs) check(ctx context.Context, c *producer.Client) {
	cctx, cancel := context.WithTimeout(ctx, healthTimeout)
	info, err := c.ClusterState(cctx)
	cancel()
	if ctx.Err() != nil {
		return // stopping: the failure is ours, not the cluster's
	}
	now := time.Now()
	prev := o.state.Load()
	next := *prev
	next.CheckedAt = now
	if err == nil {
		next.State, next.Kafka = stateReachable, summarize(info)
		if prev.State != stateReachable {
			next.Since = now
			if prev.State == stateUnreachable {
				o.logger.Info("kafka cluster reachable again", zap.Duration("unreachable_for", now.Sub(prev.Since)))
			}
		}
	} else {
		next.State, next.LastError, next.LastErrorAt, next.lastErr = stateUnreachable, o.sanitize(err), now, err
		if prev.State != stateUnreachable {
			next.Since = now
			o.logger.Warn("kafka cluster unreachable: requests to it fail and kafka_ready answers 503 until it answers",
				zap.String("error", next.LastError))
		}
	}
	o.state.Store(&next)
}

// summarize is the admin API's view of what a broker said of its cluster.
func summarize(info producer.ClusterInfo) *clusterSummary {
	s := &clusterSummary{ClusterID: info.ID, ControllerID: info.Controller, Brokers: make([]brokerSummary, 0, len(info.Brokers))}
	for _, b := range info.Brokers {
		s.Brokers = append(s.Brokers, brokerSummary{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack})
	}
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
