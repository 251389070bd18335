package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/internal/spool"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Spool is a cluster's store-and-forward directory: records that spooling
// routes accepted (202) while Kafka could not take them at once, kept on disk
// until a drainer has produced them to the cluster.
type Spool struct {
	// Directory of the spool's segment files, created if missing. Two
	// clusters may not share one. Required.
	Dir string `json:"dir,omitempty"`

	// Most bytes the spool may hold on disk; a request that would take it
	// over is answered 503 with Retry-After. Default: 1GiB.
	MaxSize int64 `json:"max_size,omitempty"`
}

// SpoolRoute is a route's spooling policy (webhook routes only).
type SpoolRoute struct {
	// How long a request waits for Kafka to acknowledge all its records
	// before they are spooled instead (the first attempt goes on; a record
	// it lands is not sent again). Default: 2s.
	After caddy.Duration `json:"after,omitempty"`
}

const defaultSpoolAfter = 2 * time.Second

// spools holds one spool (store and drainer) per directory, across reloads:
// a reload that keeps the directory keeps the store, its order and its
// drainer, whatever else of the cluster changed; the drainer then produces
// with the newest config's client.
var spools = caddy.NewUsagePool()

func spoolKey(dir string) string { return "kafka.spool." + dir }

// spooler is a cluster's spool and its drainer.
type spooler struct {
	cluster string
	store   *spool.Store
	client  atomic.Pointer[pooledClient] // the newest config's
	logger  *zap.Logger
	wake    chan struct{}
	// handed is how many records of the drainer's batch franz-go holds
	// (Start returned, not yet marked done): records produced after them
	// by the same client queue behind them, per partition, so they do not
	// keep requests on the spool. Without it, a steady load would be
	// spooled for ever after an outage: each request arriving while the
	// last batch is acknowledged would find the spool not empty.
	handed  atomic.Int64
	cancel  context.CancelFunc
	done    chan struct{}
	drained prometheus.Counter
}

// provisionSpools opens (or, across a reload, keeps) the spool of every
// cluster that has one, after refusing two clusters naming one directory.
func (a *App) provisionSpools(clusters map[string]Cluster) error {
	byDir := map[string]string{}
	for name, cl := range clusters {
		if cl.Spool == nil {
			continue
		}
		if cl.Spool.Dir == "" {
			return fmt.Errorf("cluster %s: spool: a directory is required", name)
		}
		dir, err := filepath.Abs(cl.Spool.Dir)
		if err != nil {
			return fmt.Errorf("cluster %s: spool: %w", name, err)
		}
		if other, dup := byDir[dir]; dup {
			return fmt.Errorf("clusters %s and %s name the same spool directory %s: each cluster needs its own", min(other, name), max(other, name), dir)
		}
		byDir[dir] = name
	}
	for dir, name := range byDir {
		cl := clusters[name]
		key := spoolKey(dir)
		val, _, err := spools.LoadOrNew(key, func() (caddy.Destructor, error) {
			return newSpooler(name, dir, cl.Spool.MaxSize, a.logger.With(zap.String("cluster", name)))
		})
		if err != nil {
			return fmt.Errorf("cluster %s: spool: %w", name, err)
		}
		a.spoolKeys = append(a.spoolKeys, key)
		sp := val.(*spooler)
		sp.store.SetMaxSize(cl.Spool.MaxSize)
		sp.client.Store(a.clients[name])
		a.clients[name].spool.Store(sp)
		sp.kick()
	}
	return nil
}

func newSpooler(name, dir string, maxSize int64, logger *zap.Logger) (*spooler, error) {
	st, err := spool.Open(dir, spool.Options{MaxSize: maxSize, Logger: logger})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	sp := &spooler{cluster: name, store: st, logger: logger, wake: make(chan struct{}, 1),
		cancel: cancel, done: make(chan struct{}), drained: spoolDrained.WithLabelValues(name)}
	go sp.drain(ctx)
	return sp, nil
}

