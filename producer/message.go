// Package producer is the franz-go side of the gateway: it turns a plain
// configuration into one shared *kgo.Client per cluster, produces batches of
// records and reports one result per record in request order, places keyed
// records exactly where Java's default partitioner would, and classifies every
// failure into a small set of classes that each REST dialect maps to its own
// status codes. It has no Caddy imports.
package producer

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Message is one record to produce, as decoded from a REST request.
type Message struct {
	// Topic to produce to.
	Topic string
	// Partition is an explicit partition, or -1 to let the partitioner
	// decide (murmur2 of the key, or sticky for a null key).
	Partition int32
	// Key is the record key; nil is a null key, which Kafka and Java's
	// partitioner treat differently from an empty one.
	Key []byte
	// Value is the record value; nil is a null value (a tombstone).
	Value []byte
	// Headers are the record headers, in order.
	Headers []Header
	// Timestamp is the record's CreateTime; zero means the time the gateway
	// produced it.
	Timestamp time.Time
}

// Header is one record header. It is franz-go's own type, so that records
// reach the client without a copy of their headers.
type Header = kgo.RecordHeader

// Result is the outcome of producing one Message.
type Result struct {
	// Partition and Offset are where Kafka stored the record.
	Partition int32
	Offset    int64
	// Timestamp is the record's timestamp as produced.
	Timestamp time.Time
	// Err is non-nil when the record was not acknowledged; Classify tells
	// what kind of failure it is.
	Err error
	// Spooled is set when the record was not produced but written to the
	// cluster's spool, to be produced later: Partition and Offset are -1.
	Spooled bool
}
