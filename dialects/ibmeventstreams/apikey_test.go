package ibmeventstreams

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func sha(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func provisioned(t *testing.T, keys ...APIKeyEntry) *APIKey {
	t.Helper()
	a := &APIKey{Keys: keys}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAPIKeyAuthenticate(t *testing.T) {
	a := provisioned(t,
		APIKeyEntry{Name: "orders", Hash: sha("old-orders-key")},
		APIKeyEntry{Name: "orders", Hash: strings.ToUpper(sha("new-orders-key"))}, // rotation; upper-case hex
		APIKeyEntry{Name: "payments", Hash: sha("payments-key")},
	)
	basic := func(user, pass string) string {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth(user, pass)
		return r.Header.Get("Authorization")
	}
	for auth, want := range map[string]string{
		"Bearer old-orders-key":           "orders",
		"Bearer new-orders-key":           "orders",
		"bearer payments-key":             "payments",
		"BEARER  payments-key ":           "payments",
		basic("token", "payments-key"):    "payments",
		"":                                "",
		"Bearer ":                         "",
		"Bearer payments-key2":            "",
		"Bearer " + sha("payments-key"):   "",
		"payments-key":                    "",
		"Token payments-key":              "",
		basic("payments", "payments-key"): "",
		basic("token", ""):                "",
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/topics/t/records", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		user, ok, err := a.Authenticate(w, r)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (want != "") || user.ID != want {
			t.Errorf("%q: user %q ok %v, want %q", auth, user.ID, ok, want)
			continue
		}
		if ok {
			if w.Code != 200 || w.Body.Len() != 0 || len(w.Header()) != 0 {
				t.Errorf("%q: authenticated but wrote %d %v %s", auth, w.Code, w.Header(), w.Body)
			}
			continue
		}
		if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="kafka"` || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%q: %d %v", auth, w.Code, w.Header())
		}
		const body = `{"error_code":401,"message":"Unauthorized: the API key is missing or not valid",` +
			`"error":{"error_code":401,"message":"Unauthorized: the API key is missing or not valid","incident":""}}`
		if w.Body.String() != body {
			t.Errorf("%q: body %s", auth, w.Body)
		}
	}
}

func TestAPIKeyProvisionErrors(t *testing.T) {
	for name, keys := range map[string][]APIKeyEntry{
		"not hex":     {{Name: "a", Hash: strings.Repeat("z", 64)}},
		"short":       {{Name: "a", Hash: sha("k")[:62]}},
		"bcrypt":      {{Name: "a", Hash: "$2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG"}},
		"no name":     {{Name: "", Hash: sha("k")}},
		"same key":    {{Name: "a", Hash: sha("k")}, {Name: "b", Hash: sha("k")}},
		"placeholder": {{Name: "a", Hash: "{env.CADDY_KAFKA_TEST_UNSET_DIGEST}"}},
	} {
		a := &APIKey{Keys: keys}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		if err := a.Provision(ctx); err == nil {
			t.Errorf("%s: provisioned", name)
		}
		cancel()
	}
}

func TestAPIKeyDigestFromEnv(t *testing.T) {
	t.Setenv("CADDY_KAFKA_TEST_DIGEST", sha("env-key"))
	a := provisioned(t, APIKeyEntry{Name: "env", Hash: "{env.CADDY_KAFKA_TEST_DIGEST}"})
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "Bearer env-key")
	if user, ok, _ := a.Authenticate(httptest.NewRecorder(), r); !ok || user.ID != "env" {
		t.Fatalf("user %q ok %v", user.ID, ok)
	}
}

func adapt(t *testing.T, site string) (string, error) {
	t.Helper()
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(`{
	kafka {
		brokers localhost:9092
	}
}
:8080 {
	`+site+`
}
`), nil)
	return string(cfg), err
}

func TestAPIKeyAuthCaddyfile(t *testing.T) {
	// Written after kafka_rest, ordered before it, and after basic_auth.
	cfg, err := adapt(t, `kafka_rest ibm_event_streams
	api_key_auth /topics/* {
		orders `+sha("k1")+`
		orders {env.ORDERS_KEY_SHA256}
		payments `+sha("k2")+`
	}
	basic_auth /admin/* {
		admin $2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG
	}`)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Handle []json.RawMessage `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatal(err)
	}
	var handlers []json.RawMessage
	for _, r := range c.Apps.HTTP.Servers["srv0"].Routes {
		handlers = append(handlers, r.Handle...)
	}
	if len(handlers) != 3 || !strings.Contains(string(handlers[0]), `"http_basic"`) || !strings.Contains(string(handlers[2]), `"kafka_rest"`) {
		t.Fatalf("want basic_auth, api_key_auth, kafka_rest in order: %s", cfg)
	}
	var auth struct {
		Handler   string `json:"handler"`
		Providers map[string]APIKey
	}
	if err := json.Unmarshal(handlers[1], &auth); err != nil {
		t.Fatal(err)
	}
	want := []APIKeyEntry{{"orders", sha("k1")}, {"orders", "{env.ORDERS_KEY_SHA256}"}, {"payments", sha("k2")}}
	got := auth.Providers["api_key"].Keys
	if auth.Handler != "authentication" || len(auth.Providers) != 1 || len(got) != len(want) {
		t.Fatalf("api_key_auth adapted to %s", handlers[1])
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("key %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestAPIKeyAuthCaddyfileErrors(t *testing.T) {
	for _, site := range []string{
		"api_key_auth {\n}",
		"api_key_auth",
		"api_key_auth realm {\n a " + sha("k") + "\n}",
		"api_key_auth {\n a\n}",
		"api_key_auth {\n a " + sha("k") + " extra\n}",
		"api_key_auth {\n a not-a-digest\n}",
	} {
		if _, err := adapt(t, site); err == nil {
			t.Errorf("%q adapted", site)
		}
	}
}
