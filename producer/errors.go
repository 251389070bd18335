package producer

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Class is what kind of failure an error is. Every dialect maps a class to its
// own HTTP status and error code, so the mapping from Kafka's many error codes
// is done once, here.
type Class uint8

const (
	// ClassOK is the class of a nil error.
	ClassOK Class = iota
	// ClassBadRequest is input the gateway or Kafka refused as malformed
	// (invalid record, invalid timestamp, policy violation).
	ClassBadRequest
	// ClassUnknownTopic is a topic that does not exist.
	ClassUnknownTopic
	// ClassUnknownPartition is an explicit partition the topic does not have.
	ClassUnknownPartition
	// ClassTooLarge is a record or request over a size limit.
	ClassTooLarge
	// ClassNotAuthorized is a topic the caller may not write to, by the
	// gateway's allow-list or by a Kafka ACL.
	ClassNotAuthorized
	// ClassAuthFailed is the gateway failing to authenticate to Kafka.
	ClassAuthFailed
	// ClassTimeout is a record not acknowledged in time. It may still be
	// written later: a timeout is not a "no".
	ClassTimeout
	// ClassOverloaded is the gateway's produce buffer being full; the
	// client should retry after a short pause.
	ClassOverloaded
	// ClassUnavailable is Kafka being unreachable or without a leader.
	ClassUnavailable
	// ClassKafka is any other error Kafka returned.
	ClassKafka
	// ClassInternal is a fault of the gateway itself.
	ClassInternal
)

var classNames = [...]string{"ok", "bad_request", "unknown_topic", "unknown_partition", "too_large",
	"not_authorized", "auth_failed", "timeout", "overloaded", "unavailable", "kafka_error", "internal"}

// String is the class's name, as used in metrics labels and logs.
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

var (
	// ErrOverloaded is returned when producing would exceed the client's
	// buffer limits. It wraps kgo.ErrMaxBuffered.
	ErrOverloaded = classed(ClassOverloaded, kgo.ErrMaxBuffered)
	// ErrUnknownTopic is returned for a topic that does not exist.
	ErrUnknownTopic = classed(ClassUnknownTopic, kerr.UnknownTopicOrPartition)
	// ErrUnknownPartition is returned for an explicit partition that the
	// topic does not have.
	ErrUnknownPartition = classed(ClassUnknownPartition, errors.New("partition not found"))
)

// ErrUnknownTopicNotCreated is ErrUnknownTopic from a client that does not
// ask the broker to create missing topics (AllowAutoTopicCreation off), with
// a hint saying so.
var ErrUnknownTopicNotCreated error = &classedError{class: ClassUnknownTopic, err: ErrUnknownTopic,
	hint: "the broker does not create topics automatically for this gateway; create the topic, " +
		"or set allow_auto_topic_creation in the kafka app if the broker allows it"}

// classedError pins a class on an error whose cause alone would classify
// differently (kerr.UnknownTopicOrPartition covers topics and partitions),
// and may carry a hint for the client.
type classedError struct {
	class Class
	err   error
	hint  string
}

func classed(c Class, err error) error { return &classedError{class: c, err: err} }

func (e *classedError) Error() string { return e.err.Error() }
func (e *classedError) Unwrap() error { return e.err }

// Classify tells what kind of failure err is. It understands franz-go's kerr
// and kgo errors, context errors, network errors and errors wrapped with %w.
func Classify(err error) Class {
	if err == nil {
		return ClassOK
	}
	var ce *classedError
	if errors.As(err, &ce) {
		return ce.class
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return classifyKerr(ke)
	}
	switch {
	case errors.Is(err, kgo.ErrMaxBuffered):
		return ClassOverloaded
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout
	case errors.Is(err, kgo.ErrRecordRetries), errors.Is(err, kgo.ErrClientClosed):
		return ClassUnavailable
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ClassUnavailable
	}
	var eof *kgo.ErrFirstReadEOF
	if errors.As(err, &eof) {
		return ClassUnavailable
	}
	return ClassKafka
}

