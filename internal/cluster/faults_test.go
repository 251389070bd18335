package cluster_test

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
	"github.com/caddy-kafka/caddy-kafka/internal/suite"
)

// routeTimeout is the kafka_rest timeout of the fault tests: long enough
// for a leader election, short enough that a client waiting for it is
// not a hang.
const routeTimeout = 5 * time.Second

// run is a gateway process under steady load through its dialects.
type run struct {
	e       *env
	a       auth
	ds      []relcheck.Dialect
	writers int // per dialect
	names   map[string]string
	p       *relcheck.CaddyProc
	client  *http.Client
	loads   []*relcheck.Load
	warm    []relcheck.Result // the warm-up's: checked in Kafka, not as answers
	started time.Time
	cpu     *cpuWait
}

// startRun creates the topics (every partition led by leader, if > 0),
// starts the gateway on a and the load (every dialect, 2 writers each),
// and waits until every dialect is answered 2xx.
func startRun(t *testing.T, e *env, a auth, prefix string, leader int32, kafkaExtra string) *run {
	t.Helper()
	return startRunWith(t, relcheck.CaddyBinary(t), e, a, relcheck.AllDialects, 2, prefix, leader, kafkaExtra)
}

// startRunOn is startRun with the gateway binary bin.
func startRunOn(t *testing.T, bin string, e *env, a auth, prefix string, leader int32, kafkaExtra string) *run {
	t.Helper()
	return startRunWith(t, bin, e, a, relcheck.AllDialects, 2, prefix, leader, kafkaExtra)
}

