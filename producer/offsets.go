package producer

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The special timestamps of ListOffsets: the first offset a partition holds
// (its log start) and the offset its next record will get (its high
// watermark). Any other timestamp is epoch milliseconds.
const (
	OffsetEarliest int64 = -2
	OffsetLatest   int64 = -1
)

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// PartitionOffset is the answer for one partition of ListOffsets.
type PartitionOffset struct {
	Topic     string
	Partition int32
	// Offset is, for OffsetEarliest, the first offset the partition holds;
	// for OffsetLatest, the offset its next record will get; for a
	// timestamp, the first offset whose record's timestamp is at or after
	// it, or -1 when no record is that recent.
	Offset int64
	// Timestamp is the record's timestamp (epoch ms) for a timestamp
	// lookup that found one, else -1.
	Timestamp int64
	// Err is this partition's failure: ClassUnknownTopic,
	// ClassUnknownPartition, or a Kafka error.
	Err error
}

// ListOffsets looks up the offset of each partition at ts: OffsetEarliest,
// OffsetLatest, or a time in epoch milliseconds (at least 0). The answers
// are in the order of parts. It goes through the client's connections to
// the partitions' leaders (franz-go splits the request by leader) and
// never creates a topic. The error is for the call as a whole (Kafka
// unreachable, a bad ts); per-partition failures are in each answer's Err.
func (c *Client) ListOffsets(ctx context.Context, ts int64, parts []TopicPartition) ([]PartitionOffset, error) {
	if ts < 0 && ts != OffsetEarliest && ts != OffsetLatest {
		return nil, classed(ClassBadRequest, fmt.Errorf("timestamp %d: want earliest, latest or epoch milliseconds", ts))
	}
	out := make([]PartitionOffset, len(parts))
	if len(parts) == 0 {
		return out, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	// Ask Kafka only about partitions the metadata knows: franz-go fails
	// the whole request for a topic it cannot place on a leader.
	meta, err := c.topicsMeta(ctx, topicsOf(parts))
	if err != nil {
		return nil, err
	}
	got := make(map[TopicPartition]PartitionOffset, len(parts))
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	topicAt := make(map[string]int)
	for _, p := range parts {
		if _, done := got[p]; done {
			continue // a partition named twice is INVALID_REQUEST for both entries: ask once
		}
		failed := PartitionOffset{Topic: p.Topic, Partition: p.Partition, Offset: -1, Timestamp: -1}
		m := meta[p.Topic]
		if _, ok := m.leaders[p.Partition]; m.err != nil || !ok {
			failed.Err = m.err
			if m.err == nil {
				failed.Err = ErrUnknownPartition
			}
			got[p] = failed
			continue
		}
		failed.Err = errors.New("listing offsets: kafka did not answer for the partition")
		got[p] = failed // until answered
		i, ok := topicAt[p.Topic]
		if !ok {
			i = len(req.Topics)
			topicAt[p.Topic] = i
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = p.Topic
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p.Partition
		rp.Timestamp = ts
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	if len(req.Topics) > 0 {
		shards, err := bounded(ctx, func() ([]kgo.ResponseShard, error) { return c.kc.RequestSharded(ctx, req), nil })
		if err != nil {
			return nil, fmt.Errorf("listing offsets: %w", err)
		}
		for _, shard := range shards {
			if shard.Err != nil {
				// The partitions of a failed shard keep a failure
				// that says why.
				sreq, _ := shard.Req.(*kmsg.ListOffsetsRequest)
				if sreq == nil {
					return nil, fmt.Errorf("listing offsets: %w", shard.Err)
				}
				for _, rt := range sreq.Topics {
					for _, rp := range rt.Partitions {
						tp := TopicPartition{rt.Topic, rp.Partition}
						po := got[tp]
						po.Err = fmt.Errorf("listing offsets: %w", shard.Err)
						got[tp] = po
					}
				}
				continue
			}
			resp := shard.Resp.(*kmsg.ListOffsetsResponse)
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					po := PartitionOffset{Topic: rt.Topic, Partition: rp.Partition, Offset: rp.Offset, Timestamp: rp.Timestamp}
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
						po.Offset, po.Timestamp, po.Err = -1, -1, fmt.Errorf("listing offsets: %w", err)
						if err == kerr.UnknownTopicOrPartition {
							po.Err = ErrUnknownPartition // the metadata knew the topic
						}
					}
					got[TopicPartition{rt.Topic, rp.Partition}] = po
				}
			}
		}
	}
	for i, p := range parts {
		out[i] = got[p]
	}
	return out, nil
}
