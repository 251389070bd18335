package schema

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/twmb/franz-go/pkg/sr"
)

// Kind is what kind of failure a schema error is. Each dialect maps a kind to
// its own status and error code, as producer.Class does for Kafka errors.
type Kind uint8

const (
	// KindOK is the kind of a nil error.
	KindOK Kind = iota
	// KindBadData is a record that does not match its schema, or is not
	// valid in the schema's JSON form.
	KindBadData
	// KindInvalidSchema is a schema that does not compile, is of another
	// type than the request asked for, or that the registry refused as
	// invalid.
	KindInvalidSchema
	// KindUnknownID is a schema id the registry does not have.
	KindUnknownID
	// KindUnknownSubject is a subject the registry does not have, or an
	// inline schema not registered under its subject while auto_register
	// is off.
	KindUnknownSubject
	// KindUnknownVersion is a version the subject does not have.
	KindUnknownVersion
	// KindIncompatible is an inline schema the registry refused to register
	// because it is incompatible with the subject's earlier versions.
	KindIncompatible
	// KindUnavailable is the registry unreachable, timing out or failing
	// with a 5xx. It is retriable.
	KindUnavailable
	// KindRegistry is any other registry answer (such as 401 or 403 to the
	// gateway's own credentials). Not retriable.
	KindRegistry
)

var kindNames = [...]string{"ok", "bad_data", "invalid_schema", "unknown_schema_id", "unknown_subject",
	"unknown_version", "incompatible_schema", "registry_unavailable", "registry_error"}

// String is the kind's name, as used in metrics labels and logs.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Error is a classified schema failure. Its message is meant for the client:
// it names the schema and what to do, and never contains record data,
// credentials or the registry's address (Cause, for the gateway's logs, may).
type Error struct {
	Kind Kind
	// Msg is the client-facing message.
	Msg string
	// Cause is the underlying error, if any.
	Cause error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Cause }

// KindOf classifies err; an error this package did not return is KindRegistry.
func KindOf(err error) Kind {
	if err == nil {
		return KindOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindRegistry
}

func errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// registryError classifies an error of the registry client. what names the
// lookup for the message ("schema id 7", "subject \"t-value\" version 3").
func registryError(err error, what string) error {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		e := classifyResponse(re, what)
		e.(*Error).Cause = err
		return e
	}
	return classifyTransport(err, what)
}

func classifyResponse(re *sr.ResponseError, what string) error {
	{
		switch code := re.ErrorCode; {
		case code == sr.ErrSubjectNotFound.Code:
			return errorf(KindUnknownSubject, "%s: the registry has no such subject", what)
		case code == sr.ErrVersionNotFound.Code:
			return errorf(KindUnknownVersion, "%s: the subject has no such version", what)
		case code == sr.ErrSchemaNotFound.Code:
			return errorf(KindUnknownID, "%s: the registry has no such schema", what)
		case re.StatusCode == http.StatusConflict:
			return errorf(KindIncompatible, "%s: the registry refused the schema as incompatible with the subject's versions: %s", what, re.Message)
		case re.StatusCode == http.StatusUnprocessableEntity:
			return errorf(KindInvalidSchema, "%s: the registry refused the schema as invalid: %s", what, re.Message)
		case re.StatusCode == http.StatusNotFound:
			// A 404 without a Confluent code: a wrong URL path is a
			// gateway misconfiguration, not the client's fault.
			return errorf(KindRegistry, "%s: registry answered 404 (is the URL the Confluent-compatible API?)", what)
		case re.StatusCode >= 500 || re.StatusCode == http.StatusTooManyRequests:
			return errorf(KindUnavailable, "%s: schema registry unavailable (status %d)", what, re.StatusCode)
		}
		return errorf(KindRegistry, "%s: schema registry answered status %d", what, re.StatusCode)
	}
}

func classifyTransport(err error, what string) error {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &Error{Kind: KindUnavailable, Msg: what + ": schema registry unreachable, try again later", Cause: err}
	}
	// An answer the client could not read (a proxy's HTML page, a cut body).
	return &Error{Kind: KindUnavailable, Msg: what + ": schema registry failed, try again later", Cause: err}
}