// Destruct stops the drainer, letting its batch in flight finish, and
// closes the store.
func (sp *spooler) Destruct() error {
	sp.cancel()
	<-sp.done
	return sp.store.Close()
}

func (sp *spooler) kick() {
	select {
	case sp.wake <- struct{}{}:
	default:
	}
}

// Drainer pacing.
const (
	drainBatch           = 1000
	drainBatchBytes      = 4 << 20
	drainIdle            = time.Second // checks the spool this often with nothing to do
	drainBackoffMin      = 100 * time.Millisecond
	drainBackoffMax      = 5 * time.Second
	drainUnreachablePoll = 200 * time.Millisecond
	drainStopTimeout     = 10 * time.Second
)

// drain produces the spool's records in order, a batch at a time, and marks
// each done once Kafka acknowledged it. A batch that fails is tried again
// after a backoff that grows while the cluster is unreachable.
func (sp *spooler) drain(ctx context.Context) {
	defer close(sp.done)
	backoff := drainBackoffMin
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-sp.wake:
			return true
		case <-t.C:
			return true
		}
	}
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for ctx.Err() == nil {
		pc := sp.client.Load()
		if sp.store.Len() == 0 || pc == nil {
			if !wait(drainIdle) {
				return
			}
			continue
		}
		if pc.obs != nil && pc.obs.snapshot().State == stateUnreachable {
			// Nothing is sent while the health check says so; looking
			// again costs nothing, so the drain starts as soon as it
			// says otherwise.
			if !sleep(drainUnreachablePoll) {
				return
			}
			continue
		}
		items, err := sp.store.Next(drainBatch, drainBatchBytes)
		if err != nil {
			sp.logger.Error("spool: reading records to drain", zap.Error(err))
		}
		if len(items) == 0 {
			// Only records whose first attempt is in flight.
			if !wait(drainBackoffMin) {
				return
			}
			continue
		}
		ok := sp.produce(ctx, pc, items)
		if ok {
			backoff = drainBackoffMin
			continue
		}
		if !sleep(backoff) {
			return
		}
		backoff = min(2*backoff, drainBackoffMax)
	}
}

// produce sends items with pc and marks done those Kafka acknowledged; it
// reports whether all were.
func (sp *spooler) produce(ctx context.Context, pc *pooledClient, items []spool.Item) bool {
	msgs := make([]producer.Message, len(items))
	for i := range items {
		it := &items[i]
		msgs[i] = producer.Message{Topic: it.Topic, Partition: it.Partition, Key: it.Key, Value: it.Value, Timestamp: it.Timestamp}
		if len(it.Headers) > 0 {
			msgs[i].Headers = make([]producer.Header, len(it.Headers))
			for j, h := range it.Headers {
				msgs[i].Headers[j] = producer.Header{Key: h.Key, Value: h.Value}
			}
		}
	}
	pc.requests.Add(1)
	p, err := pc.Start(msgs)
	pc.requests.Add(-1)
	if err == nil {
		sp.handed.Store(int64(len(msgs)))
		defer sp.handed.Store(0) // after MarkDone, below
	}
	if err != nil {
		if !errors.Is(err, producer.ErrOverloaded) {
			sp.logger.Warn("spool: draining", zap.Error(err))
		}
		return false
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		// Stopping: give the batch a moment, so that what Kafka
		// acknowledges is marked rather than sent again after a restart.
		t := time.NewTimer(drainStopTimeout)
		select {
		case <-p.Done():
		case <-t.C:
			t.Stop()
			return false
		}
		t.Stop()
	}
	results := p.Results()
	done := make([]spool.ID, 0, len(items))
	var failed error
	dropped := 0
	for i, res := range results {
		if res.Err == nil {
			done = append(done, items[i].ID)
			continue
		}
		if permanent(producer.Classify(res.Err)) {
			// Kafka will never take it: keeping it would stop the
			// spool for ever. Loud, counted, and gone.
			sp.logger.Error("SPOOL RECORD DROPPED: kafka refused it for good", zap.String("topic", items[i].Topic), zap.Error(res.Err))
			done = append(done, items[i].ID)
			dropped++
			continue
		}
		if failed == nil {
			failed = res.Err
		}
	}
	sp.store.MarkDone(done)
	sp.drained.Add(float64(len(done) - dropped))
	if failed != nil {
		sp.logger.Warn("spool: records not acknowledged; retrying", zap.Int("records", len(items)-len(done)), zap.Error(failed))
		return false
	}
	return true
}

