package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// ErrTimeout is the error of a record whose acknowledgement the caller
// stopped waiting for. The record may still be written.
var ErrTimeout = fmt.Errorf("timed out waiting for kafka to acknowledge: %w", context.DeadlineExceeded)

// Client produces to one Kafka cluster. It is safe for concurrent use and
// meant to be shared by every request to that cluster.
type Client struct {
	kc       *kgo.Client
	cfg      Config
	embedded *kfake.Cluster
	meta     *metadataCache
	metrics  *kprom.Metrics // nil without WithMetrics

	// Records and bytes admitted and not yet finished. Admission happens
	// before franz-go buffers a record and release after its promise has
	// run, so these never undercount franz-go's own buffer; with the same
	// limits, franz-go therefore never blocks a caller.
	records atomic.Int64
	bytes   atomic.Int64

	closeMu sync.RWMutex // Start holds it shared while producing; Close sets closed under it
	closed  bool
	promise func(*kgo.Record, error) // c.finish, bound once
	expiry  *expiries                // the DeliveryTimeout of waits

	liveMu sync.Mutex
	live   []int32 // the node IDs of ClusterState's last answer (refreshIfMoved)
}

// New creates a client for cfg, with a logger and metrics if options say so.
// With cfg.Embedded it first starts an in-memory kfake cluster whose
// auto-created topics have three partitions.
func New(cfg Config, with ...Option) (*Client, error) {
	opts, err := cfg.opts()
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range with {
		opt(&o)
	}
	c := &Client{cfg: cfg, metrics: o.metrics, expiry: newExpiries(expiryTick)}
	c.promise = c.finish
	if cfg.Embedded {
		c.embedded, err = kfake.NewCluster(
			kfake.AllowAutoTopicCreation(),
			kfake.DefaultNumPartitions(3),
			kfake.ClusterID("caddy-kafka-embedded"),
		)
		if err != nil {
			return nil, fmt.Errorf("starting embedded broker: %w", err)
		}
		opts = append(opts, kgo.SeedBrokers(c.embedded.ListenAddrs()...))
	}
	c.kc, err = kgo.NewClient(append(opts, o.kgoOpts()...)...)
	if err != nil {
		if c.embedded != nil {
			c.embedded.Close()
		}
		return nil, fmt.Errorf("creating kafka client: %w", err)
	}
	c.meta = newMetadataCache(c.kc, cfg.AllowAutoTopicCreation || cfg.Embedded)
	return c, nil
}

// Config is the configuration the client was created with.
func (c *Client) Config() Config { return c.cfg }

// EmbeddedAddrs are the listen addresses of the embedded broker, if any.
func (c *Client) EmbeddedAddrs() []string {
	if c.embedded == nil {
		return nil
	}
	return c.embedded.ListenAddrs()
}

// Produce produces msgs and waits for every acknowledgement, returning one
// Result per Message in the same order, whatever order Kafka acknowledged
// them in. If the whole batch cannot be admitted, because the buffer is
// full, it returns ErrOverloaded and produces nothing.
//
// ctx bounds only the wait: records are produced under a context that no
// caller cancels, because franz-go fails a partition's whole buffered batch by
// its first record's context, and one client's disconnect must not fail other
// clients' records. When ctx, or the configured DeliveryTimeout, ends first,
// every record not finished yet gets ErrTimeout, and may still be written;
// those finished have their results.
func (c *Client) Produce(ctx context.Context, msgs []Message) ([]Result, error) {
	p, err := c.Start(msgs)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx), nil
}

