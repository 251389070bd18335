package gatewaytest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// NodeClient readies the npm project in dir (package.json,
// package-lock.json and the scripts beside them) to drive a real client:
// it copies the files to a directory of the user's cache named after their
// content and runs npm ci there, once, so that go test leaves nothing in
// the source tree and a second run installs nothing. It returns the node
// binary and that directory, to run a script in. Without node or npm it
// skips the test, or fails it when CI=true (CI installs them).
func NodeClient(t testing.TB, dir string) (node, workdir string) {
	t.Helper()
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node and npm are required in CI: %v %v", errNode, errNpm)
		}
		t.Skip("node or npm not installed: install them to drive the real client")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
		h.Write([]byte(e.Name()))
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	workdir = filepath.Join(cache, "caddy-kafka-test", filepath.Base(dir)+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(workdir, "node_modules", ".package-lock.json")); err == nil {
		return node, workdir
	}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(workdir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = workdir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", workdir, err, out)
	}
	return node, workdir
}
