package reliability_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
	"github.com/caddy-kafka/caddy-kafka/internal/suite"
)

func TestMain(m *testing.M) {
	code := m.Run()
	ownMu.Lock()
	if own != nil {
		own.stop()
	}
	ownMu.Unlock()
	relcheck.RemoveBinary()
	os.Exit(code)
}

// testBroker is a Kafka broker a test may break: a real broker of its own
// (started from .ci/kafka/start.sh when KAFKA_SCRIPTS is set), or kfake with
// faults injected over the wire.
type testBroker struct {
	Addr string
	own  *ownBroker     // real broker
	fake *kfake.Cluster // else kfake

	down   atomic.Bool // kfake: connections are closed
	mu     sync.Mutex
	paused chan struct{} // kfake: produce requests wait until it is closed
}

// Real reports whether the broker is a real Kafka broker.
func (b *testBroker) Real() bool { return b.own != nil }

// newBroker returns a broker the test may break. Both kinds have automatic
// topic creation enabled broker-side (Kafka's own default), so that tests
// can tell whether the gateway asks for it. It skips the test when only a
// shared real broker is available (KAFKA_BROKERS without KAFKA_SCRIPTS).
func newBroker(t *testing.T) *testBroker {
	t.Helper()
	if os.Getenv("KAFKA_SCRIPTS") != "" {
		ob := ownKafka(t)
		b := &testBroker{Addr: ob.addr, own: ob}
		t.Cleanup(func() { b.heal(t) })
		return b
	}
	if gatewaytest.Real() {
		suite.Missing(t, "reliability", "needs a broker the test may break: set KAFKA_SCRIPTS=<repo>/.ci/kafka, or unset KAFKA_BROKERS for kfake")
	}
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(fake.Close)
	b := &testBroker{Addr: fake.ListenAddrs()[0], fake: fake}
	fake.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		if b.down.Load() {
			fake.KeepControl()
			return nil, errors.New("broker down"), true // closes the connection
		}
		if req.Key() == int16(kmsg.Produce) {
			b.mu.Lock()
			ch := b.paused
			b.mu.Unlock()
			if ch != nil {
				fake.SleepControl(func() { <-ch })
			}
		}
		return nil, nil, false
	})
	t.Cleanup(func() { b.heal(t) })
	return b
}

// Kill takes the broker down: kill -9 of the real broker (its port then
// refuses connections), or kfake closing every connection.
func (b *testBroker) Kill(t *testing.T) {
	t.Helper()
	if b.own != nil {
		b.own.kill(t)
		return
	}
	b.down.Store(true)
}

// Restart brings a killed broker back, with its data.
func (b *testBroker) Restart(t *testing.T) {
	t.Helper()
	if b.own != nil {
		b.own.start(t, true)
		return
	}
	b.down.Store(false)
}

// Pause makes the broker stop answering produce requests (SIGSTOP of the
// real broker; kfake holds produce requests) without closing connections.
func (b *testBroker) Pause(t *testing.T) {
	t.Helper()
	if b.own != nil {
		b.own.signal(t, syscall.SIGSTOP)
		return
	}
	b.mu.Lock()
	if b.paused == nil {
		b.paused = make(chan struct{})
	}
	b.mu.Unlock()
}

// Resume undoes Pause.
func (b *testBroker) Resume(t *testing.T) {
	t.Helper()
	if b.own != nil {
		b.own.signal(t, syscall.SIGCONT)
		return
	}
	b.mu.Lock()
	if b.paused != nil {
		close(b.paused)
		b.paused = nil
	}
	b.mu.Unlock()
}

// heal leaves the broker running for the next test, whatever happened.
func (b *testBroker) heal(t *testing.T) {
	if b.own != nil {
		b.own.heal(t)
		return
	}
	b.Resume(t)
	b.down.Store(false)
}

// Gateway starts an in-process gateway (gatewaytest) on this broker. The
// topics get unique names, as on any real broker.
func (b *testBroker) Gateway(t *testing.T, o gatewaytest.Options) *gatewaytest.Gateway {
	t.Helper()
	t.Setenv("KAFKA_BROKERS", b.Addr)
	return gatewaytest.New(t, o)
}

// ownBroker is a real Kafka broker started by .ci/kafka/start.sh on ports
// of its own, shared by the tests of this package and stopped by TestMain.
type ownBroker struct {
	scripts  string
	env      []string
	dataDir  string
	addr     string
	mu       sync.Mutex
	stopped  bool // killed, not restarted
	sigstopd bool
}

var (
	ownMu sync.Mutex
	own   *ownBroker
)

