// Package jsonfast has what the dialects' hand-written decoders share: a JSON
// scanner that accepts no more than encoding/json accepts, string unquoting
// and quoting that give exactly encoding/json's bytes, and whitespace
// compaction as json.Compact does it. The decoders use it for the common
// shapes of their requests and fall back to encoding/json for everything
// else, so the scanner may refuse valid JSON (nesting deeper than MaxDepth)
// but must never accept what encoding/json refuses.
//
// Positions are byte offsets into the input; a function that fails returns
// -1 and never panics, whatever the input.
package jsonfast

import (
	"encoding/binary"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting Value accepts. encoding/json accepts up to
// 10,000; deeper values are left to it.
const MaxDepth = 64

// class of each byte inside a JSON string: 0 is plain, 1 ends the plain run
// ('"', '\\', control characters).
var strStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// lo and hi are SWAR masks: a one and a high bit in every byte.
const (
	lo = 0x0101010101010101
	hi = 0x8080808080808080
)

// IsSpace reports whether c is JSON insignificant whitespace.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first byte at or after i that is not
// whitespace, or len(b).
func SkipSpace(b []byte, i int) int {
	for i < len(b) && IsSpace(b[i]) {
		i++
	}
	return i
}

// String scans the JSON string that starts at b[i] (a '"'). It returns the
// index just past its closing quote and whether it has escapes, or -1 when it
// is not a valid JSON string: unterminated, a control character, or a bad
// escape. Invalid UTF-8 is valid, as for encoding/json.
func String(b []byte, i int) (end int, escaped bool) {
	if i >= len(b) || b[i] != '"' {
		return -1, false
	}
	i++
	for {
		// Eight bytes at a time while none of them is a quote, a
		// backslash or a control character.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q, bs := x^(lo*'"'), x^(lo*'\\')
			if ((x-lo*0x20)&^x|(q-lo)&^q|(bs-lo)&^bs)&hi != 0 {
				break
			}
			i += 8
		}
		for i < len(b) && !strStop[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return -1, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || hex4(b[i+2:i+6]) < 0 {
					return -1, false
				}
				i += 6
			default:
				return -1, false
			}
		default: // a control character
			return -1, false
		}
	}
}

// hex4 is the value of 4 hex digits, or -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// Number scans the JSON number that starts at b[i]. It returns the index
// just past it, or -1. Like encoding/json's scanner it stops at the first
// byte that cannot continue the number: "01" is the number 0 followed by
// "1", which the caller refuses as it refuses any byte after a value that is
// not a separator.
func Number(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// Value scans the JSON value that starts at b[i] (no leading whitespace). It
// returns the index just past it, or -1 when it is not valid JSON or nests
// deeper than MaxDepth.
func Value(b []byte, i int) int { return value(b, i, 0) }

func value(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; c {
	case '"':
		end, _ := String(b, i)
		return end
	case '{':
		if depth >= MaxDepth {
			return -1
		}
		i = SkipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		for {
			if i, _ = String(b, i); i < 0 {
				return -1
			}
			if i = SkipSpace(b, i); i >= len(b) || b[i] != ':' {
				return -1
			}
			if i = value(b, SkipSpace(b, i+1), depth+1); i < 0 {
				return -1
			}
			if i = SkipSpace(b, i); i >= len(b) {
				return -1
			}
			switch b[i] {
			case '}':
				return i + 1
			case ',':
				i = SkipSpace(b, i+1)
			default:
				return -1
			}
		}
	case '[':
		if depth >= MaxDepth {
			return -1
		}
		i = SkipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1
		}
		for {
			if i = value(b, i, depth+1); i < 0 {
				return -1
			}
			if i = SkipSpace(b, i); i >= len(b) {
				return -1
			}
			switch b[i] {
			case ']':
				return i + 1
			case ',':
				i = SkipSpace(b, i+1)
			default:
				return -1
			}
		}
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	}
	return Number(b, i)
}

