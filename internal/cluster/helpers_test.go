package cluster_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
	"github.com/caddy-kafka/caddy-kafka/internal/suite"
)

func TestMain(m *testing.M) {
	code := m.Run()
	relcheck.RemoveBinary()
	os.Exit(code)
}

// env is the cluster as .ci/kafka/cluster.sh described it.
type env struct {
	dir, script                   string
	plain, sasl, ssl              []string // per node 1..3, index 0..2
	proxied, proxy                []string // plaintext behind the proxy
	proxiedSASL, proxySASL        []string // SASL_SSL behind the proxy
	proxiedSSL, proxySSL          []string // mTLS behind the proxy
	ca, certs                     string
	user, password, adminPassword string
	allowed, denied               string // topic prefixes of the ACLs
}

func clusterEnv(t *testing.T) *env {
	t.Helper()
	get := func(k string) string { return os.Getenv("KAFKA_CLUSTER_" + k) }
	if get("PLAINTEXT") == "" {
		suite.Missing(t, "cluster", "cluster suite: needs the three-broker cluster; run eval \"$(.ci/kafka/cluster.sh up)\" first (sets KAFKA_CLUSTER_PLAINTEXT and the rest)")
	}
	split := func(k string) []string { return strings.Split(get(k), ",") }
	return &env{
		dir: get("DIR"), script: get("SCRIPT"),
		plain: split("PLAINTEXT"), sasl: split("SASL_SSL"), ssl: split("SSL"),
		proxied: split("PROXIED"), proxy: split("PROXY"),
		proxiedSASL: split("PROXIED_SASL"), proxySASL: split("PROXY_SASL"),
		proxiedSSL: split("PROXIED_SSL"), proxySSL: split("PROXY_SSL"),
		ca: get("CA"), certs: get("CERTS"),
		user: get("SASL_USER"), password: get("SASL_PASSWORD"), adminPassword: get("ADMIN_PASSWORD"),
		allowed: get("ALLOWED_PREFIX"), denied: get("DENIED_PREFIX"),
	}
}

