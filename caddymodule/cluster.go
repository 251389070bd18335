package caddymodule

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-kafka/caddy-kafka/producer"
	"github.com/caddy-kafka/caddy-kafka/producer/schema"
)

// Cluster is one Kafka cluster the gateway produces to. Every string field
// accepts {env.*} and {file.*} placeholders, expanded when the config is
// loaded so that secrets stay out of the adapted JSON.
type Cluster struct {
	// Seed brokers as host:port. An entry may hold several, separated by
	// commas (as {env.KAFKA_BROKERS} often does). The single value
	// "embedded" starts an in-process, in-memory kfake broker whose
	// auto-created topics have 3 partitions: for trying the gateway only,
	// nothing it stores is durable. Kafka bootstrap.servers.
	Brokers []string `json:"brokers,omitempty"`

	// Client ID sent to the brokers. Default: "caddy-kafka". Kafka client.id.
	ClientID string `json:"client_id,omitempty"`

	// SASL authentication to the brokers. Default: none.
	SASL *SASL `json:"sasl,omitempty"`

	// TLS to the brokers. Present and empty means TLS with the system's
	// roots. Default: plaintext. Kafka security.protocol SSL / SASL_SSL.
	TLS *TLS `json:"tls,omitempty"`

	// Acknowledgements a record needs before it is reported written: "all"
	// (every in-sync replica), "leader" or "none". Default: "all". Kafka acks.
	Acks string `json:"acks,omitempty"`

	// Idempotent producing, so that the client's own retries never write a
	// record twice. Requires acks "all". Default: true.
	// Kafka enable.idempotence.
	Idempotent *bool `json:"idempotent,omitempty"`

	// Batch compression: "none", "gzip", "snappy", "lz4" or "zstd".
	// Default: "snappy". Kafka compression.type.
	Compression string `json:"compression,omitempty"`

	// How long a partition's batch waits for more records before it is sent;
	// a request waits it out for its own records. With none, a batch goes
	// out as soon as its broker has no produce request in flight, and the
	// records of concurrent requests share the next one. Default: 0 (no
	// linger). Kafka linger.ms.
	Linger *caddy.Duration `json:"linger,omitempty"`

	// Most records buffered and not yet acknowledged, across all requests;
	// beyond it requests are refused as overloaded with Retry-After.
	// Default: 10000.
	MaxBufferedRecords int `json:"max_buffered_records,omitempty"`

	// Most bytes (keys, values, headers) buffered and not yet acknowledged;
	// beyond it requests are refused as overloaded. Default: 64MiB.
	// Kafka buffer.memory.
	MaxBufferedBytes int64 `json:"max_buffered_bytes,omitempty"`

	// Largest record batch sent to a broker, in bytes; a larger record is
	// refused as too large. Default: 1MiB. Kafka max.request.size.
	MaxMessageBytes int64 `json:"max_message_bytes,omitempty"`

	// Time limit of one produce request to a broker. Default: 10s.
	// Kafka request.timeout.ms.
	RequestTimeout caddy.Duration `json:"request_timeout,omitempty"`

	// Time limit for a record to be acknowledged, retries included; 0 for
	// none. Default: 30s. Kafka delivery.timeout.ms.
	DeliveryTimeout *caddy.Duration `json:"delivery_timeout,omitempty"`

	// Let producing to a missing topic create it with the broker's defaults.
	// Default: false. Kafka allow.auto.create.topics.
	AllowAutoTopicCreation bool `json:"allow_auto_topic_creation,omitempty"`

	// Confluent-compatible Schema Registry for Avro, JSON Schema and
	// Protobuf records. Default: none, and schema features are refused.
	SchemaRegistry *SchemaRegistry `json:"schema_registry,omitempty"`

	// Store-and-forward spool for routes with spool on (see spool.go).
	// Default: none.
	Spool *Spool `json:"spool,omitempty"`
}

