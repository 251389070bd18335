package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FetchPosition is where FetchMany starts reading one partition.
type FetchPosition struct {
	Topic     string
	Partition int32
	Offset    int64
}

// FetchedPartition is what FetchMany read from one partition.
type FetchedPartition struct {
	Topic     string
	Partition int32
	Records   []FetchedRecord
	// Err is this partition's failure: ClassUnknownTopic,
	// ClassUnknownPartition, ErrOffsetOutOfRange, or a Kafka error.
	Err error
}

// FetchMany reads several partitions in one call: one fetch request per
// partition leader, sent at once over the client's own connections. It
// returns one FetchedPartition per position, in order, with at most
// maxRecords records in all (the earlier positions first) in about
// maxBytes per leader. Like Fetch, when no partition has a record yet it
// looks again every 100ms until one has or wait ends (0: it looks once;
// shortened to end a quarter before ctx's deadline, so that an answer beats
// it), and topics are never created. The error is for the call as a whole; a partition's own
// failure is in its Err and does not stop the others.
func (c *Client) FetchMany(ctx context.Context, positions []FetchPosition, wait time.Duration, maxRecords int, maxBytes int32) ([]FetchedPartition, error) {
	out := make([]FetchedPartition, len(positions))
	for i, p := range positions {
		out[i] = FetchedPartition{Topic: p.Topic, Partition: p.Partition}
	}
	if len(positions) == 0 || maxRecords <= 0 {
		return out, nil
	}
	if maxBytes <= 0 {
		maxBytes = 1
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, max(DefaultTimeout, wait+wait/3))
		defer cancel()
	}
	meta, err := c.topicsMeta(ctx, topicsOf(positions))
	if err != nil {
		return nil, err
	}
	waitUntil := time.Now().Add(wait)
	if dl, ok := ctx.Deadline(); ok {
		if byDeadline := dl.Add(-time.Until(dl) / 4); byDeadline.Before(waitUntil) {
			waitUntil = byDeadline
		}
	}

	// One request per leader; at names, for each partition of a request,
	// the position it answers.
	type leaderReq struct {
		req *kmsg.FetchRequest
		at  map[TopicPartition]int
	}
	byLeader := make(map[int32]*leaderReq)
	for i, p := range positions {
		m := meta[p.Topic]
		leader, ok := m.leaders[p.Partition]
		switch {
		case m.err != nil:
			out[i].Err = m.err
			continue
		case !ok:
			out[i].Err = ErrUnknownPartition
			continue
		case leader < 0:
			out[i].Err = fmt.Errorf("partition has no leader: %w", kerr.LeaderNotAvailable)
			continue
		case p.Offset < 0:
			out[i].Err = fmt.Errorf("%w: offset %d", ErrOffsetOutOfRange, p.Offset)
			continue
		}
		lr := byLeader[leader]
		if lr == nil {
			lr = &leaderReq{req: kmsg.NewPtrFetchRequest(), at: make(map[TopicPartition]int)}
			lr.req.MinBytes = 1
			lr.req.MaxBytes = maxBytes
			lr.req.SessionEpoch = -1
			byLeader[leader] = lr
		}
		tp := TopicPartition{p.Topic, p.Partition}
		if _, dup := lr.at[tp]; dup {
			// A partition asked twice is read once, from its first position.
			out[i].Err = fmt.Errorf("partition %d of topic %q is asked for twice", p.Partition, p.Topic)
			continue
		}
		lr.at[tp] = i
		var rt *kmsg.FetchRequestTopic
		for j := range lr.req.Topics {
			if lr.req.Topics[j].Topic == p.Topic {
				rt = &lr.req.Topics[j]
			}
		}
		if rt == nil {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = p.Topic, m.id
			lr.req.Topics = append(lr.req.Topics, t)
			rt = &lr.req.Topics[len(lr.req.Topics)-1]
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p.Partition
		rp.FetchOffset = p.Offset
		rp.PartitionMaxBytes = maxBytes
		rt.Partitions = append(rt.Partitions, rp)
	}
	if len(byLeader) == 0 {
		return out, nil
	}

	for {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			callErr error
			found   bool
		)
		for leader, lr := range byLeader {
			wg.Add(1)
			go func() {
				defer wg.Done()
				kresp, err := bounded(ctx, func() (kmsg.Response, error) { return c.kc.Broker(int(leader)).Request(ctx, lr.req) })
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					callErr = fmt.Errorf("fetching from partition leader: %w", err)
					return
				}
				resp := kresp.(*kmsg.FetchResponse)
				if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
					callErr = fmt.Errorf("fetching: %w", err)
					return
				}
				for ti := range resp.Topics {
					rt := &resp.Topics[ti]
					topic := rt.Topic
					if topic == "" { // v13+ names topics by ID
						for _, t := range lr.req.Topics {
							if t.TopicID == rt.TopicID {
								topic = t.Topic
							}
						}
					}
					for pi := range rt.Partitions {
						rp := &rt.Partitions[pi]
						i, ok := lr.at[TopicPartition{topic, rp.Partition}]
						if !ok {
							continue
						}
						recs, err := processFetched(topic, positions[i].Offset, rp)
						out[i].Records, out[i].Err = recs, err
						found = found || len(recs) > 0
					}
				}
			}()
		}
		wg.Wait()
		if callErr != nil {
			return nil, callErr
		}
		if found || time.Until(waitUntil) < fetchPollInterval {
			break
		}
		select {
		case <-ctx.Done():
			return capRecords(out, maxRecords), nil
		case <-time.After(fetchPollInterval):
		}
	}
	return capRecords(out, maxRecords), nil
}

