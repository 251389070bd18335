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
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-kafka/caddy-kafka/dialects"
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
func (wh *Webhook) Decode(r *http.Request, lim dialects.Limits) (*dialects.Request, error) {
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
		body, err := readBody(r)
		if err != nil {
			return nil, err
		}
		record.Value = body
		return &dialects.Request{Records: []producer.Message{record}}, nil
	}
	records, err := splitLines(r.Body, record, lim)
	if err != nil {
		return nil, err
	}
	return &dialects.Request{Records: records, State: true}, nil
}

func readBody(r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return nil, readErr(err)
	}
	return buf.Bytes(), nil
}

// splitLines makes one record per non-empty line, all sharing the template
// record's topic, key and headers. It stops reading past lim.MaxRecords.
func splitLines(body io.Reader, template producer.Message, lim dialects.Limits) ([]producer.Message, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, readErr(err)
	}
	var records []producer.Message
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if len(records) == lim.MaxRecords {
			return nil, &dialects.Error{Class: producer.ClassTooLarge,
				Message: fmt.Sprintf("%s (limit %d)", dialects.ErrTooManyRecords.Message, lim.MaxRecords), Err: dialects.ErrTooManyRecords}
		}
		rec := template
		rec.Value = line // a slice of data, which lives as long as the records
		records = append(records, rec)
	}
	if len(records) == 0 {
		return nil, dialects.Errorf(producer.ClassBadRequest, "no records: the body has no non-empty line")
	}
	return records, nil
}

func readErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &dialects.Error{Class: producer.ClassTooLarge, Message: fmt.Sprintf("request body over %d bytes", mbe.Limit), Err: err}
	}
	return &dialects.Error{Class: producer.ClassBadRequest, Message: "reading request body failed", Err: err}
}

type metadata struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Timestamp int64  `json:"timestamp"`
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
	if req.State == nil {
		res := results[0]
		return dialects.WriteJSON(w, http.StatusOK, "application/json",
			metadata{Topic: req.Records[0].Topic, Partition: res.Partition, Offset: res.Offset, Timestamp: res.Timestamp.UnixMilli()})
	}
	out := make([]metadata, len(results))
	for i, res := range results {
		out[i] = metadata{Topic: req.Records[i].Topic, Partition: res.Partition, Offset: res.Offset, Timestamp: res.Timestamp.UnixMilli()}
	}
	return dialects.WriteJSON(w, http.StatusOK, "application/json", out)
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