// SchemaRegistry is a cluster's Confluent-compatible Schema Registry
// (Confluent's, Karapace, Apicurio Registry's ccompat API). One client per
// cluster is shared by every route and kept across reloads with the
// cluster's Kafka client.
type SchemaRegistry struct {
	// Base URLs of the registry's Confluent-compatible API, tried in
	// order (for Apicurio Registry, http://host:8080/apis/ccompat/v7).
	// Confluent schema.registry.url.
	URLs []string `json:"urls,omitempty"`
	// HTTP Basic credentials. Write them as {env.*} or {file.*}.
	// Confluent basic.auth.user.info.
	BasicAuth *BasicAuth `json:"basic_auth,omitempty"`
	// Bearer token. Write it as {env.*} or {file.*}.
	// Confluent bearer.auth.token.
	BearerToken string `json:"bearer_token,omitempty"`
	// TLS to the registry. Default: the system's roots for https URLs.
	TLS *TLS `json:"tls,omitempty"`
	// How long a subject or version lookup (the latest version, a version
	// number, an inline schema's id) is used before the registry is asked
	// again; schemas by id are cached for ever. While the registry is
	// unreachable, expired lookups keep being used. Default: 5m.
	// Confluent latest.cache.ttl.sec.
	CacheTTL *caddy.Duration `json:"cache_ttl,omitempty"`
	// Register inline schemas under their subject when it does not have
	// them. Default: true. Confluent auto.register.schemas.
	AutoRegister *bool `json:"auto_register,omitempty"`
}

// BasicAuth is an HTTP Basic user and password.
type BasicAuth struct {
	// Username. Write it as {env.*} or {file.*}.
	Username string `json:"username,omitempty"`
	// Password. Write it as {env.*} or {file.*}.
	Password string `json:"password,omitempty"`
}

// SASL is a SASL mechanism and its credentials.
type SASL struct {
	// Mechanism: "plain", "scram-sha-256", "scram-sha-512" or
	// "oauthbearer". Kafka sasl.mechanism.
	Mechanism string `json:"mechanism,omitempty"`
	// Username for plain and scram. Write it as {env.*} or {file.*}.
	Username string `json:"username,omitempty"`
	// Password for plain and scram. Write it as {env.*} or {file.*}.
	Password string `json:"password,omitempty"`
	// Token for oauthbearer. Write it as {env.*} or {file.*}.
	Token string `json:"token,omitempty"`
}

// TLS configures TLS to the brokers.
type TLS struct {
	// PEM files of the CAs to trust instead of the system's roots.
	CA []string `json:"ca,omitempty"`
	// PEM file of a client certificate, for mutual TLS; needs ClientKey.
	ClientCert string `json:"client_cert,omitempty"`
	// PEM file of the client certificate's private key. Write its path,
	// never the key itself.
	ClientKey string `json:"client_key,omitempty"`
	// Server name to verify the brokers' certificates against. Default: the
	// broker's host.
	ServerName string `json:"server_name,omitempty"`
	// Skip certificate verification. Insecure: for tests only.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
}

