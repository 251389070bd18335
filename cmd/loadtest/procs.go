package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kfakeEnv set in the environment makes this binary a kfake broker: it
// prints "ADDR host:port" and serves until its stdin closes.
const kfakeEnv = "CADDY_KAFKA_LOADTEST_KFAKE"

// serveKfake is the broker process's main.
func serveKfake(stdin io.Reader, stdout io.Writer) int {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(3), kfake.ClusterID("loadtest"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "kfake: %v\n", err)
		return 1
	}
	defer c.Close()
	fmt.Fprintf(stdout, "ADDR %s\n", strings.Join(c.ListenAddrs(), ","))
	_, _ = io.Copy(io.Discard, stdin) // until the harness closes it, or dies
	return 0
}

// proc is a child process with its output kept in a file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // stdout+stderr file
	done chan struct{}
	err  error // set when done is closed
	// admin is Caddy's admin port, 0 if off.
	admin int
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process: sig, then SIGKILL after grace.
func (p *proc) stop(sig os.Signal, grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail is the end of the process's output, for error messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// start runs cmd with its output in dir/<name>.log.
func start(cmd *exec.Cmd, dir, name string) (*proc, error) {
	p := &proc{name: name, cmd: cmd, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	if cmd.Stdout == nil {
		cmd.Stdout = f
	}
	cmd.Stderr = f
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// kfakeProc is a kfake broker in a child process.
type kfakeProc struct {
	*proc
	stdin io.WriteCloser
	addrs []string
}

// startKfake re-executes this binary as a kfake broker.
func startKfake(ctx context.Context, dir string) (*kfakeProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this executable to run kfake: %w", err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), kfakeEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p, err := start(cmd, dir, "kfake")
	if err != nil {
		return nil, err
	}
	k := &kfakeProc{proc: p, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-line:
		addrs, found := strings.CutPrefix(l, "ADDR ")
		if !ok || !found {
			k.close()
			return nil, fmt.Errorf("kfake did not start: %s", p.tail())
		}
		k.addrs = strings.Split(addrs, ",")
		return k, nil
	case <-time.After(20 * time.Second):
		k.close()
		return nil, errors.New("kfake did not start within 20s")
	case <-ctx.Done():
		k.close()
		return nil, ctx.Err()
	}
}

func (k *kfakeProc) close() {
	if k == nil {
		return
	}
	_ = k.stdin.Close()
	select {
	case <-k.done:
	case <-time.After(5 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.done
	}
}

// freePort is a loopback port nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// caddyfile is a Caddy config on 127.0.0.1:port serving site; brokers is
// the broker list, nil for no kafka app, and registry its schema registry,
// "" for none. admin is the admin endpoint's port (for /debug/pprof), 0 for
// none.
func caddyfile(port, admin int, brokers []string, registry, site string) string {
	var kafka string
	if len(brokers) > 0 {
		sr := ""
		if registry != "" {
			sr = "\t\tschema_registry " + registry + "\n"
		}
		if strings.Contains(site, "spool on") {
			// One directory per run, used by one Caddy at a time: the
			// scenario measures an empty spool on a healthy cluster.
			sr += "\t\tspool " + filepath.Join(os.TempDir(), fmt.Sprintf("caddy-kafka-loadtest-spool-%d", os.Getpid())) + "\n"
		}
		kafka = fmt.Sprintf("\tkafka {\n\t\tbrokers %s\n%s\t}\n", strings.Join(brokers, " "), sr)
	}
	adminLine := "admin off"
	if admin > 0 {
		adminLine = fmt.Sprintf("admin 127.0.0.1:%d", admin)
	}
	return fmt.Sprintf(`{
	%s
	persist_config off
	auto_https off
	skip_install_trust
	log {
		level ERROR
	}
%s}

http://:%d {
	bind 127.0.0.1
	%s
}
`, adminLine, kafka, port, site)
}

// startCaddy runs bin with the Caddyfile and waits until it accepts
// connections.
func startCaddy(ctx context.Context, bin, dir, name, config string, port int) (*proc, error) {
	path := filepath.Join(dir, name+".Caddyfile")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	// Keep Caddy's state (autosave, certificates) out of the user's home.
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir, "HOME="+dir)
	p, err := start(cmd, dir, name)
	if err != nil {
		return nil, err
	}
	if err := waitListening(ctx, p, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		return nil, fmt.Errorf("caddy: %w", err)
	}
	return p, nil
}

// buildCaddy builds ./cmd/loadtest/caddy (./cmd/caddy with the harness's
// naive handler) of this module and links it into dir. It
// builds into the user's cache directory, where go build leaves an
// up-to-date binary alone, so that a second run does not link Caddy again;
// the run then uses its own link to that file, which a concurrent run from
// another checkout replacing the cached binary does not change.
func buildCaddy(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "caddy-build")
	if cache, err := os.UserCacheDir(); err == nil {
		if err := os.MkdirAll(filepath.Join(cache, "caddy-kafka-loadtest"), 0o755); err == nil {
			out = filepath.Join(cache, "caddy-kafka-loadtest", "caddy")
		}
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/caddy-kafka/caddy-kafka/cmd/loadtest/caddy")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/loadtest/caddy (run from the repository): %w\n%s", err, b)
	}
	bin := filepath.Join(dir, "caddy")
	if err := os.Link(out, bin); err != nil {
		if err := copyFile(bin, out); err != nil {
			return "", err
		}
	}
	return bin, nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, in); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux architecture Go supports.
const clockTick = 100

// cpuTime is the user+system CPU time a process has used, from
// /proc/<pid>/stat; pid 0 is this process.
func cpuTime(pid int) (time.Duration, error) {
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces
	if i < 0 || i+2 > len(b) {
		return 0, fmt.Errorf("unexpected %s", path)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected %s", path)
	}
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parsing %s: %w", path, err)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// peakRSS is a process's VmHWM in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, errors.New("no VmHWM in /proc/<pid>/status")
}

// cpuMeter measures a process's CPU use over an interval, in cores.
type cpuMeter struct {
	pid   int
	t0    time.Time
	c0    time.Duration
	valid bool
}

func startCPU(pid int) cpuMeter {
	c, err := cpuTime(pid)
	return cpuMeter{pid: pid, t0: time.Now(), c0: c, valid: err == nil}
}

// cores is the CPU used since startCPU divided by the wall time; -1 if it
// cannot be read.
func (m cpuMeter) cores() float64 {
	c, err := cpuTime(m.pid)
	wall := time.Since(m.t0)
	if !m.valid || err != nil || wall <= 0 {
		return -1
	}
	return (c - m.c0).Seconds() / wall.Seconds()
}

// ensureWrk finds wrk, installing Debian's package when running as root
// with apt-get.
func ensureWrk(ctx context.Context, log io.Writer) (string, error) {
	if p, err := exec.LookPath("wrk"); err == nil {
		return p, nil
	}
	apt, err := exec.LookPath("apt-get")
	if err != nil || os.Geteuid() != 0 {
		return "", errors.New("wrk not found: install it (Debian/Ubuntu: apt-get install wrk) or select only Go-driven scenarios with -scenarios 'kafka-|stream'")
	}
	fmt.Fprintln(log, "wrk not found: apt-get install -y wrk")
	install := func() error {
		cmd := exec.CommandContext(ctx, apt, "install", "-y", "--no-install-recommends", "wrk")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, lastLines(out, 5))
		}
		return nil
	}
	if err := install(); err != nil {
		upd := exec.CommandContext(ctx, apt, "update")
		if out, uerr := upd.CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("apt-get update: %w: %s", uerr, lastLines(out, 5))
		}
		if err := install(); err != nil {
			return "", fmt.Errorf("apt-get install wrk: %w", err)
		}
	}
	return exec.LookPath("wrk")
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// wrkResult is what the Lua done() function prints.
type wrkResult struct {
	requests, durationUS                  int64
	status, connect, read, write, timeout int64
	p50US, p99US                          int64
	userCPU, sysCPU                       time.Duration // wrk's own
}

