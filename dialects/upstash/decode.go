package upstash

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// message is one message of a body, as Upstash documents it. Pointers tell a
// field left out (or null) from a zero one.
type message struct {
	Topic     *string  `json:"topic"`
	Partition *int32   `json:"partition"`
	Timestamp *int64   `json:"timestamp"`
	Key       *string  `json:"key"`
	Value     *string  `json:"value"`
	Headers   []header `json:"headers"`
}

type header struct {
	Key   *string `json:"key"`
	Value *string `json:"value"`
}

// decodeMessages decodes a body holding one message or an array of them.
// pathTopic is the topic from /produce/{topic}, or "" for /produce, where
// each message names its own. At most maxRecords messages are accepted when
// maxRecords > 0.
func decodeMessages(body []byte, pathTopic string, maxRecords int) ([]producer.Message, error) {
	body = trimTrailingCommas(body)
	start := bytes.TrimLeft(body, " \t\r\n")
	if len(start) == 0 {
		return nil, dialects.Errorf(producer.ClassBadRequest, "empty body: send a message or an array of messages as JSON")
	}
	if records, ok := fastMessages(start, pathTopic, maxRecords); ok {
		return records, nil
	}
	return slowMessages(start, pathTopic, maxRecords)
}

// slowMessages is decodeMessages with encoding/json, from the body's first
// byte that is not whitespace: every body fastMessages does not take, and
// the reference it is checked against.
func slowMessages(start []byte, pathTopic string, maxRecords int) ([]producer.Message, error) {
	dec := json.NewDecoder(bytes.NewReader(start))
	dec.DisallowUnknownFields()
	var msgs []message
	switch start[0] {
	case '[':
		if err := dec.Decode(&msgs); err != nil {
			return nil, jsonError(err)
		}
	case '{':
		msgs = make([]message, 1)
		if err := dec.Decode(&msgs[0]); err != nil {
			return nil, jsonError(err)
		}
	default:
		return nil, dialects.Errorf(producer.ClassBadRequest, "the body must be a JSON message object or an array of them")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, dialects.Errorf(producer.ClassBadRequest, "invalid JSON body: data after the message")
	}
	if maxRecords > 0 && len(msgs) > maxRecords {
		return nil, dialects.TooManyRecords(maxRecords)
	}
	records := make([]producer.Message, len(msgs))
	for i := range msgs {
		if err := toRecord(&msgs[i], pathTopic, &records[i]); err != nil {
			if start[0] == '[' {
				err.Message = fmt.Sprintf("message %d: %s", i, err.Message)
			}
			return nil, err
		}
	}
	return records, nil
}

func toRecord(m *message, pathTopic string, rec *producer.Message) *dialects.Error {
	switch {
	case pathTopic == "" && (m.Topic == nil || *m.Topic == ""):
		return dialects.Errorf(producer.ClassBadRequest, "topic is required")
	case pathTopic != "" && m.Topic != nil && *m.Topic != pathTopic:
		return dialects.Errorf(producer.ClassBadRequest, "topic %q differs from the path's topic", *m.Topic)
	case m.Value == nil:
		return dialects.Errorf(producer.ClassBadRequest, "value is required")
	case m.Partition != nil && *m.Partition < 0:
		return dialects.Errorf(producer.ClassBadRequest, "partition must not be negative")
	case m.Timestamp != nil && *m.Timestamp < 0:
		return dialects.Errorf(producer.ClassBadRequest, "timestamp must not be negative")
	}
	rec.Topic = pathTopic
	if rec.Topic == "" {
		rec.Topic = *m.Topic
	}
	rec.Partition = -1
	if m.Partition != nil {
		rec.Partition = *m.Partition
	}
	if m.Timestamp != nil {
		rec.Timestamp = time.UnixMilli(*m.Timestamp)
	}
	if m.Key != nil {
		rec.Key = []byte(*m.Key)
	}
	rec.Value = []byte(*m.Value)
	if len(m.Headers) > 0 {
		rec.Headers = make([]producer.Header, len(m.Headers))
		for i, h := range m.Headers {
			if h.Key == nil {
				return dialects.Errorf(producer.ClassBadRequest, "headers[%d]: key is required", i)
			}
			rec.Headers[i].Key = *h.Key
			if h.Value != nil {
				rec.Headers[i].Value = []byte(*h.Value)
			}
		}
	}
	return nil
}

// jsonError turns an encoding/json error into a client message without Go
// type names.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return dialects.Errorf(producer.ClassBadRequest, "a message must be a JSON object, not %s", te.Value)
		}
		want := "a string"
		switch field {
		case "partition", "timestamp":
			want = "an integer"
			if te.Type != nil && te.Type.Size() == 4 {
				want = "an integer from 0 to 2147483647"
			}
		case "headers":
			want = "an array of {key, value} objects"
		}
		if strings.HasPrefix(field, "headers.") && te.Value == "array" {
			// te.Field does not say headers[i]; the only array-typed
			// value in a header would be the header itself.
			want = "a {key, value} object"
		}
		return dialects.Errorf(producer.ClassBadRequest, "%s: want %s, got %s", field, want, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &dialects.Error{Class: producer.ClassBadRequest, Message: "invalid JSON body: " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return dialects.Errorf(producer.ClassBadRequest, "unknown field %s: a message has topic, partition, timestamp, key, value and headers; a header has key and value", msg)
	}
	return &dialects.Error{Class: producer.ClassBadRequest, Message: "invalid JSON body", Err: err}
}

// trimTrailingCommas removes each comma that follows a value and precedes,
// after optional whitespace, a closing ']' or '}', outside strings: the
// trailing commas of the spec's own curl examples. Commas that do not follow a
// value ("[,]", "[1,,]", "{"a":,}") are left for the JSON decoder to refuse.
// body is returned as is when it has no trailing comma, else a copy is.
func trimTrailingCommas(body []byte) []byte {
	if !commaBeforeClose(body) {
		return body
	}
	return trimCommas(body)
}

// commaBeforeClose reports whether some comma of b, in a string or not, is
// followed by a closing ']' or '}' after whitespace: a body without one has
// no trailing comma, and it takes only a search for commas to know.
func commaBeforeClose(b []byte) bool {
	for {
		i := bytes.IndexByte(b, ',')
		if i < 0 {
			return false
		}
		b = b[i+1:]
		if closes(b) {
			return true
		}
	}
}

// trimCommas is trimTrailingCommas without the shortcut.
func trimCommas(body []byte) []byte {
	var out []byte // nil until the first trailing comma
	inString, escaped := false, false
	var prev byte // last byte outside whitespace, before i
	copied := 0   // body[:copied] is already in out
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			prev = c
			continue
		}
		switch c {
		case '"':
			inString = true
		case ' ', '\t', '\r', '\n':
			continue
		case ',':
			if prev != 0 && prev != '[' && prev != '{' && prev != ',' && prev != ':' && closes(body[i+1:]) {
				out = append(out, body[copied:i]...)
				copied = i + 1
				continue
			}
		}
		prev = c
	}
	if out == nil {
		return body
	}
	return append(out, body[copied:]...)
}

// closes reports whether b starts, after whitespace, with ']' or '}'.
func closes(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case ']', '}':
			return true
		}
		return false
	}
	return false
}
