package suite

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// FiguresEnv names the file that Figure appends to. .ci/run sets it and
// prints the file at the end, so that every run keeps the figures its
// suites measured (docs/reliability.md quotes one such run).
const FiguresEnv = "CADDY_KAFKA_FIGURES"

var figuresMu sync.Mutex

// Figure logs a measured figure on t and, when FiguresEnv names a file,
// appends it there as one line: the test's name, then the text. A figure
// is reported, not checked: the test asserts its bound itself.
func Figure(t testing.TB, format string, args ...any) {
	t.Helper()
	text := fmt.Sprintf(format, args...)
	t.Log(text)
	path := os.Getenv(FiguresEnv)
	if path == "" {
		return
	}
	figuresMu.Lock()
	defer figuresMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("figures file: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s %s: %s\n", time.Now().UTC().Format("15:04:05"), t.Name(), text); err != nil {
		t.Errorf("figures file: %v", err)
	}
}