// wrkScript sets the request and prints the summary on one line.
const wrkScript = `local f = assert(io.open(%q, "rb"))
wrk.method = "POST"
wrk.path = %q
wrk.body = f:read("*a")
f:close()
%s
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("LOADTEST requests=%%d duration_us=%%d status=%%d connect=%%d read=%%d write=%%d timeout=%%d p50_us=%%d p99_us=%%d\n",
		summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
		math.floor(latency:percentile(50)), math.floor(latency:percentile(99))))
end
`

// runWrk loads url+path with POST body and headers.
func runWrk(ctx context.Context, wrk, dir, name, base, path string, headers map[string]string, body []byte, threads, conns int, d time.Duration) (wrkResult, error) {
	bodyFile := filepath.Join(dir, name+".body")
	if err := os.WriteFile(bodyFile, body, 0o644); err != nil {
		return wrkResult{}, err
	}
	var hs strings.Builder
	for k, v := range headers {
		fmt.Fprintf(&hs, "wrk.headers[%q] = %q\n", k, v)
	}
	script := filepath.Join(dir, name+".lua")
	if err := os.WriteFile(script, fmt.Appendf(nil, wrkScript, bodyFile, path, hs.String()), 0o644); err != nil {
		return wrkResult{}, err
	}
	secs := int((d + time.Second - 1) / time.Second)
	threads = max(1, min(threads, conns))
	cmd := exec.CommandContext(ctx, wrk, "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns),
		"-d"+strconv.Itoa(secs)+"s", "--timeout", "10s", "-s", script, base+path)
	cmd.WaitDelay = 5 * time.Second
	setProcAttr(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, lastLines(out.Bytes(), 10))
	}
	var r wrkResult
	for line := range strings.Lines(out.String()) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "LOADTEST ")
		if !ok {
			continue
		}
		fields := map[string]*int64{"requests": &r.requests, "duration_us": &r.durationUS, "status": &r.status,
			"connect": &r.connect, "read": &r.read, "write": &r.write, "timeout": &r.timeout, "p50_us": &r.p50US, "p99_us": &r.p99US}
		for _, kv := range strings.Fields(rest) {
			k, v, _ := strings.Cut(kv, "=")
			if dst, ok := fields[k]; ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return r, fmt.Errorf("wrk summary %q: %w", line, err)
				}
				*dst = n
			}
		}
		r.userCPU, r.sysCPU = cmd.ProcessState.UserTime(), cmd.ProcessState.SystemTime()
		return r, nil
	}
	return r, fmt.Errorf("wrk printed no summary: %s", lastLines(out.Bytes(), 10))
}
