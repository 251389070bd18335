package producer

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config is a cluster's producer configuration in plain Go types. Start from
// DefaultConfig: its zero value is not a usable configuration.
type Config struct {
	// Brokers are the seed brokers, host:port. Ignored when Embedded.
	Brokers []string
	// Embedded starts an in-process, in-memory kfake cluster instead of
	// connecting to Brokers. Nothing it stores is durable.
	Embedded bool
	// ClientID is Kafka's client.id.
	ClientID string
	// SASL authenticates to the brokers; nil for none.
	SASL *SASL
	// TLS to the brokers; nil for plaintext.
	TLS *tls.Config
	// Acks is "all", "leader" or "none" (Kafka acks -1, 1, 0).
	Acks string
	// Idempotent enables the idempotent producer (Kafka enable.idempotence).
	// It requires Acks "all".
	Idempotent bool
	// Compression is "none", "gzip", "snappy", "lz4" or "zstd"
	// (Kafka compression.type).
	Compression string
	// Linger is how long a partition's batch waits for more records before
	// it is sent (Kafka linger.ms). Every request waits for its
	// acknowledgement, so a linger adds up to its length to a request's
	// latency. Default 0: a batch is sent as soon as its broker connection
	// has no produce request in flight, and the records of requests
	// arriving meanwhile share the next batch.
	Linger time.Duration
	// MaxBufferedRecords and MaxBufferedBytes bound what is buffered and
	// not yet acknowledged; beyond them producing fails with ErrOverloaded
	// instead of blocking (Kafka buffer.memory, for bytes).
	MaxBufferedRecords int
	MaxBufferedBytes   int64
	// MaxMessageBytes is the largest record batch sent to a broker (Kafka
	// max.request.size); a larger record fails with ClassTooLarge.
	MaxMessageBytes int32
	// RequestTimeout bounds one produce request to a broker
	// (Kafka request.timeout.ms).
	RequestTimeout time.Duration
	// DeliveryTimeout bounds how long Produce waits for an acknowledgement,
	// retries included (Kafka delivery.timeout.ms); 0 for no bound. It is
	// not franz-go's RecordDeliveryTimeout, which counts from the record's
	// own timestamp: a client-supplied timestamp older than the limit would
	// fail at once, together with every record batched with it.
	DeliveryTimeout time.Duration
	// AllowAutoTopicCreation lets producing create a missing topic
	// (Kafka allow.auto.create.topics).
	AllowAutoTopicCreation bool
}

// SASL is a SASL mechanism with its credentials.
type SASL struct {
	// Mechanism is "plain", "scram-sha-256", "scram-sha-512" or "oauthbearer".
	Mechanism string
	// User and Password for plain and scram.
	User, Password string
	// Token for oauthbearer.
	Token string
}

// DefaultConfig is the configuration the gateway uses where a cluster's
// settings are silent: Java's producer defaults except where the contract
// says otherwise (snappy, 30 s delivery timeout).
func DefaultConfig() Config {
	return Config{
		ClientID:           "caddy-kafka",
		Acks:               "all",
		Idempotent:         true,
		Compression:        "snappy",
		MaxBufferedRecords: 10000,
		MaxBufferedBytes:   64 << 20,
		MaxMessageBytes:    1 << 20,
		RequestTimeout:     10 * time.Second,
		DeliveryTimeout:    30 * time.Second,
	}
}

// Validate reports the first setting that is invalid or contradicts another.
func (c Config) Validate() error {
	if !c.Embedded && len(c.Brokers) == 0 {
		return errors.New("no brokers: set brokers, or brokers embedded for an in-memory test broker")
	}
	if _, err := c.acks(); err != nil {
		return err
	}
	if c.Idempotent && c.Acks != "all" {
		return fmt.Errorf("idempotent producing requires acks all, got acks %s (set idempotent off)", c.Acks)
	}
	if _, err := c.compression(); err != nil {
		return err
	}
	if _, err := c.SASL.mechanism(); err != nil {
		return err
	}
	switch {
	case c.Linger < 0:
		return errors.New("linger must not be negative")
	case c.MaxBufferedRecords <= 0:
		return errors.New("max_buffered_records must be positive")
	case c.MaxBufferedBytes <= 0:
		return errors.New("max_buffered_bytes must be positive")
	case c.MaxMessageBytes < 1024:
		return errors.New("max_message_bytes must be at least 1KiB")
	case c.RequestTimeout < 100*time.Millisecond:
		return errors.New("request_timeout must be at least 100ms")
	case c.DeliveryTimeout < 0:
		return errors.New("delivery_timeout must not be negative")
	case int64(c.MaxMessageBytes) > c.MaxBufferedBytes:
		return errors.New("max_message_bytes must not exceed max_buffered_bytes")
	}
	return nil
}

// opts translates the configuration into franz-go options.
func (c Config) opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	acks, _ := c.acks()
	codec, _ := c.compression()
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(c.Linger),
		kgo.RecordPartitioner(Partitioner()),
		// The client admits records against the same limits before
		// producing (see Client.admit), so these are only a backstop:
		// franz-go never blocks a request goroutine on a full buffer.
		kgo.MaxBufferedRecords(c.MaxBufferedRecords),
		kgo.MaxBufferedBytes(int(c.MaxBufferedBytes)),
		// franz-go's default (1,000,012) predates KAFKA-4203; Java's
		// max.request.size is 1 MiB, so a record Java accepts is accepted.
		kgo.ProducerBatchMaxBytes(c.MaxMessageBytes),
		kgo.ProduceRequestTimeout(c.RequestTimeout),
	}
	if !c.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if c.AllowAutoTopicCreation {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS))
	}
	if mech, _ := c.SASL.mechanism(); mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

func (c Config) acks() (kgo.Acks, error) {
	switch c.Acks {
	case "all":
		return kgo.AllISRAcks(), nil
	case "leader":
		return kgo.LeaderAck(), nil
	case "none":
		return kgo.NoAck(), nil
	}
	return kgo.Acks{}, fmt.Errorf("unknown acks %q: want all, leader or none", c.Acks)
}

func (c Config) compression() (kgo.CompressionCodec, error) {
	switch c.Compression {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unknown compression %q: want none, gzip, snappy, lz4 or zstd", c.Compression)
}

func (s *SASL) mechanism() (sasl.Mechanism, error) {
	if s == nil {
		return nil, nil
	}
	switch s.Mechanism {
	case "plain":
		return plain.Auth{User: s.User, Pass: s.Password}.AsMechanism(), nil
	case "scram-sha-256":
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism(), nil
	case "scram-sha-512":
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism(), nil
	case "oauthbearer":
		return oauth.Auth{Token: s.Token}.AsMechanism(), nil
	}
	return nil, fmt.Errorf("unknown sasl mechanism %q: want plain, scram-sha-256, scram-sha-512 or oauthbearer", s.Mechanism)
}
