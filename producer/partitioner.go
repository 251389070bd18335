package producer

import "github.com/twmb/franz-go/pkg/kgo"

// Partitioner honours an explicit partition and otherwise places records as
// Java's default partitioner does: murmur2 of the key bytes, masked positive,
// modulo the partition count; null keys stick to a partition per batch.
//
// franz-go's own partitioners ignore Record.Partition, and ManualPartitioner
// requires it on every record. Since partition 0 is a valid choice, the
// gateway marks "no explicit partition" as -1 (see Message.Partition) when it
// builds each kgo.Record; franz-go leaves the field alone until partitioning.
func Partitioner() kgo.Partitioner {
	return explicitPartitioner{kgo.StickyKeyPartitioner(nil)}
}

type explicitPartitioner struct{ fallback kgo.Partitioner }

func (p explicitPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	tp := p.fallback.ForTopic(topic)
	if nb, ok := tp.(kgo.TopicPartitionerOnNewBatch); ok {
		return explicitBatchTopicPartitioner{explicitTopicPartitioner{tp}, nb}
	}
	return explicitTopicPartitioner{tp}
}

type explicitTopicPartitioner struct{ fallback kgo.TopicPartitioner }

// RequiresConsistency pins explicit and keyed records to the full partition
// list, so that index n is partition n even while some leader is down: a
// record waits for its partition rather than silently moving.
func (p explicitTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return r.Partition >= 0 || p.fallback.RequiresConsistency(r)
}

// Partition returns an explicit partition unchecked: the caller validates it
// against metadata first, and franz-go fails a record whose choice is out of
// range rather than misplacing it.
func (p explicitTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Partition >= 0 {
		return int(r.Partition)
	}
	return p.fallback.Partition(r, n)
}

type explicitBatchTopicPartitioner struct {
	explicitTopicPartitioner
	onNewBatch kgo.TopicPartitionerOnNewBatch
}

func (p explicitBatchTopicPartitioner) OnNewBatch() { p.onNewBatch.OnNewBatch() }

// Interface guards
var (
	_ kgo.TopicPartitioner           = explicitTopicPartitioner{}
	_ kgo.TopicPartitionerOnNewBatch = explicitBatchTopicPartitioner{}
)
