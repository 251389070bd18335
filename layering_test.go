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
	seen := 0
	var producerImports bool
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string // of non-test files only
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		seen++
		inProducer := p.ImportPath == module+"/producer" || strings.HasPrefix(p.ImportPath, module+"/producer/")
		exempt := false
		for _, e := range franzExempt {
			exempt = exempt || p.ImportPath == e || strings.HasPrefix(p.ImportPath, e)
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, "github.com/twmb/franz-go") {
				continue
			}
			if inProducer {
				producerImports = true
			} else if !exempt {
				t.Errorf("%s imports %s: only producer/ may import franz-go; add what it needs to producer's API", p.ImportPath, imp)
			}
		}
	}
	// Guard the guard: a listing that missed the packages would pass.
	if seen < 5 || !producerImports {
		t.Fatalf("go list saw %d packages and producer importing franz-go: %v; the check is not looking at this module", seen, producerImports)
	}
}