// admin is a client of the PLAINTEXT listener, whose ANONYMOUS principal
// is a super user: the tests' view of the truth.
func (e *env) admin(t testing.TB) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.plain...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// topics creates one topic per dialect of ds, named prefix+test+dialect, with
// 3 partitions of replication factor 3 (min.insync.replicas 2, the
// brokers' default). With leader > 0 every partition's preferred leader is
// that node, so that killing it moves every partition written. It returns
// the names by base name, and waits until every partition has a leader and
// a full ISR.
func (e *env) topics(t *testing.T, prefix string, ds []relcheck.Dialect, leader int32) map[string]string {
	t.Helper()
	cl, _ := e.admin(t)
	run := relcheck.RunID()
	names := map[string]string{}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	for _, d := range ds {
		name := prefix + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + d.Topic + "-" + run
		names[d.Topic] = name
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = name
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		if leader > 0 {
			others := []int32{}
			for n := int32(1); n <= 3; n++ {
				if n != leader {
					others = append(others, n)
				}
			}
			for p := int32(0); p < 3; p++ {
				a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
				a.Partition = p
				a.Replicas = []int32{leader, others[p%2], others[(p+1)%2]}
				rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
			}
		} else {
			rt.NumPartitions, rt.ReplicationFactor = 3, 3
		}
		mir := kmsg.NewCreateTopicsRequestTopicConfig()
		mir.Name, mir.Value = "min.insync.replicas", kmsg.StringPtr("2")
		rt.Configs = append(rt.Configs, mir)
		req.Topics = append(req.Topics, rt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("creating topics: %v", err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			t.Fatalf("creating topic %s: %v", rt.Topic, err)
		}
	}
	var list []string
	for _, n := range names {
		list = append(list, n)
	}
	e.waitHealthy(t, list, 60*time.Second)
	return names
}

// waitHealthy waits until every partition of topics has a leader and all
// three replicas in sync.
func (e *env) waitHealthy(t *testing.T, topics []string, max time.Duration) time.Duration {
	t.Helper()
	_, adm := e.admin(t)
	start := time.Now()
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		md, err := adm.Metadata(ctx, topics...)
		cancel()
		ok := err == nil
		if err != nil {
			last = err.Error()
		}
		for _, n := range topics {
			td := md.Topics[n]
			if td.Err != nil || len(td.Partitions) == 0 {
				ok, last = false, fmt.Sprintf("%s: %v", n, td.Err)
			}
			for _, p := range td.Partitions {
				if p.Leader < 0 || len(p.ISR) != 3 {
					ok, last = false, fmt.Sprintf("%s/%d: leader %d, isr %v", n, p.Partition, p.Leader, p.ISR)
				}
			}
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > max {
			t.Fatalf("topics not healthy after %v: %s", max, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// leaders are the current leaders of topic's partitions, as the brokers
// other than down (a node number, 0 for none) see them: a paused broker
// accepts the connection and never answers, so an admin client that
// picked it would wait out its dial timeout.
func (e *env) leaders(t *testing.T, topic string, down int) []int32 {
	t.Helper()
	var seeds []string
	for i, b := range e.plain {
		if i+1 != down {
			seeds = append(seeds, b)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var ls []int32
	for _, p := range md.Topics[topic].Partitions.Sorted() {
		ls = append(ls, p.Leader)
	}
	return ls
}

func (e *env) pid(t *testing.T, node int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, fmt.Sprintf("node%d", node), "kafka.pid"))
	if err != nil {
		t.Fatalf("pid of node %d: %v", node, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func (e *env) signal(t *testing.T, node int, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(e.pid(t, node), sig); err != nil {
		t.Fatalf("signal %v to node %d: %v", sig, node, err)
	}
}

// stopNode ends node's process with sig (SIGKILL, or SIGTERM for a
// controlled shutdown) and waits until it is gone.
func (e *env) stopNode(t *testing.T, node int, sig syscall.Signal, max time.Duration) time.Duration {
	t.Helper()
	pid := e.pid(t, node)
	start := time.Now()
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kill -%d node %d: %v", sig, node, err)
	}
	for relcheck.Alive(pid) || relcheck.Dialable(e.plain[node-1]) {
		if time.Since(start) > max {
			t.Fatalf("node %d (pid %d) still alive %v after signal %v", node, pid, max, sig)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The pid file would make cluster.sh think it still runs (a zombie
	// answers kill -0).
	_ = os.Remove(filepath.Join(e.dir, fmt.Sprintf("node%d", node), "kafka.pid"))
	return time.Since(start)
}

// startNode starts node again on its data, and waits until it serves.
func (e *env) startNode(t *testing.T, node int) {
	t.Helper()
	cmd := exec.Command(e.script, "node", strconv.Itoa(node))
	cmd.Env = append(os.Environ(), "KAFKA_CLUSTER_DIR="+e.dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("restarting node %d: %v\n%s", node, err, stderr.String())
	}
}

// heal leaves every node running and unpaused for the next test.
func (e *env) heal(t *testing.T) {
	for n := 1; n <= 3; n++ {
		b, err := os.ReadFile(filepath.Join(e.dir, fmt.Sprintf("node%d", n), "kafka.pid"))
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && relcheck.Alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGCONT)
				continue
			}
		}
		e.startNode(t, n)
	}
}

// auth is how the gateway reaches the cluster.
type auth struct {
	name    string
	brokers []string
	kafka   string // extra kafka subdirectives (sasl, tls)
	secrets []string
}

func (e *env) plaintext() auth { return auth{name: "plaintext", brokers: e.plain} }

func (e *env) scram(password string) auth {
	return auth{name: "sasl_ssl", brokers: e.sasl, secrets: []string{password},
		kafka: fmt.Sprintf("sasl scram-sha-512 %s %s\n\t\ttls {\n\t\t\tca %s\n\t\t}", e.user, password, e.ca)}
}

func (e *env) mtls(cert string) auth {
	key, _ := os.ReadFile(filepath.Join(e.certs, cert+".key"))
	return auth{name: "mtls-" + cert, brokers: e.ssl, secrets: []string{pemBody(key)},
		kafka: fmt.Sprintf("tls {\n\t\t\tca %s\n\t\t\tclient_cert %s %s\n\t\t}", e.ca,
			filepath.Join(e.certs, cert+".crt"), filepath.Join(e.certs, cert+".key"))}
}

// pemBody is a line from the middle of a PEM key: what would show if the
// key leaked.
func pemBody(b []byte) string {
	lines := strings.Split(string(b), "\n")
	if len(lines) > 3 {
		return lines[2]
	}
	return ""
}

// caddyfile is a gateway serving every dialect of relcheck.AllDialects on
// the topics names (by base name), with the route timeout, kafka_ready on
// /ready, and the given cluster config.
func caddyfile(a auth, names map[string]string, timeout time.Duration, kafkaExtra string) func(addr, admin string) string {
	return func(addr, admin string) string {
		// The webhook routes name their topics; one of a dialect the run
		// does not load keeps its placeholder, unused.
		site := relcheck.Site("timeout " + timeout.String())
		for _, base := range []string{"wh", "whs"} {
			if n := names[base]; n != "" {
				site = strings.ReplaceAll(site, "{topic."+base+"}", n)
			}
		}
		return fmt.Sprintf(`{
	admin %s
	log {
		output stderr
		format json
		level INFO
	}
	kafka {
		brokers %s
		%s
		%s
	}
}
http://%s {
	handle /ready {
		kafka_ready
	}
	%s
}
`, admin, strings.Join(a.brokers, " "), a.kafka, kafkaExtra, addr, site)
	}
}

func topicFunc(names map[string]string) func(string) string {
	return func(base string) string { return names[base] }
}

// report is what a fault did to the answers.
type report struct {
	requests, ok, errors, withRetryAfter int
	firstErr, lastErr                    time.Time
	slowest                              time.Duration
}

// window is how long errors were answered: from the start of the first
// request answered with an error to the end of the last one.
func (r report) window() time.Duration {
	if r.errors == 0 {
		return 0
	}
	return r.lastErr.Sub(r.firstErr)
}

func (r report) String() string {
	return fmt.Sprintf("%d requests, %d ok, %d error answers (%d with Retry-After) over %v, slowest answer %v",
		r.requests, r.ok, r.errors, r.withRetryAfter, r.window().Round(time.Millisecond), r.slowest.Round(time.Millisecond))
}

// checkAnswers checks every answer of a fault run: a 2xx, or the dialect's
// unavailable (or timeout) or overload answer, with Retry-After unless
// the answer is a 200 or 207 carrying per-record errors (Confluent's
// reports, a partly written batch),
// each within the route's timeout plus margin; never no answer.
func checkAnswers(t *testing.T, rs []relcheck.Result, timeout time.Duration, allowNoAnswer bool) report {
	t.Helper()
	// The route's timeout bounds every wait of a request (the topic lookup,
	// the produce, the Idempotency-Key wait); after it comes only writing
	// the answer. The margin is for scheduling a -race gateway on a busy
	// machine, and well under the 10s of franz-go's dial timeout, which a
	// lookup not bounded by the deadline waited for.
	const margin = 2 * time.Second
	var rep report
	bad := 0
	fail := func(format string, args ...any) {
		bad++
		if bad <= 5 {
			t.Errorf(format, args...)
		}
	}
	for _, r := range rs {
		rep.requests++
		rep.slowest = max(rep.slowest, r.Took)
		switch r.Outcome {
		case relcheck.OK:
			rep.ok++
			continue
		case relcheck.NoAnswer:
			if !allowNoAnswer {
				fail("%s: request %s got no answer after %v: %v", r.Dialect, r.ID, r.Took.Round(time.Millisecond), r.Err)
			}
			continue
		case relcheck.Unavailable, relcheck.Overload:
			if !r.RetryAfter && r.Status != http.StatusOK && r.Status != http.StatusMultiStatus {
				fail("%s: error answer %d without Retry-After: %s", r.Dialect, r.Status, r.Body)
			}
		default:
			fail("%s: request %s answered %d, not the dialect's unavailable or overload answer: %s", r.Dialect, r.ID, r.Status, r.Body)
		}
		rep.errors++
		if r.RetryAfter {
			rep.withRetryAfter++
		}
		if rep.firstErr.IsZero() || r.Start.Before(rep.firstErr) {
			rep.firstErr = r.Start
		}
		if end := r.Start.Add(r.Took); end.After(rep.lastErr) {
			rep.lastErr = end
		}
		if r.Took > timeout+margin {
			fail("%s: request %s answered %d after %v, over the %v timeout", r.Dialect, r.ID, r.Status, r.Took.Round(time.Millisecond), timeout)
		}
	}
	if bad > 5 {
		t.Errorf("... %d bad answers in all", bad)
	}
	return rep
}

// gateway runs the gateway as its own process.
func gateway(t *testing.T, cf func(addr, admin string) string) *relcheck.CaddyProc {
	t.Helper()
	return relcheck.StartCaddy(t, cf)
}

// clusterStatus is GET /kafka/clusters of the gateway's admin API.
func clusterStatus(t *testing.T, p *relcheck.CaddyProc) (string, []map[string]any) {
	t.Helper()
	resp, err := http.Get("http://" + p.Admin + "/kafka/clusters")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("/kafka/clusters: %v: %s", err, b)
	}
	return string(b), out
}

// rss is the process's resident set in KiB.
func rss(t *testing.T, pid int) float64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// goroutines is the gateway's goroutine count, from the admin API's pprof.
func goroutines(t *testing.T, p *relcheck.CaddyProc) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.Admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	var n float64
	if _, err := fmt.Sscanf(line, "goroutine profile: total %g", &n); err != nil {
		t.Fatalf("goroutine profile: %q: %v", line, err)
	}
	return n
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	var sx, sy, sxx, sxy float64
	n := float64(len(xs))
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// cpuWait samples every second how long the gateway's threads have waited
// for a CPU, the run-queue delay of /proc/PID/task/*/schedstat. On a
// shared machine a gateway starved of CPU answers late however well it
// bounds its waits: this tells such a stall from one of the gateway's own.
type cpuWait struct {
	stop  chan struct{}
	done  chan struct{}
	total time.Duration // waited in all
	worst time.Duration // waited in the worst second
	at    time.Time     // when that second ended
}

func watchCPUWait(pid int) *cpuWait {
	w := &cpuWait{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		last := runDelay(pid)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(time.Second):
			}
			now := runDelay(pid)
			d := max(now-last, 0) // threads that exited take their delay along
			last = now
			w.total += d
			if d > w.worst {
				w.worst, w.at = d, time.Now()
			}
		}
	}()
	return w
}

// end stops the sampling and describes what it saw.
func (w *cpuWait) end() string {
	close(w.stop)
	<-w.done
	return fmt.Sprintf("gateway threads waited %v for a CPU in all, %v in the worst second (ending %s)",
		w.total.Round(time.Millisecond), w.worst.Round(time.Millisecond), w.at.Format("15:04:05"))
}

// runDelay is the sum of the run-queue delays of pid's threads.
func runDelay(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum time.Duration
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fs := strings.Fields(string(b)); len(fs) >= 2 {
			n, _ := strconv.ParseInt(fs[1], 10, 64)
			sum += time.Duration(n)
		}
	}
	return sum
}
