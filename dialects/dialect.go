// Package dialects is the contract between the kafka_rest handler and the
// wire formats it speaks. A dialect is a Caddy guest module in the
// http.kafka_rest.dialects namespace that translates HTTP requests into
// producer.Messages and results back into responses. Dialects do no policy:
// the handler enforces the topic allow-list, size and count limits, topic and
// partition existence, overload shedding and timeouts once for all of them.
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
	// bounded by the handler's max_body.
	Decode(r *http.Request, lim Limits) (*Request, error)
	// Encode writes the response for req; results[i] is the outcome of
	// req.Records[i], successful or not.
	Encode(w http.ResponseWriter, r *http.Request, req *Request, results []producer.Result) error
	// WriteError writes err in the dialect's error envelope. err is an
	// *Error or any error producer.Classify understands; ErrorOf turns
	// either into an *Error. The handler has already set Retry-After for
	// overload.
	WriteError(w http.ResponseWriter, r *http.Request, err error)
}

// Server is implemented by dialects that serve more than one-shot produce
// requests: streaming, discovery, consume. The handler calls Serve before
// Decode; a dialect returns handled false to fall through to Decode.
type Server interface {
	Serve(w http.ResponseWriter, r *http.Request, k Kafka) (handled bool, err error)
}

// Kafka is what the handler lends a Server for one request: its cluster, under
// its policy. Dialects never see the franz-go client itself.
type Kafka interface {
	// Produce applies the handler's policy to req and produces it, as for
	// a one-shot request. A non-nil error means nothing was produced and
	// should be written with WriteError; otherwise there is one result per
	// record in order.
	Produce(ctx context.Context, req *Request) ([]producer.Result, error)
	// Allowed reports whether topic passes this request's allow-list.
	Allowed(topic string) bool
	// Describe returns cluster metadata for the named topics, or for every
	// topic when none is named. Topics the allow-list refuses are left out.
	Describe(ctx context.Context, topics ...string) (producer.ClusterInfo, error)
	// Limits are the handler's limits.
	Limits() Limits
	// Fetch reads up to maxRecords records, in about maxBytes, from one
	// partition starting at offset, under the handler's allow-list (a topic
	// it refuses fails with ErrTopicNotAllowed) and timeout. At the end of
	// the partition it waits briefly for a record, then returns what it
	// has, possibly nothing. It uses the cluster's shared connections.
	Fetch(ctx context.Context, topic string, partition int32, offset int64, maxRecords int, maxBytes int32) ([]producer.FetchedRecord, error)
}

// Limits are the handler's per-request limits, for dialects that can stop
// reading early.
type Limits struct {
	// MaxBody is the largest body, or record in streaming mode, in bytes.
	MaxBody int64
	// MaxRecords is the most records one request may carry.
	MaxRecords int
}

// Request is a decoded produce request.
type Request struct {
	// Records to produce, with their topics set.
	Records []producer.Message
	// Errs, when not nil, has one entry per record; a non-nil entry is a
	// record the dialect could not decode. It is not produced, and its
	// result carries the error (Confluent v3 answers per record).
	Errs []error
	// PerRecord reports failures of individual records (an explicit
	// partition that does not exist) in their results instead of refusing
	// the whole request.
	PerRecord bool
	// Streamed marks one batch of a streaming request, which produces
	// many times: an Idempotency-Key cannot name one outcome for it, so
	// the handler refuses the key with a 400.
	Streamed bool
	// State is the dialect's own data for Encode (a media type, whether the
	// answer is an array, an id from the path).
	State any
}

// ErrNotHandled is returned, wrapped, by Decode for requests the dialect
// does not serve.
var ErrNotHandled = errors.New("not a request of this dialect")

// Interface guards
var _ error = (*Error)(nil)
