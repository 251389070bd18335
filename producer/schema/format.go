package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/bufbuild/protocompile"
	"github.com/linkedin/goavro/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Format is a schema type.
type Format uint8

const (
	// FormatNone is no format: a Ref without one takes the schema's own.
	FormatNone Format = iota
	// Avro schemas; records are given in Avro's JSON encoding.
	Avro
	// JSONSchema schemas; records are JSON and written as JSON text.
	JSONSchema
	// Protobuf schemas (.proto source); records are given in Protobuf's
	// JSON mapping and written as Protobuf binary.
	Protobuf
)

// String is the format's name in Confluent REST Proxy v3's record types.
func (f Format) String() string {
	switch f {
	case Avro:
		return "AVRO"
	case JSONSchema:
		return "JSONSCHEMA"
	case Protobuf:
		return "PROTOBUF"
	}
	return "NONE"
}

// ParseFormat reads a format name: AVRO, JSONSCHEMA (or the registry's JSON)
// or PROTOBUF, in any case.
func ParseFormat(s string) (Format, error) {
	switch strings.ToUpper(s) {
	case "AVRO":
		return Avro, nil
	case "JSONSCHEMA", "JSON":
		return JSONSchema, nil
	case "PROTOBUF":
		return Protobuf, nil
	}
	return FormatNone, fmt.Errorf("unknown schema type %q: want AVRO, JSONSCHEMA or PROTOBUF", s)
}

func (f Format) srType() sr.SchemaType {
	switch f {
	case JSONSchema:
		return sr.TypeJSON
	case Protobuf:
		return sr.TypeProtobuf
	}
	return sr.TypeAvro
}

func formatOf(t sr.SchemaType) Format {
	switch t {
	case sr.TypeJSON:
		return JSONSchema
	case sr.TypeProtobuf:
		return Protobuf
	}
	return Avro
}

// Schema is a compiled schema. It is immutable and safe for concurrent use.
type Schema struct {
	// ID is the registry's id; 0 for a schema compiled with Compile.
	ID int
	// Format is the schema's type.
	Format Format
	// Text is the schema as the registry stores it.
	Text string

	name  string
	avro  *goavro.Codec
	json  *jsonschema.Schema
	proto protoreflect.MessageDescriptor
}

// maxSchemaLen bounds a schema's text, inline or from the registry, so that a
// hostile inline schema cannot make the gateway compile megabytes.
const maxSchemaLen = 1 << 20

// Compile compiles a schema's text without a registry (the returned Schema
// has ID 0). A schema that does not compile is a KindInvalidSchema error.
func Compile(f Format, text string) (*Schema, error) {
	if len(text) > maxSchemaLen {
		return nil, errorf(KindInvalidSchema, "invalid %s schema: longer than %d bytes", f, maxSchemaLen)
	}
	if !utf8.ValidString(text) {
		return nil, errorf(KindInvalidSchema, "invalid %s schema: not valid UTF-8", f)
	}
	s := &Schema{Format: f, Text: text}
	var compile func() error
	switch f {
	case Avro:
		compile = s.compileAvro
	case JSONSchema:
		compile = s.compileJSON
	case Protobuf:
		compile = s.compileProto
	default:
		return nil, errorf(KindInvalidSchema, "no schema type given: want AVRO, JSONSCHEMA or PROTOBUF")
	}
	if err := guard(compile); err != nil {
		return nil, &Error{Kind: KindInvalidSchema, Msg: fmt.Sprintf("invalid %s schema: %s", f, oneLine(err.Error())), Cause: err}
	}
	return s, nil
}

// RecordName is the name RECORD_NAME and TOPIC_RECORD_NAME subject name
// strategies use: an Avro schema's full name, the first Protobuf message's
// full name, a JSON schema's title. It is empty when the schema has none.
func (s *Schema) RecordName() string { return s.name }

