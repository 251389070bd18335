package schema

import (
	"context"
	"fmt"
	"strings"
)

// Strategy is a subject name strategy: how a record's subject follows from
// its topic and schema when the request names no subject.
type Strategy uint8

const (
	// TopicName is "<topic>-key" or "<topic>-value" (Confluent's default).
	TopicName Strategy = iota
	// RecordName is the schema's record name (see Schema.RecordName).
	RecordName
	// TopicRecordName is "<topic>-<record name>".
	TopicRecordName
)

// String is the strategy's name in Confluent REST Proxy v3.
func (st Strategy) String() string {
	switch st {
	case RecordName:
		return "RECORD_NAME"
	case TopicRecordName:
		return "TOPIC_RECORD_NAME"
	}
	return "TOPIC_NAME"
}

// ParseStrategy reads TOPIC_NAME, RECORD_NAME or TOPIC_RECORD_NAME.
func ParseStrategy(s string) (Strategy, error) {
	switch strings.ToUpper(s) {
	case "TOPIC_NAME":
		return TopicName, nil
	case "RECORD_NAME":
		return RecordName, nil
	case "TOPIC_RECORD_NAME":
		return TopicRecordName, nil
	}
	return TopicName, fmt.Errorf("unknown subject_name_strategy %q: want TOPIC_NAME, RECORD_NAME or TOPIC_RECORD_NAME", s)
}

// Subject is the subject for a record of topic (its key when key is true)
// with schema s; s may be nil for TopicName only.
func (st Strategy) Subject(topic string, key bool, s *Schema) (string, error) {
	if st == TopicName {
		if key {
			return topic + "-key", nil
		}
		return topic + "-value", nil
	}
	if s == nil {
		return "", errorf(KindInvalidSchema, "subject_name_strategy %s needs a schema id or an inline schema, or an explicit subject", st)
	}
	name := s.RecordName()
	if name == "" {
		return "", errorf(KindInvalidSchema, "subject_name_strategy %s needs a named schema (an Avro record, a Protobuf message, a JSON schema with a title)", st)
	}
	if st == TopicRecordName {
		return topic + "-" + name, nil
	}
	return name, nil
}

// Ref names the schema of a record's key or value, in one of three ways, in
// this order of precedence: by ID; by an inline Schema of a Format; or by a
// subject and Version (0 for the latest). Where a subject is needed and
// Subject is empty, Strategy derives it from Topic and Key.
type Ref struct {
	// Topic and Key are the record's topic and whether this is its key.
	Topic string
	Key   bool
	// Strategy derives the subject when Subject is empty.
	Strategy Strategy
	// Subject names the subject explicitly.
	Subject string
	// ID is a schema id.
	ID int
	// Version is a subject's version; 0 is the latest.
	Version int
	// Schema is an inline schema's text, registered under the subject when
	// it is not there yet and the registry's AutoRegister is on.
	Schema string
	// Format is the inline schema's type. With ID or a subject, a non-zero
	// Format is the type the request expects: a schema of another type is
	// refused (KindInvalidSchema).
	Format Format
	// SkipVersion, with ID, takes the schema by its id alone without
	// looking up its version under the subject (Confluent v2 answers with
	// ids only). Resolved.Subject and Version are then empty.
	SkipVersion bool
}

// Resolved is the schema a Ref named, with the subject and version it has
// there (when known: see Ref.SkipVersion).
type Resolved struct {
	*Schema
	Subject string
	Version int
}

// Resolve finds the schema ref names.
func (r *Registry) Resolve(ctx context.Context, ref Ref) (Resolved, error) {
	switch {
	case ref.ID != 0:
		s, err := r.ByID(ctx, ref.ID)
		if err != nil {
			return Resolved{}, err
		}
		if err := ref.checkFormat(s); err != nil {
			return Resolved{}, err
		}
		if ref.SkipVersion {
			return Resolved{Schema: s}, nil
		}
		subject, err := ref.subject(s)
		if err != nil {
			return Resolved{}, err
		}
		v, err := r.VersionOf(ctx, subject, s)
		if err != nil {
			return Resolved{}, err
		}
		return Resolved{Schema: s, Subject: subject, Version: v}, nil
	case ref.Schema != "":
		c, err := r.compile(ref.Format, ref.Schema)
		if err != nil {
			return Resolved{}, err
		}
		subject, err := ref.subject(c)
		if err != nil {
			return Resolved{}, err
		}
		s, v, err := r.Register(ctx, subject, c)
		if err != nil {
			return Resolved{}, err
		}
		return Resolved{Schema: s, Subject: subject, Version: v}, nil
	default:
		subject, err := ref.subject(nil)
		if err != nil {
			return Resolved{}, err
		}
		s, v, err := r.ByVersion(ctx, subject, ref.Version)
		if err != nil {
			return Resolved{}, err
		}
		if err := ref.checkFormat(s); err != nil {
			return Resolved{}, err
		}
		return Resolved{Schema: s, Subject: subject, Version: v}, nil
	}
}

func (ref Ref) subject(s *Schema) (string, error) {
	if ref.Subject != "" {
		return ref.Subject, nil
	}
	return ref.Strategy.Subject(ref.Topic, ref.Key, s)
}

func (ref Ref) checkFormat(s *Schema) error {
	if ref.Format != FormatNone && ref.Format != s.Format {
		return errorf(KindInvalidSchema, "schema %d is a %s schema, not %s", s.ID, s.Format, ref.Format)
	}
	return nil
}

// Serialized is a record in Confluent's wire format and the schema used.
type Serialized struct {
	Bytes []byte
	Resolved
}

// Serialize resolves ref and encodes data, the record in the schema's JSON
// form, in Confluent's wire format.
func (r *Registry) Serialize(ctx context.Context, ref Ref, data []byte) (Serialized, error) {
	res, err := r.Resolve(ctx, ref)
	if err != nil {
		return Serialized{}, err
	}
	b, err := res.AppendEncode(nil, data)
	if err != nil {
		return Serialized{}, err
	}
	return Serialized{Bytes: b, Resolved: res}, nil
}
