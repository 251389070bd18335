package suite

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A required suite fails; one not required skips. Checked in a child
// process, since a failing test cannot be observed from inside itself.
func TestMissing(t *testing.T) {
	if os.Getenv("SUITE_CHILD") == "1" {
		Missing(t, "cluster", "no cluster")
		return
	}
	for _, tc := range []struct {
		require  string
		wantFail bool
	}{{"", false}, {"registry", false}, {"registry,cluster", true}, {"cluster", true}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "SUITE_CHILD=1", Env+"="+tc.require)
		out, err := cmd.CombinedOutput()
		failed := err != nil
		if failed != tc.wantFail {
			t.Errorf("%s=%q: failed=%v, want %v:\n%s", Env, tc.require, failed, tc.wantFail, out)
		}
		if !tc.wantFail && !strings.Contains(string(out), "--- SKIP") {
			t.Errorf("%s=%q: want a skip:\n%s", Env, tc.require, out)
		}
	}
}

// TestFigure: a figure goes to the log and, with FiguresEnv set, to the
// file as one line naming the test; two figures make two lines.
func TestFigure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "figures.txt")
	t.Setenv(FiguresEnv, path)
	Figure(t, "%d requests, %d lost", 120, 0)
	Figure(t, "recovered in %v", 1500*time.Millisecond)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "TestFigure: 120 requests, 0 lost") || !strings.HasSuffix(lines[1], "TestFigure: recovered in 1.5s") {
		t.Errorf("figures file:\n%s", b)
	}
}