// permanent reports whether Kafka refuses a record of class c whatever
// happens, so that retrying is pointless.
func permanent(c producer.Class) bool {
	switch c {
	case producer.ClassBadRequest, producer.ClassTooLarge, producer.ClassUnknownPartition:
		return true
	}
	return false
}

// spoolReason says why a spooling route's request goes to the spool without
// trying Kafka first, or "" when it tries Kafka.
func (sp *spooler) reason(pc *pooledClient) string {
	if pc.obs != nil && pc.obs.snapshot().State == stateUnreachable {
		return "unreachable"
	}
	// Len first: a batch marked done between the two loads makes the
	// difference larger, never smaller, so a request is never produced
	// ahead of a spooled record franz-go does not hold yet.
	if sp.store.Len()-sp.handed.Load() > 0 {
		return "spool not empty"
	}
	return ""
}

// produceSpooling is produce for a route with spool on: Kafka first when it
// is reachable and the spool empty, the spool when it is not, or when Kafka
// does not acknowledge within the route's After. An error means nothing was
// produced nor spooled.
func (h *Handler) produceSpooling(ctx context.Context, r *http.Request, req *dialects.Request) ([]producer.Result, error) {
	sp := h.client.spool.Load()
	if sp == nil {
		return nil, errors.New("spool on, but the cluster has no spool") // refused at provision
	}
	reason := sp.reason(h.client)
	if reason == "unreachable" {
		// Kafka cannot be asked whether the topics exist: the drainer
		// finds out (and retries a missing topic until it exists).
		return h.spoolRequest(r, req, sp, nil)
	}
	o, err := h.admit(ctx, r, req)
	if err != nil {
		if c := dialects.ErrorOf(err).Class; c == producer.ClassUnavailable || c == producer.ClassTimeout {
			return h.spoolRequest(r, req, sp, nil)
		}
		return nil, err
	}
	if reason != "" {
		// Queued behind the records already spooled, once Kafka said
		// the request is fit to produce.
		return h.spoolRequest(r, req, sp, nil)
	}
	if len(o.todo) == 0 || o.refused != nil {
		// Not a webhook request (only webhook routes spool); kept whole.
		return h.produceDirect(ctx, o)
	}
	p, err := h.client.Start(o.todo)
	if errors.Is(err, producer.ErrOverloaded) {
		return h.spoolRequest(r, req, sp, nil)
	}
	if err != nil {
		return nil, err
	}
	after := time.Duration(h.Spool.After)
	if after <= 0 {
		after = defaultSpoolAfter
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < after {
		// The route's timeout comes first: spool a little before it,
		// rather than answer a timeout the spool could have avoided.
		after = time.Until(dl) * 9 / 10
	}
	t := time.NewTimer(after)
	defer t.Stop()
	select {
	case <-p.Done():
		results := p.Results()
		for _, res := range results {
			if res.Err != nil && !dialects.ErrorOf(res.Err).Class.Retriable() && producer.Classify(res.Err) != producer.ClassKafka {
				return results, nil // Kafka refused it: the answer says why
			}
		}
		for _, res := range results {
			if res.Err != nil {
				// Kafka failed in a way time may cure: the records not
				// acknowledged are spooled with the request.
				return h.spoolRequest(r, req, sp, p)
			}
		}
		return results, nil
	case <-t.C:
		return h.spoolRequest(r, req, sp, p)
	case <-ctx.Done():
		return p.Wait(ctx), nil
	}
}

func (h *Handler) produceDirect(ctx context.Context, o outstanding) ([]producer.Result, error) {
	if len(o.todo) == 0 {
		return o.refused, nil
	}
	produced, err := h.client.Produce(ctx, o.todo)
	if err != nil {
		return nil, err
	}
	return o.merge(produced), nil
}

// spoolRequest spools req's records, whole, and returns their spooled
// results once they are on disk. first is the request's attempt at Kafka
// still going on, if any: its records are spooled in flight, and those it
// lands are marked done rather than drained.
func (h *Handler) spoolRequest(r *http.Request, req *dialects.Request, sp *spooler, first *producer.Pending) ([]producer.Result, error) {
	if len(req.Records) > h.MaxRecords {
		return nil, dialects.TooManyRecords(h.MaxRecords)
	}
	now := time.Now()
	recs := make([]spool.Record, len(req.Records))
	for i := range req.Records {
		m := &req.Records[i]
		if !h.allowed(r.Context(), m.Topic) {
			return nil, dialects.TopicNotAllowed(m.Topic)
		}
		if err := h.client.CheckSize(m); err != nil {
			return nil, err
		}
		ts := m.Timestamp
		if ts.IsZero() {
			ts = now // the request's time, not the drain's: CreateTime
		}
		recs[i] = spool.Record{Topic: m.Topic, Partition: m.Partition, Key: m.Key, Value: m.Value, Timestamp: ts}
		if len(m.Headers) > 0 {
			recs[i].Headers = make([]spool.Header, len(m.Headers))
			for j, hd := range m.Headers {
				recs[i].Headers[j] = spool.Header{Key: hd.Key, Value: hd.Value}
			}
		}
	}
	seq, err := sp.store.Append(recs, first != nil)
	if err != nil {
		st := sp.store.Stats()
		msg := "the spool cannot take the request: " + err.Error()
		if errors.Is(err, spool.ErrFull) {
			msg = fmt.Sprintf("kafka is unavailable and the spool is full (%s of max_size %s): retry later",
				producer.FormatBytes(st.Bytes), producer.FormatBytes(sp.store.MaxSize()))
		}
		h.logger.Error("SPOOL REFUSED A REQUEST: answered 503", zap.String("cluster", h.cluster), zap.String("dir", st.Dir), zap.Error(err))
		// Overloaded, not unavailable: the answer keeps saying it is the
		// spool (unavailable would be rewritten as the cluster's state),
		// with Retry-After; the status is the contract's 503.
		return nil, &dialects.Error{Class: producer.ClassOverloaded, Status: http.StatusServiceUnavailable, Message: msg, Err: err}
	}
	if first != nil {
		go func() {
			<-first.Done()
			res := first.Results()
			acked := make([]bool, len(res))
			for i := range res {
				acked[i] = res[i].Err == nil
			}
			sp.store.Settle(seq, acked)
			sp.kick()
		}()
	} else {
		sp.kick()
	}
	results := make([]producer.Result, len(req.Records))
	for i := range results {
		results[i] = producer.Result{Partition: -1, Offset: -1, Timestamp: recs[i].Timestamp, Spooled: true}
	}
	return results, nil
}

// provisionSpool checks the route's spool option: webhook routes only, on a
// cluster with a spool.
func (h *Handler) provisionSpool() error {
	if h.Spool == nil {
		return nil
	}
	if h.dialName != "webhook" {
		return fmt.Errorf("spool: only webhook routes may spool (a %s answer must carry the records' partitions and offsets, which a spooled record does not have yet)", h.dialName)
	}
	if h.client.spool.Load() == nil {
		return fmt.Errorf("spool on: cluster %q has no spool directory: add spool <dir> to its block in the kafka global option", h.cluster)
	}
	if h.Spool.After < 0 {
		return errors.New("spool: after must not be negative")
	}
	return nil
}

// spoolStatus is the admin API's view of a cluster's spool.
type spoolStatus struct {
	Dir     string     `json:"directory"`
	Records int64      `json:"records"`
	Bytes   int64      `json:"bytes"`
	MaxSize int64      `json:"max_size"`
	Oldest  *time.Time `json:"oldest,omitempty"`
}

func (pc *pooledClient) spoolStatus() *spoolStatus {
	sp := pc.spool.Load()
	if sp == nil {
		return nil
	}
	st := sp.store.Stats()
	out := &spoolStatus{Dir: st.Dir, Records: st.Records, Bytes: st.Bytes, MaxSize: sp.store.MaxSize()}
	if !st.Oldest.IsZero() {
		out.Oldest = &st.Oldest
	}
	return out
}

// spooling reports whether the cluster is unreachable while its spool has
// room: kafka_ready then answers 200 "spooling".
func (pc *pooledClient) spooling() bool {
	sp := pc.spool.Load()
	if sp == nil {
		return false
	}
	st := sp.store.Stats()
	return st.Bytes < sp.store.MaxSize()
}

var (
	spoolDrained = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy",
		Subsystem: "kafka",
		Name:      "spool_drained_total",
		Help:      "Spooled records the drainer produced and Kafka acknowledged, per cluster.",
	}, []string{"cluster"})
	spoolRecordsDesc = prometheus.NewDesc("caddy_kafka_spool_records",
		"Records on the cluster's spool, not yet acknowledged by Kafka.", []string{"cluster"}, nil)
	spoolBytesDesc = prometheus.NewDesc("caddy_kafka_spool_bytes",
		"Bytes of the cluster's spool on disk.", []string{"cluster"}, nil)
	spoolOldestDesc = prometheus.NewDesc("caddy_kafka_spool_oldest_seconds",
		"Age of the oldest record on the cluster's spool; 0 when it is empty.", []string{"cluster"}, nil)
)

