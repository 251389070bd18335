// Package dialects is the contract between the kafka_rest handler and the
// wire formats it speaks. A dialect is a Caddy guest module in the
// http.kafka_rest.dialects namespace that translates HTTP requests into
// producer.Messages and results back into responses. Dialects do no policy:
// the handler enforces the topic allow-list, size and count limits, topic and
// partition existence, overload shedding, timeouts, metrics and
// Idempotency-Key once for all of them, for every kind of request.
//
// The handler drives every request. A one-shot produce goes Decode, the
// handler's policy, the producer, then Encode. A dialect that needs more
// implements small optional capabilities, found by type assertion as
// reverse_proxy finds a BufferedTransport:
//
//   - Streamer: requests whose records arrive over time (confluent_v3's
//     chunked records); the dialect yields batches and writes their results,
//     and the handler produces each batch under the same policy;
//   - Discoverer: read-only metadata endpoints, lent a Describer;
//   - Consumer: read-only record endpoints, lent a Fetcher.
//
// Read-only capabilities return their outcome as an error value: nil once
// they have written their answer, else an error the handler answers with
// WriteError, counts and logs.
package dialects

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Dialect translates one REST produce API to and from Kafka records.
type Dialect interface {
	// Decode reads a produce request into records. It returns an error
	// wrapping ErrNotHandled for a request that is not this dialect's, so
	// the handler passes it to the next handler; any other error is
	// written with WriteError and nothing is produced. The body is already
	// bounded by the route's MaxBody.
	Decode(r *http.Request, rt Route) (*Request, error)
	// Encode writes the response for req; results[i] is the outcome of
	// req.Records[i], successful or not.
	Encode(w http.ResponseWriter, r *http.Request, req *Request, results []producer.Result) error
	// WriteError writes err in the dialect's error envelope. err is an
	// *Error or any error producer.Classify understands; ErrorOf turns
	// either into an *Error. The handler has already set Retry-After for
	// overload.
	WriteError(w http.ResponseWriter, r *http.Request, err error)
}

// Route is what the handler tells a dialect of the route a request came in
// on: its limits, and the identity of its cluster.
type Route struct {
	// MaxBody is the largest body, or record in streaming mode, in bytes.
	MaxBody int64
	// MaxRecords is the most records one request may carry.
	MaxRecords int
	// ClusterID returns the Kafka cluster's ID ("" for a cluster too old
	// to have one), for dialects whose URLs name the cluster. It is looked
	// up once and then remembered.
	ClusterID func(context.Context) (string, error)
	// CheckTopic applies the route's allow-list and checks that the topic
	// exists, for dialects whose URL names the topic and that answer a
	// topic's absence before reading the body (as Confluent does). The
	// handler checks every record's topic anyway.
	CheckTopic func(r *http.Request, topic string) error
	// Schemas is the cluster's schema registry, nil when it has none.
	Schemas Serializer
}

// Request is a decoded produce request, or one batch of a stream.
type Request struct {
	// Records to produce, with their topics set, also on records that
	// failed to decode: the handler checks every record's topic first.
	Records []producer.Message
	// Errs, when not nil, has one entry per record; a non-nil entry is a
	// record the dialect could not decode. It is not produced, and its
	// result carries the error (Confluent v3 answers per record).
	Errs []error
	// PerRecord reports failures of individual records (an explicit
	// partition that does not exist) in their results instead of refusing
	// the whole request.
	PerRecord bool
	// State is the dialect's own data for Encode (a media type, whether the
	// answer is an array, an id from the path).
	State any
}

// Streamer is implemented by dialects with streaming requests.
type Streamer interface {
	// Stream returns the stream of r if r is a streaming request of this
	// dialect, else nil, and the handler goes on to Decode. An error refuses
	// r whole, before its body is read. The body is not bounded as a
	// whole: the stream bounds each record by rt.MaxBody. The stream
	// writes its answer on w, which it may prepare (full duplex) at once.
	Stream(w http.ResponseWriter, r *http.Request, rt Route) (Stream, error)
}

