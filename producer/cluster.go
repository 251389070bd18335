package producer

import (
	"context"
	"errors"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ClusterState asks the brokers for the cluster's ID, controller and
// brokers (Topics is left nil), as a health check: every broker discovered
// so far and every seed at once. It returns the first answer, or, when none
// answers, the error of the last broker in that order (the seeds last) as
// franz-go gave it, without a prefix, so that it reads the same in logs and
// the admin API.
//
// Unlike Describe it asks every known broker rather than letting franz-go
// pick one, so that a check fails only when no broker answers; and at once
// rather than in turn, so that one broker that accepts connections and
// never answers (paused, or behind a black hole) does not spend the whole
// check's time.
//
// When the live brokers changed since the last answer, it has franz-go
// refresh its metadata (refreshIfMoved).
func (c *Client) ClusterState(ctx context.Context) (ClusterInfo, error) {
	brokers := slices.Concat(c.kc.DiscoveredBrokers(), c.kc.SeedBrokers())
	if len(brokers) == 0 {
		return ClusterInfo{}, errors.New("no broker to ask")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the others' requests, once one answered
	type answer struct {
		i    int
		resp *kmsg.MetadataResponse
		err  error
	}
	answers := make(chan answer, len(brokers))
	for i, b := range brokers {
		go func() {
			req := kmsg.NewPtrMetadataRequest()
			req.Topics = []kmsg.MetadataRequestTopic{} // empty, not nil: no topics
			resp, err := bounded(ctx, func() (*kmsg.MetadataResponse, error) { return req.RequestWith(ctx, b) })
			answers <- answer{i, resp, err}
		}()
	}
	errs := make([]error, len(brokers))
	for range brokers {
		a := <-answers
		if a.err == nil {
			info := clusterInfo(a.resp)
			c.refreshIfMoved(info)
			return info, nil
		}
		errs[a.i] = a.err
	}
	return ClusterInfo{}, errs[len(errs)-1]
}

// refreshIfMoved has franz-go refresh its metadata when the live brokers
// (the unfenced ones, which a metadata answer lists) differ from those of
// the answer before. The controllers fence a broker that stopped answering
// (paused, cut off) within their session timeout and move its partitions;
// franz-go learns of it only when its own request to that broker times
// out, and retries a timed-out produce request on the same broker without
// asking for metadata, so a partition stayed on a paused leader for 20-40s
// (TestBrokerPause in internal/cluster; 10s with the refresh). A refresh
// drops the fenced broker, closing its connections, and moves its
// partitions to their new leaders, where the records in flight are sent
// again with their sequence numbers, as after any leader move. The refresh
// when a broker joins again is as welcome.
func (c *Client) refreshIfMoved(info ClusterInfo) {
	live := make([]int32, len(info.Brokers))
	for i, b := range info.Brokers {
		live[i] = b.NodeID
	}
	c.liveMu.Lock()
	moved := c.live != nil && !slices.Equal(c.live, live)
	c.live = live
	c.liveMu.Unlock()
	if moved {
		c.kc.ForceMetadataRefresh()
	}
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