func (s *Schema) compileAvro() error {
	codec, err := goavro.NewCodec(s.Text)
	if err != nil {
		return err
	}
	s.avro = codec
	// goavro does not expose the top-level name; read it as Avro's
	// Schema.getFullName does: a named type's namespace-qualified name,
	// else the primitive's name.
	var top struct {
		Type      any    `json:"type"`
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	}
	var prim string
	switch {
	case json.Unmarshal([]byte(s.Text), &prim) == nil:
		s.name = prim
	case json.Unmarshal([]byte(s.Text), &top) == nil && top.Name != "":
		s.name = top.Name
		if !strings.Contains(top.Name, ".") && top.Namespace != "" {
			s.name = top.Namespace + "." + top.Name
		}
	case json.Unmarshal([]byte(s.Text), &top) == nil:
		if t, ok := top.Type.(string); ok {
			s.name = t
		}
	}
	return nil
}

// refuseLoads keeps a JSON schema's $ref from reading files or URLs: only
// the schema itself and the drafts' meta-schemas (built in) resolve.
type refuseLoads struct{}

func (refuseLoads) Load(url string) (any, error) {
	return nil, fmt.Errorf("$ref %q: schemas that reference others are not supported", url)
}

// A hierarchical URL, so that a relative $ref resolves to another URL (which
// refuseLoads refuses) rather than back to the schema itself.
const jsonSchemaURL = "mem:///schema.json"

var printer = message.NewPrinter(language.English)

func (s *Schema) compileJSON() error {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s.Text))
	if err != nil {
		return err
	}
	c := jsonschema.NewCompiler()
	// Confluent's JSON Schema support reads a schema without $schema as
	// draft 7; so does this.
	c.DefaultDraft(jsonschema.Draft7)
	c.UseLoader(refuseLoads{})
	if err := c.AddResource(jsonSchemaURL, doc); err != nil {
		return err
	}
	sch, err := c.Compile(jsonSchemaURL)
	if err != nil {
		return err
	}
	s.json = sch
	if m, ok := doc.(map[string]any); ok {
		s.name, _ = m["title"].(string)
	}
	return nil
}

const protoFileName = "schema.proto"

func (s *Schema) compileProto() error {
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(map[string]string{protoFileName: s.Text}),
		}),
	}
	files, err := c.Compile(context.Background(), protoFileName)
	if err != nil {
		return err
	}
	msgs := files[0].Messages()
	if msgs.Len() == 0 {
		return errors.New("the file declares no message")
	}
	// Confluent's serializer writes the file's first message, whose
	// message-index array is [0].
	s.proto = msgs.Get(0)
	s.name = string(s.proto.FullName())
	return nil
}

// AppendEncode appends data, the record in the schema's JSON form (Avro's
// JSON encoding, a JSON document, Protobuf's JSON mapping), to dst in
// Confluent's wire format, and returns the extended slice. A record that does
// not match is a KindBadData error naming the first problem; dst is then
// returned unchanged.
func (s *Schema) AppendEncode(dst, data []byte) ([]byte, error) {
	start := len(dst)
	var index []int
	if s.Format == Protobuf {
		index = []int{0}
	}
	dst, _ = (*sr.ConfluentHeader)(nil).AppendEncode(dst, s.ID, index)
	out, err := s.appendPayload(dst, data)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

// guard turns a library's panic into an error. Inline schemas and records
// are client input, and goavro v2.15.0 panics on some schemas (a record field
// whose union default names the record itself: see the FuzzCompile corpus);
// one request must not take the others down with it.
func guard(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the schema library failed on it: %v", p)
		}
	}()
	return fn()
}

func (s *Schema) appendPayload(dst, data []byte) (out []byte, err error) {
	err = guard(func() error {
		out, err = s.appendPayloadUnguarded(dst, data)
		return err
	})
	if err != nil && KindOf(err) == KindRegistry { // a panic, not a classified error
		err = s.badData(err)
	}
	return out, err
}

