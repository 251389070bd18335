package relcheck

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
	"syscall"
	"testing"
	"time"
)

// The gateway binaries built so far, by whether they have -race.
var (
	binMu   sync.Mutex
	binDir  string
	binPath = map[bool]string{}
)

// RemoveBinary deletes what CaddyBinary built; call it from TestMain.
func RemoveBinary() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// CaddyBinary builds cmd/caddy once per test run (with -race when the
// tests have it, which reuses their compiled packages) and returns its path.
func CaddyBinary(t *testing.T) string {
	t.Helper()
	return caddyBinary(t, RaceEnabled)
}

// CaddyBinaryNoRace builds cmd/caddy without -race, as users run it, once
// per test run, and returns its path: for measuring the process (memory,
// CPU), which the race detector's shadow memory and slowdown distort.
func CaddyBinaryNoRace(t *testing.T) string {
	t.Helper()
	return caddyBinary(t, false)
}

func caddyBinary(t *testing.T, race bool) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := binPath[race]; ok {
		return p
	}
	if binDir == "" {
		dir, err := os.MkdirTemp("", "caddy-kafka-bin-")
		if err != nil {
			t.Fatal(err)
		}
		binDir = dir
	}
	name, args := "caddy", []string{"build"}
	if race {
		name, args = "caddy-race", append(args, "-race")
	}
	p := filepath.Join(binDir, name)
	args = append(args, "-o", p, "github.com/caddy-kafka/caddy-kafka/cmd/caddy")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("building cmd/caddy: %v\n%s", err, out)
	}
	binPath[race] = p
	return p
}

// CaddyProc is the gateway running as its own process, `caddy run`.
type CaddyProc struct {
	Cmd    *exec.Cmd
	Addr   string // HTTP listener
	URL    string
	Admin  string // admin API base URL
	Output string // file with the process's stdout and stderr
	exited chan struct{}
}

// StartCaddy runs `caddy run` with the Caddyfile that caddyfile builds from
// the HTTP and admin addresses, and waits until it serves.
func StartCaddy(t *testing.T, caddyfile func(addr, admin string) string) *CaddyProc {
	t.Helper()
	return StartCaddyBinary(t, CaddyBinary(t), caddyfile)
}

// StartCaddyBinary is StartCaddy with the binary bin (CaddyBinary or
// CaddyBinaryNoRace).
func StartCaddyBinary(t *testing.T, bin string, caddyfile func(addr, admin string) string) *CaddyProc {
	t.Helper()
	dir := t.TempDir()
	p := &CaddyProc{
		Addr:   "127.0.0.1:" + strconv.Itoa(FreePort(t)),
		Admin:  "127.0.0.1:" + strconv.Itoa(FreePort(t)),
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
	p.Cmd = exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	p.Cmd.Stdout, p.Cmd.Stderr = out, out
	// Keep Caddy's autosaved config and storage out of $HOME.
	p.Cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.Cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.Cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("caddy output (last 40 lines):\n%s", p.Tail(40))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + p.Admin + "/config/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && Dialable(p.Addr) {
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("caddy exited at start: %v\n%s", p.Cmd.ProcessState, p.Tail(40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy not serving after 60s\n%s", p.Tail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wait waits for the process to exit, up to max.
func (p *CaddyProc) Wait(max time.Duration) (*os.ProcessState, bool) {
	select {
	case <-p.exited:
		return p.Cmd.ProcessState, true
	case <-time.After(max):
		return nil, false
	}
}

func (p *CaddyProc) Tail(n int) string {
	b, _ := os.ReadFile(p.Output)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// refusing reports whether the HTTP listener refuses connections.
func (p *CaddyProc) Refusing() bool {
	c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// RaceEnabled is whether this binary was built with -race (race.go); the
// gateway binary CaddyBinary builds then is too.
var RaceEnabled bool

// Alive reports whether pid runs and is not a zombie.
func Alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesized command name.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// Dialable reports whether addr accepts a TCP connection within 200ms.
func Dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
