package confluentv2_test

import (
	"bufio"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

var update = flag.Bool("update", false, "rewrite the responses of testdata/golden")

// exchange is one request and its expected response, as text: request line,
// headers, blank line, body; status line, headers, blank line, body.
type exchange struct{ request, response string }

func readGolden(t *testing.T, path string) []exchange {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []exchange
	for _, part := range strings.Split(string(b), "-- request --\n")[1:] {
		req, resp, ok := strings.Cut(part, "-- response --\n")
		if !ok {
			t.Fatalf("%s: a request without a response section", path)
		}
		out = append(out, exchange{req, resp})
	}
	return out
}

// TestGolden sends each golden file's requests in order, to a topic of its
// own with 3 partitions, and compares the responses byte for byte. Keyed
// records or explicit partitions keep the answers deterministic.
func TestGolden(t *testing.T) {
	files := goldenFiles(t, "testdata/golden/*.txt")
	var names []string
	for _, f := range files {
		names = append(names, goldenTopic(f))
	}
	runGolden(t, start(t, names...), files, nil)
}

// TestGoldenSchema is TestGolden for Avro, JSON Schema and Protobuf
// produce through the test registry. Schema ids differ from run to run (the
// registry outlives runs), so the answers' ids read {id}.
func TestGoldenSchema(t *testing.T) {
	registry := gatewaytest.RegistryURL(t)
	files := goldenFiles(t, "testdata/golden-schema/*.txt")
	var names []string
	for _, f := range files {
		names = append(names, goldenTopic(f))
	}
	ids := regexp.MustCompile(`("(?:key|value)_schema_id":|schema )[0-9]+`)
	runGolden(t, startSchemas(t, registry, names...), files, func(s string) string {
		return ids.ReplaceAllString(s, "${1}{id}")
	})
}

func goldenFiles(t *testing.T, glob string) []string {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatal("no golden files", glob, err)
	}
	return files
}

func goldenTopic(file string) string {
	return "golden-" + strings.TrimSuffix(filepath.Base(file), ".txt")
}

// runGolden plays each file's exchanges against g, to the file's topic,
// with normalize (if not nil) applied to the answers; with -update it
// rewrites the files' responses instead.
func runGolden(t *testing.T, g *gatewaytest.Gateway, files []string, normalize func(string) string) {
	t.Helper()
	for _, f := range files {
		topic := g.Topic(goldenTopic(f))
		exs := readGolden(t, f)
		var rewritten strings.Builder
		for j, ex := range exs {
			got := doExchange(t, g, strings.ReplaceAll(ex.request, "{topic}", topic))
			got = strings.ReplaceAll(got, topic, "{topic}")
			if normalize != nil {
				got = normalize(got)
			}
			if *update {
				fmt.Fprintf(&rewritten, "-- request --\n%s-- response --\n%s", ex.request, got)
				continue
			}
			if got != ex.response {
				t.Errorf("%s exchange %d:\n got:\n%s\nwant:\n%s", f, j, got, ex.response)
			}
		}
		if *update {
			if err := os.WriteFile(f, []byte(rewritten.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func doExchange(t *testing.T, g *gatewaytest.Gateway, text string) string {
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