// Start hands msgs to franz-go and returns at once; the Pending reports
// their results. If the whole batch cannot be admitted, because the buffer
// is full, it returns ErrOverloaded and produces nothing. msgs must not be
// modified until the Pending is done.
//
// Each record goes to franz-go's asynchronous Produce from the caller's
// goroutine, with one promise shared by every record of the client: the
// Pending finishes with its own last record, so a slow partition delays
// only the requests that wrote to it, and nothing waits for other
// requests. franz-go batches records of concurrent requests by itself while
// a produce request is in flight (one per broker).
func (c *Client) Start(msgs []Message) (*Pending, error) {
	p := &Pending{msgs: msgs, c: c, done: make(chan struct{})}
	p.ctx = recordContext{Context: context.Background(), p: p}
	if len(msgs) == 0 {
		close(p.done)
		return p, nil
	}
	c.closeMu.RLock()
	defer c.closeMu.RUnlock()
	if c.closed {
		return nil, fmt.Errorf("producing: %w", kgo.ErrClientClosed)
	}
	p.size = messagesSize(msgs)
	if !c.admit(int64(len(msgs)), p.size) {
		return nil, ErrOverloaded
	}
	p.recs = p.one[:]
	if len(msgs) > 1 {
		p.recs = make([]kgo.Record, len(msgs))
	}
	p.left.Store(int64(len(msgs)))
	var ctxs []recordContext
	if len(msgs) > 1 {
		// Each record of several knows its index, so that a wait that
		// ends early still reports those already finished.
		ctxs = make([]recordContext, len(msgs))
		for i := range ctxs {
			ctxs[i] = recordContext{Context: p.ctx.Context, p: p, i: i}
		}
	}
	for i := range msgs {
		m := &msgs[i]
		rc := &p.ctx // a record alone: no allocation
		if ctxs != nil {
			rc = &ctxs[i]
		}
		p.recs[i] = kgo.Record{
			Topic:     m.Topic,
			Partition: m.Partition,
			Key:       m.Key,
			Value:     m.Value,
			Headers:   m.Headers,
			Timestamp: m.Timestamp,
			Context:   rc,
		}
	}
	for i := range p.recs {
		c.kc.Produce(context.Background(), &p.recs[i], c.promise)
	}
	return p, nil
}

// Pending is a batch of records on its way to Kafka.
type Pending struct {
	ctx  recordContext
	c    *Client
	msgs []Message
	recs []kgo.Record
	size int64
	left atomic.Int64 // records not yet acknowledged or failed

	// The record and result of a one-record Pending, the most common: no
	// allocation of their own.
	one    [1]kgo.Record
	oneRes [1]Result

	mu     sync.Mutex
	failed map[*kgo.Record]error
	acked  []bool // of several records, those acknowledged so far

	results []Result
	done    chan struct{}
}

// recordContext is the Context of a Pending's records: never cancelled, it
// carries the Pending, and the record's index in it, to the promise.
type recordContext struct {
	context.Context
	p *Pending
	i int
}

// Done is closed once every record is acknowledged or failed.
func (p *Pending) Done() <-chan struct{} { return p.done }

// Results are the records' results, in order. Call it only after Done.
func (p *Pending) Results() []Result { return p.results }

// Wait waits for the results, as long as ctx and the client's
// DeliveryTimeout allow. If the wait ends first, every record not finished
// yet gets ErrTimeout, and may still be written (Done and Results tell its
// real outcome later); those already acknowledged or failed get their
// results, so that a request partly written says so rather than time out
// whole.
func (p *Pending) Wait(ctx context.Context) []Result {
	select {
	case <-p.done:
		return p.results
	default:
	}
	var expired <-chan struct{}
	if t := p.c.cfg.DeliveryTimeout; t > 0 {
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) >= t {
			expired = p.c.expiry.after(t)
		}
	}
	select {
	case <-p.done:
		return p.results
	case <-ctx.Done():
	case <-expired:
	}
	timedOut := make([]Result, len(p.msgs))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.recs == nil { // finished meanwhile
		return p.results
	}
	for i := range timedOut {
		r := &p.recs[i]
		switch err, bad := p.failed[r]; {
		case bad:
			timedOut[i] = Result{Partition: -1, Offset: -1, Err: p.c.explain(p.msgs[i].Partition, err)}
		case p.acked != nil && p.acked[i]:
			timedOut[i] = Result{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp}
		default:
			timedOut[i] = Result{Partition: -1, Offset: -1, Err: ErrTimeout}
		}
	}
	return timedOut
}

// finish is the promise of every record: it finishes a record of a
// Pending, and the Pending with its last record.
func (c *Client) finish(r *kgo.Record, err error) {
	rc := r.Context.(*recordContext)
	p := rc.p
	switch {
	case err != nil:
		p.mu.Lock()
		if p.failed == nil {
			p.failed = make(map[*kgo.Record]error)
		}
		p.failed[r] = err
		p.mu.Unlock()
	case len(p.msgs) > 1:
		p.mu.Lock()
		if p.acked == nil {
			p.acked = make([]bool, len(p.msgs))
		}
		p.acked[rc.i] = true
		p.mu.Unlock()
	}
	if p.left.Add(-1) > 0 {
		return
	}
	p.mu.Lock() // pairs with the writers of failed
	defer p.mu.Unlock()
	p.results = p.oneRes[:]
	if len(p.recs) > 1 {
		p.results = make([]Result, len(p.recs))
	}
	for i := range p.recs {
		r := &p.recs[i]
		if err, bad := p.failed[r]; bad {
			p.results[i] = Result{Partition: -1, Offset: -1, Err: c.explain(p.msgs[i].Partition, err)}
			continue
		}
		p.results[i] = Result{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp}
	}
	p.recs = nil
	c.release(int64(len(p.msgs)), p.size)
	close(p.done)
}

