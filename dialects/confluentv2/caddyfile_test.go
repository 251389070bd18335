package confluentv2

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		in      string
		consume bool
		err     string // a part of the error; "" for none
	}{
		{in: "confluent_v2"},
		{in: "confluent_v2 {\nconsume\n}", consume: true},
		{in: "confluent_v2 {\nconsume yes\n}", err: "wrong argument count"},
		{in: "confluent_v2 {\nconsume\nconsume\n}", err: "consume is already set (line 2): give it once, at Testfile:3"},
		{in: "confluent_v2 {\nconsum\n}", err: `unknown confluent_v2 subdirective "consum": did you mean "consume"?, at Testfile:2`},
		{in: "confluent_v2 {\ntopic x\n}", err: `unknown confluent_v2 subdirective "topic": want consume`},
	} {
		var c ConfluentV2
		err := c.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
		if tc.err == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.in, err)
			} else if c.EnableConsume != tc.consume {
				t.Errorf("%q: consume %v, want %v", tc.in, c.EnableConsume, tc.consume)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
		}
	}
}
