// Package schema serializes JSON records into Confluent's wire format through
// a Confluent-compatible Schema Registry (Confluent's, Karapace, Apicurio's
// ccompat API): a magic byte 0, the 4-byte big-endian schema id, then Avro
// binary, JSON text (JSON Schema) or the Protobuf message indexes and binary.
//
// One Registry serves one cluster. It caches schemas by id for ever (an id's
// schema never changes), and subject and version lookups for Config.CacheTTL;
// when a lookup is due again and the registry cannot be reached, the cached
// answer keeps being used, so a registry outage does not stop records whose
// schemas are already known. Formats are done by libraries: goavro (Avro's
// JSON encoding, with {"type": value} union wrappers), santhosh-tekuri's
// jsonschema, protocompile with dynamicpb and protojson. It has no Caddy
// imports; only this package and its parent use franz-go.
package schema

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config is one cluster's schema registry configuration. Start from
// DefaultConfig.
type Config struct {
	// URLs are the registry's Confluent-compatible API base URLs (for
	// Apicurio Registry, http://host:8080/apis/ccompat/v7), tried in order.
	URLs []string
	// BasicAuth, when not nil, authenticates with HTTP Basic.
	BasicAuth *BasicAuth
	// BearerToken, when not empty, is sent as "Authorization: Bearer".
	// At most one of BasicAuth and BearerToken.
	BearerToken string
	// TLS to the registry; nil for the system's defaults.
	TLS *tls.Config
	// CacheTTL is how long a subject or version lookup (latest version,
	// version number, an inline schema's id) is used before the registry
	// is asked again. Default 5m. Schemas by id are cached for ever.
	CacheTTL time.Duration
	// AutoRegister registers an inline schema under its subject when the
	// subject does not have it yet (Confluent's auto.register.schemas).
	// Default true. When false, an inline schema must already be registered.
	AutoRegister bool
	// RequestTimeout bounds one request to the registry. Default 5s.
	RequestTimeout time.Duration
	// MaxInline bounds how many distinct inline schemas are remembered,
	// so that clients sending ever new schemas cannot grow memory without
	// bound. Default 1024.
	MaxInline int
}

// BasicAuth is an HTTP Basic user and password.
type BasicAuth struct {
	User, Password string
}

// DefaultConfig is the configuration where a cluster's schema_registry block
// is silent.
func DefaultConfig() Config {
	return Config{
		CacheTTL:       5 * time.Minute,
		AutoRegister:   true,
		RequestTimeout: 5 * time.Second,
		MaxInline:      1024,
	}
}

// Validate reports the first setting that is invalid.
func (c Config) Validate() error {
	if len(c.URLs) == 0 {
		return errors.New("schema_registry needs at least one URL")
	}
	for _, u := range c.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("schema_registry URL %q is not an http or https URL", u)
		}
		if p.User != nil {
			return fmt.Errorf("schema_registry URL %q carries credentials: use basic_auth instead", p.Redacted())
		}
	}
	switch {
	case c.BasicAuth != nil && c.BearerToken != "":
		return errors.New("schema_registry takes basic_auth or bearer_token, not both")
	case c.BasicAuth != nil && c.BasicAuth.User == "":
		return errors.New("schema_registry basic_auth needs a user")
	case c.CacheTTL < 0:
		return errors.New("schema_registry cache_ttl must not be negative")
	case c.RequestTimeout <= 0:
		return errors.New("schema_registry request timeout must be positive")
	case c.MaxInline <= 0:
		return errors.New("schema_registry max inline schemas must be positive")
	}
	return nil
}
