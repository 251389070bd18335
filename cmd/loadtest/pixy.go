package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// pixyVersion is the kafka-pixy release the harness builds: its last, from
// the Go module proxy.
const pixyVersion = "v0.18.0"

// ensurePixy builds kafka-pixy in a scratch module (as .ci/run builds
// staticcheck), so that its dependencies never enter this module's go.mod,
// and keeps the binary in the user's cache directory: only the first run on
// a machine pays the build (about 2 minutes on 2 cores).
func ensurePixy(ctx context.Context, log io.Writer) (string, error) {
	dir := filepath.Join(os.TempDir(), "caddy-kafka-loadtest-cache")
	if cache, err := os.UserCacheDir(); err == nil {
		dir = filepath.Join(cache, "caddy-kafka-loadtest")
	}
	bin := filepath.Join(dir, "kafka-pixy-"+pixyVersion)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	scratch, err := os.MkdirTemp("", "kafka-pixy-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	fmt.Fprintf(log, "building kafka-pixy %s from the Go module proxy (once per machine)\n", pixyVersion)
	tmp := filepath.Join(dir, fmt.Sprintf(".kafka-pixy-%d", os.Getpid()))
	for _, args := range [][]string{
		{"mod", "init", "pixybuild"},
		{"get", "github.com/mailgun/kafka-pixy@" + pixyVersion},
		{"build", "-o", tmp, "github.com/mailgun/kafka-pixy"},
	} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = scratch
		// The scratch module is its own: no workspace, no -mod flags.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			_ = os.Remove(tmp)
			return "", fmt.Errorf("building kafka-pixy: go %s: %w: %s", strings.Join(args, " "), err, lastLines(out, 10))
		}
	}
	// A rename is atomic: a concurrent run sees no binary or a whole one.
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// pixyConfig is kafka-pixy's configuration for the comparison (issue 17):
// Kafka protocol 2.0.0 (kfake needs Produce v3 or later), acks all, every
// message flushed at once so that a synchronous request is not held, and no
// consumer (which would need ZooKeeper).
func pixyConfig(httpPort, grpcPort int, brokers []string) string {
	return fmt.Sprintf(`grpc_addr: 127.0.0.1:%d
tcp_addr: 127.0.0.1:%d
logging:
  - name: console
    severity: warning
proxies:
  default:
    kafka:
      seed_peers: [%s]
      version: 2.0.0
    producer:
      required_acks: wait_for_all
      flush_frequency: 0s
      flush_bytes: 0
    consumer:
      disabled: true
`, grpcPort, httpPort, strings.Join(brokers, ", "))
}

// pixyFor starts kafka-pixy on brokers and waits until it listens.
func (r *runner) pixyFor(ctx context.Context, res *result, brokers []string) (*proc, string, error) {
	if r.pixy == "" {
		return nil, "", fmt.Errorf("kafka-pixy was not built")
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	grpcPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	name := fmt.Sprintf("pixy-%s-r%d", res.sc.name, res.round)
	path := filepath.Join(r.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(pixyConfig(httpPort, grpcPort, brokers)), 0o644); err != nil {
		return nil, "", err
	}
	p, err := start(exec.Command(r.pixy, "-config", path), r.dir, name)
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort))
	if err := waitListening(ctx, p, addr); err != nil {
		return nil, "", fmt.Errorf("kafka-pixy: %w", err)
	}
	return p, "http://" + addr, nil
}

// waitListening waits until addr accepts connections, for at most 30s or
// until p exits.
func waitListening(ctx context.Context, p *proc, addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("exited: %v: %s", p.err, p.tail())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop(os.Kill, 0)
			return fmt.Errorf("did not listen on %s within 30s: %s", addr, p.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
