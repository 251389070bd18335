package webhook_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-kafka/caddy-kafka/dialects/webhook"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want webhook.Webhook
		err  string // a part of the error; "" for none
	}{
		{in: "webhook", err: "topic is required"},
		{
			in: "webhook {\ntopic events.{http.request.uri.path.1}\nkey {http.request.header.X-Id}\n" +
				"header a {http.request.uri.path}\nheader b x\nsplit lines\n}",
			want: webhook.Webhook{Topic: "events.{http.request.uri.path.1}", Key: "{http.request.header.X-Id}",
				Headers: map[string]string{"a": "{http.request.uri.path}", "b": "x"}, Split: "lines"},
		},
		{in: "webhook {\ntopic\n}", err: "wrong argument count"},
		{in: "webhook {\ntopic a b\n}", err: "wrong argument count"},
		{in: "webhook {\nheader a\n}", err: "header takes a name and a value template"},
		{in: "webhook {\nsplit words\n}", err: `unknown split "words": want lines`},
		{in: "webhook {\ntopic a\ntopic b\n}", err: "topic is already set (line 2): give it once, at Testfile:3"},
		{in: "webhook {\nkey a\nkey b\n}", err: "key is already set"},
		{in: "webhook {\nsplit lines\nsplit lines\n}", err: "split is already set"},
		{in: "webhook {\nheader a x\nheader a y\n}", err: "header a is already set (line 2)"},
		{in: "webhook {\ntopc a\n}", err: `unknown webhook subdirective "topc": did you mean "topic"?, at Testfile:2`},
		{in: "webhook {\nheaders a b\n}", err: `unknown webhook subdirective "headers": did you mean "header"?`},
		{in: "webhook {\ntopic t\nverify github s1 {env.S2}\n}", want: webhook.Webhook{Topic: "t", Verify: &webhook.Verify{Scheme: "github", Secrets: []string{"s1", "{env.S2}"}}}},
		{in: "webhook {\ntopic t\nverify stripe s1 tolerance 10m\n}", want: webhook.Webhook{Topic: "t", Verify: &webhook.Verify{Scheme: "stripe", Secrets: []string{"s1"}, Tolerance: caddy.Duration(10 * time.Minute)}}},
		{in: "webhook {\ntopic t\nverify hmac {\nheader X-Sig\nalgorithm sha512\nencoding base64\nprefix v1=\nsecret a b\n}\n}",
			want: webhook.Webhook{Topic: "t", Verify: &webhook.Verify{Scheme: "hmac", Header: "X-Sig", Algorithm: "sha512", Encoding: "base64", Prefix: "v1=", Secrets: []string{"a", "b"}}}},
		{in: "webhook {\nverify github\n}", err: "verify github needs at least one secret"},
		{in: "webhook {\nverify gitlab s\n}", err: `verify: unknown scheme "gitlab"`},
		{in: "webhook {\nverify stripe s tolerance soon\n}", err: `tolerance "soon"`},
		{in: "webhook {\nverify hmac {\nsecret a\n}\n}", err: "verify hmac needs a header and a secret"},
		{in: "webhook {\nverify hmac {\nheader X\nsecret a\nhash md5\n}\n}", err: `unknown verify hmac subdirective "hash"`},
		{in: "webhook {\npartition 1\n}", err: `unknown webhook subdirective "partition": want topic, key, header, split, value_schema or verify`},
	} {
		var wh webhook.Webhook
		err := wh.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
		if tc.err == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.in, err)
			} else if !reflect.DeepEqual(wh, tc.want) {
				t.Errorf("%q: got %+v, want %+v", tc.in, wh, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
		}
	}
}
