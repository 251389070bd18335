package gatewaytest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/caddy-kafka/caddy-kafka/internal/suite"
)

// RegistryURL is the schema registry the schema tests use: the real one in
// SCHEMA_REGISTRY_URL (Apicurio Registry in CI, from .ci/registry/start.sh),
// else an in-process franz-go srfake registry, spoken to over HTTP, that
// lives as long as t. A run that requires the registry suite
// (CADDY_KAFKA_REQUIRE=registry) fails without SCHEMA_REGISTRY_URL rather
// than quietly testing against the fake.
func RegistryURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("SCHEMA_REGISTRY_URL"); u != "" {
		return u
	}
	if suite.Required("registry") {
		suite.Missing(t, "registry", "SCHEMA_REGISTRY_URL not set: the run requires the real registry")
	}
	reg := srfake.New()
	t.Cleanup(reg.Close)
	return reg.URL()
}

// Unique is a name no earlier run used: the registry outlives test runs.
func Unique(base string) string { return fmt.Sprintf("%s-%x", base, time.Now().UnixNano()) }

// Wire is a record decoded from Confluent's wire format with the schema the
// registry has for its id.
type Wire struct {
	ID     int
	Type   string // AVRO, JSON or PROTOBUF
	Schema string
	// JSON is the record in the schema's JSON form: Avro's JSON encoding,
	// the JSON document, Protobuf's JSON mapping.
	JSON string
}

// DecodeWire decodes b, asking the registry at url for the schema of the id
// b carries, through a client of its own, with the format libraries directly.
func DecodeWire(t testing.TB, url string, b []byte) Wire {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	var h sr.ConfluentHeader
	id, payload, err := h.DecodeID(b)
	if err != nil {
		t.Fatalf("not in Confluent's wire format: %v (% x)", err, b)
	}
	s, err := cl.SchemaByID(context.Background(), id)
	if err != nil {
		t.Fatalf("schema %d: %v", id, err)
	}
	w := Wire{ID: id, Type: s.Type.String(), Schema: s.Schema}
	switch s.Type {
	case sr.TypeAvro:
		codec, err := goavro.NewCodec(s.Schema)
		if err != nil {
			t.Fatal(err)
		}
		native, rest, err := codec.NativeFromBinary(payload)
		if err != nil || len(rest) != 0 {
			t.Fatalf("avro decode: %v (%d bytes left)", err, len(rest))
		}
		js, err := codec.TextualFromNative(nil, native)
		if err != nil {
			t.Fatal(err)
		}
		w.JSON = string(js)
	case sr.TypeJSON:
		if !json.Valid(payload) {
			t.Fatalf("JSON Schema payload is not JSON: %q", payload)
		}
		w.JSON = string(payload)
	case sr.TypeProtobuf:
		index, rest, err := h.DecodeIndex(payload, 8)
		if err != nil {
			t.Fatal(err)
		}
		c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(map[string]string{"s.proto": s.Schema})})}
		files, err := c.Compile(context.Background(), "s.proto")
		if err != nil {
			t.Fatal(err)
		}
		if len(index) != 1 {
			t.Fatalf("message index %v: only top-level messages are expected", index)
		}
		m := dynamicpb.NewMessage(files[0].Messages().Get(index[0]))
		if err := proto.Unmarshal(rest, m); err != nil {
			t.Fatal(err)
		}
		js, err := protojson.MarshalOptions{}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		// protojson adds random spaces; compact for comparisons.
		var v any
		_ = json.Unmarshal(js, &v)
		js, _ = json.Marshal(v)
		w.JSON = string(js)
	}
	return w
}

// CompactJSON is s re-marshaled with sorted keys, for comparing JSON texts.
func CompactJSON(t testing.TB, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Register registers s under subject in the registry at url and returns its
// id.
func Register(t testing.TB, url, subject string, s sr.Schema) int {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.CreateSchema(context.Background(), subject, s)
	if err != nil {
		t.Fatalf("registering %s: %v", subject, err)
	}
	return ss.ID
}