// explain adds what the client can do to a record's failure: a record too
// large is told which setting it is over.
func (c *Client) explain(partition int32, err error) error {
	if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
		return tooLarge(c.cfg.MaxMessageBytes, err)
	}
	return explicitPartitionErr(partition, err)
}

// CheckSize refuses a record that franz-go would refuse as over
// max_message_bytes, so that a request carrying one can be refused whole
// before anything is produced. It counts the record as Kafka's record batch
// format (v2) encodes it alone in a batch; the produce request's own
// framing, which depends on the broker's version, is not counted, so a
// record within a few dozen bytes of the limit may pass here and still fail
// on its own, with the same error.
func (c *Client) CheckSize(m *Message) error {
	if recordBatchSize(m) > int64(c.cfg.MaxMessageBytes) {
		return overMaxMessageBytes(c.cfg.MaxMessageBytes)
	}
	return nil
}

// errOverMaxMessageBytes is CheckSize's refusal: franz-go's would be
// kerr.MessageTooLarge, but no broker said so.
var errOverMaxMessageBytes = errors.New("record over max_message_bytes")

// batchOverhead is the size of a record batch's header (Kafka's
// RECORD_BATCH_OVERHEAD). franz-go counts a few bytes more against max bytes
// per batch (the batch's length prefix in the produce request), which
// depends on the request's version: CheckSize leaves them out, so that it is
// never stricter than franz-go.
const batchOverhead = 61

// recordBatchSize is the size of a batch holding m alone.
func recordBatchSize(m *Message) int64 {
	l := 1 + 1 + 1 + // attributes, timestamp delta 0, offset delta 0
		varintLen(len(m.Key)) + len(m.Key) + varintLen(len(m.Value)) + len(m.Value) +
		varintLen(len(m.Headers))
	for _, h := range m.Headers {
		l += varintLen(len(h.Key)) + len(h.Key) + varintLen(len(h.Value)) + len(h.Value)
	}
	return int64(batchOverhead + varintLen(l) + l)
}

// varintLen is the size of n as a zigzag varint.
func varintLen(n int) int {
	u := uint64(n) << 1
	if n < 0 {
		u = ^u
	}
	size := 1
	for u >= 0x80 {
		u >>= 7
		size++
	}
	return size
}

// explicitPartitionErr classifies franz-go's refusal of an out-of-range
// explicit partition (one that metadata checks had not caught) as such: it
// is the only error franz-go raises for a record without a Kafka error code
// that is not already classified.
func explicitPartitionErr(partition int32, err error) error {
	if _, isKafka := KafkaCode(err); partition >= 0 && !isKafka && Classify(err) == ClassKafka {
		return fmt.Errorf("%w: %w", ErrUnknownPartition, err)
	}
	return err
}

// admit reserves room for n records of size bytes, or reports that the
// buffer is full.
func (c *Client) admit(n, size int64) bool {
	if c.records.Add(n) > int64(c.cfg.MaxBufferedRecords) || c.bytes.Add(size) > c.cfg.MaxBufferedBytes {
		c.release(n, size)
		return false
	}
	return true
}

func (c *Client) release(n, size int64) {
	c.records.Add(-n)
	c.bytes.Add(-size)
}

// messagesSize counts bytes as franz-go does for MaxBufferedBytes.
func messagesSize(msgs []Message) int64 {
	var s int
	for i := range msgs {
		s += len(msgs[i].Key) + len(msgs[i].Value)
		for _, h := range msgs[i].Headers {
			s += len(h.Key) + len(h.Value)
		}
	}
	return int64(s)
}

// Buffered is how many records and bytes are produced and not yet finished.
func (c *Client) Buffered() (records, bytes int64) {
	return c.records.Load(), c.bytes.Load()
}

// Close stops accepting records, waits for those buffered to be
// acknowledged, bounded by ctx, then closes the client and the embedded
// broker, if any. Records still unacknowledged when ctx ends fail with
// kgo.ErrClientClosed.
func (c *Client) Close(ctx context.Context) error {
	c.closeMu.Lock()
	c.closed = true
	c.closeMu.Unlock()
	var err error
	if ferr := c.kc.Flush(ctx); ferr != nil {
		err = fmt.Errorf("flushing before close: %w", ferr)
	}
	c.kc.Close()
	if c.embedded != nil {
		c.embedded.Close()
	}
	return err
}

// DefaultTimeout bounds administrative calls (metadata) made on behalf of a
// request that has no deadline of its own.
const DefaultTimeout = 10 * time.Second
