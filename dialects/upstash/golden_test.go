package upstash_test

import (
	"bufio"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

var update = flag.Bool("update", false, "rewrite the responses of testdata/golden")

// TestGolden sends each testdata/golden file's requests in order, to a topic
// of its own with 3 partitions, and compares the responses byte for byte:
// produce with explicit partitions and timestamps, then the stateless reads
// (/fetch, /topics, /offsets) and the consumer-group endpoints' 501. The
// format is confluent_v2's: request line, headers, blank line, body; then
// status line, headers (Content-Type, Allow, Retry-After), blank line, body.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatal("no golden files", err)
	}
	topics := map[string]int32{}
	var names []string
	for _, f := range files {
		name := "golden-" + strings.TrimSuffix(filepath.Base(f), ".txt")
		names = append(names, name)
		topics[name] = 3
	}
	g := gatewaytest.New(t, gatewaytest.Options{Topics: topics, Site: `kafka_rest upstash {
		topics golden-*
	}`})
	for i, f := range files {
		topic := g.Topic(names[i])
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rewritten strings.Builder
		for j, part := range strings.Split(string(b), "-- request --\n")[1:] {
			req, resp, ok := strings.Cut(part, "-- response --\n")
			if !ok {
				t.Fatalf("%s: a request without a response section", f)
			}
			got := exchange(t, g, strings.ReplaceAll(req, "{topic}", topic))
			got = strings.ReplaceAll(got, topic, "{topic}")
			if *update {
				fmt.Fprintf(&rewritten, "-- request --\n%s-- response --\n%s", req, got)
				continue
			}
			if got != resp {
				t.Errorf("%s exchange %d:\n got:\n%s\nwant:\n%s", f, j, got, resp)
			}
		}
		if *update {
			if err := os.WriteFile(f, []byte(rewritten.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func exchange(t *testing.T, g *gatewaytest.Gateway, text string) string {
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
