package dialects

import (
	"errors"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"topic", "topic", 0},
		{"topc", "topic", 1},
		{"topcs", "topics", 1},
		{"lingr", "linger", 1},
		{"kitten", "sitting", 3},
		{"max_bodyy", "max_body", 1},
		{"ca", "acks", 3},
		{"kye", "key", 1},
		{"topcis", "topics", 1},
		{"ab", "ba", 1},
		{"abc", "ca", 3}, // optimal string alignment, not Damerau-Levenshtein's 2
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := editDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"cluster", "topics", "max_body", "topic", "key"}
	for _, tc := range []struct {
		name  string
		known []string
		want  string
	}{
		{"topcs", known, `: did you mean "topics"?`},
		{"topc", known, `: did you mean "topic"?`},
		{"topis", known, `: did you mean "topics"?`}, // a tie: the first wins
		{"kye", known, `: did you mean "key"?`},
		{"topcis", known, `: did you mean "topics"?`},
		{"ky", known, `: did you mean "key"?`},
		{"x", known, `: want cluster, topics, max_body, topic or key`},         // too short to be anything's typo
		{"partition", known, `: want cluster, topics, max_body, topic or key`}, // too far
		{"x", []string{"consume"}, ": want consume"},
		{"x", nil, ""},
	} {
		if got := Suggest(tc.name, tc.known); got != tc.want {
			t.Errorf("Suggest(%q, %q) = %q, want %q", tc.name, tc.known, got, tc.want)
		}
	}
}

func TestUnknownSubdirective(t *testing.T) {
	d := caddyfile.NewTestDispenser("webhook {\n\ttopc a\n}")
	d.Next()
	d.NextBlock(0)
	err := UnknownSubdirective(d, "webhook", "topic", "key")
	if got, want := err.Error(), `unknown webhook subdirective "topc": did you mean "topic"?, at Testfile:2`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	var e *UnknownSubdirectiveError
	if !errors.As(err, &e) || e.Block != "webhook" || e.Token.Text != "topc" || e.Token.Line != 2 || len(e.Known) != 2 {
		t.Fatalf("errors.As: %+v", e)
	}
}

func TestSeen(t *testing.T) {
	d := caddyfile.NewTestDispenser("a 1\nb 2\na 3\nh x\nh y\nh x")
	seen := Seen{}
	var errs []string
	for d.Next() {
		var err error
		if d.Val() == "h" {
			d.NextArg()
			err = seen.OnceAs(d, "h "+d.Val())
		} else {
			err = seen.Once(d)
			d.NextArg()
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	want := []string{
		"a is already set (line 1): give it once, at Testfile:3",
		"h x is already set (line 4): give it once, at Testfile:6",
	}
	if len(errs) != len(want) || errs[0] != want[0] || errs[1] != want[1] {
		t.Fatalf("got %q, want %q", errs, want)
	}
}