// spoolCollector reports the spools of an App's clusters.
type spoolCollector struct{ a *App }

func (c spoolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- spoolRecordsDesc
	ch <- spoolBytesDesc
	ch <- spoolOldestDesc
}

func (c spoolCollector) Collect(ch chan<- prometheus.Metric) {
	for name, pc := range c.a.clients {
		sp := pc.spool.Load()
		if sp == nil {
			continue
		}
		st := sp.store.Stats()
		age := 0.0
		if !st.Oldest.IsZero() {
			age = time.Since(st.Oldest).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(spoolRecordsDesc, prometheus.GaugeValue, float64(st.Records), name)
		ch <- prometheus.MustNewConstMetric(spoolBytesDesc, prometheus.GaugeValue, float64(st.Bytes), name)
		ch <- prometheus.MustNewConstMetric(spoolOldestDesc, prometheus.GaugeValue, age, name)
	}
}

// parseSpool parses a cluster's spool subdirective:
//
//	spool <dir> {
//		max_size <size>
//	}
func parseSpool(d *caddyfile.Dispenser) (*Spool, error) {
	sp := new(Spool)
	if !d.NextArg() {
		return nil, missingArgs(d, "spool needs a directory")
	}
	sp.Dir = d.Val()
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	seen := dialects.Seen{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "max_size":
			if err := seen.Once(d); err != nil {
				return nil, err
			}
			if err := sizeArg(d, &sp.MaxSize); err != nil {
				return nil, err
			}
		default:
			return nil, dialects.UnknownSubdirective(d, "spool", "max_size")
		}
	}
	return sp, nil
}

// parseSpoolRoute parses a route's spool subdirective:
//
//	spool on|off [{
//		after <duration>
//	}]
func parseSpoolRoute(d *caddyfile.Dispenser) (*SpoolRoute, error) {
	if !d.NextArg() {
		return nil, d.Err("spool takes on or off")
	}
	on := d.Val()
	if on != "on" && on != "off" {
		return nil, d.Errf("spool takes on or off, not %q", on)
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	sr := new(SpoolRoute)
	seen := dialects.Seen{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if on == "off" {
			return nil, d.Err("spool off takes no block")
		}
		switch d.Val() {
		case "after":
			if err := seen.Once(d); err != nil {
				return nil, err
			}
			dur, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			sr.After = dur
		default:
			return nil, dialects.UnknownSubdirective(d, "spool", "after")
		}
	}
	if on == "off" {
		return nil, nil
	}
	return sr, nil
}
