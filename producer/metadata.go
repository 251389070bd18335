package producer

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// How long the partition count of a topic is trusted. Counts only grow, and a
// partition beyond the cached count triggers a fresh look before refusing, so
// a long positive TTL is safe; a missing topic is re-checked sooner, since it
// may be created at any time.
const (
	knownTopicTTL   = 30 * time.Second
	unknownTopicTTL = 2 * time.Second
)

type topicEntry struct {
	partitions int32
	err        error
	expires    time.Time
}

// metadataCache answers "does this topic exist, with how many partitions"
// without a broker round trip per request.
type metadataCache struct {
	kc         *kgo.Client
	autoCreate bool

	mu     sync.RWMutex
	topics map[string]topicEntry
}

func newMetadataCache(kc *kgo.Client, autoCreate bool) *metadataCache {
	return &metadataCache{kc: kc, autoCreate: autoCreate, topics: make(map[string]topicEntry)}
}

// Partitions returns the number of partitions of topic, or an error that
// classifies as ClassUnknownTopic when it does not exist. With automatic
// topic creation, asking creates the topic.
func (c *Client) Partitions(ctx context.Context, topic string) (int32, error) {
	return c.meta.partitions(ctx, topic, false)
}

// CheckPartition returns nil when topic exists and has partition p, an error
// of ClassUnknownTopic or ClassUnknownPartition when not.
func (c *Client) CheckPartition(ctx context.Context, topic string, p int32) error {
	n, err := c.meta.partitions(ctx, topic, false)
	if err == nil && p >= n {
		// The cached count may predate new partitions: look again once.
		n, err = c.meta.partitions(ctx, topic, true)
	}
	if err != nil {
		return err
	}
	if p < 0 || p >= n {
		return ErrUnknownPartition
	}
	return nil
}

func (m *metadataCache) partitions(ctx context.Context, topic string, fresh bool) (int32, error) {
	now := time.Now()
	if !fresh {
		m.mu.RLock()
		e, ok := m.topics[topic]
		m.mu.RUnlock()
		if ok && now.Before(e.expires) {
			return e.partitions, e.err
		}
	}
	n, err := m.lookup(ctx, topic)
	if err != nil && Classify(err) != ClassUnknownTopic {
		return 0, err // a broker problem says nothing about the topic: do not cache
	}
	ttl := knownTopicTTL
	if err != nil {
		ttl = unknownTopicTTL
	}
	m.mu.Lock()
	m.topics[topic] = topicEntry{partitions: n, err: err, expires: now.Add(ttl)}
	m.mu.Unlock()
	return n, err
}

func (m *metadataCache) lookup(ctx context.Context, topic string) (int32, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	// A topic created a moment ago may not have leaders yet; its partition
	// count is what matters, so retry briefly only while it is empty.
	for attempt := 0; ; attempt++ {
		req := kmsg.NewPtrMetadataRequest()
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, t)
		req.AllowAutoTopicCreation = m.autoCreate
		resp, err := bounded(ctx, func() (*kmsg.MetadataResponse, error) { return req.RequestWith(ctx, m.kc) })
		if err != nil {
			return 0, fmt.Errorf("fetching metadata for topic: %w", err)
		}
		if len(resp.Topics) != 1 {
			return 0, fmt.Errorf("metadata for one topic returned %d", len(resp.Topics))
		}
		rt := resp.Topics[0]
		err = kerr.ErrorForCode(rt.ErrorCode)
		// With automatic creation, Kafka (4.1) answers the request that
		// triggers it with UNKNOWN_TOPIC_OR_PARTITION: ask again.
		if err == kerr.UnknownTopicOrPartition && !m.autoCreate {
			return 0, ErrUnknownTopicNotCreated
		}
		if err == kerr.UnknownTopicOrPartition && attempt == 10 {
			return 0, ErrUnknownTopic
		}
		if err == nil || len(rt.Partitions) > 0 {
			return int32(len(rt.Partitions)), nil
		}
		if !kerr.IsRetriable(err) || attempt == 10 {
			return 0, fmt.Errorf("fetching metadata for topic: %w", err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ClusterInfo describes a cluster for discovery endpoints (Describe) and
// health checks (ClusterState).
type ClusterInfo struct {
	// ID is the Kafka cluster ID.
	ID string
	// Controller is the controller's node ID, -1 when unknown.
	Controller int32
	// Brokers are sorted by node ID.
	Brokers []BrokerInfo
	// Topics are sorted by name; internal topics are left out. ClusterState
	// leaves them nil.
	Topics []TopicInfo
}

// BrokerInfo is one broker.
type BrokerInfo struct {
	NodeID int32
	Host   string
	Port   int32
	Rack   string
}

// TopicInfo is one topic with its partitions, sorted by ID.
type TopicInfo struct {
	Name       string
	Partitions []PartitionInfo
}

// PartitionInfo is one partition's replica placement.
type PartitionInfo struct {
	ID       int32
	Leader   int32
	Replicas []int32
	ISR      []int32
}

// Describe returns the cluster's metadata for the given topics, or for every
// topic when none is given. A named topic that does not exist fails with
// ClassUnknownTopic.
func (c *Client) Describe(ctx context.Context, topics ...string) (ClusterInfo, error) {
	req := kmsg.NewPtrMetadataRequest()
	if len(topics) > 0 {
		for _, name := range topics {
			t := kmsg.NewMetadataRequestTopic()
			t.Topic = kmsg.StringPtr(name)
			req.Topics = append(req.Topics, t)
		}
	} else {
		req.Topics = nil // all topics
	}
	resp, err := bounded(ctx, func() (*kmsg.MetadataResponse, error) { return req.RequestWith(ctx, c.kc) })
	if err != nil {
		return ClusterInfo{}, fmt.Errorf("fetching metadata: %w", err)
	}
	info := clusterInfo(resp)
	for _, t := range resp.Topics {
		if t.Topic == nil || t.IsInternal {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if err == kerr.UnknownTopicOrPartition {
				return ClusterInfo{}, ErrUnknownTopic
			}
			if len(t.Partitions) == 0 {
				return ClusterInfo{}, fmt.Errorf("fetching metadata for topic: %w", err)
			}
		}
		ti := TopicInfo{Name: *t.Topic}
		for _, p := range t.Partitions {
			ti.Partitions = append(ti.Partitions, PartitionInfo{ID: p.Partition, Leader: p.Leader, Replicas: p.Replicas, ISR: p.ISR})
		}
		sort.Slice(ti.Partitions, func(i, j int) bool { return ti.Partitions[i].ID < ti.Partitions[j].ID })
		info.Topics = append(info.Topics, ti)
	}
	sort.Slice(info.Topics, func(i, j int) bool { return info.Topics[i].Name < info.Topics[j].Name })
	return info, nil
}
