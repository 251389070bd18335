package signature

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// StripeHeader is the header Stripe signs events in.
const StripeHeader = "Stripe-Signature"

// Stripe checks Stripe-Signature: "t=<unix seconds>" and one or more
// "v1=<hex HMAC-SHA256 of "<t>.<body>">" (several while a secret is rolled),
// comma-separated; other schemes (v0) are ignored, as Stripe's libraries
// ignore them. The timestamp must be within tolerance of now
// (docs.stripe.com, "Verify webhook signatures manually").
func Stripe(secrets [][]byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if header == "" {
		return fmt.Errorf("%w %s header", ErrMissing, StripeHeader)
	}
	var (
		ts   string
		sigs [][]byte
	)
	for item := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(item), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	if ts == "" {
		return fmt.Errorf("%w timestamp (t=) in %s", ErrMissing, StripeHeader)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w %s: t= is not a unix time", ErrMalformed, StripeHeader)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w v1 signature in %s", ErrMissing, StripeHeader)
	}
	if !anyMatch(sha256.New, secrets, sigs, []byte(ts), []byte{'.'}, body) {
		return fmt.Errorf("%s: %w the body and timestamp with the configured secret", StripeHeader, ErrMismatch)
	}
	// After the signature: a stale timestamp is only worth telling once
	// it is known to be the sender's.
	if err := fresh(time.Unix(secs, 0), now, tolerance); err != nil {
		return fmt.Errorf("%s: %w (%s)", StripeHeader, err, tolerance)
	}
	return nil
}