// Stream is one streaming request. The handler calls Next for a batch of
// records, applies its policy to it and starts producing it, and calls Next
// again, until Next fails or returns io.EOF. Another goroutine hands each
// batch's results to Write, in the order Next returned the batches, while
// Next reads the next ones: Next and Write may run at once, but neither
// runs concurrently with itself, and a batch must stay valid until its
// Write. Close comes after both. Until the first Write, the handler may
// answer the request itself (an error). Next ends (with io.EOF) when its
// ctx is cancelled: the handler does so once a Write failed.
type Stream interface {
	// Next waits for the next batch, of at most max records, and returns
	// it. It returns io.EOF after the last batch, never before the first:
	// a stream that ends without a record is the dialect's error. Any
	// other error ends the stream; the handler answers it with WriteError
	// if nothing was written yet.
	Next(ctx context.Context, max int) (*Request, error)
	// Write writes the outcome of batch and flushes it: results[i] is that
	// of batch.Records[i]; or, when err is not nil, the batch was refused
	// whole with err and results is nil. The first Write also writes the
	// response's status and headers. An error ends the stream.
	Write(batch *Request, results []producer.Result, err error) error
	// Close stops reading the body and releases the stream.
	Close()
}

// Discoverer is implemented by dialects with read-only metadata endpoints.
type Discoverer interface {
	// Discover answers r, if it is one of the dialect's metadata requests,
	// from what d describes, and returns nil; it returns an error wrapping
	// ErrNotHandled for any other request. On any other error it has
	// written nothing, and the handler answers the error with WriteError.
	Discover(w http.ResponseWriter, r *http.Request, d Describer) error
}

// Describer is lent to a Discoverer: the route's cluster, under its
// allow-list and timeout. Pass it the request's context, or one derived
// from it: the allow-list's placeholders are that request's.
type Describer interface {
	// ClusterID is Route.ClusterID.
	ClusterID(ctx context.Context) (string, error)
	// Describe returns cluster metadata for the named topics, or for every
	// topic when none is named. Topics the allow-list refuses are left
	// out of a full listing; naming one fails with ErrTopicNotAllowed.
	Describe(ctx context.Context, topics ...string) (producer.ClusterInfo, error)
	// Brokers returns the cluster's ID, controller and brokers, without
	// topics.
	Brokers(ctx context.Context) (producer.ClusterInfo, error)
	// TopicConfigs returns a topic's configuration entries, sorted by
	// name. A topic the allow-list refuses fails with ErrTopicNotAllowed.
	TopicConfigs(ctx context.Context, topic string) ([]producer.TopicConfig, error)
}

// Consumer is implemented by dialects with read-only record endpoints.
type Consumer interface {
	// Consume answers r, if it is one of the dialect's read requests, from
	// what f fetches, and returns nil; it returns an error wrapping
	// ErrNotHandled for any other request. On any other error it has
	// written nothing, and the handler answers the error with WriteError.
	Consume(w http.ResponseWriter, r *http.Request, f Fetcher) error
}

// Fetcher is lent to a Consumer: the route's cluster, under its allow-list,
// limits and timeout, through the cluster's shared connections. Pass it the
// request's context, or one derived from it: the allow-list's placeholders
// are that request's.
type Fetcher interface {
	// Fetch reads up to maxRecords records, in about maxBytes, from one
	// partition starting at offset; both bounds are capped at the route's
	// MaxRecords and MaxBody. A topic the allow-list refuses fails with
	// ErrTopicNotAllowed. At the end of the partition it waits briefly
	// for a record, then returns what it has, possibly nothing.
	Fetch(ctx context.Context, topic string, partition int32, offset int64, maxRecords int, maxBytes int32) ([]producer.FetchedRecord, error)
	// FetchMany is Fetch for several partitions at once, one request per
	// leader (producer.Client.FetchMany): maxRecords counts across them.
	// Any topic the allow-list refuses fails the call with
	// ErrTopicNotAllowed.
	FetchMany(ctx context.Context, positions []producer.FetchPosition, maxRecords int, maxBytes int32) ([]producer.FetchedPartition, error)
	// ListOffsets looks up the partitions' offsets at ts
	// (producer.OffsetEarliest, producer.OffsetLatest or epoch ms). Any
	// topic the allow-list refuses fails the call with ErrTopicNotAllowed.
	ListOffsets(ctx context.Context, ts int64, parts []producer.TopicPartition) ([]producer.PartitionOffset, error)
}

// ErrNotHandled is returned, wrapped, by Decode and the read-only
// capabilities for requests that are not theirs.
var ErrNotHandled = errors.New("not a request of this dialect")

// Interface guards
var _ error = (*Error)(nil)
