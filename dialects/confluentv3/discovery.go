package confluentv3

import (
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Confluent's v3 resource shapes (api/v3/openapi.yaml: ClusterData,
// TopicData, PartitionData and their lists).

type related struct {
	Related string `json:"related"`
}

type resourceMeta struct {
	Self         string `json:"self"`
	ResourceName string `json:"resource_name"`
}

type listMeta struct {
	Self string  `json:"self"`
	Next *string `json:"next"`
}

type clusterData struct {
	Kind                   string       `json:"kind"`
	Metadata               resourceMeta `json:"metadata"`
	ClusterID              string       `json:"cluster_id"`
	Controller             *related     `json:"controller,omitempty"`
	ACLs                   related      `json:"acls"`
	Brokers                related      `json:"brokers"`
	BrokerConfigs          related      `json:"broker_configs"`
	ConsumerGroups         related      `json:"consumer_groups"`
	Topics                 related      `json:"topics"`
	PartitionReassignments related      `json:"partition_reassignments"`
}

type clusterList struct {
	Kind     string        `json:"kind"`
	Metadata listMeta      `json:"metadata"`
	Data     []clusterData `json:"data"`
}

type topicData struct {
	Kind                   string       `json:"kind"`
	Metadata               resourceMeta `json:"metadata"`
	ClusterID              string       `json:"cluster_id"`
	TopicName              string       `json:"topic_name"`
	IsInternal             bool         `json:"is_internal"`
	ReplicationFactor      int          `json:"replication_factor"`
	PartitionsCount        int          `json:"partitions_count"`
	Partitions             related      `json:"partitions"`
	Configs                related      `json:"configs"`
	PartitionReassignments related      `json:"partition_reassignments"`
	AuthorizedOperations   []string     `json:"authorized_operations"`
}

type topicList struct {
	Kind     string      `json:"kind"`
	Metadata listMeta    `json:"metadata"`
	Data     []topicData `json:"data"`
}

type partitionData struct {
	Kind         string       `json:"kind"`
	Metadata     resourceMeta `json:"metadata"`
	ClusterID    string       `json:"cluster_id"`
	TopicName    string       `json:"topic_name"`
	PartitionID  int32        `json:"partition_id"`
	Leader       *related     `json:"leader,omitempty"`
	Replicas     related      `json:"replicas"`
	Reassignment related      `json:"reassignment"`
}

type partitionList struct {
	Kind     string          `json:"kind"`
	Metadata listMeta        `json:"metadata"`
	Data     []partitionData `json:"data"`
}

// errNotFound answers a path under /v3/clusters the dialect does not know.
var errNotFound = &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusNotFound, Code: http.StatusNotFound,
	Message: "HTTP 404 Not Found: this gateway serves /v3/clusters, a cluster, its topics, a topic, its partitions, a partition, and POST .../records and .../records:batch"}

