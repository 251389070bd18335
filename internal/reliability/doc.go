// Package reliability holds the integration tests of the gateway's delivery
// and security guarantees (issues 8 and 24): broker loss, a reload during a
// long outage, a cluster known unreachable (answered at once, stopped in
// 2s), graceful shutdown, overload, request limits and slow clients,
// authorization and logging, and the spool.
// It has no code of its own besides this comment.
//
// The tests run on franz-go's kfake in a plain `go test ./...`, with faults
// injected over the wire, and against a real Apache Kafka broker in CI: with
// KAFKA_SCRIPTS=<repo>/.ci/kafka they start their own broker (on free ports,
// with auto.create.topics.enable=true) which they may kill, restart and pause;
// tests that do not break the broker use KAFKA_BROKERS when it is set.
package reliability
