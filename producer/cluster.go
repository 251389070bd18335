package producer

import (
	"context"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ClusterState asks a broker for the cluster's ID, controller and brokers
// (Topics is left nil), as a health check: the brokers discovered so far
// first, then the seeds, one after the other, as franz-go's Ping does. It
// returns the first answer, or the last broker's error as franz-go gave it,
// without a prefix, so that it reads the same in logs and the admin API.
//
// Unlike Describe it goes to every known broker in turn rather than letting
// franz-go pick one, so that a check fails only when no broker answers.
func (c *Client) ClusterState(ctx context.Context) (ClusterInfo, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // empty, not nil: no topics
	err := errors.New("no broker to ask")
	for _, brokers := range [2][]*kgo.Broker{c.kc.DiscoveredBrokers(), c.kc.SeedBrokers()} {
		for _, b := range brokers {
			var resp *kmsg.MetadataResponse
			if resp, err = bounded(ctx, func() (*kmsg.MetadataResponse, error) { return req.RequestWith(ctx, b) }); err == nil {
				return clusterInfo(resp), nil
			}
			if ctx.Err() != nil {
				return ClusterInfo{}, err
			}
		}
	}
	return ClusterInfo{}, err
}

// clusterInfo is the cluster part of a metadata response: its ID, controller
// and brokers sorted by node ID; never nil Brokers.
func clusterInfo(resp *kmsg.MetadataResponse) ClusterInfo {
	info := ClusterInfo{Controller: resp.ControllerID, Brokers: make([]BrokerInfo, 0, len(resp.Brokers))}
	if resp.ClusterID != nil {
		info.ID = *resp.ClusterID
	}
	for _, b := range resp.Brokers {
		bi := BrokerInfo{NodeID: b.NodeID, Host: b.Host, Port: b.Port}
		if b.Rack != nil {
			bi.Rack = *b.Rack
		}
		info.Brokers = append(info.Brokers, bi)
	}
	sort.Slice(info.Brokers, func(i, j int) bool { return info.Brokers[i].NodeID < info.Brokers[j].NodeID })
	return info
}
