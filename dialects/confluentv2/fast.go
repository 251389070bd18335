package confluentv2

import (
	"bytes"
	"encoding/base64"

	"github.com/caddy-kafka/caddy-kafka/dialects/internal/jsonfast"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// The fast path: a hand-written parser for {"records":[{key, value,
// partition}...]} that produces the records decodeRecords would, without
// reflection and without a copy of each key and value: JSON values are
// slices of the body, and base64 is decoded into one shared buffer. It gives
// up on anything it does not fully understand (field names with escapes, a
// field it does not know, a field twice, a record that is not an object,
// any error) and the caller then
// decodes the body with encoding/json, so that every error and corner case
// is encoding/json's. FuzzFastRecords checks that both agree.

// slab hands out pieces of large buffers that are never reused, so that
// records can keep pointing into them.
type slab struct {
	buf  []byte
	size int // of the next buffer, at least
}

// room returns n writable bytes after the used part; commit(m <= n) then
// makes m of them used and returns them.
func (s *slab) room(n int) []byte {
	if s.buf == nil || cap(s.buf)-len(s.buf) < n { // never nil: an empty value is not a null one
		s.buf = make([]byte, 0, max(n, s.size))
	}
	return s.buf[len(s.buf) : len(s.buf)+n]
}

func (s *slab) commit(m int) []byte {
	start := len(s.buf)
	s.buf = s.buf[:start+m]
	return s.buf[start : start+m : start+m]
}

// fastRecords decodes body as decodeRecords does, or returns false.
func fastRecords(body []byte, f format, topic string, partition int32) ([]producer.Message, bool) {
	i := jsonfast.SkipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	i = jsonfast.SkipSpace(body, i+1)
	var out []producer.Message
	seen := false
	for {
		name, j := jsonfast.ObjectKey(body, i)
		if j < 0 {
			return nil, false
		}
		i = j
		// Any other field is an error, or a schema field to look at:
		// both are encoding/json's.
		if string(name) != "records" || seen {
			return nil, false
		}
		seen = true
		if out, i = fastArray(body, i, f, topic, partition); i < 0 {
			return nil, false
		}
		var done bool
		if i, done = jsonfast.Separator(body, i, '}'); i < 0 {
			return nil, false
		}
		if done {
			break
		}
	}
	if jsonfast.SkipSpace(body, i) != len(body) || len(out) == 0 {
		return nil, false
	}
	return out, true
}

// fastArray decodes the records array at b[i] and returns its end.
func fastArray(b []byte, i int, f format, topic string, partition int32) ([]producer.Message, int) {
	if i >= len(b) || b[i] != '[' {
		return nil, -1
	}
	i = jsonfast.SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return nil, -1 // no records: encoding/json's error
	}
	// Records with a 100-byte value take about 120 bytes.
	out := make([]producer.Message, 0, min(len(b)/128+1, 4096))
	al := slab{size: len(b) - i}
	if f == formatBinary {
		al.size = al.size*3/4 + 4
	}
	for {
		if i >= len(b) || b[i] != '{' {
			return nil, -1
		}
		m := producer.Message{Topic: topic, Partition: partition}
		var key, value []byte
		var seen uint8
		i = jsonfast.SkipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			i++
		} else {
			for {
				name, j := jsonfast.ObjectKey(b, i)
				if j < 0 {
					return nil, -1
				}
				i = j
				var bit uint8
				switch string(name) {
				case "key":
					bit = 1
					key, i = rawValue(b, i)
				case "value":
					bit = 2
					value, i = rawValue(b, i)
				case "partition":
					bit = 4
					if jsonfast.IsNull(b, i) {
						i += 4
						break
					}
					end := jsonfast.Number(b, i)
					if end < 0 {
						return nil, -1
					}
					p, ok := jsonfast.Int(b[i:end], 32)
					if !ok || p < 0 {
						return nil, -1
					}
					m.Partition, i = int32(p), end
				default:
					return nil, -1 // an unknown field: encoding/json's error
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
		}
		var ok bool
		if m.Key, ok = fastEmbedded(key, f, &al); !ok {
			return nil, -1
		}
		if m.Value, ok = fastEmbedded(value, f, &al); !ok {
			return nil, -1
		}
		out = append(out, m)
		var done bool
		if i, done = jsonfast.Separator(b, i, ']'); i < 0 {
			return nil, -1
		}
		if done {
			return out, i
		}
	}
}

// rawValue returns the JSON value at b[i] and its end.
func rawValue(b []byte, i int) ([]byte, int) {
	end := jsonfast.Value(b, i)
	if end < 0 {
		return nil, -1
	}
	return b[i:end:end], end
}

// fastEmbedded is embedded, with decoded bytes in al.
func fastEmbedded(raw []byte, f format, al *slab) ([]byte, bool) {
	if raw == nil || string(raw) == "null" {
		return nil, true
	}
	if f == formatJSON {
		if !bytes.ContainsAny(raw, " \t\r\n") {
			return raw, true
		}
		c := jsonfast.AppendCompact(al.room(len(raw))[:0], raw)
		return al.commit(len(c)), true
	}
	if raw[0] != '"' {
		return nil, false
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		var ok bool
		if s, ok = jsonfast.Unquote(raw); !ok {
			return nil, false
		}
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	n, err := enc.Decode(al.room(enc.DecodedLen(len(s))), s)
	if err != nil {
		return nil, false
	}
	return al.commit(n), true
}
