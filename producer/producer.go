package producer

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
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

	// Records and bytes admitted and not yet finished. Admission happens
	// before franz-go buffers a record and release after its promise has
	// run, so these never undercount franz-go's own buffer; with the same
	// limits, franz-go therefore never blocks a caller.
	records atomic.Int64
	bytes   atomic.Int64
}

// New creates a client for cfg. Extra franz-go options (a logger, hooks) are
// applied last. With cfg.Embedded it first starts an in-memory kfake cluster
// whose auto-created topics have three partitions.
func New(cfg Config, extra ...kgo.Opt) (*Client, error) {
	opts, err := cfg.opts()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg}
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
	c.kc, err = kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		if c.embedded != nil {
			c.embedded.Close()
		}
		return nil, fmt.Errorf("creating kafka client: %w", err)
	}
	c.meta = newMetadataCache(c.kc, cfg.AllowAutoTopicCreation || cfg.Embedded)
	return c, nil
}

// Kgo is the underlying franz-go client, for reads that have no wrapper here.
// Never Close it: Close the Client.
func (c *Client) Kgo() *kgo.Client { return c.kc }

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
// every record gets ErrTimeout; those not yet acknowledged may still be
// written.
func (c *Client) Produce(ctx context.Context, msgs []Message) ([]Result, error) {
	results := make([]Result, len(msgs))
	if len(msgs) == 0 {
		return results, nil
	}
	size := messagesSize(msgs)
	if !c.admit(int64(len(msgs)), size) {
		return nil, ErrOverloaded
	}
	if c.cfg.DeliveryTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.DeliveryTimeout)
		defer cancel()
	}
	if _, ok := ctx.Deadline(); !ok {
		c.produce(msgs, results, size)
		return results, nil
	}
	// The results slice is handed over to the goroutine; on timeout the
	// caller gets a fresh one and the goroutine's answers are dropped.
	done := make(chan struct{})
	go func() {
		c.produce(msgs, results, size)
		close(done)
	}()
	select {
	case <-done:
		return results, nil
	case <-ctx.Done():
		timedOut := make([]Result, len(msgs))
		for i := range timedOut {
			timedOut[i] = Result{Partition: -1, Offset: -1, Err: ErrTimeout}
		}
		return timedOut, nil
	}
}

func (c *Client) produce(msgs []Message, results []Result, size int64) {
	defer c.release(int64(len(msgs)), size)
	recs := make([]kgo.Record, len(msgs))
	ptrs := make([]*kgo.Record, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		recs[i] = kgo.Record{
			Topic:     m.Topic,
			Partition: m.Partition,
			Key:       m.Key,
			Value:     m.Value,
			Headers:   m.Headers,
			Timestamp: m.Timestamp,
		}
		ptrs[i] = &recs[i]
	}
	// ProduceSync stops lingering on the partitions it touched once every
	// record is buffered: a synchronous caller never waits out the linger,
	// while concurrent callers still share batches.
	for _, pr := range c.kc.ProduceSync(context.Background(), ptrs...) {
		if pr.Err != nil {
			i := indexOf(recs, pr.Record)
			results[i].Err = explicitPartitionErr(msgs[i].Partition, pr.Err)
		}
	}
	for i := range recs {
		if results[i].Err != nil {
			results[i].Partition, results[i].Offset = -1, -1
			continue
		}
		results[i] = Result{Partition: recs[i].Partition, Offset: recs[i].Offset, Timestamp: recs[i].Timestamp}
	}
}

// indexOf finds r in recs. It runs only for failed records, so a linear scan
// costs nothing on the path that matters.
func indexOf(recs []kgo.Record, r *kgo.Record) int {
	for i := range recs {
		if &recs[i] == r {
			return i
		}
	}
	panic("producer: promise for a record that was not produced")
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

// Ping checks that a broker answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.kc.Ping(ctx); err != nil {
		return fmt.Errorf("pinging kafka: %w", err)
	}
	return nil
}

// Close flushes what is buffered, bounded by ctx, then closes the client and
// the embedded broker, if any. Records still buffered when ctx ends fail
// with kgo.ErrClientClosed.
func (c *Client) Close(ctx context.Context) error {
	err := c.kc.Flush(ctx)
	c.kc.Close()
	if c.embedded != nil {
		c.embedded.Close()
	}
	if err != nil {
		return fmt.Errorf("flushing before close: %w", err)
	}
	return nil
}

// DefaultTimeout bounds administrative calls (metadata) made on behalf of a
// request that has no deadline of its own.
const DefaultTimeout = 10 * time.Second