func ownKafka(t *testing.T) *ownBroker {
	t.Helper()
	ownMu.Lock()
	defer ownMu.Unlock()
	if own != nil {
		return own
	}
	scripts, err := filepath.Abs(os.Getenv("KAFKA_SCRIPTS"))
	if err != nil {
		t.Fatal(err)
	}
	port, ctrl := relcheck.FreePort(t), relcheck.FreePort(t)
	dir, err := os.MkdirTemp("", "caddy-kafka-reliability-")
	if err != nil {
		t.Fatal(err)
	}
	ob := &ownBroker{scripts: scripts, dataDir: dir, addr: "127.0.0.1:" + strconv.Itoa(port)}
	ob.env = append(os.Environ(),
		"KAFKA_PORT="+strconv.Itoa(port),
		"KAFKA_CONTROLLER_PORT="+strconv.Itoa(ctrl),
		"KAFKA_DATA_DIR="+dir,
		"KAFKA_AUTO_CREATE_TOPICS=true",
	)
	ob.start(t, false)
	own = ob
	return ob
}

// start runs start.sh; keep restarts on the existing data.
func (ob *ownBroker) start(t *testing.T, keep bool) {
	t.Helper()
	cmd := exec.Command(filepath.Join(ob.scripts, "start.sh"))
	cmd.Env = ob.env
	if keep {
		cmd.Env = append(cmd.Env, "KAFKA_KEEP_DATA=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("starting own broker: %v\n%s", err, stderr.String())
	}
	if got := strings.TrimSpace(string(out)); got != "KAFKA_BROKERS="+ob.addr {
		t.Fatalf("start.sh printed %q, want KAFKA_BROKERS=%s", got, ob.addr)
	}
	ob.mu.Lock()
	ob.stopped = false
	ob.mu.Unlock()
}

func (ob *ownBroker) pid(t *testing.T) int {
	b, err := os.ReadFile(filepath.Join(ob.dataDir, "kafka.pid"))
	if err != nil {
		t.Fatalf("own broker pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("own broker pid: %v", err)
	}
	return pid
}

// kill sends SIGKILL and waits until the process is gone (or a zombie) and
// its port refuses connections.
func (ob *ownBroker) kill(t *testing.T) {
	t.Helper()
	pid := ob.pid(t)
	ob.mu.Lock()
	ob.stopped = true
	ob.mu.Unlock()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for relcheck.Alive(pid) || relcheck.Dialable(ob.addr) {
		if time.Now().After(deadline) {
			t.Fatalf("broker pid %d still alive 20s after kill -9", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A zombie answers kill -0, which start.sh would take for a live
	// broker: forget its pid.
	_ = os.Remove(filepath.Join(ob.dataDir, "kafka.pid"))
}

func (ob *ownBroker) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(ob.pid(t), sig); err != nil {
		t.Fatalf("signal %v to broker: %v", sig, err)
	}
	ob.mu.Lock()
	ob.sigstopd = sig == syscall.SIGSTOP
	ob.mu.Unlock()
}

// heal resumes a paused broker and restarts a killed one.
func (ob *ownBroker) heal(t *testing.T) {
	ob.mu.Lock()
	stopped, paused := ob.stopped, ob.sigstopd
	ob.mu.Unlock()
	if paused {
		ob.signal(t, syscall.SIGCONT)
	}
	if stopped {
		ob.start(t, true)
	}
}

func (ob *ownBroker) stop() {
	ob.mu.Lock()
	if ob.sigstopd {
		if b, err := os.ReadFile(filepath.Join(ob.dataDir, "kafka.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGCONT)
			}
		}
	}
	ob.mu.Unlock()
	cmd := exec.Command(filepath.Join(ob.scripts, "stop.sh"))
	cmd.Env = ob.env
	_ = cmd.Run()
	_ = os.RemoveAll(ob.dataDir)
}

// createTopics creates topics with 3 partitions and waits for their leaders.
func createTopics(t testing.TB, brokers string, names ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopics(ctx, 3, 1, nil, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("creating topics %v: %v", names, err)
	}
	for {
		md, err := adm.Metadata(ctx, names...)
		ready := err == nil
		for _, n := range names {
			td := md.Topics[n]
			ready = ready && td.Err == nil && len(td.Partitions) == 3
			for _, p := range td.Partitions {
				ready = ready && p.Leader >= 0 && p.Err == nil
			}
		}
		if ready {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("topics %v never got leaders: %v", names, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// topicState reports, from the broker, whether topic exists and how many
// records it holds. It lists every topic rather than naming this one, so
// that asking can never create it.
func topicState(t testing.TB, brokers []string, topic string) (exists bool, records int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tds, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatalf("listing topics: %v", err)
	}
	if !tds.Has(topic) {
		return false, 0
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s/%d: %v", topic, o.Partition, o.Err)
		}
		records += o.Offset
	})
	return true, records
}
