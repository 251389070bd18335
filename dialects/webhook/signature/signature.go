// Package signature checks the signatures webhook senders put on their
// deliveries: GitHub's, Stripe's, the Standard Webhooks specification's
// (Svix, OpenAI and others) and a generic HMAC header. It has no Caddy
// imports, so that the header parsing and the time window can be fuzzed
// alone.
//
// Every scheme is an HMAC of the body bytes as received (before any
// Content-Encoding is undone: senders sign what they send), compared in
// constant time against each secret given (several, to rotate them: any one
// matching is enough). Errors say which check failed, never a computed
// signature.
package signature

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"time"
)

// The checks that fail, for errors.Is.
var (
	// ErrMissing: the delivery carries no signature (or no timestamp or
	// id the scheme signs).
	ErrMissing = errors.New("missing")
	// ErrMalformed: the signature header cannot be read.
	ErrMalformed = errors.New("malformed")
	// ErrMismatch: no signature matches the body with any secret.
	ErrMismatch = errors.New("no signature matches")
	// ErrStale: the signed timestamp is outside the tolerance.
	ErrStale = errors.New("timestamp outside the tolerance")
)

// DefaultTolerance is how far a signed timestamp may be from now, either
// way, when none is configured: Stripe's and Standard Webhooks' own
// libraries' default.
const DefaultTolerance = 5 * time.Minute

// Algorithm is an HMAC's hash.
type Algorithm string

// The algorithms of the generic scheme.
const (
	SHA256 Algorithm = "sha256"
	SHA1   Algorithm = "sha1"
	SHA512 Algorithm = "sha512"
)

// New returns the hash constructor of a, or nil for another name.
func (a Algorithm) New() func() hash.Hash {
	switch a {
	case SHA256, "":
		return sha256.New
	case SHA1:
		return sha1.New
	case SHA512:
		return sha512.New
	}
	return nil
}

// mac is HMAC(key, parts...).
func mac(h func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// anyMatch reports whether one of sigs is the HMAC of parts with one of
// secrets, comparing in constant time. Every pair is compared, so that the
// time taken tells nothing of which one matched.
func anyMatch(h func() hash.Hash, secrets [][]byte, sigs [][]byte, parts ...[]byte) bool {
	ok := false
	for _, s := range secrets {
		want := mac(h, s, parts...)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				ok = true
			}
		}
	}
	return ok
}

// fresh checks that ts is within tolerance of now, either way.
func fresh(ts, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}
