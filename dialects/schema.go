package dialects

import (
	"context"
	"errors"

	"github.com/caddy-kafka/caddy-kafka/producer"
	"github.com/caddy-kafka/caddy-kafka/producer/schema"
)

// Serializer is the route's cluster's Schema Registry, lent through
// Route.Schemas; nil when the cluster has no schema_registry. A dialect names
// a record's schema (schema.Ref: an id, a subject and version, or an inline
// schema) and encodes the record's JSON data with what Resolve returns
// (Resolved.AppendEncode writes Confluent's wire format), so no dialect talks
// to the registry itself. Lookups are cached per cluster; pass the request's
// context.
type Serializer interface {
	Resolve(ctx context.Context, ref schema.Ref) (schema.Resolved, error)
}

// ErrSchemasNotSupported is a schema feature asked of a route whose cluster
// has no schema_registry. Dialects set their own status (415 for a media
// type, 400 for a field).
var ErrSchemasNotSupported = &Error{Class: producer.ClassBadRequest,
	Message: "schemas are not supported: the gateway's cluster has no schema_registry"}

// SchemaError turns an error of the Serializer or of a Resolved schema into
// an *Error whose Err is err, so that a dialect can map schema.KindOf(err)
// to its own codes: a registry that is down is ClassUnavailable (the
// handler adds Retry-After), any other registry answer the gateway cannot
// fix ClassInternal, and everything the client can fix (data that does not
// match, an invalid, unknown or incompatible schema) ClassBadRequest. Other
// errors are returned as ErrorOf returns them.
func SchemaError(err error) *Error {
	var se *schema.Error
	if !errors.As(err, &se) {
		return ErrorOf(err)
	}
	c := producer.ClassBadRequest
	switch se.Kind {
	case schema.KindUnavailable:
		c = producer.ClassUnavailable
	case schema.KindRegistry:
		c = producer.ClassInternal
	}
	return &Error{Class: c, Message: se.Msg, Err: err}
}
