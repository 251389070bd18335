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
//     then fails every record, the answer is the first failure's error; if
//     it wrote some lines of a split lines request and failed others, the
//     answer is 207 with each line's result or {"topic","error","status"},
//     without Retry-After: retrying the whole request would write the
//     written lines twice.
//   - timestamp in answers is epoch milliseconds, as in Upstash's answers.
//   - value_schema: each body (or line) is the value in the schema's JSON
//     form; one that does not match refuses the request with 422 naming the
//     record (with split lines, its number among the non-empty lines) and the
//     first violation. A subject or version the registry does not have is
//     the route's fault: 500, logged. A registry that is down: 503 with
//     Retry-After.
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
	"github.com/caddy-kafka/caddy-kafka/producer/schema"
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

	// ValueSchema validates each body (or line) against a subject's schema
	// in the cluster's schema registry and writes it in that schema's
	// Confluent wire format. Default: the body is written as is.
	ValueSchema *ValueSchema `json:"value_schema,omitempty"`

	// Verify checks each delivery's signature (GitHub's, Stripe's,
	// Standard Webhooks' or an HMAC header) before anything is produced.
	// Default: no check.
	Verify *Verify `json:"verify,omitempty"`

	headerNames []string // sorted, so records carry headers in a stable order
}

// ValueSchema names the schema of a webhook's values.
type ValueSchema struct {
	// Subject in the cluster's schema registry.
	Subject string `json:"subject,omitempty"`
	// Version of the subject; 0 for its latest (looked up again after the
	// registry's cache_ttl).
	Version int `json:"version,omitempty"`
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
	if wh.Verify != nil {
		return wh.Verify.provision()
	}
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
	if vs := wh.ValueSchema; vs != nil && (vs.Subject == "" || vs.Version < 0) {
		return errors.New("value_schema needs a subject and a version of at least 1 (0 for the latest)")
	}
	return nil
}

// Match claims every request of the route: POST and PUT produce, other
// methods are a 405.
func (wh *Webhook) Match(r *http.Request) dialects.Match {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return dialects.Match{Op: dialects.OpMethodNotAllowed, Allow: "POST, PUT"}
	}
	return dialects.Match{Op: dialects.OpProduce, Body: true}
}

// Decode reads the body into one record, or one per line.
func (wh *Webhook) Decode(r *http.Request, _ dialects.Match, lim dialects.Route) (*dialects.Request, error) {
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
		records := []producer.Message{record}
		if err := wh.encodeValues(r, lim, records); err != nil {
			return nil, err
		}
		return &dialects.Request{Records: records}, nil
	}
	records, err := splitLines(r, record, lim)
	if err != nil {
		return nil, err
	}
	if err := wh.encodeValues(r, lim, records); err != nil {
		return nil, err
	}
	return &dialects.Request{Records: records, State: true}, nil
}

// encodeValues replaces each record's value, JSON in the schema's JSON form,
// with its Confluent wire format, when the route has a value_schema. The
// first record that does not match refuses the request (422).
func (wh *Webhook) encodeValues(r *http.Request, rt dialects.Route, records []producer.Message) error {
	vs := wh.ValueSchema
	if vs == nil {
		return nil
	}
	if rt.Schemas == nil {
		return &dialects.Error{Class: producer.ClassInternal,
			Message: "this route's value_schema needs a schema_registry in its kafka cluster"}
	}
	res, err := rt.Schemas.Resolve(r.Context(), schema.Ref{Subject: vs.Subject, Version: vs.Version})
	if err != nil {
		e := dialects.SchemaError(err)
		if e.Class == producer.ClassBadRequest {
			// The route's subject or version: the operator's to fix.
			e.Class, e.Message = producer.ClassInternal, "this route's value_schema: "+e.Message
		}
		return e
	}
	for i := range records {
		out, err := res.AppendEncode(make([]byte, 0, len(records[i].Value)+16), records[i].Value)
		if err != nil {
			e := dialects.SchemaError(err)
			e.Status = http.StatusUnprocessableEntity
			if len(records) > 1 {
				e.Message = fmt.Sprintf("record %d: %s", i+1, e.Message)
			}
			return e
		}
		records[i].Value = out
	}
	return nil
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
			return nil, dialects.TooManyRecords(lim.MaxRecords)
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
	some, failed := dialects.SomeWritten(results)
	if failed && (!some || req.State == nil) {
		// Nothing was written: the first failure answers for all.
		for _, res := range results {
			if res.Err != nil {
				wh.WriteError(w, r, res.Err)
				return nil
			}
		}
	}
	// A request is spooled whole (the handler's spool policy): 202, and
	// each result says only where the record will go. Some lines written
	// and others not: 207, each line's result or error, so that a client
	// retries only what failed.
	status := http.StatusOK
	switch {
	case failed:
		status = http.StatusMultiStatus
	case len(results) > 0 && results[0].Spooled:
		status = http.StatusAccepted
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
			if res.Err != nil {
				buf = dialects.AppendSimpleError(buf, req.Records[i].Topic, res.Err)
				continue
			}
			buf = appendMetadata(buf, req.Records[i].Topic, res)
		}
		buf = append(buf, ']')
	}
	return dialects.WriteBody(w, status, "application/json", buf)
}

