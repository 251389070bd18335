package producer

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicConfig is one configuration entry of a topic, as Kafka describes it.
type TopicConfig struct {
	Name string
	// Value is nil when Kafka does not tell it (a sensitive entry) or it
	// has none.
	Value *string
	// Default reports an entry left at the broker's or Kafka's default.
	Default   bool
	ReadOnly  bool
	Sensitive bool
}

// TopicConfigs describes topic's configuration (DescribeConfigs), every
// entry including defaults, sorted by name. A topic that does not exist
// fails with ClassUnknownTopic.
func (c *Client) TopicConfigs(ctx context.Context, topic string) ([]TopicConfig, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeTopic
	res.ResourceName = topic
	req.Resources = append(req.Resources, res)
	resp, err := bounded(ctx, func() (*kmsg.DescribeConfigsResponse, error) { return req.RequestWith(ctx, c.kc) })
	if err != nil {
		return nil, fmt.Errorf("describing topic configs: %w", err)
	}
	if len(resp.Resources) != 1 {
		return nil, fmt.Errorf("describing the configs of one topic returned %d", len(resp.Resources))
	}
	r := resp.Resources[0]
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		if err == kerr.UnknownTopicOrPartition {
			return nil, ErrUnknownTopic
		}
		return nil, fmt.Errorf("describing topic configs: %w", err)
	}
	out := make([]TopicConfig, 0, len(r.Configs))
	for _, e := range r.Configs {
		// IsDefault is v0's; later versions tell the source instead.
		isDefault := e.IsDefault || e.Source == kmsg.ConfigSourceDefaultConfig ||
			e.Source == kmsg.ConfigSourceStaticBrokerConfig || e.Source == kmsg.ConfigSourceDynamicDefaultBrokerConfig
		out = append(out, TopicConfig{Name: e.Name, Value: e.Value, Default: isDefault, ReadOnly: e.ReadOnly, Sensitive: e.IsSensitive})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