// Discover answers the read-only discovery endpoints.
func (c *ConfluentV3) Discover(w http.ResponseWriter, r *http.Request, m dialects.Match, d dialects.Describer) error {
	rt := routeOf(m)
	clusterID, err := c.clusterID(r.Context(), d.ClusterID)
	if err != nil {
		return err
	}
	if rt.kind != routeClusters && rt.cluster != clusterID {
		return errUnknownCluster(rt.cluster)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host + rt.prefix + "/v3/clusters"
	crn := "crn:///kafka=" + clusterID
	clusterURL := base + "/" + clusterID

	var info producer.ClusterInfo
	if rt.kind == routeTopic || rt.kind == routePartitions || rt.kind == routePartition {
		info, err = d.Describe(r.Context(), rt.topic)
		if errors.Is(err, dialects.ErrTopicNotAllowed) {
			err = producer.ErrUnknownTopic // GETs outside Confluent's access lists are 404s
		}
	} else {
		info, err = d.Describe(r.Context())
	}
	if err != nil {
		return err
	}

	topic := func(t *producer.TopicInfo) topicData {
		u := clusterURL + "/topics/" + t.Name
		rf := 0
		if len(t.Partitions) > 0 {
			rf = len(t.Partitions[0].Replicas)
		}
		return topicData{
			Kind:                   "KafkaTopic",
			Metadata:               resourceMeta{Self: u, ResourceName: crn + "/topic=" + t.Name},
			ClusterID:              clusterID,
			TopicName:              t.Name,
			ReplicationFactor:      rf,
			PartitionsCount:        len(t.Partitions),
			Partitions:             related{u + "/partitions"},
			Configs:                related{u + "/configs"},
			PartitionReassignments: related{u + "/partitions/-/reassignment"},
			AuthorizedOperations:   []string{},
		}
	}
	var out any
	switch rt.kind {
	case routeClusters, routeCluster:
		cd := clusterData{
			Kind:                   "KafkaCluster",
			Metadata:               resourceMeta{Self: clusterURL, ResourceName: crn},
			ClusterID:              clusterID,
			ACLs:                   related{clusterURL + "/acls"},
			Brokers:                related{clusterURL + "/brokers"},
			BrokerConfigs:          related{clusterURL + "/broker-configs"},
			ConsumerGroups:         related{clusterURL + "/consumer-groups"},
			Topics:                 related{clusterURL + "/topics"},
			PartitionReassignments: related{clusterURL + "/topics/-/partitions/-/reassignment"},
		}
		if info.Controller >= 0 {
			cd.Controller = &related{clusterURL + "/brokers/" + strconv.Itoa(int(info.Controller))}
		}
		out = cd
		if rt.kind == routeClusters {
			out = clusterList{Kind: "KafkaClusterList", Metadata: listMeta{Self: base}, Data: []clusterData{cd}}
		}
	case routeTopics:
		tl := topicList{Kind: "KafkaTopicList", Metadata: listMeta{Self: clusterURL + "/topics"}, Data: make([]topicData, 0, len(info.Topics))}
		for i := range info.Topics {
			tl.Data = append(tl.Data, topic(&info.Topics[i]))
		}
		out = tl
	case routeTopic, routePartitions, routePartition:
		var t *producer.TopicInfo
		for i := range info.Topics {
			if info.Topics[i].Name == rt.topic {
				t = &info.Topics[i]
			}
		}
		if t == nil {
			return producer.ErrUnknownTopic
		}
		if rt.kind == routeTopic {
			out = topic(t)
			break
		}
		u := clusterURL + "/topics/" + t.Name + "/partitions"
		pl := partitionList{Kind: "KafkaPartitionList", Metadata: listMeta{Self: u}, Data: make([]partitionData, 0, len(t.Partitions))}
		for _, p := range t.Partitions {
			pu := u + "/" + strconv.Itoa(int(p.ID))
			pd := partitionData{
				Kind:         "KafkaPartition",
				Metadata:     resourceMeta{Self: pu, ResourceName: crn + "/topic=" + t.Name + "/partition=" + strconv.Itoa(int(p.ID))},
				ClusterID:    clusterID,
				TopicName:    t.Name,
				PartitionID:  p.ID,
				Replicas:     related{pu + "/replicas"},
				Reassignment: related{pu + "/reassignment"},
			}
			if p.Leader >= 0 {
				pd.Leader = &related{pu + "/replicas/" + strconv.Itoa(int(p.Leader))}
			}
			pl.Data = append(pl.Data, pd)
		}
		out = pl
		if rt.kind == routePartition {
			id, err := strconv.ParseInt(rt.partition, 10, 32)
			i := slices.IndexFunc(pl.Data, func(p partitionData) bool { return p.PartitionID == int32(id) })
			if err != nil || i < 0 {
				return producer.ErrUnknownPartition
			}
			out = pl.Data[i]
		}
	}
	_ = dialects.WriteJSON(w, http.StatusOK, "application/json", out)
	return nil
}
