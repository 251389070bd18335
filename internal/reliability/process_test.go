package reliability_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// caddyBinary builds cmd/caddy once per test run (with -race when the
// tests have it, which reuses their compiled packages) and returns its path.
func caddyBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "caddy-kafka-reliability-bin-")
		if binErr != nil {
			return
		}
		args := []string{"build", "-o", filepath.Join(binDir, "caddy")}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "github.com/caddy-kafka/caddy-kafka/cmd/caddy")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("building cmd/caddy: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "caddy")
}

// caddyProc is the gateway running as its own process, `caddy run`.
type caddyProc struct {
	cmd    *exec.Cmd
	Addr   string // HTTP listener
	URL    string
	Admin  string // admin API base URL
	Output string // file with the process's stdout and stderr
	exited chan struct{}
}

// startCaddy runs `caddy run` with the Caddyfile that caddyfile builds from
// the HTTP and admin addresses, and waits until it serves.
func startCaddy(t *testing.T, caddyfile func(addr, admin string) string) *caddyProc {
	t.Helper()
	bin := caddyBinary(t)
	dir := t.TempDir()
	p := &caddyProc{
		Addr:   "127.0.0.1:" + strconv.Itoa(freePort(t)),
		Admin:  "127.0.0.1:" + strconv.Itoa(freePort(t)),
		Output: filepath.Join(dir, "caddy.out"),
		exited: make(chan struct{}),
	}
	p.URL = "http://" + p.Addr
	cfg := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(caddyfile(p.Addr, p.Admin)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(p.Output)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	p.cmd.Stdout, p.cmd.Stderr = out, out
	// Keep Caddy's autosaved config and storage out of $HOME.
	p.cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("caddy output (last 40 lines):\n%s", p.tail(40))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + p.Admin + "/config/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && dialable(p.Addr) {
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("caddy exited at start: %v\n%s", p.cmd.ProcessState, p.tail(40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy not serving after 60s\n%s", p.tail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wait waits for the process to exit, up to max.
func (p *caddyProc) wait(max time.Duration) (*os.ProcessState, bool) {
	select {
	case <-p.exited:
		return p.cmd.ProcessState, true
	case <-time.After(max):
		return nil, false
	}
}

func (p *caddyProc) tail(n int) string {
	b, _ := os.ReadFile(p.Output)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// refusing reports whether the HTTP listener refuses connections.
func (p *caddyProc) refusing() bool {
	c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// raceEnabled is set by race_test.go under -race.
var raceEnabled bool
