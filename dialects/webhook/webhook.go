// Package webhook is the webhook dialect: the request body becomes a record's
// value as is, for edge ingestion of webhooks, beacons and NDJSON logs. The
// topic, key and headers come from templates with Caddy placeholders.
//
// Choices where the contract is silent:
//   - Only POST and PUT are served; other methods get 405 with Allow.
//   - An empty body is a record with an empty value (a beacon may carry all
//     its data in the URL); with split lines, a body without a non-empty line
//     is a 400.
//   - A key template that expands to "" gives a null key, not an empty one,
//     so keyless requests spread over partitions as Java spreads null keys.
//     A header template that expands to "" leaves the header out.
//   - With split lines, a trailing "\r" is trimmed from each line, so CRLF
//     input gives the same records as LF input.
//   - The request is validated whole before anything is produced. If Kafka
//     then fails some records, the answer is the first failure's error: a
//     2xx always means every record was written.
//   - timestamp in answers is epoch milliseconds, as in Upstash's answers.
package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/internal/jsonfast"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

func init() {
	caddy.RegisterModule(Webhook{})
}

// Webhook turns a POST or PUT body into a record, or into one record per line.
type Webhook struct {
	// Topic of the records. Required. Placeholders are expanded per request,
	// e.g. "events.{http.request.uri.path.1}".
	Topic string `json:"topic,omitempty"`

	// Key of the records, with placeholders, e.g.
	// "{http.request.header.X-Device-Id}". Default: null key.
	Key string `json:"key,omitempty"`

	// Record headers: name to value template, with placeholders.
	Headers map[string]string `json:"headers,omitempty"`

	// Split the body into records: "lines" makes one record per non-empty
	// line (NDJSON). Default: the whole body is one record.
	Split string `json:"split,omitempty"`

	headerNames []string // sorted, so records carry headers in a stable order
}

// CaddyModule returns the Caddy module information.
func (Webhook) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.kafka_rest.dialects.webhook",
		New: func() caddy.Module { return new(Webhook) },
	}
}

// Provision orders the headers.
func (wh *Webhook) Provision(caddy.Context) error {
	wh.headerNames = make([]string, 0, len(wh.Headers))
	for name := range wh.Headers {
		wh.headerNames = append(wh.headerNames, name)
	}
	sort.Strings(wh.headerNames)
	return nil
}

// Validate checks the templates.
func (wh *Webhook) Validate() error {
	if wh.Topic == "" {
		return errors.New("topic is required")
	}
	if wh.Split != "" && wh.Split != "lines" {
		return fmt.Errorf("unknown split %q: want lines", wh.Split)
	}
	return nil
}

// Decode reads the body into one record, or one per line.
func (wh *Webhook) Decode(r *http.Request, lim dialects.Route) (*dialects.Request, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return nil, &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusMethodNotAllowed, Message: "method not allowed: use POST or PUT"}
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		repl = caddy.NewReplacer()
	}
	topic := repl.ReplaceAll(wh.Topic, "")
	if topic == "" {
		return nil, dialects.Errorf(producer.ClassBadRequest, "the topic template gave an empty topic")
	}
	var key []byte
	if k := repl.ReplaceAll(wh.Key, ""); k != "" {
		key = []byte(k)
	}
	var headers []producer.Header
	for _, name := range wh.headerNames {
		if v := repl.ReplaceAll(wh.Headers[name], ""); v != "" {
			headers = append(headers, producer.Header{Key: name, Value: []byte(v)})
		}
	}
	record := producer.Message{Topic: topic, Partition: -1, Key: key, Headers: headers}

	if wh.Split != "lines" {
		body, err := dialects.ReadBody(r)
		if err != nil {
			return nil, err
		}
		record.Value = body
		return &dialects.Request{Records: []producer.Message{record}}, nil
	}
	records, err := splitLines(r, record, lim)
	if err != nil {
		return nil, err
	}
	return &dialects.Request{Records: records, State: true}, nil
}

