// Package dialects is the contract between the kafka_rest handler and the
// wire formats it speaks. A dialect is a Caddy guest module in the
// http.kafka_rest.dialects namespace that translates HTTP requests into
// producer.Messages and results back into responses. Dialects do no policy:
// the handler enforces the topic allow-list, body, size and count limits,
// topic and partition existence, overload shedding, Retry-After, timeouts,
// metrics and Idempotency-Key once for all of them, for every kind of
// request.
//
// The handler drives every request. It asks the dialect once what a
// request is (Match): one of its operations, a path of its URL space it
// does not have (404), a method the path does not allow (405, with Allow),
// or not its request at all (the next handler answers). A one-shot produce
// then goes Decode, the handler's policy, the producer, then Encode. A
// dialect that needs more implements small optional capabilities, found by
// type assertion as reverse_proxy finds a BufferedTransport:
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
	"net/http"
	"time"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Dialect translates one REST produce API to and from Kafka records.
type Dialect interface {
	// Match tells what r is, reading its method and path (never its
	// body): see Match. It is called once per request, first, and should
	// not allocate.
	Match(r *http.Request) Match
	// Decode reads a produce request (OpProduce) into records. An error is
	// written with WriteError and nothing is produced. The body is already
	// bounded by the route's MaxBody.
	Decode(r *http.Request, m Match, rt Route) (*Request, error)
	// Encode writes the response for req; results[i] is the outcome of
	// req.Records[i], successful or not.
	Encode(w http.ResponseWriter, r *http.Request, req *Request, results []producer.Result) error
	// WriteError writes err in the dialect's error envelope. err is an
	// *Error or any error producer.Classify understands; ErrorOf turns
	// either into an *Error. The handler has already set Retry-After and
	// Allow.
	WriteError(w http.ResponseWriter, r *http.Request, err error)
}

// Op is what a request asks of its dialect.
type Op uint8

const (
	// OpPass is a request outside the dialect's URL space: the next
	// handler answers it.
	OpPass Op = iota
	// OpProduce is a one-shot produce request: Decode.
	OpProduce
	// OpStream is a streaming produce request: Streamer.Stream.
	OpStream
	// OpDescribe is a read-only metadata request: Discoverer.Discover.
	OpDescribe
	// OpFetch is a read-only records request: Consumer.Consume.
	OpFetch
	// OpNotFound is a path inside the dialect's URL space that it does
	// not serve: a 404 in its format.
	OpNotFound
	// OpMethodNotAllowed is a path the dialect serves, with a method it
	// does not allow there: a 405 in its format, with Allow.
	OpMethodNotAllowed
)

// Match is a dialect's reading of a request's method and path, made once:
// the operation, and the parts of the path it parsed, handed back to the
// operation so that it does not parse them again. What Endpoint and the
// strings mean is the dialect's own.
type Match struct {
	Op Op
	// Allow is the methods the path allows ("GET, HEAD"), for
	// OpMethodNotAllowed.
	Allow string
	// Body is set for an operation that reads the request body: the
	// handler bounds it by max_body first.
	Body bool
	// Endpoint is which of the dialect's endpoints the path names.
	Endpoint uint8
	// Topic is the topic the path names, if any, as the dialect parsed it.
	Topic string
	// Parts are other parts of the path the dialect parsed, in its own
	// order (a cluster ID, a partition, a prefix).
	Parts [3]string
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
	// StreamBuffer bounds the bytes of records that the route's streams
	// hold read ahead of their reports, all streams together.
	StreamBuffer *Budget
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
	// Stream returns the stream of r, an OpStream request. An error
	// refuses r whole, before its body is read. The body is not bounded as
	// a whole: the stream bounds each record by rt.MaxBody, and holds at
	// most rt.StreamBuffer bytes of records read ahead. The stream writes
	// its answer on w, which it may prepare (full duplex) at once.
	Stream(w http.ResponseWriter, r *http.Request, m Match, rt Route) (Stream, error)
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

// Verifier is implemented by dialects that check a signature of the body
// as it was received (before any Content-Encoding is undone: senders sign
// what they send), before anything is produced.
type Verifier interface {
	// VerifiesBody reports whether the route checks signatures.
	VerifiesBody() bool
	// VerifyBody checks r's signature over body, the bytes received,
	// bounded by the route's MaxBody. An error refuses the request whole.
	VerifyBody(r *http.Request, body []byte) error
}

// Discoverer is implemented by dialects with read-only metadata endpoints.
type Discoverer interface {
	// Discover answers r, an OpDescribe request, from what d describes,
	// and returns nil. On an error it has written nothing, and the handler
	// answers the error with WriteError.
	Discover(w http.ResponseWriter, r *http.Request, m Match, d Describer) error
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
	// Consume answers r, an OpFetch request, from what f fetches, and
	// returns nil. On an error it has written nothing, and the handler
	// answers the error with WriteError.
	Consume(w http.ResponseWriter, r *http.Request, m Match, f Fetcher) error
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
	// leader (producer.Client.FetchMany): maxRecords counts across them,
	// and when no partition has a record yet it waits up to wait for one
	// (within the route's timeout).
	// Any topic the allow-list refuses fails the call with
	// ErrTopicNotAllowed.
	FetchMany(ctx context.Context, positions []producer.FetchPosition, wait time.Duration, maxRecords int, maxBytes int32) ([]producer.FetchedPartition, error)
	// ListOffsets looks up the partitions' offsets at ts
	// (producer.OffsetEarliest, producer.OffsetLatest or epoch ms). Any
	// topic the allow-list refuses fails the call with ErrTopicNotAllowed.
	ListOffsets(ctx context.Context, ts int64, parts []producer.TopicPartition) ([]producer.PartitionOffset, error)
}

// Interface guards
var _ error = (*Error)(nil)
