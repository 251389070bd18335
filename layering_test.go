package caddykafka_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/caddy-kafka/caddy-kafka"

// franzExempt are the packages besides producer/ whose non-test code may
// import franz-go: commands, and the test helpers that run brokers and read
// Kafka back (gatewaytest for the suites, relcheck for the fault suites).
var franzExempt = []string{module + "/cmd/", module + "/internal/gatewaytest", module + "/internal/relcheck"}

// TestOnlyProducerImportsFranzGo keeps franz-go behind producer/: every
// other package reaches Kafka through producer's own types, so a franz-go
// upgrade or a change of client touches one package.
func TestOnlyProducerImportsFranzGo(t *testing.T) {
	var producerImports bool
	pkgs := listImports(t)
	for path, imports := range pkgs {
		inProducer := path == module+"/producer" || strings.HasPrefix(path, module+"/producer/")
		exempt := false
		for _, e := range franzExempt {
			exempt = exempt || path == e || strings.HasPrefix(path, e)
		}
		for _, imp := range imports {
			if !strings.HasPrefix(imp, "github.com/twmb/franz-go") {
				continue
			}
			if inProducer {
				producerImports = true
			} else if !exempt {
				t.Errorf("%s imports %s: only producer/ may import franz-go; add what it needs to producer's API", path, imp)
			}
		}
	}
	// Guard the guard: a listing that missed the packages would pass.
	if len(pkgs) < 5 || !producerImports {
		t.Fatalf("go list saw %d packages and producer importing franz-go: %v; the check is not looking at this module", len(pkgs), producerImports)
	}
}

// TestArrows checks the arrows of docs/architecture.md's picture that
// franz-go's rule does not: the glue (caddymodule) imports no dialect
// package, so a dialect is added without touching it; a dialect imports
// no other dialect and nothing Caddy-facing of this module (caddymodule),
// only the contract (dialects), its helpers and producer's plain types;
// producer imports nothing Caddy-facing.
func TestArrows(t *testing.T) {
	pkgs := listImports(t)
	dialect := func(p string) bool {
		rest, ok := strings.CutPrefix(p, module+"/dialects/")
		return ok && !strings.HasPrefix(rest, "internal")
	}
	checked := 0
	for path, imports := range pkgs {
		for _, imp := range imports {
			var bad string
			switch {
			case strings.HasPrefix(path, module+"/caddymodule") && dialect(imp):
				bad = "caddymodule imports no dialect: dialects reach it through the contract in dialects/"
			case dialect(path) && dialect(imp) && firstSegment(path) != firstSegment(imp):
				bad = "a dialect imports no other dialect"
			case dialect(path) && strings.HasPrefix(imp, module+"/caddymodule"):
				bad = "a dialect does not import caddymodule"
			case strings.HasPrefix(path, module+"/producer") &&
				(strings.HasPrefix(imp, module+"/caddymodule") || strings.HasPrefix(imp, module+"/dialects") || strings.HasPrefix(imp, "github.com/caddyserver/")):
				bad = "producer imports nothing Caddy-facing"
			case strings.HasPrefix(path, module+"/dialects") && !dialect(path) && !strings.HasPrefix(path, module+"/dialects/internal") && dialect(imp):
				bad = "the contract imports no dialect"
			}
			if bad != "" {
				t.Errorf("%s imports %s: %s", path, imp, bad)
			}
			checked++
		}
	}
	if pkgs[module+"/caddymodule"] == nil || pkgs[module+"/dialects/webhook"] == nil || checked < 50 {
		t.Fatalf("checked %d imports of %d packages: the check is not looking at this module", checked, len(pkgs))
	}
}

// firstSegment is the dialect a package under dialects/ belongs to.
func firstSegment(p string) string {
	rest := strings.TrimPrefix(p, module+"/dialects/")
	seg, _, _ := strings.Cut(rest, "/")
	return seg
}

// listImports is the module's packages and the imports of their non-test
// files.
func listImports(t *testing.T) map[string][]string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list packages: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-json=ImportPath,Imports", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs[p.ImportPath] = p.Imports
	}
	return pkgs
}
