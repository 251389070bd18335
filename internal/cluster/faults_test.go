package cluster_test

import (
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
)

// routeTimeout is the kafka_rest timeout of the fault tests: long enough
// for a leader election, short enough that a client waiting for it is
// not a hang.
const routeTimeout = 5 * time.Second

// run is a gateway process under steady load through every dialect.
type run struct {
	e       *env
	a       auth
	names   map[string]string
	p       *relcheck.CaddyProc
	client  *http.Client
	loads   []*relcheck.Load
	warm    []relcheck.Result // the warm-up's: checked in Kafka, not as answers
	started time.Time
	cpu     *cpuWait
}

// startRun creates the topics (every partition led by leader, if > 0),
// starts the gateway on a and the load, and waits until every dialect is
// answered 2xx.
func startRun(t *testing.T, e *env, a auth, prefix string, leader int32, kafkaExtra string) *run {
	t.Helper()
	return startRunOn(t, relcheck.CaddyBinary(t), e, a, prefix, leader, kafkaExtra)
}

// startRunOn is startRun with the gateway binary bin.
func startRunOn(t *testing.T, bin string, e *env, a auth, prefix string, leader int32, kafkaExtra string) *run {
	t.Helper()
	r := &run{e: e, a: a, names: e.topics(t, prefix, relcheck.AllDialects, leader)}
	r.p = relcheck.StartCaddyBinary(t, bin, caddyfile(a, r.names, routeTimeout, kafkaExtra))
	r.cpu = watchCPUWait(r.p.Cmd.Process.Pid)
	// The client's own timeout catches a hang.
	r.client = &http.Client{Timeout: routeTimeout + 20*time.Second}
	t.Cleanup(r.client.CloseIdleConnections)
	// Warm up: the first requests open the connections (TLS and SCRAM
	// handshakes with three brokers, under -race on a busy machine) and
	// may outlast the route's timeout; that is not what the test measures.
	warm := r.load(t)
	warm.Stop()
	r.warm, r.loads, r.started = warm.Snapshot(), nil, time.Time{}
	r.load(t)
	return r
}

// load starts a new load on the gateway and waits for its first 2xx in
// every dialect.
func (r *run) load(t *testing.T) *relcheck.Load {
	t.Helper()
	start := time.Now()
	if r.started.IsZero() {
		r.started = start
	}
	l := relcheck.StartLoad(t, r.p.URL, topicFunc(r.names), relcheck.AllDialects, 2, r.client, 16, 10*time.Millisecond)
	r.loads = append(r.loads, l)
	l.WaitOK(t, relcheck.AllDialects, start, 60*time.Second)
	return l
}

func (r *run) current() *relcheck.Load { return r.loads[len(r.loads)-1] }

// recovered waits until every dialect has a 2xx that started after since,
// and returns how long after since the last of them came.
func (r *run) recovered(t *testing.T, since time.Time) time.Duration {
	t.Helper()
	var worst time.Duration
	for _, at := range r.current().WaitOK(t, relcheck.AllDialects, since, 90*time.Second) {
		worst = max(worst, at.Sub(since))
	}
	return worst
}

// finish stops the load and checks every answer and every record: each
// 2xx in Kafka exactly once, nothing refused written, no unknown record.
func (r *run) finish(t *testing.T, allowNoAnswer bool) (report, []relcheck.Result) {
	t.Helper()
	var rs []relcheck.Result
	for _, l := range r.loads {
		l.Stop()
		rs = append(rs, l.Snapshot()...)
	}
	t.Logf("%s; load average %s", r.cpu.end(), loadAvg())
	rep := checkAnswers(t, rs, routeTimeout, allowNoAnswer)
	leaks := relcheck.CheckNoLeak(t, rs, append(append([]string(nil), r.a.brokers...), r.a.secrets...))
	checked := relcheck.CheckExactlyOnce(t, append(append([]relcheck.Result(nil), r.warm...), rs...), r.e.plain, topicFunc(r.names), relcheck.AllDialects, true)
	t.Logf("%s over %v: %s; %d error bodies checked for leaks; %d records read back, each acknowledged one exactly once",
		r.a.name, time.Since(r.started).Round(time.Second), rep, leaks, checked)
	t.Logf("by dialect: %s", strings.TrimSuffix(relcheck.Tally(rs), "; "))
	return rep, rs
}

