package producer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FetchedRecord is one record read from a partition.
type FetchedRecord struct {
	// Key is nil for a null key.
	Key []byte
	// Value is nil for a null value.
	Value     []byte
	Headers   []Header
	Partition int32
	Offset    int64
	Timestamp time.Time
}

// ErrOffsetOutOfRange is returned by Fetch for an offset the partition does
// not hold: below its log start, or past its end.
var ErrOffsetOutOfRange = classed(ClassBadRequest, kerr.OffsetOutOfRange)

// How long Fetch waits for a record at the end of a partition when ctx has no
// earlier deadline (Confluent's consumer.request.timeout.ms), and how often
// it looks again meanwhile.
const (
	FetchWait         = time.Second
	fetchPollInterval = 100 * time.Millisecond
)

// fetchDecompressor decompresses fetched batches; it is safe for concurrent
// use and pools its readers.
var fetchDecompressor = kgo.DefaultDecompressor()

// Fetch reads up to maxRecords records of one partition, starting at offset,
// in about maxBytes (a first batch larger than maxBytes is still returned
// whole, as Kafka does). It goes through the client's own connection to the
// partition's leader: no connection is opened per call.
//
// When the partition has no record at offset yet, Fetch looks again every
// 100ms until one arrives or its wait ends, then returns what it has, possibly
// nothing. The wait is FetchWait, shortened to end a quarter before ctx's
// deadline so that an answer, even an empty one, beats the deadline. The
// wait happens here rather than in the broker because a broker serves one
// request per connection at a time: a fetch parked at the end of one
// partition would hold up every other caller's fetch behind it.
//
// A topic or partition that does not exist fails with an error of
// ClassUnknownTopic or ClassUnknownPartition, an offset the partition does
// not hold with ErrOffsetOutOfRange. Topics are never created by a fetch.
func (c *Client) Fetch(ctx context.Context, topic string, partition int32, offset int64, maxRecords int, maxBytes int32) ([]FetchedRecord, error) {
	if maxRecords <= 0 {
		return nil, nil
	}
	if maxBytes <= 0 {
		maxBytes = 1
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: offset %d", ErrOffsetOutOfRange, offset)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	leader, topicID, err := c.partitionLeader(ctx, topic, partition)
	if err != nil {
		return nil, err
	}
	waitUntil := time.Now().Add(FetchWait)
	if dl, ok := ctx.Deadline(); ok {
		if byDeadline := dl.Add(-time.Until(dl) / 4); byDeadline.Before(waitUntil) {
			waitUntil = byDeadline
		}
	}

	req := kmsg.NewPtrFetchRequest()
	req.MinBytes = 1
	req.MaxBytes = maxBytes
	req.SessionEpoch = -1 // no fetch session: every fetch names its partition
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = partition
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = maxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	broker := c.kc.Broker(int(leader))
	for {
		recs, err := fetchOnce(ctx, broker, req, topic, partition, offset, maxRecords)
		if err != nil || len(recs) > 0 {
			return recs, err
		}
		if time.Until(waitUntil) < fetchPollInterval {
			return recs, nil
		}
		select {
		case <-ctx.Done():
			return recs, nil
		case <-time.After(fetchPollInterval):
		}
	}
}

func fetchOnce(ctx context.Context, broker *kgo.Broker, req *kmsg.FetchRequest, topic string, partition int32, offset int64, maxRecords int) ([]FetchedRecord, error) {
	kresp, err := bounded(ctx, func() (kmsg.Response, error) { return broker.Request(ctx, req) })
	if err != nil {
		return nil, fmt.Errorf("fetching from partition leader: %w", err)
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("fetching: %w", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, errors.New("fetch response for one partition has a different shape")
	}
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		Offset:         offset,
		IsolationLevel: kgo.ReadUncommitted(),
		Topic:          topic,
		Partition:      partition,
	}, &resp.Topics[0].Partitions[0], fetchDecompressor, nil)
	if fp.Err != nil {
		if errors.Is(fp.Err, kerr.OffsetOutOfRange) {
			return nil, fmt.Errorf("%w: offset %d", ErrOffsetOutOfRange, offset)
		}
		if errors.Is(fp.Err, kerr.UnknownTopicOrPartition) {
			return nil, ErrUnknownTopic
		}
		return nil, fmt.Errorf("fetching: %w", fp.Err)
	}
	n := min(len(fp.Records), maxRecords)
	out := make([]FetchedRecord, n)
	for i, r := range fp.Records[:n] {
		out[i] = FetchedRecord{Key: r.Key, Value: r.Value, Headers: r.Headers,
			Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp}
	}
	return out, nil
}

// partitionLeader looks up the leader of a partition and the topic's ID,
// which fetch v13+ names topics by. It never creates the topic.
func (c *Client) partitionLeader(ctx context.Context, topic string, partition int32) (int32, [16]byte, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	req.AllowAutoTopicCreation = false
	resp, err := bounded(ctx, func() (*kmsg.MetadataResponse, error) { return req.RequestWith(ctx, c.kc) })
	if err != nil {
		return 0, [16]byte{}, fmt.Errorf("fetching metadata for topic: %w", err)
	}
	if len(resp.Topics) != 1 {
		return 0, [16]byte{}, fmt.Errorf("metadata for one topic returned %d", len(resp.Topics))
	}
	rt := resp.Topics[0]
	if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
		if err == kerr.UnknownTopicOrPartition {
			return 0, [16]byte{}, ErrUnknownTopic
		}
		return 0, [16]byte{}, fmt.Errorf("fetching metadata for topic: %w", err)
	}
	for _, p := range rt.Partitions {
		if p.Partition != partition {
			continue
		}
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil && p.Leader < 0 {
			return 0, [16]byte{}, fmt.Errorf("partition has no leader: %w", err)
		}
		if p.Leader < 0 {
			return 0, [16]byte{}, fmt.Errorf("partition has no leader: %w", kerr.LeaderNotAvailable)
		}
		return p.Leader, rt.TopicID, nil
	}
	return 0, [16]byte{}, ErrUnknownPartition
}
