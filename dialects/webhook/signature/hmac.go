package signature

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// HMAC is the generic scheme: a header holding an HMAC of the body, in hex
// or base64, after an optional prefix ("sha256=").
type HMAC struct {
	Header    string
	Algorithm Algorithm
	Base64    bool
	Prefix    string
}

// Verify checks header, the value of h.Header, against body.
func (h HMAC) Verify(secrets [][]byte, header string, body []byte) error {
	if header == "" {
		return fmt.Errorf("%w %s header", ErrMissing, h.Header)
	}
	newHash := h.Algorithm.New()
	if newHash == nil {
		return fmt.Errorf("unknown algorithm %q", h.Algorithm)
	}
	enc, ok := strings.CutPrefix(header, h.Prefix)
	if !ok {
		return fmt.Errorf("%w %s: want the prefix %q", ErrMalformed, h.Header, h.Prefix)
	}
	var (
		sig []byte
		err error
	)
	if h.Base64 {
		sig, err = base64.StdEncoding.DecodeString(enc)
	} else {
		sig, err = hex.DecodeString(enc)
	}
	if err != nil || len(sig) != newHash().Size() {
		return fmt.Errorf("%w %s: want the %s HMAC in %s", ErrMalformed, h.Header, h.Algorithm, map[bool]string{true: "base64", false: "hex"}[h.Base64])
	}
	if !anyMatch(newHash, secrets, [][]byte{sig}, body) {
		return fmt.Errorf("%s: %w the body with the configured secret", h.Header, ErrMismatch)
	}
	return nil
}
