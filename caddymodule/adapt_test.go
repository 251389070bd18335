package caddymodule_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-kafka/caddy-kafka"
)

var update = flag.Bool("update", false, "rewrite the expected JSON of successful adapt tests")

// TestCaddyfileAdapt runs every testdata/caddyfile_adapt/*.caddyfiletest:
// a Caddyfile, a line of ten dashes, then the adapted JSON or, for a
// Caddyfile that must be refused, the text its error must contain.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt tests: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			caddyfile, want, ok := strings.Cut(string(raw), "\n----------\n")
			if !ok {
				t.Fatal("no ---------- separator")
			}
			want = strings.TrimSpace(want)
			got, _, adaptErr := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile+"\n"), nil)
			if !strings.HasPrefix(want, "{") {
				if adaptErr == nil {
					t.Fatalf("adapted, but want an error containing %q", want)
				}
				if !strings.Contains(adaptErr.Error(), want) {
					t.Fatalf("error %q does not contain %q", adaptErr, want)
				}
				return
			}
			if adaptErr != nil {
				t.Fatalf("adapt: %v", adaptErr)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "\t"); err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(f, []byte(caddyfile+"\n----------\n"+pretty.String()+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			var gotV, wantV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(want), &wantV); err != nil {
				t.Fatalf("expected JSON: %v", err)
			}
			if g, w := mustJSON(gotV), mustJSON(wantV); g != w {
				t.Fatalf("adapted JSON differs:\n got %s\nwant %s", pretty.String(), want)
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