// TestLeaderKill kills -9 the broker leading every partition written, under
// load, then restarts it: the gateway answers every request within its
// timeout (2xx, or the dialect's unavailable answer with Retry-After),
// produces again through the new leaders by itself, and every 2xx record is
// in Kafka exactly once.
func TestLeaderKill(t *testing.T) {
	e := clusterEnv(t)
	t.Cleanup(func() { e.heal(t) })
	const leader = 2
	r := startRun(t, e, e.plaintext(), e.allowed, leader, "")
	time.Sleep(2 * time.Second)
	killed := time.Now()
	e.stopNode(t, leader, syscall.SIGKILL, 20*time.Second)
	moved := r.recovered(t, killed)
	t.Logf("every dialect answered 2xx again %v after the kill -9 of the leader (leaders now %v)",
		moved.Round(time.Millisecond), e.leaders(t, r.names["wh"]))
	time.Sleep(3 * time.Second)
	e.startNode(t, leader)
	back := time.Now()
	healthy := e.waitHealthy(t, values(r.names), 120*time.Second)
	t.Logf("node %d back %v after the kill; ISR full again %v later", leader, back.Sub(killed).Round(time.Second), healthy.Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	r.finish(t, false)
}

// TestBrokerPause stops (SIGSTOP) the leader of every partition written for
// longer than the brokers' session timeout (6s), so that the controllers
// fence it and elect new leaders, then resumes it (SIGCONT).
func TestBrokerPause(t *testing.T) {
	e := clusterEnv(t)
	t.Cleanup(func() { e.heal(t) })
	const leader = 3
	r := startRun(t, e, e.plaintext(), e.allowed, leader, "")
	time.Sleep(2 * time.Second)
	paused := time.Now()
	e.signal(t, leader, syscall.SIGSTOP)
	moved := r.recovered(t, paused)
	if d := time.Until(paused.Add(12 * time.Second)); d > 0 {
		time.Sleep(d)
	}
	e.signal(t, leader, syscall.SIGCONT)
	t.Logf("node %d paused for %v; every dialect answered 2xx again %v after the SIGSTOP",
		leader, time.Since(paused).Round(time.Millisecond), moved.Round(time.Millisecond))
	healthy := e.waitHealthy(t, values(r.names), 120*time.Second)
	t.Logf("ISR full again %v after the SIGCONT", healthy.Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	r.finish(t, false)
}

// TestRollingRestart restarts the three brokers one after the other, each
// with a controlled shutdown (SIGTERM), waiting for a full ISR before the
// next, as an upgrade does.
func TestRollingRestart(t *testing.T) {
	e := clusterEnv(t)
	t.Cleanup(func() { e.heal(t) })
	r := startRun(t, e, e.plaintext(), e.allowed, 0, "")
	time.Sleep(2 * time.Second)
	for n := 1; n <= 3; n++ {
		down := e.stopNode(t, n, syscall.SIGTERM, 90*time.Second)
		start := time.Now()
		e.startNode(t, n)
		up := time.Since(start)
		healthy := e.waitHealthy(t, values(r.names), 120*time.Second)
		t.Logf("node %d: controlled shutdown %v, start %v, ISR full %v later", n,
			down.Round(time.Millisecond), up.Round(time.Millisecond), healthy.Round(time.Millisecond))
		time.Sleep(time.Second)
	}
	r.finish(t, false)
}

// TestGatewayKill kills -9 the gateway itself under load: every request it
// answered 2xx is in Kafka exactly once (no false acknowledgement), checked
// record by record; the requests in flight got no answer, and may or may
// not have been written (never twice).
func TestGatewayKill(t *testing.T) {
	e := clusterEnv(t)
	r := startRun(t, e, e.plaintext(), e.allowed, 0, "")
	time.Sleep(3 * time.Second)
	if err := r.p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.p.Wait(10 * time.Second); !ok {
		t.Fatal("gateway alive 10s after kill -9")
	}
	time.Sleep(500 * time.Millisecond)
	_, rs := r.finish(t, true)
	inflight := 0
	for _, res := range rs {
		if res.Outcome == relcheck.NoAnswer {
			inflight++
		}
	}
	t.Logf("%d requests got no answer (in flight at the kill, or sent after it)", inflight)
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// loadAvg is the machine's load average over 1, 5 and 15 minutes.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if fs := strings.Fields(string(b)); len(fs) >= 3 {
		return strings.Join(fs[:3], " ")
	}
	return "unknown"
}
