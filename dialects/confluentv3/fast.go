package confluentv3

import (
	"encoding/json"

	"github.com/caddy-kafka/caddy-kafka/dialects/internal/jsonfast"
)

// The fast path: a hand-written parser for the common shape of a record, which
// fills a jsonRecord as encoding/json would from the same bytes, without
// reflection and without copying: RawMessages are slices of the input. It
// knows only exact field names, each at most once, a type that is BINARY,
// JSON or STRING, and partition_id as an integer; it gives up on anything
// else (case-insensitive names, duplicates, unknown fields, nulls where
// encoding/json would merge or zero, syntax errors) and the caller then
// decodes the record with encoding/json, so that every error and corner
// case is encoding/json's. FuzzFastRecord checks that both agree.

// fastRec is a record as fastRecord reads it: values, not pointers, so that
// it can live on the stack; jsonRecord makes a jsonRecord of it.
type fastRec struct {
	id           json.RawMessage
	partition    int32
	hasPartition bool
	key, value   jsonData
	hasKey       bool
	hasValue     bool
	timestamp    []byte // unquoted
	hasTimestamp bool
	hasHeaders   bool // headers is an array
	nh           int  // headers in hbuf, when more is nil
	hbuf         [4]fastHeader
	more         []fastHeader // all the headers, when there are more than hbuf holds
}

type fastHeader struct {
	name  []byte // unquoted; nil when absent or null
	value json.RawMessage
}

// headers returns fr's headers.
func (fr *fastRec) headers() []fastHeader {
	if fr.more != nil {
		return fr.more
	}
	return fr.hbuf[:fr.nh]
}

// Type names, shared by every record that uses them.
var (
	typeBinary = "BINARY"
	typeJSON   = "JSON"
	typeString = "STRING"
)

// fieldSet records which fields an object had, to refuse duplicates.
type fieldSet uint16

func (f *fieldSet) add(bit fieldSet) bool {
	if *f&bit != 0 {
		return false
	}
	*f |= bit
	return true
}

// objectNext reads what follows a member's value at b[i]: ',' and the next
// key's index, or '}' and done.
func objectNext(b []byte, i int) (next int, done bool) {
	i = jsonfast.SkipSpace(b, i)
	if i >= len(b) {
		return -1, false
	}
	switch b[i] {
	case ',':
		return jsonfast.SkipSpace(b, i+1), false
	case '}':
		return i + 1, true
	}
	return -1, false
}

// rawValue returns the JSON value at b[i] as a RawMessage (encoding/json's
// bytes: the value without the whitespace around it) and its end.
func rawValue(b []byte, i int) ([]byte, int) {
	end := jsonfast.Value(b, i)
	if end < 0 {
		return nil, -1
	}
	return b[i:end:end], end
}

// fastRecord parses raw, one whole record object, into fr (zero). It returns
// false when raw is not something it fully understands; fr is then garbage.
func fastRecord(raw []byte, fr *fastRec) bool {
	if len(raw) == 0 || raw[0] != '{' {
		return false
	}
	i := jsonfast.SkipSpace(raw, 1)
	if i < len(raw) && raw[i] == '}' {
		return i+1 == len(raw)
	}
	var seen fieldSet
	for {
		name, j := jsonfast.ObjectKey(raw, i)
		if j < 0 {
			return false
		}
		i = j
		switch string(name) {
		case "value":
			if !seen.add(1) {
				return false
			}
			fr.hasValue, i = fastData(raw, i, &fr.value)
		case "key":
			if !seen.add(2) {
				return false
			}
			fr.hasKey, i = fastData(raw, i, &fr.key)
		case "partition_id":
			if !seen.add(4) {
				return false
			}
			if jsonfast.IsNull(raw, i) {
				i += 4
				break
			}
			end := jsonfast.Number(raw, i)
			if end < 0 {
				return false
			}
			n, ok := jsonfast.Int(raw[i:end], 32)
			if !ok {
				return false
			}
			fr.partition, fr.hasPartition, i = int32(n), true, end
		case "headers":
			if !seen.add(8) {
				return false
			}
			i = fastHeaders(raw, i, fr)
		case "timestamp":
			if !seen.add(16) {
				return false
			}
			if jsonfast.IsNull(raw, i) {
				i += 4
				break
			}
			fr.timestamp, i = jsonfast.StringValue(raw, i)
			fr.hasTimestamp = true
		case "id":
			if !seen.add(32) {
				return false
			}
			fr.id, i = rawValue(raw, i)
		default:
			return false
		}
		if i < 0 {
			return false
		}
		var done bool
		if i, done = objectNext(raw, i); i < 0 {
			return false
		}
		if done {
			return i == len(raw)
		}
	}
}