func literal(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// IsNull reports whether b[i:] starts with the literal null.
func IsNull(b []byte, i int) bool { return len(b)-i >= 4 && string(b[i:i+4]) == "null" }

// Int parses the JSON number b as encoding/json decodes it into a signed
// integer of the given bit size: an optional '-' and digits only (no
// fraction or exponent, which encoding/json refuses for integers), within
// range. ok is false otherwise.
func Int(b []byte, bits int) (n int64, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0') // 19 digits fit in a uint64
	}
	limit := uint64(1)<<(bits-1) - 1
	if neg {
		limit++
	}
	if u > limit {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// Unquote returns the contents of the JSON string s (quotes included) as
// encoding/json decodes it into a Go string: escapes resolved, invalid UTF-8
// and lone surrogates replaced by U+FFFD. The result is a subslice of s when
// nothing needs changing, else new. ok is false when s is not a valid JSON
// string.
func Unquote(s []byte) (t []byte, ok bool) {
	end, esc := String(s, 0)
	if end != len(s) {
		return nil, false
	}
	return unquoteValid(s, esc), true
}

// StringValue returns the JSON string at b[i] as Unquote does, and the index
// just past it; -1 when it is not a valid JSON string.
func StringValue(b []byte, i int) ([]byte, int) {
	end, esc := String(b, i)
	if end < 0 {
		return nil, -1
	}
	return unquoteValid(b[i:end], esc), end
}

// unquoteValid unquotes s, a valid JSON string with escapes or not.
func unquoteValid(s []byte, esc bool) []byte {
	s = s[1 : len(s)-1]
	if !esc && utf8.Valid(s) {
		return s[:len(s):len(s)]
	}
	r := 0
	for r < len(s) {
		c := s[r]
		if c == '\\' {
			break
		}
		if c < utf8.RuneSelf {
			r++
			continue
		}
		rr, size := utf8.DecodeRune(s[r:])
		if rr == utf8.RuneError && size == 1 {
			break
		}
		r += size
	}
	return appendUnquoted(make([]byte, 0, len(s)+2*utf8.UTFMax), s, r)
}

// AppendUnquote appends the contents of the JSON string s as Unquote
// returns them. ok is false when s is not a valid JSON string, and dst is
// then returned unchanged.
func AppendUnquote(dst, s []byte) ([]byte, bool) {
	if end, _ := String(s, 0); end != len(s) {
		return dst, false
	}
	return appendUnquoted(dst, s[1:len(s)-1], 0), true
}

// appendUnquoted appends s, the inside of a valid JSON string whose first
// r bytes need no change, unquoted.
func appendUnquoted(dst, s []byte, r int) []byte {
	dst = append(dst, s[:r]...)
	for r < len(s) {
		switch c := s[r]; {
		case c == '\\':
			switch s[r+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := hex4(s[r+2:])
				r += 6
				if utf16IsSurrogate(rr) {
					if r+6 <= len(s) && s[r] == '\\' && s[r+1] == 'u' {
						if rr1 := hex4(s[r+2:]); rr1 >= 0 {
							if dec := utf16DecodeRune(rr, rr1); dec != utf8.RuneError {
								r += 6
								dst = utf8.AppendRune(dst, dec)
								continue
							}
						}
					}
					rr = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			dst = utf8.AppendRune(dst, rr)
		}
	}
	return dst
}

func utf16IsSurrogate(r rune) bool { return 0xd800 <= r && r < 0xe000 }

// utf16DecodeRune is utf16.DecodeRune: the rune of a surrogate pair, or
// U+FFFD.
func utf16DecodeRune(r1, r2 rune) rune {
	if 0xd800 <= r1 && r1 < 0xdc00 && 0xdc00 <= r2 && r2 < 0xe000 {
		return (r1-0xd800)<<10 | (r2 - 0xdc00) + 0x10000
	}
	return utf8.RuneError
}

// htmlSafe are the ASCII bytes json.Marshal writes as they are.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	t['"'], t['\\'], t['<'], t['>'], t['&'] = false, false, false, false, false
	return t
}()

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, byte for byte as json.Marshal
// writes it: HTML-escaped, invalid UTF-8 replaced by \ufffd, U+2028 and
// U+2029 escaped.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf && htmlSafe[s[i]] {
		i++
	}
	if i == len(s) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendCompact appends the valid JSON value v without insignificant
// whitespace, as json.Compact writes it.
func AppendCompact(dst, v []byte) []byte {
	inStr, esc := false, false
	start := 0
	for i, c := range v {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
		case IsSpace(c):
			dst = append(dst, v[start:i]...)
			start = i + 1
		}
	}
	return append(dst, v[start:]...)
}

// ObjectKey reads `"name"` and the ':' after it at b[i], and returns the
// name and the index of the value, or next -1. Names with escapes are left
// to the caller's slow path (next -1).
func ObjectKey(b []byte, i int) (name []byte, next int) {
	end, esc := String(b, i)
	if end < 0 || esc {
		return nil, -1
	}
	name = b[i+1 : end-1]
	i = SkipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return nil, -1
	}
	return name, SkipSpace(b, i+1)
}

// Separator reads what follows a value at b[i] in an object or array closed
// by end: ',' and the next item's index, or end and done; next is -1 on
// anything else.
func Separator(b []byte, i int, end byte) (next int, done bool) {
	i = SkipSpace(b, i)
	if i >= len(b) {
		return -1, false
	}
	switch b[i] {
	case ',':
		return SkipSpace(b, i+1), false
	case end:
		return i + 1, true
	}
	return -1, false
}
