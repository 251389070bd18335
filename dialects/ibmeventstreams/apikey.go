package ibmeventstreams

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
)

func init() {
	caddy.RegisterModule(APIKey{})
	httpcaddyfile.RegisterHandlerDirective("api_key_auth", parseAPIKeyAuth)
	httpcaddyfile.RegisterDirectiveOrder("api_key_auth", httpcaddyfile.After, "basic_auth")
}

// APIKey authenticates clients by API key, as IBM Event Streams' REST
// producer does (it lives with the dialect whose scheme and 401 body it
// speaks, so that caddymodule imports no dialect): "Authorization: Bearer <key>", or HTTP Basic with the user
// "token" and the key as password. A key's name becomes
// {http.auth.user.id}, so "topics {http.auth.user.id}-*" in kafka_rest gives
// each key its own topics.
//
// Keys are stored as the hex SHA-256 digest of the key, made with
//
//	printf %s "$KEY" | sha256sum | cut -d' ' -f1
//
// API keys are long random strings, so a fast hash is as safe as a slow one
// (nothing to brute-force) and costs a microsecond per request instead of
// bcrypt's tens of milliseconds. The presented key's digest is compared with
// every stored digest in constant time. Use keys of at least 128 random bits,
// e.g. `openssl rand -hex 32`; never a password.
//
// On a missing or wrong key it answers 401 itself, with a WWW-Authenticate
// Bearer challenge and IBM Event Streams' JSON error body, whose incident is
// {http.request.uuid}; caddyauth's authentication handler then returns its
// 401 error, which Caddy logs. Because the body is already written,
// handle_errors routes that write a body for 401 would append to it, and
// when this provider is one of several in an authentication handler, that
// handler discards the body (the 401 comes without it).
type APIKey struct {
	// Keys that are accepted. A name may have several keys (to rotate
	// them); a digest may appear only once.
	Keys []APIKeyEntry `json:"keys,omitempty"`

	digests [][sha256.Size]byte
}

// APIKeyEntry is one accepted key.
type APIKeyEntry struct {
	// Name of the key's owner: {http.auth.user.id} once authenticated.
	Name string `json:"name"`
	// Hash is the lowercase or uppercase hex SHA-256 digest of the key (64
	// characters). {env.*} and {file.*} placeholders are expanded when the
	// config loads.
	Hash string `json:"hash"`
}

// CaddyModule returns the Caddy module information.
func (APIKey) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.authentication.providers.api_key",
		New: func() caddy.Module { return new(APIKey) },
	}
}

// Provision decodes the digests.
func (a *APIKey) Provision(caddy.Context) error {
	repl := caddy.NewReplacer()
	a.digests = make([][sha256.Size]byte, len(a.Keys))
	seen := make(map[[sha256.Size]byte]bool, len(a.Keys))
	for i, k := range a.Keys {
		if k.Name == "" {
			return errors.New("api key without a name")
		}
		h := strings.TrimSpace(repl.ReplaceKnown(k.Hash, ""))
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return fmt.Errorf("api key %q: hash must be the key's hex SHA-256 digest (64 hex characters, from: printf %%s \"$KEY\" | sha256sum)", k.Name)
		}
		copy(a.digests[i][:], b)
		if seen[a.digests[i]] {
			return fmt.Errorf("api key %q: the same key is listed twice", k.Name)
		}
		seen[a.digests[i]] = true
	}
	return nil
}

// Authenticate checks the request's API key.
func (a *APIKey) Authenticate(w http.ResponseWriter, r *http.Request) (caddyauth.User, bool, error) {
	if key, ok := presentedKey(r); ok {
		sum := sha256.Sum256([]byte(key))
		match := -1
		for i := range a.digests {
			match = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(sum[:], a.digests[i][:]), i, match)
		}
		if match >= 0 {
			return caddyauth.User{ID: a.Keys[match].Name}, true, nil
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="kafka"`)
	WriteStatusError(w, r, http.StatusUnauthorized, "Unauthorized: the API key is missing or not valid")
	return caddyauth.User{}, false, nil
}

// presentedKey is the key of a Bearer authorization, or the password of a
// Basic one with the user "token".
func presentedKey(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		key := strings.TrimSpace(auth[7:])
		return key, key != ""
	}
	if user, pass, ok := r.BasicAuth(); ok && user == "token" && pass != "" {
		return pass, true
	}
	return "", false
}

// parseAPIKeyAuth parses the api_key_auth directive into an authentication
// handler with the api_key provider:
//
//	api_key_auth [<matcher>] {
//		<name> <sha256-hex>
//		...
//	}
func parseAPIKeyAuth(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // the directive's name
	if h.NextArg() {
		return nil, h.ArgErr()
	}
	var a APIKey
	for h.NextBlock(0) {
		var e APIKeyEntry
		e.Name = h.Val()
		if !h.AllArgs(&e.Hash) || !validDigest(e.Hash) {
			return nil, h.Errf("api_key_auth: %q needs one SHA-256 hex digest of the key (64 hex characters), from: printf %%s \"$KEY\" | sha256sum", e.Name)
		}
		a.Keys = append(a.Keys, e)
	}
	if len(a.Keys) == 0 {
		return nil, h.Err("api_key_auth needs at least one key: <name> <sha256-hex>")
	}
	return caddyauth.Authentication{
		ProvidersRaw: caddy.ModuleMap{"api_key": caddyconfig.JSON(a, nil)},
	}, nil
}

// validDigest checks a digest at adapt time, unless a placeholder gives it.
func validDigest(s string) bool {
	if strings.Contains(s, "{") {
		return true
	}
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// Interface guards
var (
	_ caddy.Provisioner       = (*APIKey)(nil)
	_ caddyauth.Authenticator = (*APIKey)(nil)
)
