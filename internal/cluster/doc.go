// Package cluster holds the integration tests of the gateway against a
// production-shaped Kafka (issue 16): three KRaft brokers with replication
// factor 3 and min.insync.replicas 2, SASL_SSL with SCRAM-SHA-512, mTLS,
// and ACLs, as .ci/kafka/cluster.sh starts them. It has no code of its own
// besides this comment.
//
// The tests need the environment that `.ci/kafka/cluster.sh up` prints
// (KAFKA_CLUSTER_PLAINTEXT and the rest) and skip without it:
//
//	eval "$(.ci/kafka/cluster.sh up)"
//	go test -race -count=1 -v ./internal/cluster/
//	.ci/kafka/cluster.sh down
//
// They break the cluster on purpose (kill -9 of one broker or two, SIGSTOP,
// restarts, network faults), most with three gateways at once (plaintext,
// SASL_SSL, mTLS), and heal it before they end. CLUSTER_SOAK sets the soak's length
// (default 10m).
package cluster