// fastData parses a key or value at b[i], null or {type, data, schema
// fields}, into jd. It reports whether it is not null.
func fastData(b []byte, i int, jd *jsonData) (bool, int) {
	if jsonfast.IsNull(b, i) {
		return false, i + 4
	}
	if i >= len(b) || b[i] != '{' {
		return false, -1
	}
	i = jsonfast.SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true, i + 1
	}
	var seen fieldSet
	for {
		name, j := jsonfast.ObjectKey(b, i)
		if j < 0 {
			return false, -1
		}
		i = j
		var raw *[]byte
		switch string(name) {
		case "type":
			if !seen.add(1) {
				return false, -1
			}
			if jsonfast.IsNull(b, i) {
				i += 4
				break
			}
			end, esc := jsonfast.String(b, i)
			if end < 0 || esc {
				return false, -1
			}
			switch string(b[i+1 : end-1]) {
			case "BINARY":
				jd.Type = &typeBinary
			case "JSON":
				jd.Type = &typeJSON
			case "STRING":
				jd.Type = &typeString
			default:
				return false, -1 // refused, with encoding/json's message
			}
			i = end
		case "data":
			if !seen.add(2) {
				return false, -1
			}
			raw = (*[]byte)(&jd.Data)
		case "subject":
			if !seen.add(4) {
				return false, -1
			}
			raw = (*[]byte)(&jd.Subject)
		case "subject_name_strategy":
			if !seen.add(8) {
				return false, -1
			}
			raw = (*[]byte)(&jd.SubjectNameStrategy)
		case "schema_id":
			if !seen.add(16) {
				return false, -1
			}
			raw = (*[]byte)(&jd.SchemaID)
		case "schema_version":
			if !seen.add(32) {
				return false, -1
			}
			raw = (*[]byte)(&jd.SchemaVersion)
		case "schema":
			if !seen.add(64) {
				return false, -1
			}
			raw = (*[]byte)(&jd.Schema)
		default:
			return false, -1
		}
		if raw != nil {
			if *raw, i = rawValue(b, i); i < 0 {
				return false, -1
			}
		}
		var done bool
		if i, done = objectNext(b, i); i < 0 {
			return false, -1
		}
		if done {
			return true, i
		}
	}
}

// fastHeaders parses the headers array at b[i], null or [{name, value}...],
// into fr.
func fastHeaders(b []byte, i int, fr *fastRec) int {
	if jsonfast.IsNull(b, i) {
		return i + 4
	}
	if i >= len(b) || b[i] != '[' {
		return -1
	}
	fr.hasHeaders = true
	i = jsonfast.SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '{' {
			return -1 // null or not an object: encoding/json decides
		}
		var h fastHeader
		i = jsonfast.SkipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			i++
		} else {
			var seen fieldSet
			for {
				name, j := jsonfast.ObjectKey(b, i)
				if j < 0 {
					return -1
				}
				i = j
				switch string(name) {
				case "name":
					if !seen.add(1) {
						return -1
					}
					if jsonfast.IsNull(b, i) {
						i += 4
						break
					}
					if h.name, i = jsonfast.StringValue(b, i); i < 0 {
						return -1
					}
				case "value":
					if !seen.add(2) {
						return -1
					}
					if h.value, i = rawValue(b, i); i < 0 {
						return -1
					}
				default:
					return -1
				}
				var done bool
				if i, done = objectNext(b, i); i < 0 {
					return -1
				}
				if done {
					break
				}
			}
		}
		switch {
		case fr.more != nil:
			fr.more = append(fr.more, h)
		case fr.nh < len(fr.hbuf):
			fr.hbuf[fr.nh] = h
			fr.nh++
		default:
			fr.more = append(append(make([]fastHeader, 0, 2*len(fr.hbuf)), fr.hbuf[:]...), h)
		}
		i = jsonfast.SkipSpace(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ']':
			return i + 1
		case ',':
			i = jsonfast.SkipSpace(b, i+1)
		default:
			return -1
		}
	}
}
