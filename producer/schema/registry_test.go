package schema

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	neturl "net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/caddy-kafka/caddy-kafka/internal/cutproxy"
	"github.com/caddy-kafka/caddy-kafka/internal/suite"
)

// registryURL is the registry the tests talk to: the real one in
// SCHEMA_REGISTRY_URL (Apicurio Registry in CI, started by
// .ci/registry/start.sh), else an in-process srfake registry over HTTP. A
// run that requires the registry suite fails without the real one.
func registryURL(t testing.TB) string {
	t.Helper()
	u, _ := registry(t)
	return u
}

// registry is registryURL, and the fake registry when the tests use one.
func registry(t testing.TB) (string, *srfake.Registry) {
	t.Helper()
	if u := os.Getenv("SCHEMA_REGISTRY_URL"); u != "" {
		return u, nil
	}
	if suite.Required("registry") {
		suite.Missing(t, "registry", "SCHEMA_REGISTRY_URL not set: the run requires the real registry")
	}
	reg := srfake.New()
	t.Cleanup(reg.Close)
	return reg.URL(), reg
}

func newRegistry(t testing.TB, url string, edit func(*Config)) *Registry {
	t.Helper()
	cfg := DefaultConfig()
	cfg.URLs = []string{url}
	if edit != nil {
		edit(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// topic is a fresh topic name: the registry outlives test runs.
func topic(t testing.TB) string {
	return fmt.Sprintf("t%d-%x", time.Now().UnixNano(), rand.Uint32())
}

// decodeAvro decodes a wire-format record with the schema the registry
// has for the record's id, through a client of its own.
func decodeAvro(t *testing.T, url string, b []byte) (int, any) {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	var h sr.ConfluentHeader
	id, payload, err := h.DecodeID(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cl.SchemaByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := goavro.NewCodec(s.Schema)
	if err != nil {
		t.Fatal(err)
	}
	native, rest, err := codec.NativeFromBinary(payload)
	if err != nil || len(rest) != 0 {
		t.Fatalf("decode: %v (%d bytes left)", err, len(rest))
	}
	return id, native
}

func TestRegistryInlineIDAndLatest(t *testing.T) {
	url := registryURL(t)
	r := newRegistry(t, url, nil)
	ctx := context.Background()
	tp := topic(t)
	data := []byte(`{"name":"ann","age":7,"email":{"string":"a@example.com"}}`)

	inline, err := r.Serialize(ctx, Ref{Topic: tp, Schema: avroUser, Format: Avro}, data)
	if err != nil {
		t.Fatal(err)
	}
	if inline.Subject != tp+"-value" || inline.Version != 1 || inline.ID <= 0 {
		t.Fatalf("inline: subject %q version %d id %d", inline.Subject, inline.Version, inline.ID)
	}
	id, native := decodeAvro(t, url, inline.Bytes)
	if id != inline.ID {
		t.Fatalf("record carries id %d, answer says %d", id, inline.ID)
	}
	want := map[string]any{"name": "ann", "age": int32(7), "email": map[string]any{"string": "a@example.com"}}
	if !reflect.DeepEqual(native, want) {
		t.Fatalf("decoded %#v", native)
	}

	byID, err := r.Serialize(ctx, Ref{Topic: tp, ID: inline.ID}, data)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := r.Serialize(ctx, Ref{Topic: tp}, data)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := r.Serialize(ctx, Ref{Subject: tp + "-value", Version: 1, Format: Avro}, data)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]Serialized{"by id": byID, "latest": latest, "version 1": v1} {
		if s.ID != inline.ID || s.Subject != tp+"-value" || s.Version != 1 || string(s.Bytes) != string(inline.Bytes) {
			t.Errorf("%s: id %d subject %q version %d, bytes equal %v", name, s.ID, s.Subject, s.Version, string(s.Bytes) == string(inline.Bytes))
		}
	}
	// A key schema registers under <topic>-key.
	key, err := r.Serialize(ctx, Ref{Topic: tp, Key: true, Schema: `"string"`, Format: Avro}, []byte(`"k1"`))
	if err != nil || key.Subject != tp+"-key" {
		t.Fatalf("key: %+v %v", key.Resolved, err)
	}
	if _, native := decodeAvro(t, url, key.Bytes); native != "k1" {
		t.Fatalf("key decoded %#v", native)
	}
	// v2's id-only path needs no version lookup.
	only, err := r.Resolve(ctx, Ref{ID: inline.ID, SkipVersion: true})
	if err != nil || only.Subject != "" || only.Version != 0 {
		t.Fatalf("skip version: %+v %v", only, err)
	}
}

func TestRegistryErrors(t *testing.T) {
	url := registryURL(t)
	ctx := context.Background()
	r := newRegistry(t, url, nil)
	tp := topic(t)
	first, err := r.Resolve(ctx, Ref{Topic: tp, Schema: avroUser, Format: Avro})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ref  Ref
		data string
		want Kind
	}{
		{"unknown id", Ref{ID: 1 << 30}, `{}`, KindUnknownID},
		{"unknown subject", Ref{Topic: topic(t)}, `{}`, KindUnknownSubject},
		{"unknown version", Ref{Topic: tp, Version: 99}, `{}`, KindUnknownVersion},
		{"id under another subject", Ref{Topic: topic(t), ID: first.ID}, `{}`, KindUnknownSubject},
		{"wrong type for id", Ref{ID: first.ID, Format: Protobuf}, `{}`, KindInvalidSchema},
		{"invalid inline", Ref{Topic: tp, Schema: `{"type":"recrd"}`, Format: Avro}, `{}`, KindInvalidSchema},
		{"inline without a type", Ref{Topic: tp, Schema: avroUser}, `{}`, KindInvalidSchema},
		{"record name without a schema", Ref{Topic: tp, Strategy: RecordName}, `{}`, KindInvalidSchema},
		{"data does not match", Ref{Topic: tp}, `{"name":1}`, KindBadData},
	}
	for _, c := range cases {
		_, err := r.Serialize(ctx, c.ref, []byte(c.data))
		if KindOf(err) != c.want {
			t.Errorf("%s: err %v (kind %v), want %v", c.name, err, KindOf(err), c.want)
		}
		var e *Error
		if errors.As(err, &e) && e.Kind == KindUnavailable {
			t.Errorf("%s: retriable", c.name)
		}
	}
}

func TestRegistryIncompatibleAndNoAutoRegister(t *testing.T) {
	url, fake := registry(t)
	ctx := context.Background()
	r := newRegistry(t, url, nil)
	tp := topic(t)
	subject := tp + "-value"
	if fake != nil {
		// srfake checks no compatibility: it answers the incompatible
		// schema below as a real registry does (Confluent's and
		// Apicurio's ccompat API: 409, error_code 409).
		fake.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if r.Method != http.MethodPost || !strings.Contains(string(body), `zip`) || strings.Contains(string(body), `default`) {
				return false
			}
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema for subject \"`+subject+`\""}`)
			return true
		})
	}
	if _, err := r.Resolve(ctx, Ref{Topic: tp, Schema: avroUser, Format: Avro}); err != nil {
		t.Fatal(err)
	}
	// Apicurio's global default is NONE (Confluent's is BACKWARD).
	res := r.Client().SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, subject)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	// A new required field without a default is not backward compatible.
	v2 := `{"type":"record","name":"User","namespace":"com.example","fields":[
		{"name":"name","type":"string"},{"name":"age","type":"int"},{"name":"zip","type":"string"}]}`
	_, err := r.Resolve(ctx, Ref{Topic: tp, Schema: v2, Format: Avro})
	if KindOf(err) != KindIncompatible {
		t.Fatalf("incompatible schema: err %v (kind %v)", err, KindOf(err))
	}
	compatible := `{"type":"record","name":"User","namespace":"com.example","fields":[
		{"name":"name","type":"string"},{"name":"age","type":"int"},{"name":"zip","type":"string","default":""}]}`
	got, err := r.Resolve(ctx, Ref{Topic: tp, Schema: compatible, Format: Avro})
	if err != nil || got.Version != 2 {
		t.Fatalf("compatible v2: %+v %v", got, err)
	}

	off := newRegistry(t, url, func(c *Config) { c.AutoRegister = false })
	_, err = off.Resolve(ctx, Ref{Topic: topic(t), Schema: avroUser, Format: Avro})
	if KindOf(err) != KindUnknownSubject {
		t.Fatalf("auto_register off, new subject: err %v (kind %v)", err, KindOf(err))
	}
	// Already registered: found without registering.
	if got, err := off.Resolve(ctx, Ref{Topic: tp, Schema: compatible, Format: Avro}); err != nil || got.Version != 2 {
		t.Fatalf("auto_register off, registered schema: %+v %v", got, err)
	}
}

func TestRegistryJSONSchemaAndProtobuf(t *testing.T) {
	url := registryURL(t)
	ctx := context.Background()
	r := newRegistry(t, url, nil)
	tp := topic(t)
	js, err := r.Serialize(ctx, Ref{Topic: tp, Schema: jsonUser, Format: JSONSchema}, []byte(`{"name":"ann", "age":7}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(js.Bytes[5:]) != `{"name":"ann","age":7}` {
		t.Fatalf("json payload %q", js.Bytes[5:])
	}
	pb, err := r.Serialize(ctx, Ref{Topic: tp, Key: true, Schema: protoUser, Format: Protobuf}, []byte(`{"name":"ann","age":7}`))
	if err != nil {
		t.Fatal(err)
	}
	// Read back through the registry: the id's schema is what was sent.
	for _, s := range []Serialized{js, pb} {
		fresh := newRegistry(t, url, nil)
		got, err := fresh.ByID(ctx, s.ID)
		if err != nil || got.Format != s.Format {
			t.Fatalf("id %d: %v %v", s.ID, got, err)
		}
		again, err := got.AppendEncode(nil, map[Format][]byte{JSONSchema: []byte(`{"name":"ann","age":7}`), Protobuf: []byte(`{"name":"ann","age":7}`)}[s.Format])
		if err != nil || string(again) != string(s.Bytes) {
			t.Fatalf("%s re-encoded through the registry's copy differs: %v", s.Format, err)
		}
	}
	// Subjects by record name.
	rn, err := r.Resolve(ctx, Ref{Topic: tp, Strategy: TopicRecordName, Schema: protoUser, Format: Protobuf})
	if err != nil || rn.Subject != tp+"-com.example.User" {
		t.Fatalf("TOPIC_RECORD_NAME: %+v %v", rn, err)
	}
}

func TestRegistryOutageKeepsKnownSchemas(t *testing.T) {
	url := registryURL(t)
	ctx := context.Background()
	direct := newRegistry(t, url, nil)
	tp, other := topic(t), topic(t)
	known, err := direct.Resolve(ctx, Ref{Topic: tp, Schema: avroUser, Format: Avro})
	if err != nil {
		t.Fatal(err)
	}
	unseen, err := direct.Resolve(ctx, Ref{Topic: other, Schema: `{"type":"record","name":"Z","fields":[{"name":"z","type":"long"}]}`, Format: Avro})
	if err != nil {
		t.Fatal(err)
	}

	host, err := registryHost(url)
	if err != nil {
		t.Fatal(err)
	}
	p := cutproxy.New(t, host)
	proxied := "http://" + p.Addr() + urlPath(url)
	// A TTL of 1ns: every lookup is due again at once, so the outage
	// meets refreshes and not only fresh cache entries.
	r := newRegistry(t, proxied, func(c *Config) { c.CacheTTL = time.Nanosecond; c.RequestTimeout = 2 * time.Second })
	data := []byte(`{"name":"ann","age":7,"email":null}`)
	refs := map[string]Ref{
		"by id":   {Topic: tp, ID: known.ID},
		"latest":  {Topic: tp},
		"version": {Topic: tp, Version: 1},
		"inline":  {Topic: tp, Schema: avroUser, Format: Avro},
	}
	before := map[string]Serialized{}
	for name, ref := range refs {
		s, err := r.Serialize(ctx, ref, data)
		if err != nil {
			t.Fatalf("%s before the outage: %v", name, err)
		}
		before[name] = s
	}

	p.Cut()
	for name, ref := range refs {
		s, err := r.Serialize(ctx, ref, data)
		if err != nil {
			t.Errorf("%s during the outage: %v", name, err)
			continue
		}
		if s.ID != before[name].ID || s.Version != before[name].Version || string(s.Bytes) != string(before[name].Bytes) {
			t.Errorf("%s during the outage: %+v, before %+v", name, s.Resolved, before[name].Resolved)
		}
	}
	for name, ref := range map[string]Ref{
		"new id":      {ID: unseen.ID, SkipVersion: true},
		"new subject": {Topic: other},
		"new inline":  {Topic: tp, Schema: `"string"`, Format: Avro},
	} {
		_, err := r.Serialize(ctx, ref, data)
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindUnavailable {
			t.Errorf("%s during the outage: err %v, want retriable unavailable", name, err)
		}
	}
}

func TestRegistryConcurrentFirstUse(t *testing.T) {
	url := registryURL(t)
	r := newRegistry(t, url, nil)
	tp := topic(t)
	var wg sync.WaitGroup
	ids := make([]int, 16)
	errs := make([]error, 16)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := r.Serialize(context.Background(), Ref{Topic: tp, Schema: avroUser, Format: Avro}, []byte(`{"name":"a","age":1,"email":null}`))
			ids[i], errs[i] = s.ID, err
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("caller %d: id %d err %v (caller 0: id %d)", i, ids[i], errs[i], ids[0])
		}
	}
	vs, err := r.Client().SubjectVersions(context.Background(), tp+"-value")
	if err != nil || len(vs) != 1 {
		t.Fatalf("versions %v %v, want one", vs, err)
	}
}

func registryHost(u string) (string, error) {
	p, err := neturl.Parse(u)
	if err != nil {
		return "", err
	}
	return p.Host, nil
}

func urlPath(u string) string {
	p, _ := neturl.Parse(u)
	return p.Path
}