// processFetched decodes one partition of a fetch response.
func processFetched(topic string, offset int64, rp *kmsg.FetchResponseTopicPartition) ([]FetchedRecord, error) {
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		Offset:         offset,
		IsolationLevel: kgo.ReadUncommitted(),
		Topic:          topic,
		Partition:      rp.Partition,
	}, rp, fetchDecompressor, nil)
	if fp.Err != nil {
		switch {
		case errors.Is(fp.Err, kerr.OffsetOutOfRange):
			return nil, fmt.Errorf("%w: offset %d", ErrOffsetOutOfRange, offset)
		case errors.Is(fp.Err, kerr.UnknownTopicOrPartition), errors.Is(fp.Err, kerr.UnknownTopicID):
			return nil, ErrUnknownTopic
		}
		return nil, fmt.Errorf("fetching: %w", fp.Err)
	}
	out := make([]FetchedRecord, len(fp.Records))
	for i, r := range fp.Records {
		out[i] = FetchedRecord{Key: r.Key, Value: r.Value, Headers: r.Headers,
			Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp}
	}
	return out, nil
}

// capRecords keeps the first max records of out, in order.
func capRecords(out []FetchedPartition, max int) []FetchedPartition {
	for i := range out {
		n := min(len(out[i].Records), max)
		out[i].Records = out[i].Records[:n:n]
		max -= n
	}
	return out
}

// topicMeta is what fetches and offset lookups need of a topic.
type topicMeta struct {
	id      [16]byte
	leaders map[int32]int32 // partition -> leader node ID
	err     error           // ClassUnknownTopic, or a Kafka error
}

// topicsMeta looks up topics without creating them. The error is for the
// lookup as a whole; a topic's own failure is in its err.
func (c *Client) topicsMeta(ctx context.Context, topics []string) (map[string]topicMeta, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, name := range topics {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, t)
	}
	req.AllowAutoTopicCreation = false
	resp, err := bounded(ctx, func() (*kmsg.MetadataResponse, error) { return req.RequestWith(ctx, c.kc) })
	if err != nil {
		return nil, fmt.Errorf("fetching metadata for topics: %w", err)
	}
	out := make(map[string]topicMeta, len(topics))
	for _, rt := range resp.Topics {
		if rt.Topic == nil {
			continue
		}
		m := topicMeta{id: rt.TopicID, leaders: make(map[int32]int32, len(rt.Partitions))}
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			if err == kerr.UnknownTopicOrPartition {
				m.err = ErrUnknownTopic
			} else if len(rt.Partitions) == 0 {
				m.err = fmt.Errorf("fetching metadata for topic: %w", err)
			}
		}
		for _, p := range rt.Partitions {
			m.leaders[p.Partition] = p.Leader
		}
		out[*rt.Topic] = m
	}
	for _, name := range topics {
		if _, ok := out[name]; !ok {
			out[name] = topicMeta{err: ErrUnknownTopic}
		}
	}
	return out, nil
}

// topicsOf lists the distinct topics of ps, in order of first appearance.
func topicsOf[T interface{ FetchPosition | TopicPartition }](ps []T) []string {
	var out []string
	seen := make(map[string]bool)
	for _, p := range ps {
		var topic string
		switch p := any(p).(type) {
		case FetchPosition:
			topic = p.Topic
		case TopicPartition:
			topic = p.Topic
		}
		if !seen[topic] {
			seen[topic] = true
			out = append(out, topic)
		}
	}
	return out
}
