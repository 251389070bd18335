package webhook_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// Signed deliveries through a real Caddy: each scheme accepts what its
// sender sends and refuses tampered, stale, unsigned and wrongly keyed
// deliveries with a 401 naming the check, writing nothing.
func TestVerifySenders(t *testing.T) {
	const stdKey = "c2VjcmV0LWtleS1mb3ItdGVzdHM=" // base64 of "secret-key-for-tests"
	t.Setenv("CADDY_KAFKA_TEST_GH_SECRET", "gh-secret")
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"gh": 1, "st": 1, "sw": 1, "hm": 1},
		Site: `
	handle /gh {
		kafka_rest webhook {
			topic {topic.gh}
			verify github old-secret {env.CADDY_KAFKA_TEST_GH_SECRET}
		}
	}
	handle /st {
		kafka_rest webhook {
			topic {topic.st}
			verify stripe whsec_stripe tolerance 2m
		}
	}
	handle /sw {
		kafka_rest webhook {
			topic {topic.sw}
			verify standard whsec_` + stdKey + `
		}
	}
	handle /hm {
		kafka_rest webhook {
			topic {topic.hm}
			verify hmac {
				header X-Signature
				prefix sha256=
				secret s3cret
			}
		}
	}`,
	})
	body := `{"action":"opened","number":1}`
	now := time.Now().Unix()
	ts := strconv.FormatInt(now, 10)
	stale := strconv.FormatInt(now-600, 10)
	key, _ := base64.StdEncoding.DecodeString(stdKey)
	std := func(id, ts, body string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "." + body))
		return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(body))
	zw.Close()

	for _, tc := range []struct {
		name, path string
		header     http.Header
		body       string
		status     int
		says       string
	}{
		{"github", "/gh", http.Header{"X-Hub-Signature-256": {"sha256=" + hmacHex("gh-secret", body)}, "X-Github-Event": {"issues"}}, body, 200, ""},
		{"github, the old secret", "/gh", http.Header{"X-Hub-Signature-256": {"sha256=" + hmacHex("old-secret", body)}}, body, 200, ""},
		{"github, gzip'd: signed as sent", "/gh", http.Header{"X-Hub-Signature-256": {"sha256=" + hmacHex("gh-secret", gz.String())}, "Content-Encoding": {"gzip"}}, gz.String(), 200, ""},
		{"github tampered", "/gh", http.Header{"X-Hub-Signature-256": {"sha256=" + hmacHex("gh-secret", body)}}, body + " ", 401, "no signature matches"},
		{"github wrong secret", "/gh", http.Header{"X-Hub-Signature-256": {"sha256=" + hmacHex("other", body)}}, body, 401, "no signature matches"},
		{"github unsigned", "/gh", nil, body, 401, "missing X-Hub-Signature-256"},
		{"stripe", "/st", http.Header{"Stripe-Signature": {"t=" + ts + ",v1=" + hmacHex("whsec_stripe", ts+"."+body) + ",v0=00"}}, body, 200, ""},
		{"stripe stale", "/st", http.Header{"Stripe-Signature": {"t=" + stale + ",v1=" + hmacHex("whsec_stripe", stale+"."+body)}}, body, 401, "timestamp outside the tolerance"},
		{"stripe tampered", "/st", http.Header{"Stripe-Signature": {"t=" + ts + ",v1=" + hmacHex("whsec_stripe", ts+"."+body)}}, `{}`, 401, "no signature matches"},
		{"stripe unsigned", "/st", nil, body, 401, "missing Stripe-Signature"},
		{"standard", "/sw", http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {"v1,bm9wZQ== " + std("msg_1", ts, body)}}, body, 200, ""},
		{"standard stale", "/sw", http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {stale}, "Webhook-Signature": {std("msg_1", stale, body)}}, body, 401, "timestamp outside the tolerance"},
		{"standard another id", "/sw", http.Header{"Webhook-Id": {"msg_2"}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {std("msg_1", ts, body)}}, body, 401, "no signature matches"},
		{"standard unsigned", "/sw", http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {ts}}, body, 401, "missing webhook-signature"},
		{"hmac", "/hm", http.Header{"X-Signature": {"sha256=" + hmacHex("s3cret", body)}}, body, 200, ""},
		{"hmac without the prefix", "/hm", http.Header{"X-Signature": {hmacHex("s3cret", body)}}, body, 401, "want the prefix"},
	} {
		h := http.Header{"Content-Type": {"application/json"}}
		for k, v := range tc.header {
			h[k] = v
		}
		resp, got := g.Do(t, http.MethodPost, tc.path, h, tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(string(got), tc.says) {
			t.Errorf("%s: %d %s, want %d saying %q", tc.name, resp.StatusCode, got, tc.status, tc.says)
		}
		if tc.status == 401 && !strings.HasPrefix(string(got), `{"error":"signature check failed: `) {
			t.Errorf("%s: %s, not the webhook's error format", tc.name, got)
		}
	}
	// Only the accepted deliveries were written, as the plain body.
	for topic, want := range map[string]int{"gh": 3, "st": 1, "sw": 1, "hm": 1} {
		recs := g.Records(t, topic, want)
		if len(recs) != want {
			t.Errorf("%s: %d records, want %d", topic, len(recs), want)
		}
		for _, r := range recs {
			if string(r.Value) != body {
				t.Errorf("%s: record %q", topic, r.Value)
			}
		}
	}
}
