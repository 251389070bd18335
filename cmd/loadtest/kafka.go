package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

const partitions = 3

// createTopic creates topic with 3 partitions and waits until every
// partition has a leader.
func createTopic(ctx context.Context, kc *kgo.Client, topic string, replication int16) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = topic, partitions, replication
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, kc)
	if err != nil {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			return fmt.Errorf("creating topic %s: %w", topic, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := topicMetadata(ctx, kc, topic)
		if err == nil && len(md.leaders) == partitions {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topic %s has no leaders 30s after creation: %v", topic, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// deleteTopic deletes topic; errors are ignored (it is only tidying up).
func deleteTopic(ctx context.Context, kc *kgo.Client, topic string) {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30000
	t := kmsg.NewDeleteTopicsRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	req.TopicNames = append(req.TopicNames, topic)
	_, _ = req.RequestWith(ctx, kc)
}

type metadata struct {
	id      [16]byte
	leaders map[int32]int32 // partition to leader broker
}

func topicMetadata(ctx context.Context, kc *kgo.Client, topic string) (metadata, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, kc)
	if err != nil {
		return metadata{}, err
	}
	if len(resp.Topics) != 1 {
		return metadata{}, fmt.Errorf("metadata for %s: %d topics", topic, len(resp.Topics))
	}
	rt := resp.Topics[0]
	if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
		return metadata{}, err
	}
	md := metadata{id: rt.TopicID, leaders: map[int32]int32{}}
	for _, p := range rt.Partitions {
		if p.Leader >= 0 && p.ErrorCode == 0 {
			md.leaders[p.Partition] = p.Leader
		}
	}
	return md, nil
}

// records is the sum of the topic's high watermarks: how many records it
// holds, since nothing is deleted during a run.
func records(ctx context.Context, kc *kgo.Client, topic string) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	for p := range int32(partitions) {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1 // latest: the high watermark
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, kc)
	if err != nil {
		return 0, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	var sum int64
	n := 0
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return 0, fmt.Errorf("listing offsets of %s/%d: %w", topic, rp.Partition, err)
			}
			sum += rp.Offset
			n++
		}
	}
	if n != partitions {
		return 0, fmt.Errorf("listing offsets of %s: %d partitions answered", topic, n)
	}
	return sum, nil
}

// sent is a record acknowledged at a partition and offset, with the value it
// was sent with.
type sent struct {
	ack
	value []byte
}

var decompressor = kgo.DefaultDecompressor()

// readBack fetches the records at want's partitions and offsets and compares
// their values. It returns how many matched and a description of each
// mismatch (at most 10).
func readBack(ctx context.Context, kc *kgo.Client, topic string, want []sent) (int, []string) {
	md, err := topicMetadata(ctx, kc, topic)
	if err != nil {
		return 0, []string{fmt.Sprintf("read-back metadata: %v", err)}
	}
	byPart := map[int32][]sent{}
	for _, s := range want {
		byPart[s.partition] = append(byPart[s.partition], s)
	}
	var failures []string
	fail := func(format string, args ...any) {
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	matched := 0
	for p, ss := range byPart {
		leader, ok := md.leaders[p]
		if !ok {
			fail("partition %d: acknowledged but has no leader", p)
			continue
		}
		slices.SortFunc(ss, func(a, b sent) int { return int(a.offset - b.offset) })
		got := map[int64][]byte{}
		for i := 0; i < len(ss); {
			s := ss[i]
			if v, ok := got[s.offset]; ok {
				if bytes.Equal(v, s.value) {
					matched++
				} else {
					fail("%d/%d: read %.40q, acknowledged %.40q", p, s.offset, v, s.value)
				}
				i++
				continue
			}
			clear(got)
			recs, err := fetch(ctx, kc.Broker(int(leader)), topic, md.id, p, s.offset)
			if err != nil {
				fail("%d/%d: %v", p, s.offset, err)
				i++
				continue
			}
			for _, r := range recs {
				got[r.Offset] = r.Value
			}
			if _, ok := got[s.offset]; !ok {
				fail("%d/%d: acknowledged, but no record there", p, s.offset)
				i++
			}
		}
	}
	return matched, failures
}

// fetch reads the records of one partition from offset on, about 4 MiB.
func fetch(ctx context.Context, b *kgo.Broker, topic string, id [16]byte, partition int32, offset int64) ([]*kgo.Record, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 500
	req.MinBytes = 1
	req.MaxBytes = 4 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 4<<20
	rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	kresp, err := b.RetriableRequest(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, errors.New("fetch answered another shape")
	}
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		Offset: offset, Topic: topic, Partition: partition, IsolationLevel: kgo.ReadUncommitted(),
	}, &resp.Topics[0].Partitions[0], decompressor, nil)
	if fp.Err != nil {
		return nil, fmt.Errorf("fetch: %w", fp.Err)
	}
	return fp.Records, nil
}