// startRunWith is startRun with the binary bin, the dialects ds and
// writers per dialect.
func startRunWith(t *testing.T, bin string, e *env, a auth, ds []relcheck.Dialect, writers int, prefix string, leader int32, kafkaExtra string) *run {
	t.Helper()
	r := &run{e: e, a: a, ds: ds, writers: writers, names: e.topics(t, prefix, ds, leader)}
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

// startRuns starts three gateways on the cluster, one per way in: the
// plaintext listener as a super user, loaded with every dialect, the
// batch requests (relcheck.BatchDialects) and a client retrying with an
// Idempotency-Key (relcheck.KeyedUpstash); SASL_SSL with SCRAM and mTLS,
// as the gateway principal with its ACLs, with every dialect. One fault
// then serves all three. The secure gateways have one writer per dialect,
// so that three -race gateways and three brokers share 2 cores.
func startRuns(t *testing.T, e *env, leader int32) []*run {
	t.Helper()
	bin := relcheck.CaddyBinary(t)
	all := append(append(append([]relcheck.Dialect(nil), relcheck.AllDialects...), relcheck.BatchDialects...), relcheck.KeyedUpstash)
	return []*run{
		startRunWith(t, bin, e, e.plaintext(), all, 1, e.allowed, leader, ""),
		startRunWith(t, bin, e, e.scram(e.password), relcheck.AllDialects, 1, e.allowed, leader, ""),
		startRunWith(t, bin, e, e.mtls("gateway"), relcheck.AllDialects, 1, e.allowed, leader, ""),
	}
}

// load starts a new load on the gateway and waits for its first 2xx in
// every dialect.
func (r *run) load(t *testing.T) *relcheck.Load {
	t.Helper()
	start := time.Now()
	if r.started.IsZero() {
		r.started = start
	}
	l := relcheck.StartLoad(t, r.p.URL, topicFunc(r.names), r.ds, r.writers, r.client, 16, 10*time.Millisecond)
	r.loads = append(r.loads, l)
	l.WaitOK(t, r.ds, start, 60*time.Second)
	return l
}

func (r *run) current() *relcheck.Load { return r.loads[len(r.loads)-1] }

// recovered waits until every dialect has a 2xx that started after since,
// and returns how long after since the last of them came.
func (r *run) recovered(t *testing.T, since time.Time) time.Duration {
	t.Helper()
	var worst time.Duration
	for _, at := range r.current().WaitOK(t, r.ds, since, 90*time.Second) {
		worst = max(worst, at.Sub(since))
	}
	return worst
}

// recoveredAll is recovered for every run, the last of them; it fails the
// test past bound.
func recoveredAll(t *testing.T, rs []*run, since time.Time, bound time.Duration, what string) time.Duration {
	t.Helper()
	var worst time.Duration
	for _, r := range rs {
		worst = max(worst, r.recovered(t, since))
	}
	if worst > bound {
		t.Errorf("every dialect of every gateway answered 2xx again only %v after %s, over %v", worst.Round(time.Millisecond), what, bound)
	}
	return worst
}

// finish stops the load and checks every answer and every record: each
// 2xx in Kafka exactly once, at the partition and offset it was answered
// with, nothing refused written, no unknown record. It reports the run's
// figures.
func (r *run) finish(t *testing.T, allowNoAnswer bool) (report, []relcheck.Result) {
	t.Helper()
	var rs []relcheck.Result
	var retries int64
	for _, l := range r.loads {
		l.Stop()
		rs = append(rs, l.Snapshot()...)
		retries += l.Retries.Load()
	}
	t.Logf("%s: %s; load average %s", r.a.name, r.cpu.end(), loadAvg())
	rep := checkAnswers(t, rs, routeTimeout, allowNoAnswer)
	leaks := relcheck.CheckNoLeak(t, rs, append(append([]string(nil), r.a.brokers...), r.a.secrets...))
	c := relcheck.Check(t, append(append([]relcheck.Result(nil), r.warm...), rs...), r.e.plain, topicFunc(r.names), r.ds, true)
	extra := ""
	if retries > 0 {
		extra = fmt.Sprintf("; the keyed client sent %d requests again", retries)
	}
	if w, f := partly(rs); w+f > 0 {
		extra += fmt.Sprintf("; %d records of partly written requests, %d written and %d failed, each checked", w+f, w, f)
	}
	suite.Figure(t, "%s over %v: %s; %d error bodies checked for leaks; %d records read back: %s%s",
		r.a.name, time.Since(r.started).Round(time.Second), rep, leaks, c.Checked, c, extra)
	t.Logf("by dialect: %s", strings.TrimSuffix(relcheck.Tally(rs), "; "))
	return rep, rs
}

// partly counts the records of partly written requests (some records
// written, some failed: a 207, or Confluent's 200 with per-record errors),
// by their outcome.
func partly(rs []relcheck.Result) (written, failed int) {
	type req struct {
		dialect string
		start   time.Time
	}
	outcomes := map[req][]relcheck.Outcome{}
	for _, r := range rs {
		if r.Status == http.StatusOK || r.Status == http.StatusMultiStatus {
			k := req{r.Dialect, r.Start}
			outcomes[k] = append(outcomes[k], r.Outcome)
		}
	}
	for _, os := range outcomes {
		ok := 0
		for _, o := range os {
			if o == relcheck.OK {
				ok++
			}
		}
		if ok > 0 && ok < len(os) {
			written += ok
			failed += len(os) - ok
		}
	}
	return written, failed
}

// finishAll finishes every run.
func finishAll(t *testing.T, rs []*run) {
	t.Helper()
	for _, r := range rs {
		r.finish(t, false)
	}
}

// Recovery bounds of the broker faults, three to four times what runs with
// three gateways measured: leader kill 5s, pause 10s. The controllers fence
// the paused broker after the 6s session timeout; the gateway's health
// check (every 2s) then sees it gone and has franz-go refresh its metadata
// (producer's refreshIfMoved). Before that, franz-go waited out its request
// on the paused broker's connection, and runs measured 20-40s.
const (
	leaderKillBound = 20 * time.Second
	pauseBound      = 30 * time.Second
)

// TestLeaderKill kills -9 the broker leading every partition written, under
// load through three gateways (plaintext, SASL_SSL, mTLS), then restarts
// it: every gateway answers every request within its timeout (2xx, or the
// dialect's unavailable answer with Retry-After), produces again through
// the new leaders by itself within leaderKillBound, and every 2xx record
// is in Kafka exactly once, at the partition and offset answered; the
// keyed client's retries write nothing twice.
func TestLeaderKill(t *testing.T) {
	e := clusterEnv(t)
	t.Cleanup(func() { e.heal(t) })
	const leader = 2
	rs := startRuns(t, e, leader)
	time.Sleep(2 * time.Second)
	killed := time.Now()
	e.stopNode(t, leader, syscall.SIGKILL, 20*time.Second)
	moved := recoveredAll(t, rs, killed, leaderKillBound, "the kill -9 of the leader")
	leaders := e.leaders(t, rs[0].names["wh"], leader)
	if slices.Contains(leaders, leader) {
		t.Errorf("node %d, killed, still leads %v", leader, leaders)
	}
	suite.Figure(t, "every dialect of the three gateways answered 2xx again %v after the kill -9 of the leader (leaders now %v; bound %v)",
		moved.Round(time.Millisecond), leaders, leaderKillBound)
	time.Sleep(3 * time.Second)
	e.startNode(t, leader)
	back := time.Now()
	healthy := e.waitHealthy(t, allTopics(rs), 120*time.Second)
	t.Logf("node %d back %v after the kill; ISR full again %v later", leader, back.Sub(killed).Round(time.Second), healthy.Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	finishAll(t, rs)
}

// TestBrokerPause stops (SIGSTOP) the leader of every partition written for
// longer than the brokers' session timeout (6s), so that the controllers
// fence it and elect new leaders, then resumes it (SIGCONT); three
// gateways, as TestLeaderKill.
func TestBrokerPause(t *testing.T) {
	e := clusterEnv(t)
	t.Cleanup(func() { e.heal(t) })
	const leader = 3
	rs := startRuns(t, e, leader)
	time.Sleep(2 * time.Second)
	paused := time.Now()
	e.signal(t, leader, syscall.SIGSTOP)
	moved := recoveredAll(t, rs, paused, pauseBound, "the SIGSTOP of the leader")
	leaders := e.leaders(t, rs[0].names["wh"], leader)
	if slices.Contains(leaders, leader) {
		t.Errorf("node %d, paused, still leads %v", leader, leaders)
	}
	if d := time.Until(paused.Add(12 * time.Second)); d > 0 {
		time.Sleep(d)
	}
	e.signal(t, leader, syscall.SIGCONT)
	suite.Figure(t, "node %d paused for %v; every dialect of the three gateways answered 2xx again %v after the SIGSTOP (leaders then %v; bound %v)",
		leader, time.Since(paused).Round(time.Millisecond), moved.Round(time.Millisecond), leaders, pauseBound)
	healthy := e.waitHealthy(t, allTopics(rs), 120*time.Second)
	t.Logf("ISR full again %v after the SIGCONT", healthy.Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	finishAll(t, rs)
}

// TestRollingRestart restarts the three brokers one after the other, each
// with a controlled shutdown (SIGTERM), waiting for a full ISR before the
// next, as an upgrade does; three gateways, as TestLeaderKill.
func TestRollingRestart(t *testing.T) {
	e := clusterEnv(t)
	t.Cleanup(func() { e.heal(t) })
	rs := startRuns(t, e, 0)
	time.Sleep(2 * time.Second)
	for n := 1; n <= 3; n++ {
		down := e.stopNode(t, n, syscall.SIGTERM, 90*time.Second)
		start := time.Now()
		e.startNode(t, n)
		up := time.Since(start)
		healthy := e.waitHealthy(t, allTopics(rs), 120*time.Second)
		suite.Figure(t, "node %d: controlled shutdown %v, start %v, ISR full %v later", n,
			down.Round(time.Millisecond), up.Round(time.Millisecond), healthy.Round(time.Millisecond))
		time.Sleep(time.Second)
	}
	finishAll(t, rs)
}

// TestTwoBrokersDown kills -9 both followers of every partition written
// (min.insync.replicas 2), under load: while one replica is left no
// request is acknowledged (acks=all cannot be met), every one is answered
// within the route's timeout with the dialect's unavailable or timeout
// answer and Retry-After; once both are back, every dialect is answered
// 2xx again within twoDownBound, and every 2xx record is in Kafka once.
//
// The three nodes are also the KRaft controllers: two down is the quorum
// lost, so the leader can neither shrink its ISR nor be fenced. It keeps
// appending what it is sent and waits for the dead followers, so the
// requests time out (the route's 5s; not NOT_ENOUGH_REPLICAS, which needs
// a controller to shrink the ISR first). Those records are in the
// leader's log: once the followers are back they are committed, written
// after a timeout answer, which is why a timeout is indeterminate.
func TestTwoBrokersDown(t *testing.T) {
	e := clusterEnv(t)
	t.Cleanup(func() { e.heal(t) })
	const leader, twoDownBound = 1, 90 * time.Second
	all := append(append([]relcheck.Dialect(nil), relcheck.AllDialects...), relcheck.BatchDialects...)
	r := startRunWith(t, relcheck.CaddyBinary(t), e, e.plaintext(), all, 1, e.allowed, leader, "")
	time.Sleep(2 * time.Second)
	e.stopNode(t, 2, syscall.SIGKILL, 20*time.Second)
	e.stopNode(t, 3, syscall.SIGKILL, 20*time.Second)
	down := time.Now()
	time.Sleep(15 * time.Second)
	restart := time.Now()
	for _, n := range []int{2, 3} {
		e.startNode(t, n)
	}
	back := recoveredAll(t, []*run{r}, restart, twoDownBound, "the two brokers were restarted")
	healthy := e.waitHealthy(t, values(r.names), 120*time.Second)
	time.Sleep(2 * time.Second)

	var during, acked, refused int
	for _, l := range r.loads {
		for _, res := range l.Snapshot() {
			if res.Start.Before(down) || !res.Start.Add(res.Took).Before(restart) {
				continue
			}
			during++
			switch res.Outcome {
			case relcheck.OK:
				acked++
				if acked <= 3 {
					t.Errorf("%s: record %s acknowledged %v after the second broker was down, with one replica of %d left", res.Dialect, res.ID,
						res.Start.Add(res.Took).Sub(down).Round(time.Millisecond), 3)
				}
			default:
				refused++
			}
		}
	}
	if during == 0 || refused == 0 {
		t.Errorf("%d answers while two brokers were down, %d refused: the fault had no effect", during, refused)
	}
	suite.Figure(t, "two of three brokers down for %v: %d records answered meanwhile, %d acknowledged, %d refused; every dialect 2xx again %v after the restarts began (bound %v), ISR full %v later",
		restart.Sub(down).Round(time.Second), during, acked, refused, back.Round(time.Millisecond), twoDownBound, healthy.Round(time.Millisecond))
	r.finish(t, false)
}

// allTopics are the topics of every run.
func allTopics(rs []*run) []string {
	var out []string
	for _, r := range rs {
		out = append(out, values(r.names)...)
	}
	return out
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
