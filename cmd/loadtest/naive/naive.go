// Package naive is the load harness's naive Kafka handler: read the body,
// produce it with one franz-go ProduceSync, answer. It is the floor the
// gateway must beat (issue 17), kept in the harness and never in the plugin:
// it has no policy, no shedding, no per-record errors, and its franz-go
// client is its own.
//
//	loadtest_naive {
//		brokers 127.0.0.1:9092
//		topic t
//		split lines   # optional: one record per line, all in one ProduceSync
//	}
package naive

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/twmb/franz-go/pkg/kgo"
)

func init() {
	caddy.RegisterModule(Handler{})
	httpcaddyfile.RegisterHandlerDirective("loadtest_naive", parse)
	httpcaddyfile.RegisterDirectiveOrder("loadtest_naive", httpcaddyfile.Before, "respond")
}

// Handler produces each request's body as one record (or one per line) and
// answers with where Kafka stored it.
type Handler struct {
	// Brokers are the seed brokers.
	Brokers []string `json:"brokers,omitempty"`
	// Topic every record goes to.
	Topic string `json:"topic,omitempty"`
	// SplitLines makes every non-empty line of the body a record.
	SplitLines bool `json:"split_lines,omitempty"`

	kc *kgo.Client
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.loadtest_naive", New: func() caddy.Module { return new(Handler) }}
}

// Provision creates the franz-go client with the gateway's default producer
// settings (acks all, idempotent, snappy, 10,000 records); ProduceSync
// un-lingers what it produced, so the 5ms linger never delays it.
func (h *Handler) Provision(caddy.Context) error {
	kc, err := kgo.NewClient(
		kgo.SeedBrokers(h.Brokers...),
		kgo.ClientID("loadtest-naive"),
		kgo.DefaultProduceTopic(h.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.SnappyCompression()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(10000),
		kgo.ProducerBatchMaxBytes(1<<20),
	)
	if err != nil {
		return fmt.Errorf("naive: %w", err)
	}
	h.kc = kc
	return nil
}

// Cleanup closes the client.
func (h *Handler) Cleanup() error {
	if h.kc != nil {
		h.kc.Close()
	}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return caddyhttp.Error(http.StatusBadRequest, err)
	}
	var recs []*kgo.Record
	if h.SplitLines {
		for line := range bytes.Lines(body) {
			if line = bytes.TrimRight(line, "\r\n"); len(line) > 0 {
				recs = append(recs, &kgo.Record{Value: line})
			}
		}
	} else {
		recs = []*kgo.Record{{Value: body}}
	}
	if err := h.kc.ProduceSync(r.Context(), recs...).FirstErr(); err != nil {
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	var b []byte
	if h.SplitLines {
		b = append(b, '[')
	}
	for i, rec := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"topic":`...)
		b = strconv.AppendQuote(b, rec.Topic)
		b = append(b, `,"partition":`...)
		b = strconv.AppendInt(b, int64(rec.Partition), 10)
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, rec.Offset, 10)
		b = append(b, '}')
	}
	if h.SplitLines {
		b = append(b, ']')
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}

// parse reads the loadtest_naive block.
func parse(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	n := new(Handler)
	d := h.Dispenser
	d.Next()
	for d.NextBlock(0) {
		switch d.Val() {
		case "brokers":
			n.Brokers = d.RemainingArgs()
		case "topic":
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			n.Topic = d.Val()
		case "split":
			if !d.NextArg() || d.Val() != "lines" {
				return nil, d.Err("want split lines")
			}
			n.SplitLines = true
		default:
			return nil, d.Errf("unknown option %q", d.Val())
		}
	}
	if len(n.Brokers) == 0 || n.Topic == "" {
		return nil, d.Err("loadtest_naive needs brokers and topic")
	}
	return n, nil
}

var (
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
)
