package signature

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of the Standard Webhooks specification (standardwebhooks.com).
const (
	StandardID        = "webhook-id"
	StandardTimestamp = "webhook-timestamp"
	StandardSignature = "webhook-signature"
)

// StandardSecret decodes a Standard Webhooks secret: "whsec_" and the
// base64 of the key (the prefix is optional, as in the reference
// libraries).
func StandardSecret(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if err != nil || len(key) == 0 {
		return nil, errors.New("a Standard Webhooks secret is whsec_ followed by base64")
	}
	return key, nil
}

// Standard checks a Standard Webhooks delivery: webhook-signature holds
// space-separated "v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">"
// (several while keys rotate; other versions are ignored), and
// webhook-timestamp must be within tolerance of now. secrets are the
// decoded keys (StandardSecret).
func Standard(secrets [][]byte, id, timestamp, header string, body []byte, now time.Time, tolerance time.Duration) error {
	switch {
	case header == "":
		return fmt.Errorf("%w %s header", ErrMissing, StandardSignature)
	case id == "":
		return fmt.Errorf("%w %s header", ErrMissing, StandardID)
	case timestamp == "":
		return fmt.Errorf("%w %s header", ErrMissing, StandardTimestamp)
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w %s: not a unix time", ErrMalformed, StandardTimestamp)
	}
	var sigs [][]byte
	for item := range strings.FieldsSeq(header) {
		version, sig, ok := strings.Cut(item, ",")
		if !ok || version != "v1" {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(sig); err == nil && len(b) == sha256.Size {
			sigs = append(sigs, b)
		}
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w v1 signature in %s", ErrMissing, StandardSignature)
	}
	if !anyMatch(sha256.New, secrets, sigs, []byte(id), []byte{'.'}, []byte(timestamp), []byte{'.'}, body) {
		return fmt.Errorf("%s: %w the id, timestamp and body with the configured secret", StandardSignature, ErrMismatch)
	}
	if err := fresh(time.Unix(secs, 0), now, tolerance); err != nil {
		return fmt.Errorf("%s: %w (%s)", StandardTimestamp, err, tolerance)
	}
	return nil
}
