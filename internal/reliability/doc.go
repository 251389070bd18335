// Package reliability holds the integration tests of the gateway's delivery
// and security guarantees (issue 8): broker loss, graceful shutdown,
// overload, request limits and slow clients, and authorization and logging.
// It has no code of its own besides this comment.
//
// The tests run on franz-go's kfake in a plain `go test ./...`, with faults
// injected over the wire, and against a real Apache Kafka broker in CI: with
// KAFKA_SCRIPTS=<repo>/.ci/kafka they start their own broker (on free ports,
// with auto.create.topics.enable=true) which they may kill, restart and pause;
// tests that do not break the broker use KAFKA_BROKERS when it is set.
package reliability
