package caddymodule

import (
	"context"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// answered records the outcome of a read-only request (op), which started at
// start: nil once the dialect answered it, else an error to answer in its
// format.
func (h *Handler) answered(w http.ResponseWriter, r *http.Request, start time.Time, op readOp, err error) {
	h.metrics.read(op, start)
	if err != nil {
		h.fail(w, r, err, 0)
		return
	}
	h.metrics.request(producer.ClassOK)
	h.annotate(r, "", 0, producer.ClassOK)
}

// lender is the handler as lent to a dialect's read-only capabilities: its
// cluster under its policy. The allow-list's placeholders are those of the
// request whose context a call is given, so lending allocates nothing.
type lender Handler

func (l *lender) ClusterID(ctx context.Context) (string, error) { return (*Handler)(l).clusterID(ctx) }

func (l *lender) Describe(ctx context.Context, topics ...string) (producer.ClusterInfo, error) {
	h := (*Handler)(l)
	for _, t := range topics {
		if !h.allowed(ctx, t) {
			return producer.ClusterInfo{}, dialects.TopicNotAllowed(t)
		}
	}
	tctx, cancel, err := h.reach(ctx)
	defer cancel()
	if err != nil {
		return producer.ClusterInfo{}, err
	}
	info, err := h.client.Describe(tctx, topics...)
	if err != nil {
		return info, err
	}
	info.Topics = slices.DeleteFunc(info.Topics, func(t producer.TopicInfo) bool { return !h.allowed(ctx, t.Name) })
	return info, nil
}

func (l *lender) Fetch(ctx context.Context, topic string, partition int32, offset int64, maxRecords int, maxBytes int32) ([]producer.FetchedRecord, error) {
	h := (*Handler)(l)
	if !h.allowed(ctx, topic) {
		return nil, dialects.TopicNotAllowed(topic)
	}
	ctx, cancel, err := h.reach(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	maxRecords = min(maxRecords, h.MaxRecords)
	maxBytes = int32(min(int64(maxBytes), h.MaxBody, math.MaxInt32))
	return h.client.Fetch(ctx, topic, partition, offset, maxRecords, maxBytes)
}

func (l *lender) Brokers(ctx context.Context) (producer.ClusterInfo, error) {
	h := (*Handler)(l)
	ctx, cancel, err := h.reach(ctx)
	defer cancel()
	if err != nil {
		return producer.ClusterInfo{}, err
	}
	return h.client.ClusterState(ctx)
}

func (l *lender) TopicConfigs(ctx context.Context, topic string) ([]producer.TopicConfig, error) {
	h := (*Handler)(l)
	if !h.allowed(ctx, topic) {
		return nil, dialects.TopicNotAllowed(topic)
	}
	tctx, cancel, err := h.reach(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	return h.client.TopicConfigs(tctx, topic)
}

func (l *lender) FetchMany(ctx context.Context, positions []producer.FetchPosition, wait time.Duration, maxRecords int, maxBytes int32) ([]producer.FetchedPartition, error) {
	h := (*Handler)(l)
	for _, p := range positions {
		if !h.allowed(ctx, p.Topic) {
			return nil, dialects.TopicNotAllowed(p.Topic)
		}
	}
	tctx, cancel, err := h.reach(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	maxRecords = min(maxRecords, h.MaxRecords)
	maxBytes = int32(min(int64(maxBytes), h.MaxBody, math.MaxInt32))
	return h.client.FetchMany(tctx, positions, wait, maxRecords, maxBytes)
}

func (l *lender) ListOffsets(ctx context.Context, ts int64, parts []producer.TopicPartition) ([]producer.PartitionOffset, error) {
	h := (*Handler)(l)
	for _, p := range parts {
		if !h.allowed(ctx, p.Topic) {
			return nil, dialects.TopicNotAllowed(p.Topic)
		}
	}
	tctx, cancel, err := h.reach(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	return h.client.ListOffsets(tctx, ts, parts)
}

// clusterID is the Kafka cluster's ID, looked up once.
func (h *Handler) clusterID(ctx context.Context) (string, error) {
	if id := h.kafkaID.Load(); id != nil {
		return *id, nil
	}
	ctx, cancel, err := h.reach(ctx)
	defer cancel()
	if err != nil {
		return "", err
	}
	info, err := h.client.ClusterState(ctx)
	if err != nil {
		return "", err
	}
	h.kafkaID.Store(&info.ID)
	return info.ID, nil
}
