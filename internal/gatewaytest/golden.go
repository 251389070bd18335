package gatewaytest

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Golden files are request and response pairs as text: "-- request --",
// the request line, headers, a blank line and the body; then
// "-- response --", the status, the headers Content-Type, Allow and
// Retry-After, a blank line and the body. "{topic}" stands for the file's
// topic (see GoldenTopic) on both sides.

// GoldenFiles are the golden files matching glob; there must be some.
func GoldenFiles(t testing.TB, glob string) []string {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatal("no golden files", glob, err)
	}
	return files
}

// GoldenTopic is the base name of a golden file's topic: "golden-" and the
// file's name without ".txt".
func GoldenTopic(file string) string {
	return "golden-" + strings.TrimSuffix(filepath.Base(file), ".txt")
}

// Golden plays each file's exchanges in order against g, to the file's
// topic, and compares each answer, with normalize (if not nil) applied,
// byte for byte; with update it rewrites the files' responses instead.
func Golden(t *testing.T, g *Gateway, files []string, update bool, normalize func(string) string) {
	t.Helper()
	for _, f := range files {
		topic := g.Topic(GoldenTopic(f))
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rewritten strings.Builder
		for j, part := range strings.Split(string(b), "-- request --\n")[1:] {
			req, want, ok := strings.Cut(part, "-- response --\n")
			if !ok {
				t.Fatalf("%s: a request without a response section", f)
			}
			got := goldenExchange(t, g, strings.ReplaceAll(req, "{topic}", topic))
			got = strings.ReplaceAll(got, topic, "{topic}")
			if normalize != nil {
				got = normalize(got)
			}
			if update {
				fmt.Fprintf(&rewritten, "-- request --\n%s-- response --\n%s", req, got)
				continue
			}
			if got != want {
				t.Errorf("%s exchange %d:\n got:\n%s\nwant:\n%s", f, j, got, want)
			}
		}
		if update {
			if err := os.WriteFile(f, []byte(rewritten.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// goldenExchange sends one request written as text and writes its answer
// as text.
func goldenExchange(t *testing.T, g *Gateway, text string) string {
	t.Helper()
	head, body, _ := strings.Cut(text, "\n\n")
	sc := bufio.NewScanner(strings.NewReader(head))
	sc.Scan()
	method, path, _ := strings.Cut(sc.Text(), " ")
	h := http.Header{}
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		h.Add(k, v)
	}
	resp, b := g.Do(t, method, path, h, strings.TrimSuffix(body, "\n"))
	var sb strings.Builder
	sb.WriteString(strconv.Itoa(resp.StatusCode) + "\n")
	for _, k := range []string{"Content-Type", "Allow", "Retry-After"} {
		if v := resp.Header.Get(k); v != "" {
			fmt.Fprintf(&sb, "%s: %s\n", k, v)
		}
	}
	sb.WriteString("\n")
	sb.Write(b)
	sb.WriteString("\n")
	return sb.String()
}