// appendMetadata appends {"topic","partition","offset","timestamp"}, or
// {"topic","spooled":true} for a spooled record.
func appendMetadata(buf []byte, topic string, res producer.Result) []byte {
	buf = append(buf, `{"topic":`...)
	buf = jsonfast.AppendString(buf, topic)
	if res.Spooled {
		return append(buf, `,"spooled":true}`...)
	}
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
	dialects.WriteSimpleError(w, err)
}

// UnmarshalCaddyfile sets up the dialect from the lines of its kafka_rest
// block that the handler does not own, given as a block of the dialect's
// name. Syntax:
//
//	webhook {
//		topic <template>
//		key <template>
//		header <name> <template>
//		split lines
//		value_schema <subject> [<version>]
//	}
//
// header may be given once per name, the others once.
func (wh *Webhook) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the dialect's name
	seen := dialects.Seen{}
	for d.NextBlock(0) {
		switch d.Val() {
		case "topic":
			if err := seen.Once(d); err != nil {
				return err
			}
			if !d.AllArgs(&wh.Topic) {
				return d.ArgErr()
			}
		case "key":
			if err := seen.Once(d); err != nil {
				return err
			}
			if !d.AllArgs(&wh.Key) {
				return d.ArgErr()
			}
		case "header":
			var name, tmpl string
			if !d.AllArgs(&name, &tmpl) {
				return d.Err("header takes a name and a value template")
			}
			if err := seen.OnceAs(d, "header "+name); err != nil {
				return err
			}
			if wh.Headers == nil {
				wh.Headers = make(map[string]string)
			}
			wh.Headers[name] = tmpl
		case "split":
			if err := seen.Once(d); err != nil {
				return err
			}
			if !d.AllArgs(&wh.Split) {
				return d.ArgErr()
			}
			if wh.Split != "lines" {
				return d.Errf("unknown split %q: want lines", wh.Split)
			}
		case "value_schema":
			if err := seen.Once(d); err != nil {
				return err
			}
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.Err("value_schema takes a subject and optionally a version")
			}
			wh.ValueSchema = &ValueSchema{Subject: args[0]}
			if len(args) == 2 {
				v, err := strconv.Atoi(args[1])
				if err != nil || v <= 0 {
					return d.Errf("value_schema version %q: want a positive number, or none for the latest", args[1])
				}
				wh.ValueSchema.Version = v
			}
		case "verify":
			if err := seen.Once(d); err != nil {
				return err
			}
			v, err := parseVerify(d)
			if err != nil {
				return err
			}
			wh.Verify = v
		default:
			return dialects.UnknownSubdirective(d, "webhook", "topic", "key", "header", "split", "value_schema", "verify")
		}
	}
	if wh.Topic == "" {
		// Told when the Caddyfile is adapted: it needs no provisioning.
		return d.Err("topic is required: add topic <template> to the webhook's kafka_rest block")
	}
	return nil
}

// Interface guards
var (
	_ dialects.Dialect      = (*Webhook)(nil)
	_ caddyfile.Unmarshaler = (*Webhook)(nil)
	_ caddy.Validator       = (*Webhook)(nil)
	_ caddy.Provisioner     = (*Webhook)(nil)
)
