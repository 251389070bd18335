package signature

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// GitHubHeader is the header GitHub signs deliveries in.
const GitHubHeader = "X-Hub-Signature-256"

// GitHub checks X-Hub-Signature-256: "sha256=" and the hex HMAC-SHA256 of
// the body with the webhook's secret
// (docs.github.com, "Validating webhook deliveries").
func GitHub(secrets [][]byte, header string, body []byte) error {
	if header == "" {
		return fmt.Errorf("%w %s header", ErrMissing, GitHubHeader)
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return fmt.Errorf("%w %s: want sha256=<hex>", ErrMalformed, GitHubHeader)
	}
	sig, err := hex.DecodeString(hexSig)
	if err != nil || len(sig) != sha256.Size {
		return fmt.Errorf("%w %s: want sha256=<64 hex digits>", ErrMalformed, GitHubHeader)
	}
	if !anyMatch(sha256.New, secrets, [][]byte{sig}, body) {
		return fmt.Errorf("%s: %w the body with the configured secret", GitHubHeader, ErrMismatch)
	}
	return nil
}