// ceilingOpts are the gateway's franz-go producer settings at its defaults
// (producer.DefaultConfig: acks all, idempotent, snappy, no linger, the
// same buffer and batch limits), with franz-go's partitioner for null keys.
func ceilingOpts(brokers []string, topic string) []kgo.Opt {
	c := producer.DefaultConfig()
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("loadtest"),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.SnappyCompression()),
		kgo.ProducerLinger(c.Linger),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.MaxBufferedRecords(c.MaxBufferedRecords),
		kgo.MaxBufferedBytes(int(c.MaxBufferedBytes)),
		kgo.ProducerBatchMaxBytes(c.MaxMessageBytes),
		kgo.ProduceRequestTimeout(c.RequestTimeout),
	}
	if !c.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return opts
}

// loadResult is what a Go-driven load measured.
type loadResult struct {
	ok, failed int64
	elapsed    time.Duration
	latencies  []time.Duration // a sample
	firstErr   error
}

// produceSync runs workers goroutines, each producing one record at a time
// with ProduceSync, for d.
func produceSync(ctx context.Context, kc *kgo.Client, workers int, d time.Duration) loadResult {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		res      loadResult
		ok, fail atomic.Int64
	)
	start := time.Now()
	stop := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			var lat []time.Duration
			var firstErr error
			for i := w; time.Now().Before(stop) && ctx.Err() == nil; i += workers {
				t := time.Now()
				err := kc.ProduceSync(ctx, &kgo.Record{Value: bulkValues[i%bulkRecords]}).FirstErr()
				if err != nil {
					fail.Add(1)
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				ok.Add(1)
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ok, res.failed = ok.Load(), fail.Load()
	return res
}

// produceAsync produces from one goroutine with Produce, as fast as the
// client's buffer lets it, for d, then flushes.
func produceAsync(ctx context.Context, kc *kgo.Client, d time.Duration) loadResult {
	var (
		res      loadResult
		mu       sync.Mutex
		ok, fail atomic.Int64
		n        atomic.Int64
	)
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			if fail.Add(1) == 1 {
				mu.Lock()
				res.firstErr = err
				mu.Unlock()
			}
			return
		}
		ok.Add(1)
		if n.Add(1)%64 == 0 {
			lat := time.Since(r.Timestamp) // franz-go stamps the record in Produce
			mu.Lock()
			res.latencies = append(res.latencies, lat)
			mu.Unlock()
		}
	}
	start := time.Now()
	stop := start.Add(d)
	for i := 0; ctx.Err() == nil; i++ {
		if i%256 == 0 && !time.Now().Before(stop) {
			break
		}
		kc.Produce(ctx, &kgo.Record{Value: bulkValues[i%bulkRecords]}, promise)
	}
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := kc.Flush(fctx); err != nil && res.firstErr == nil {
		res.firstErr = fmt.Errorf("flush: %w", err)
	}
	res.elapsed = time.Since(start)
	res.ok, res.failed = ok.Load(), fail.Load()
	return res
}

// registerAvro registers avroSchema in the registry at url under its own
// subject and remembers its id for the Avro scenario.
func registerAvro(ctx context.Context, url string) error {
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		return fmt.Errorf("schema registry: %w", err)
	}
	ss, err := cl.CreateSchema(ctx, "caddy-kafka-loadtest-value", sr.Schema{Schema: avroSchema})
	if err != nil {
		return fmt.Errorf("registering the Avro scenario's schema: %w", err)
	}
	avroSchemaID = ss.ID
	return nil
}