func classifyKerr(e *kerr.Error) Class {
	switch e {
	case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID:
		return ClassUnknownTopic
	case kerr.MessageTooLarge, kerr.RecordListTooLarge:
		return ClassTooLarge
	case kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed,
		kerr.TransactionalIDAuthorizationFailed:
		return ClassNotAuthorized
	case kerr.SaslAuthenticationFailed, kerr.IllegalSaslState, kerr.UnsupportedSaslMechanism:
		return ClassAuthFailed
	case kerr.InvalidRecord, kerr.InvalidTimestamp, kerr.PolicyViolation, kerr.CorruptMessage,
		kerr.InvalidTopicException, kerr.UnsupportedForMessageFormat:
		return ClassBadRequest
	case kerr.RequestTimedOut:
		return ClassTimeout
	case kerr.LeaderNotAvailable, kerr.BrokerNotAvailable, kerr.NotLeaderForPartition,
		kerr.ReplicaNotAvailable, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend,
		kerr.NetworkException, kerr.KafkaStorageError:
		return ClassUnavailable
	}
	return ClassKafka
}

// Retriable reports whether a request that failed with this class may
// succeed if sent again unchanged, later: the one definition of "retry may
// help" (Retry-After, Confluent's 50003 versus 50002). Kafka's own errors
// are told apart by Retriable.
func (c Class) Retriable() bool {
	switch c {
	case ClassTimeout, ClassOverloaded, ClassUnavailable, ClassAuthFailed:
		return true
	}
	return false
}

// Retriable is Classify(err).Retriable(), and for a Kafka error Kafka's own
// answer (kerr's retriable flag).
func Retriable(err error) bool {
	c := Classify(err)
	return c.Retriable() || c == ClassKafka && kerr.IsRetriable(err)
}

// Indeterminate reports whether a record that failed with err may have
// been written all the same: Kafka did not say (a timeout, a connection
// lost, the client closed with the record in flight, retries exhausted) or
// said something this gateway does not know to be a refusal. A retry of
// such a record may write it twice.
func Indeterminate(err error) bool {
	switch Classify(err) {
	case ClassTimeout, ClassUnavailable, ClassKafka, ClassInternal:
		return true
	}
	return false
}

// Hint is what err's client can do about it, when the producer knows more
// than err's class says: which setting a record is over, why a topic is
// missing. It is safe to show a client (no address, no record data); "" when
// there is none.
func Hint(err error) string {
	for err != nil {
		var ce *classedError
		if !errors.As(err, &ce) {
			return ""
		}
		if ce.hint != "" {
			return ce.hint
		}
		err = ce.err
	}
	return ""
}

// tooLarge explains a record Kafka or franz-go refused as too large
// (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE): franz-go refuses a record over
// max bytes per batch before sending it, a broker one over its topic's
// max.message.bytes.
func tooLarge(limit int32, err error) error {
	return &classedError{class: ClassTooLarge, err: err, hint: fmt.Sprintf(
		"record is over max_message_bytes (%s) or the topic's max.message.bytes on the broker; "+
			"raise max_message_bytes in the kafka app (and max.message.bytes on the broker) or send a smaller record",
		FormatBytes(int64(limit)))}
}

// overMaxMessageBytes is CheckSize's refusal of a record over limit.
func overMaxMessageBytes(limit int32) error {
	return &classedError{class: ClassTooLarge, err: errOverMaxMessageBytes, hint: fmt.Sprintf(
		"record is over max_message_bytes (%s); raise max_message_bytes in the kafka app "+
			"(the topic's max.message.bytes on the broker must allow it too) or send a smaller record",
		FormatBytes(int64(limit)))}
}

// FormatBytes writes a size in the largest binary unit that divides it
// exactly ("16 MiB", "1536 KiB"), else in bytes, as Caddyfile sizes are
// written.
func FormatBytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// KafkaCode is the Kafka protocol error code behind err, if there is one.
func KafkaCode(err error) (int16, bool) {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code, true
	}
	return 0, false
}

// KafkaDescription is Kafka's own description of the Kafka error behind err
// ("The request included a message larger than the max message size the
// server will accept"), if there is one. It is the text of the protocol
// error code, never the broker's error message or an address, so it is safe
// to show a client.
func KafkaDescription(err error) (string, bool) {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Description, true
	}
	return "", false
}
