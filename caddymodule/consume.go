package caddymodule

import (
	"context"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Fetch reads from one partition through the cluster's shared client, under
// the handler's allow-list and timeout.
func (k *requestKafka) Fetch(ctx context.Context, topic string, partition int32, offset int64, maxRecords int, maxBytes int32) ([]producer.FetchedRecord, error) {
	if !k.h.allowed(k.r, topic) {
		k.h.annotate(k.r, nil, producer.ClassNotAuthorized)
		return nil, dialects.ErrTopicNotAllowed
	}
	if k.h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(k.h.Timeout))
		defer cancel()
	}
	recs, err := k.h.client.Fetch(ctx, topic, partition, offset, maxRecords, maxBytes)
	k.h.annotate(k.r, nil, dialects.ErrorOf(err).Class)
	return recs, err
}