func (s *Schema) appendPayloadUnguarded(dst, data []byte) ([]byte, error) {
	switch s.Format {
	case Avro:
		native, rest, err := s.avro.NativeFromTextual(data)
		if err != nil {
			return nil, s.badData(err)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, s.badData(errors.New("data after the record"))
		}
		out, err := s.avro.BinaryFromNative(dst, native)
		if err != nil {
			return nil, s.badData(err)
		}
		return out, nil
	case JSONSchema:
		if err := s.validateJSON(data); err != nil {
			return nil, err
		}
		// Compacted, as Confluent's serializer writes its JsonNode.
		b := bytes.NewBuffer(dst)
		if err := json.Compact(b, data); err != nil {
			return nil, s.badData(err)
		}
		return b.Bytes(), nil
	case Protobuf:
		m := dynamicpb.NewMessage(s.proto)
		if err := protojson.Unmarshal(data, m); err != nil {
			return nil, s.badData(err)
		}
		out, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(dst, m)
		if err != nil {
			return nil, s.badData(err)
		}
		return out, nil
	}
	return nil, errorf(KindInvalidSchema, "no schema type")
}

// Validate checks a record as a client sent it, without re-encoding it: for
// Avro either Avro binary (binary true) or Avro's JSON encoding, for JSON
// Schema a JSON document, for Protobuf binary or its JSON mapping.
func (s *Schema) Validate(data []byte, binary bool) error {
	err := guard(func() error { return s.validate(data, binary) })
	if err != nil && KindOf(err) == KindRegistry {
		err = s.badData(err)
	}
	return err
}

func (s *Schema) validate(data []byte, binary bool) error {
	switch s.Format {
	case Avro:
		var rest []byte
		var err error
		if binary {
			_, rest, err = s.avro.NativeFromBinary(data)
		} else {
			_, rest, err = s.avro.NativeFromTextual(data)
			rest = bytes.TrimSpace(rest)
		}
		if err == nil && len(rest) != 0 {
			err = errors.New("data after the record")
		}
		if err != nil {
			return s.badData(err)
		}
		return nil
	case JSONSchema:
		return s.validateJSON(data)
	case Protobuf:
		m := dynamicpb.NewMessage(s.proto)
		var err error
		if binary {
			err = proto.Unmarshal(data, m)
		} else {
			err = protojson.Unmarshal(data, m)
		}
		if err != nil {
			return s.badData(err)
		}
		return nil
	}
	return errorf(KindInvalidSchema, "no schema type")
}

func (s *Schema) validateJSON(data []byte) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber() // what jsonschema.UnmarshalJSON does, keeping big numbers exact
	var v any
	if err := d.Decode(&v); err != nil {
		return s.badData(err)
	}
	if _, err := d.Token(); err != io.EOF {
		return s.badData(errors.New("data after the JSON document"))
	}
	if err := s.json.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return s.badData(errors.New(firstViolation(ve)))
		}
		return s.badData(err)
	}
	return nil
}

// firstViolation is the deepest first cause: the one a person fixes first,
// without jsonschema's tree of every branch that failed.
func firstViolation(ve *jsonschema.ValidationError) string {
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	loc := "/" + strings.Join(ve.InstanceLocation, "/")
	return fmt.Sprintf("at %s: %s", loc, ve.ErrorKind.LocalizedString(printer))
}

func (s *Schema) badData(err error) error {
	what := "the schema"
	if s.ID != 0 {
		what = fmt.Sprintf("schema %d", s.ID)
	}
	return &Error{Kind: KindBadData, Msg: fmt.Sprintf("data does not match %s (%s): %s", what, s.Format, oneLine(err.Error())), Cause: err}
}

// oneLine keeps a library's multi-line message fit for a JSON error field.
// protobuf's errors put a no-break space, chosen per binary, where a space
// goes (so that nobody matches their text); clients get the same message from
// every build.
func oneLine(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\u00a0", " "))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
