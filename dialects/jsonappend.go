package dialects

import (
	"encoding/json"
	"net/http"
)

// AppendString appends s as a JSON string, byte for byte what
// encoding/json writes. Strings with nothing to escape (topic names, error
// messages) are copied as they are; the others go through encoding/json.
func AppendString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// WriteBody writes b, already encoded, as the body of a response with the
// given status and content type.
func WriteBody(w http.ResponseWriter, status int, contentType string, b []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}
