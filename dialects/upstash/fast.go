package upstash

import (
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects/internal/jsonfast"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// The fast path: a hand-written parser for a message or an array of them,
// producing the records decodeMessages would without reflection and without
// copying keys and values: they are slices of the body unless they have
// escapes. It takes only valid requests it fully understands (exact field
// names, each at most once, strings and non-negative integers where the
// schema has them) and gives up on anything else, errors included; the
// caller then decodes the body with encoding/json, so that every error and
// corner case is encoding/json's. FuzzFastMessages checks that both agree.

// stringValue reads the JSON string at b[i], unquoted as encoding/json
// unquotes it into a Go string, and its end.
func stringValue(b []byte, i int) ([]byte, int) { return jsonfast.StringValue(b, i) }

// nonNegative reads the JSON integer at b[i] that fits bits and is not
// negative, and its end.
func nonNegative(b []byte, i, bits int) (int64, int) {
	end := jsonfast.Number(b, i)
	if end < 0 {
		return 0, -1
	}
	n, ok := jsonfast.Int(b[i:end], bits)
	if !ok || n < 0 {
		return 0, -1
	}
	return n, end
}

// fastDecoder holds what the messages of one body share.
type fastDecoder struct {
	pathTopic string
	topic     string // the last topic a message named, for the next to reuse
}

// fastMessages decodes start, a body without leading whitespace or
// trailing commas, as decodeMessages does, or returns false.
func fastMessages(start []byte, pathTopic string, maxRecords int) ([]producer.Message, bool) {
	fd := fastDecoder{pathTopic: pathTopic}
	var out []producer.Message
	var i int
	switch start[0] {
	case '{':
		out = make([]producer.Message, 1)
		if i = fd.message(start, 0, &out[0]); i < 0 {
			return nil, false
		}
	case '[':
		// Messages with a 100-byte value take about 115 bytes.
		out = make([]producer.Message, 0, min(len(start)/128+1, 4096))
		i = jsonfast.SkipSpace(start, 1)
		if i < len(start) && start[i] == ']' {
			i++
			break
		}
		for {
			out = append(out, producer.Message{})
			if i = fd.message(start, i, &out[len(out)-1]); i < 0 {
				return nil, false
			}
			var done bool
			if i, done = jsonfast.Separator(start, i, ']'); i < 0 {
				return nil, false
			}
			if done {
				break
			}
		}
	default:
		return nil, false
	}
	if jsonfast.SkipSpace(start, i) != len(start) || (maxRecords > 0 && len(out) > maxRecords) {
		return nil, false
	}
	return out, true
}

// message decodes the message object at b[i] into rec, as toRecord does
// after encoding/json, and returns its end.
func (fd *fastDecoder) message(b []byte, i int, rec *producer.Message) int {
	if i >= len(b) || b[i] != '{' {
		return -1
	}
	var (
		topic, key, value []byte
		seen              uint8
		hasTopic          bool
		hasValue          bool
	)
	rec.Partition = -1
	i = jsonfast.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return -1 // no value
	}
	for {
		name, j := jsonfast.ObjectKey(b, i)
		if j < 0 {
			return -1
		}
		i = j
		var bit uint8
		null := jsonfast.IsNull(b, i)
		if null {
			i += 4
		}
		switch string(name) {
		case "value":
			bit = 1
			if !null {
				value, i = stringValue(b, i)
				hasValue = true
			}
		case "key":
			bit = 2
			if !null {
				key, i = stringValue(b, i)
			}
		case "topic":
			bit = 4
			if !null {
				topic, i = stringValue(b, i)
				hasTopic = true
			}
		case "partition":
			bit = 8
			if !null {
				var p int64
				p, i = nonNegative(b, i, 32)
				rec.Partition = int32(p)
			}
		case "timestamp":
			bit = 16
			if !null {
				var ts int64
				ts, i = nonNegative(b, i, 64)
				rec.Timestamp = time.UnixMilli(ts)
			}
		case "headers":
			bit = 32
			if !null {
				rec.Headers, i = headers(b, i)
			}
		default:
			return -1
		}
		if i < 0 || seen&bit != 0 {
			return -1
		}
		seen |= bit
		var done bool
		if i, done = jsonfast.Separator(b, i, '}'); i < 0 {
			return -1
		}
		if done {
			break
		}
	}
	if !hasValue {
		return -1
	}
	switch {
	case fd.pathTopic != "":
		if hasTopic && string(topic) != fd.pathTopic {
			return -1
		}
		rec.Topic = fd.pathTopic
	case !hasTopic || len(topic) == 0:
		return -1
	case string(topic) == fd.topic:
		rec.Topic = fd.topic
	default:
		rec.Topic = string(topic)
		fd.topic = rec.Topic
	}
	rec.Key, rec.Value = key, value
	return i
}

// headers decodes the headers array at b[i] and returns its end.
func headers(b []byte, i int) ([]producer.Header, int) {
	if i >= len(b) || b[i] != '[' {
		return nil, -1
	}
	i = jsonfast.SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return nil, i + 1
	}
	var hs []producer.Header
	for {
		if i >= len(b) || b[i] != '{' {
			return nil, -1
		}
		var h producer.Header
		var seen uint8
		hasKey := false
		i = jsonfast.SkipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return nil, -1 // no key
		}
		for {
			name, j := jsonfast.ObjectKey(b, i)
			if j < 0 {
				return nil, -1
			}
			i = j
			var bit uint8
			null := jsonfast.IsNull(b, i)
			if null {
				i += 4
			}
			switch string(name) {
			case "key":
				bit = 1
				if null {
					return nil, -1
				}
				var k []byte
				if k, i = stringValue(b, i); i >= 0 {
					h.Key, hasKey = string(k), true
				}
			case "value":
				bit = 2
				if !null {
					h.Value, i = stringValue(b, i)
				}
			default:
				return nil, -1
			}
			if i < 0 || seen&bit != 0 {
				return nil, -1
			}
			seen |= bit
			var done bool
			if i, done = jsonfast.Separator(b, i, '}'); i < 0 {
				return nil, -1
			}
			if done {
				break
			}
		}
		if !hasKey {
			return nil, -1
		}
		hs = append(hs, h)
		var done bool
		if i, done = jsonfast.Separator(b, i, ']'); i < 0 {
			return nil, -1
		}
		if done {
			return hs, i
		}
	}
}