// expandList expands each entry of a list and splits it at commas: one
// entry, {env.KAFKA_BROKERS} say, may hold several.
func expandList(entries []string, expand func(string) string) []string {
	var out []string
	for _, e := range entries {
		for part := range strings.SplitSeq(expand(e), ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// expanded returns a copy of c with placeholders replaced and broker lists
// split, so that the pool key changes when an expanded value does.
func (c Cluster) expanded(repl *caddy.Replacer) (Cluster, error) {
	var errs []error
	expand := func(s string) string {
		out, err := repl.ReplaceOrErr(s, true, true)
		errs = append(errs, err)
		return out
	}
	c.Brokers = expandList(c.Brokers, expand)
	c.ClientID = repl.ReplaceKnown(c.ClientID, "")
	if c.SASL != nil {
		s := *c.SASL
		s.Username, s.Password, s.Token = expand(s.Username), expand(s.Password), expand(s.Token)
		c.SASL = &s
	}
	if c.TLS != nil {
		t := *c.TLS
		t.CA = append([]string(nil), t.CA...)
		for i := range t.CA {
			t.CA[i] = repl.ReplaceKnown(t.CA[i], "")
		}
		t.ClientCert, t.ClientKey = repl.ReplaceKnown(t.ClientCert, ""), repl.ReplaceKnown(t.ClientKey, "")
		c.TLS = &t
	}
	if c.SchemaRegistry != nil {
		r := *c.SchemaRegistry
		r.URLs = expandList(c.SchemaRegistry.URLs, expand)
		if r.BasicAuth != nil {
			r.BasicAuth = &BasicAuth{Username: expand(r.BasicAuth.Username), Password: expand(r.BasicAuth.Password)}
		}
		r.BearerToken = expand(r.BearerToken)
		if r.TLS != nil {
			t := *r.TLS
			t.CA = append([]string(nil), t.CA...)
			for i := range t.CA {
				t.CA[i] = repl.ReplaceKnown(t.CA[i], "")
			}
			t.ClientCert, t.ClientKey = repl.ReplaceKnown(t.ClientCert, ""), repl.ReplaceKnown(t.ClientKey, "")
			r.TLS = &t
		}
		c.SchemaRegistry = &r
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("expanding placeholders: %w", err)
	}
	return c, nil
}

// producerConfig translates an expanded cluster into the producer's config.
func (c Cluster) producerConfig() (producer.Config, error) {
	cfg := producer.DefaultConfig()
	if len(c.Brokers) == 1 && c.Brokers[0] == "embedded" {
		cfg.Embedded = true
	} else {
		cfg.Brokers = c.Brokers
	}
	if c.ClientID != "" {
		cfg.ClientID = c.ClientID
	}
	if c.SASL != nil {
		cfg.SASL = &producer.SASL{Mechanism: c.SASL.Mechanism, User: c.SASL.Username, Password: c.SASL.Password, Token: c.SASL.Token}
	}
	if c.TLS != nil {
		tc, err := c.TLS.config()
		if err != nil {
			return cfg, err
		}
		cfg.TLS = tc
	}
	if c.Acks != "" {
		cfg.Acks = c.Acks
	}
	if c.Idempotent != nil {
		cfg.Idempotent = *c.Idempotent
	}
	if c.Compression != "" {
		cfg.Compression = c.Compression
	}
	if c.Linger != nil {
		cfg.Linger = time.Duration(*c.Linger)
	}
	if c.MaxBufferedRecords != 0 {
		cfg.MaxBufferedRecords = c.MaxBufferedRecords
	}
	if c.MaxBufferedBytes != 0 {
		cfg.MaxBufferedBytes = c.MaxBufferedBytes
	}
	if c.MaxMessageBytes != 0 {
		if c.MaxMessageBytes > maxMessageBytes {
			return cfg, fmt.Errorf("max_message_bytes must be at most %s", producer.FormatBytes(maxMessageBytes))
		}
		cfg.MaxMessageBytes = int32(c.MaxMessageBytes)
	}
	if c.RequestTimeout != 0 {
		cfg.RequestTimeout = time.Duration(c.RequestTimeout)
	}
	if c.DeliveryTimeout != nil {
		cfg.DeliveryTimeout = time.Duration(*c.DeliveryTimeout)
	}
	cfg.AllowAutoTopicCreation = c.AllowAutoTopicCreation
	return cfg, cfg.Validate()
}

// registryConfig translates an expanded schema_registry into the schema
// package's config; ok is false when the cluster has none.
func (c Cluster) registryConfig() (cfg schema.Config, ok bool, err error) {
	r := c.SchemaRegistry
	if r == nil {
		return cfg, false, nil
	}
	cfg = schema.DefaultConfig()
	cfg.URLs = r.URLs
	if r.BasicAuth != nil {
		cfg.BasicAuth = &schema.BasicAuth{User: r.BasicAuth.Username, Password: r.BasicAuth.Password}
	}
	cfg.BearerToken = r.BearerToken
	if r.TLS != nil {
		if cfg.TLS, err = r.TLS.config(); err != nil {
			return cfg, true, fmt.Errorf("schema_registry: %w", err)
		}
	}
	if r.CacheTTL != nil {
		cfg.CacheTTL = time.Duration(*r.CacheTTL)
	}
	if r.AutoRegister != nil {
		cfg.AutoRegister = *r.AutoRegister
	}
	return cfg, true, cfg.Validate()
}

func (t *TLS) config() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // opt-in, documented as insecure
	}
	if len(t.CA) > 0 {
		pool := x509.NewCertPool()
		for _, f := range t.CA {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("reading tls ca: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("tls ca %s: no PEM certificate found", f)
			}
		}
		tc.RootCAs = pool
	}
	if t.ClientCert != "" || t.ClientKey != "" {
		cert, err := tls.LoadX509KeyPair(t.ClientCert, t.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("loading tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// maxMessageBytes is the largest max_message_bytes: franz-go's limit on a
// record batch (it is an int32 on the wire, and franz-go refuses more than
// 1GiB).
const maxMessageBytes = 1 << 30
