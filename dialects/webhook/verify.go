package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/dialects/webhook/signature"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Verify checks the signature of each delivery, over the body as received,
// before anything is produced: a missing or wrong signature, or a stale
// timestamp, is a 401 naming the check that failed, and nothing is
// written.
type Verify struct {
	// Scheme is github (X-Hub-Signature-256), stripe (Stripe-Signature),
	// standard (Standard Webhooks: webhook-id, webhook-timestamp,
	// webhook-signature) or hmac (a header of your choice).
	Scheme string `json:"scheme"`

	// Secrets to check with; any one matching is enough, so that a secret
	// can be rotated. {env.*} and {file.*} placeholders are expanded when
	// the config loads. For standard, each is whsec_ and the base64 key.
	Secrets []string `json:"secrets"`

	// How far the signed timestamp may be from now, either way (stripe and
	// standard). Default: 5m.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`

	// hmac: the header holding the signature. Required for hmac.
	Header string `json:"header,omitempty"`
	// hmac: sha256, sha1 or sha512. Default: sha256.
	Algorithm string `json:"algorithm,omitempty"`
	// hmac: hex or base64. Default: hex.
	Encoding string `json:"encoding,omitempty"`
	// hmac: text before the signature in the header, e.g. "sha256=".
	// Default: none.
	Prefix string `json:"prefix,omitempty"`

	keys [][]byte
	now  func() time.Time
}

// provision expands and decodes the secrets, and checks the scheme.
func (v *Verify) provision() error {
	repl := caddy.NewReplacer()
	v.keys = v.keys[:0]
	for _, s := range v.Secrets {
		s, err := repl.ReplaceOrErr(s, true, true)
		if err != nil {
			return fmt.Errorf("verify: a secret: %w", err)
		}
		if s == "" {
			return errors.New("verify: an empty secret")
		}
		key := []byte(s)
		if v.Scheme == "standard" {
			if key, err = signature.StandardSecret(s); err != nil {
				return fmt.Errorf("verify standard: %w", err)
			}
		}
		v.keys = append(v.keys, key)
	}
	if len(v.keys) == 0 {
		return errors.New("verify: no secret")
	}
	switch v.Scheme {
	case "github", "stripe", "standard":
	case "hmac":
		if v.Header == "" {
			return errors.New("verify hmac: no header")
		}
		if signature.Algorithm(v.Algorithm).New() == nil {
			return fmt.Errorf("verify hmac: unknown algorithm %q: want sha256, sha1 or sha512", v.Algorithm)
		}
		if v.Encoding != "" && v.Encoding != "hex" && v.Encoding != "base64" {
			return fmt.Errorf("verify hmac: unknown encoding %q: want hex or base64", v.Encoding)
		}
	default:
		return fmt.Errorf("verify: unknown scheme %q: want github, stripe, standard or hmac", v.Scheme)
	}
	if v.now == nil {
		v.now = time.Now
	}
	return nil
}

// check runs the scheme on a request and its body as received.
func (v *Verify) check(r *http.Request, body []byte) error {
	tol := time.Duration(v.Tolerance)
	switch v.Scheme {
	case "github":
		return signature.GitHub(v.keys, r.Header.Get(signature.GitHubHeader), body)
	case "stripe":
		return signature.Stripe(v.keys, r.Header.Get(signature.StripeHeader), body, v.now(), tol)
	case "standard":
		return signature.Standard(v.keys, r.Header.Get(signature.StandardID), r.Header.Get(signature.StandardTimestamp),
			r.Header.Get(signature.StandardSignature), body, v.now(), tol)
	}
	h := signature.HMAC{Header: v.Header, Algorithm: signature.Algorithm(v.Algorithm), Base64: v.Encoding == "base64", Prefix: v.Prefix}
	return h.Verify(v.keys, r.Header.Get(v.Header), body)
}

// VerifiesBody reports whether the route checks signatures.
func (wh *Webhook) VerifiesBody() bool { return wh.Verify != nil }

// VerifyBody checks the delivery's signature over body, as received.
func (wh *Webhook) VerifyBody(r *http.Request, body []byte) error {
	if err := wh.Verify.check(r, body); err != nil {
		return &dialects.Error{Class: producer.ClassNotAuthorized, Status: http.StatusUnauthorized,
			Message: "signature check failed: " + err.Error() + "; nothing was written", Err: err}
	}
	return nil
}

// parseVerify parses the verify subdirective:
//
//	verify github <secret...>
//	verify stripe <secret...> [tolerance <duration>]
//	verify standard <secret...> [tolerance <duration>]
//	verify hmac {
//		header <name>
//		algorithm sha256|sha1|sha512
//		encoding hex|base64
//		prefix <text>
//		secret <secret...>
//	}
func parseVerify(d *caddyfile.Dispenser) (*Verify, error) {
	v := &Verify{}
	if !d.NextArg() {
		return nil, d.Err("verify needs a scheme: github, stripe, standard or hmac")
	}
	v.Scheme = d.Val()
	args := d.RemainingArgs()
	switch v.Scheme {
	case "github", "stripe", "standard":
		for i := 0; i < len(args); i++ {
			if args[i] == "tolerance" && v.Scheme != "github" && i+2 == len(args) {
				dur, err := caddy.ParseDuration(args[i+1])
				if err != nil || dur <= 0 {
					return nil, d.Errf("verify %s: tolerance %q: want a positive duration", v.Scheme, args[i+1])
				}
				v.Tolerance = caddy.Duration(dur)
				break
			}
			v.Secrets = append(v.Secrets, args[i])
		}
		if len(v.Secrets) == 0 {
			return nil, d.Errf("verify %s needs at least one secret", v.Scheme)
		}
		if d.NextBlock(d.Nesting()) {
			return nil, d.Errf("verify %s takes no block", v.Scheme)
		}
	case "hmac":
		if len(args) > 0 {
			return nil, d.Err("verify hmac takes its settings in a block")
		}
		seen := dialects.Seen{}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			if err := seen.Once(d); err != nil {
				return nil, err
			}
			var dst *string
			switch d.Val() {
			case "header":
				dst = &v.Header
			case "algorithm":
				dst = &v.Algorithm
			case "encoding":
				dst = &v.Encoding
			case "prefix":
				dst = &v.Prefix
			case "secret":
				if v.Secrets = d.RemainingArgs(); len(v.Secrets) == 0 {
					return nil, d.ArgErr()
				}
				continue
			default:
				return nil, dialects.UnknownSubdirective(d, "verify hmac", "header", "algorithm", "encoding", "prefix", "secret")
			}
			if !d.AllArgs(dst) {
				return nil, d.ArgErr()
			}
		}
		if v.Header == "" || len(v.Secrets) == 0 {
			return nil, d.Err("verify hmac needs a header and a secret")
		}
	default:
		return nil, d.Errf("verify: unknown scheme %q: want github, stripe, standard or hmac", v.Scheme)
	}
	return v, nil
}

// Interface guards
var _ dialects.Verifier = (*Webhook)(nil)