// splitLines makes one record per non-empty line, all sharing the template
// record's topic, key and headers. It stops reading past lim.MaxRecords.
func splitLines(r *http.Request, template producer.Message, lim dialects.Route) ([]producer.Message, error) {
	data, err := dialects.ReadBody(r)
	if err != nil {
		return nil, err
	}
	records := make([]producer.Message, 0, min(bytes.Count(data, []byte{'\n'})+1, lim.MaxRecords))
	for rest := data; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if len(records) == lim.MaxRecords {
			return nil, &dialects.Error{Class: producer.ClassTooLarge,
				Message: fmt.Sprintf("%s (limit %d)", dialects.ErrTooManyRecords.Message, lim.MaxRecords), Err: dialects.ErrTooManyRecords}
		}
		rec := template
		// A slice of data, which lives as long as the records (not of a
		// reader's buffer, which reading on would overwrite).
		rec.Value = line[:len(line):len(line)]
		records = append(records, rec)
	}
	if len(records) == 0 {
		return nil, dialects.Errorf(producer.ClassBadRequest, "no records: the body has no non-empty line")
	}
	return records, nil
}

// Encode answers with the records' metadata: an object, or an array with
// split lines. Any failed record makes the answer that record's error.
func (wh *Webhook) Encode(w http.ResponseWriter, r *http.Request, req *dialects.Request, results []producer.Result) error {
	for _, res := range results {
		if res.Err != nil {
			wh.WriteError(w, r, res.Err)
			return nil
		}
	}
	// Written by hand: this runs once per record of every request.
	var buf []byte
	if req.State == nil {
		buf = appendMetadata(make([]byte, 0, 96), req.Records[0].Topic, results[0])
	} else {
		buf = make([]byte, 0, 16+len(results)*(80+len(req.Records[0].Topic)))
		buf = append(buf, '[')
		for i, res := range results {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendMetadata(buf, req.Records[i].Topic, res)
		}
		buf = append(buf, ']')
	}
	return dialects.WriteBody(w, http.StatusOK, "application/json", buf)
}

// appendMetadata appends {"topic","partition","offset","timestamp"}.
func appendMetadata(buf []byte, topic string, res producer.Result) []byte {
	buf = append(buf, `{"topic":`...)
	buf = jsonfast.AppendString(buf, topic)
	buf = append(buf, `,"partition":`...)
	buf = strconv.AppendInt(buf, int64(res.Partition), 10)
	buf = append(buf, `,"offset":`...)
	buf = strconv.AppendInt(buf, res.Offset, 10)
	buf = append(buf, `,"timestamp":`...)
	buf = strconv.AppendInt(buf, res.Timestamp.UnixMilli(), 10)
	return append(buf, '}')
}

// WriteError writes {"error": "...", "status": N}.
func (wh *Webhook) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *dialects.Error
	if errors.As(err, &e) && e.Status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "POST, PUT")
	}
	dialects.WriteSimpleError(w, err)
}

// UnmarshalCaddyfileOption parses the webhook's options:
//
//	topic <template>
//	key <template>
//	header <name> <template>
//	split lines
func (wh *Webhook) UnmarshalCaddyfileOption(d *caddyfile.Dispenser) error {
	switch d.Val() {
	case "topic":
		if !d.AllArgs(&wh.Topic) {
			return d.ArgErr()
		}
	case "key":
		if !d.AllArgs(&wh.Key) {
			return d.ArgErr()
		}
	case "header":
		var name, tmpl string
		if !d.AllArgs(&name, &tmpl) {
			return d.Err("header takes a name and a value template")
		}
		if wh.Headers == nil {
			wh.Headers = make(map[string]string)
		}
		wh.Headers[name] = tmpl
	case "split":
		if !d.AllArgs(&wh.Split) {
			return d.ArgErr()
		}
		if wh.Split != "lines" {
			return d.Errf("unknown split %q: want lines", wh.Split)
		}
	default:
		return d.Errf("unknown webhook option %q: want topic, key, header or split", d.Val())
	}
	return nil
}

// Interface guards
var (
	_ dialects.Dialect         = (*Webhook)(nil)
	_ dialects.CaddyfileOption = (*Webhook)(nil)
	_ caddy.Validator          = (*Webhook)(nil)
	_ caddy.Provisioner        = (*Webhook)(nil)
)
