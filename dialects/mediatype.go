package dialects

import "mime"

// ParseMediaType is mime.ParseMediaType, without its two allocations for
// what almost every request sends: a bare, lower-case type/subtype such as
// application/json. Its params are then nil, which reads as empty.
func ParseMediaType(v string) (mediatype string, params map[string]string, err error) {
	if isBareType(v) {
		return v, nil, nil
	}
	return mime.ParseMediaType(v)
}

// isBareType reports whether v is type/subtype of lower-case letters,
// digits and the token characters media types use (".+-_"), which
// mime.ParseMediaType would return unchanged with no parameters.
func isBareType(v string) bool {
	slash := -1
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '/':
			if slash >= 0 {
				return false
			}
			slash = i
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '+', c == '-', c == '_':
		default:
			return false
		}
	}
	return slash > 0 && slash < len(v)-1
}
