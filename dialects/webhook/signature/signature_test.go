package signature

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// GitHub's published vector ("Validating webhook deliveries",
// docs.github.com): secret "It's a Secret to Everybody", payload
// "Hello, World!".
func TestGitHubVector(t *testing.T) {
	const sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	secret := [][]byte{[]byte("It's a Secret to Everybody")}
	body := []byte("Hello, World!")
	for _, tc := range []struct {
		name    string
		secrets [][]byte
		header  string
		body    []byte
		want    error
	}{
		{"the vector", secret, sig, body, nil},
		{"rotation: the second secret matches", [][]byte{[]byte("old"), secret[0]}, sig, body, nil},
		{"tampered body", secret, sig, []byte("Hello, World?"), ErrMismatch},
		{"wrong secret", [][]byte{[]byte("It's a secret to everybody")}, sig, body, ErrMismatch},
		{"unsigned", secret, "", body, ErrMissing},
		{"sha1 header form", secret, "sha1=" + strings.Repeat("0", 40), body, ErrMalformed},
		{"not hex", secret, "sha256=xyz", body, ErrMalformed},
	} {
		if err := GitHub(tc.secrets, tc.header, tc.body); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// The Standard Webhooks specification's vector (its libraries' "sign
// function works" test): secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, id
// msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330.
func TestStandardVector(t *testing.T) {
	key, err := StandardSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	const (
		id  = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts  = "1614265330"
		sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	body := []byte(`{"test": 2432232314}`)
	at := time.Unix(1614265330, 0)
	other, _ := StandardSecret("whsec_" + "c2VjcmV0LWtleQ==")
	for _, tc := range []struct {
		name           string
		secrets        [][]byte
		id, ts, header string
		body           []byte
		now            time.Time
		want           error
	}{
		{"the vector", [][]byte{key}, id, ts, sig, body, at, nil},
		{"several signatures, one matching", [][]byte{key}, id, ts, "v1,AAAA v2,xyz " + sig, body, at, nil},
		{"rotation: the second secret", [][]byte{other, key}, id, ts, sig, body, at, nil},
		{"within the tolerance", [][]byte{key}, id, ts, sig, body, at.Add(4 * time.Minute), nil},
		{"stale", [][]byte{key}, id, ts, sig, body, at.Add(6 * time.Minute), ErrStale},
		{"from the future", [][]byte{key}, id, ts, sig, body, at.Add(-6 * time.Minute), ErrStale},
		{"tampered body", [][]byte{key}, id, ts, sig, []byte(`{"test": 2432232315}`), at, ErrMismatch},
		{"another id", [][]byte{key}, "msg_other", ts, sig, body, at, ErrMismatch},
		{"another timestamp", [][]byte{key}, id, "1614265331", sig, body, at, ErrMismatch},
		{"wrong secret", [][]byte{other}, id, ts, sig, body, at, ErrMismatch},
		{"unsigned", [][]byte{key}, id, ts, "", body, at, ErrMissing},
		{"no id", [][]byte{key}, "", ts, sig, body, at, ErrMissing},
		{"no v1", [][]byte{key}, id, ts, "v2,abc", body, at, ErrMissing},
		{"bad timestamp", [][]byte{key}, id, "yesterday", sig, body, at, ErrMalformed},
	} {
		err := Standard(tc.secrets, tc.id, tc.ts, tc.header, tc.body, tc.now, 0)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := StandardSecret("whsec_not base64!"); err == nil {
		t.Error("a secret that is not base64 accepted")
	}
}

// Stripe publishes no fixed vector with its secret; this one was computed
// apart from the code under test (Python's hmac: HMAC-SHA256 of
// "1700000000." and the body, key "whsec_test_secret").
func TestStripe(t *testing.T) {
	secret := [][]byte{[]byte("whsec_test_secret")}
	body := []byte(`{"id":"evt_1","object":"event","type":"payment_intent.succeeded"}`)
	const v1 = "67da5088c63e080c71bd2bb0cb5c03d85a8fc6a21ce3aaf484df809654745b92"
	at := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		name    string
		secrets [][]byte
		header  string
		body    []byte
		now     time.Time
		tol     time.Duration
		want    error
	}{
		{"the vector", secret, "t=1700000000,v1=" + v1, body, at, 0, nil},
		{"with v0 and a rolled v1", secret, "t=1700000000,v1=" + strings.Repeat("ab", 32) + ",v1=" + v1 + ",v0=deadbeef", body, at, 0, nil},
		{"rotation", [][]byte{[]byte("whsec_old"), secret[0]}, "t=1700000000,v1=" + v1, body, at, 0, nil},
		{"stale", secret, "t=1700000000,v1=" + v1, body, at.Add(301 * time.Second), 0, ErrStale},
		{"a longer tolerance", secret, "t=1700000000,v1=" + v1, body, at.Add(time.Hour), 2 * time.Hour, nil},
		{"tampered", secret, "t=1700000000,v1=" + v1, append([]byte(" "), body...), at, 0, ErrMismatch},
		{"replayed with another t", secret, "t=1700000001,v1=" + v1, body, at, 0, ErrMismatch},
		{"wrong secret", [][]byte{[]byte("whsec_other")}, "t=1700000000,v1=" + v1, body, at, 0, ErrMismatch},
		{"unsigned", secret, "", body, at, 0, ErrMissing},
		{"no t", secret, "v1=" + v1, body, at, 0, ErrMissing},
		{"only v0", secret, "t=1700000000,v0=" + v1, body, at, 0, ErrMissing},
		{"bad t", secret, "t=soon,v1=" + v1, body, at, 0, ErrMalformed},
	} {
		err := Stripe(tc.secrets, tc.header, tc.body, tc.now, tc.tol)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestHMAC(t *testing.T) {
	// Computed apart (Python's hmac): base64 HMAC-SHA512 of "hello", key "k3y".
	const sig = "QD8Ql1rvszhy5TsOX0nwB2sNHKz5YCtCl5wNHIomve08ODg+3Xb6sChoFiAJHLOHQMepWwm5bE36o3ea3WYBtA=="
	h := HMAC{Header: "X-Signature", Algorithm: SHA512, Base64: true, Prefix: "sha512="}
	secret := [][]byte{[]byte("k3y")}
	if err := h.Verify(secret, "sha512="+sig, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		header, body string
		want         error
	}{
		{"sha512=" + sig, "hellO", ErrMismatch},
		{sig, "hello", ErrMalformed},
		{"sha512=" + sig[:20], "hello", ErrMalformed},
		{"", "hello", ErrMissing},
	} {
		if err := h.Verify(secret, tc.header, []byte(tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("%q %q: %v, want %v", tc.header, tc.body, err, tc.want)
		}
	}
	// The GitHub vector through the generic scheme.
	gh := HMAC{Header: "X-Hub-Signature-256", Prefix: "sha256="}
	if err := gh.Verify([][]byte{[]byte("It's a Secret to Everybody")},
		"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", []byte("Hello, World!")); err != nil {
		t.Fatal(err)
	}
}

// The errors never show a computed signature.
func TestErrorsShowNoSignature(t *testing.T) {
	secret := [][]byte{[]byte("s")}
	want := mac(Algorithm("").New(), secret[0], []byte("body"))
	for _, err := range []error{
		GitHub(secret, "sha256="+strings.Repeat("0", 64), []byte("body")),
		HMAC{Header: "X"}.Verify(secret, strings.Repeat("0", 64), []byte("body")),
	} {
		if err == nil || strings.Contains(err.Error(), string(want)) || strings.Contains(strings.ToLower(err.Error()), "expected") {
			t.Errorf("error %v", err)
		}
	}
}

// FuzzHeaders feeds arbitrary headers to every scheme: no panic, and no
// header that was not made with the secret is accepted.
func FuzzHeaders(f *testing.F) {
	f.Add("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "t=1,v1=ab,v0=cd", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v2,x", "1614265330", []byte("Hello, World!"))
	f.Add("", "", "", "", []byte(nil))
	f.Add("sha256=", "t=,v1=", "v1,", "-1", []byte("{}"))
	f.Fuzz(func(t *testing.T, gh, stripe, std, ts string, body []byte) {
		secret := [][]byte{[]byte("fuzz secret")}
		now := time.Unix(1614265330, 0)
		if GitHub(secret, gh, body) == nil {
			t.Fatalf("GitHub accepted %q for %q", gh, body)
		}
		if Stripe(secret, stripe, body, now, 0) == nil {
			t.Fatalf("Stripe accepted %q", stripe)
		}
		if Standard(secret, "id", ts, std, body, now, 0) == nil {
			t.Fatalf("Standard accepted %q", std)
		}
		if (HMAC{Header: "X", Prefix: "p="}).Verify(secret, gh, body) == nil {
			t.Fatalf("HMAC accepted %q", gh)
		}
	})
}
