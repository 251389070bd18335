package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// result is one scenario's round.
type result struct {
	sc        *scenario
	round     int
	requests  int64 // answered requests, any status
	ok        int64 // 2xx answers (acknowledged records for Go-driven loads)
	non2xx    int64
	sockErrs  int64 // connect/read/write errors and timeouts
	records   int64 // records acknowledged by 2xx answers
	elapsed   time.Duration
	p50, p99  time.Duration
	cpu       float64 // server cores; -1 unknown
	brokerCPU float64 // kfake cores; -1 unknown
	loadCPU   float64 // load generator cores; -1 unknown
	rss       int64   // server peak RSS; -1 unknown
	brokerRSS int64   // kfake peak RSS; -1 unknown
	grew      int64   // records the topic grew by during the round
	verified  int     // records read back and matched
	probed    int     // records the checks looked for
	failures  []string
	notes     []string      // why a round is flagged (first non-2xx answers)
	flagged   bool          // non-2xx or socket errors
	took      time.Duration // the whole round: processes, warm-up, load, checks
}

func (r *result) fail(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *result) reqPerSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

func (r *result) recPerSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.records) / r.elapsed.Seconds()
}

// runner holds what scenarios share in one run.
type runner struct {
	cfg   config
	dir   string
	caddy string
	wrk   string
	pixy  string
	runID string
}

// run runs every selected scenario cfg.rounds times and writes the report.
func run(ctx context.Context, cfg config) (*report, error) {
	if cfg.rounds < 1 || cfg.duration < time.Second/2 || cfg.bulkConns < 1 || cfg.wrkThreads < 1 || cfg.probeEvery <= 0 {
		return nil, fmt.Errorf("want -rounds >= 1, -duration >= 500ms, -bulk-conns >= 1, -wrk-threads >= 1, -probe-every > 0")
	}
	var selected []*scenario
	for _, sc := range allScenarios(defaultConns, cfg.bulkConns, bulkRecords) {
		if cfg.filter != nil && !cfg.filter.MatchString(sc.name) {
			continue
		}
		if sc.dialect != nil && sc.dialect.registry && cfg.registry == "" {
			fmt.Fprintf(cfg.log, "skipping %s: no schema registry (set SCHEMA_REGISTRY_URL or -schema-registry)\n", sc.name)
			continue
		}
		selected = append(selected, sc)
	}
	if len(selected) == 0 {
		return nil, errNoScenario
	}
	if cfg.registry != "" {
		if err := registerAvro(ctx, cfg.registry); err != nil {
			return nil, err
		}
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	r := &runner{cfg: cfg, runID: hex.EncodeToString(b[:])}
	dir, err := os.MkdirTemp("", "caddy-kafka-loadtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r.dir = dir

	began := time.Now()
	needWrk, needCaddy, needPixy := false, false, false
	for _, sc := range selected {
		needWrk = needWrk || sc.kind == kindRespond || sc.kind == kindGateway || sc.kind == kindPixy
		needCaddy = needCaddy || sc.kind == kindRespond || sc.kind == kindGateway || sc.kind == kindStream
		needPixy = needPixy || sc.kind == kindPixy
	}
	if cfg.profile != "" {
		if err := os.MkdirAll(cfg.profile, 0o755); err != nil {
			return nil, err
		}
	}
	if needWrk {
		if r.wrk, err = ensureWrk(ctx, cfg.log); err != nil {
			return nil, err
		}
	}
	if needPixy {
		if r.pixy, err = ensurePixy(ctx, cfg.log); err != nil {
			return nil, err
		}
	}
	if needCaddy {
		r.caddy = cfg.caddyBin
		if r.caddy == "" {
			fmt.Fprintln(cfg.log, "building ./cmd/loadtest/caddy")
			if r.caddy, err = buildCaddy(ctx, dir); err != nil {
				return nil, err
			}
		}
	}

	rep := &report{cfg: cfg, scenarios: selected, results: map[string][]*result{}}
	for round := 1; round <= cfg.rounds; round++ {
		for _, sc := range selected {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res := r.runScenario(ctx, sc, round)
			rep.results[sc.name] = append(rep.results[sc.name], res)
			fmt.Fprintln(cfg.log, progressLine(res, cfg.rounds))
		}
	}
	rep.elapsed = time.Since(began)
	if err := rep.write(); err != nil {
		return rep, err
	}
	return rep, nil
}

func progressLine(r *result, rounds int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "round %d/%d %-28s %9.0f req/s %10.0f rec/s p50 %6.2fms p99 %7.2fms cpu %s",
		r.round, rounds, r.sc.name, r.reqPerSec(), r.recPerSec(), ms(r.p50), ms(r.p99), cores(r.cpu))
	if r.brokerCPU >= 0 {
		fmt.Fprintf(&b, " broker %s", cores(r.brokerCPU))
	}
	if r.brokerRSS > 0 {
		fmt.Fprintf(&b, " %dMiB", r.brokerRSS>>20)
	}
	if r.loadCPU >= 0 {
		fmt.Fprintf(&b, " loadgen %s", cores(r.loadCPU))
	}
	if r.rss > 0 {
		fmt.Fprintf(&b, " rss %dMiB", r.rss>>20)
	}
	if r.grew > 0 {
		fmt.Fprintf(&b, " topic +%d", r.grew)
	}
	if r.probed > 0 {
		fmt.Fprintf(&b, " verified %d/%d", r.verified, r.probed)
	}
	if r.non2xx > 0 || r.sockErrs > 0 {
		fmt.Fprintf(&b, " NON-2XX %d ERRORS %d", r.non2xx, r.sockErrs)
	}
	fmt.Fprintf(&b, " (%.1fs)", r.took.Seconds())
	for _, n := range r.notes {
		fmt.Fprintf(&b, "\n    flagged: %s", n)
	}
	for _, f := range r.failures {
		fmt.Fprintf(&b, "\n    FAILED: %s", f)
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func cores(c float64) string {
	if c < 0 {
		return "-"
	}
	return strconv.FormatFloat(c, 'f', 2, 64)
}

// broker is the Kafka side of one scenario's round.
type broker struct {
	fake  *kfakeProc // nil for a real broker
	addrs []string
	kc    *kgo.Client
	topic string
}

// startBroker starts a fresh kfake (or uses KAFKA_BROKERS) and creates the
// round's topic.
func (r *runner) startBroker(ctx context.Context, sc *scenario, round int) (*broker, error) {
	b := &broker{topic: fmt.Sprintf("loadtest-%s-%s-r%d", r.runID, sc.name, round)}
	replication := int16(-1) // the broker's default
	if len(r.cfg.brokers) > 0 {
		b.addrs = r.cfg.brokers
	} else {
		fake, err := startKfake(ctx, r.dir)
		if err != nil {
			return nil, err
		}
		b.fake, b.addrs, replication = fake, fake.addrs, 1
	}
	kc, err := kgo.NewClient(kgo.SeedBrokers(b.addrs...), kgo.ClientID("loadtest-admin"))
	if err != nil {
		b.close(ctx)
		return nil, err
	}
	b.kc = kc
	cctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if err := createTopic(cctx, kc, b.topic, replication); err != nil {
		b.close(ctx)
		return nil, err
	}
	return b, nil
}

// close deletes a real broker's topic and stops kfake.
func (b *broker) close(ctx context.Context) {
	if b == nil {
		return
	}
	if b.kc != nil {
		if b.fake == nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			deleteTopic(dctx, b.kc, b.topic)
			cancel()
		}
		b.kc.Close()
	}
	b.fake.close()
}

func (b *broker) cpuMeter() cpuMeter {
	if b == nil || b.fake == nil {
		return cpuMeter{}
	}
	return startCPU(b.fake.pid())
}

func (b *broker) records(ctx context.Context) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return records(cctx, b.kc, b.topic)
}

// runScenario runs one round of a scenario on fresh processes.
func (r *runner) runScenario(ctx context.Context, sc *scenario, round int) *result {
	res := &result{sc: sc, round: round, cpu: -1, brokerCPU: -1, loadCPU: -1, rss: -1, brokerRSS: -1}
	began := time.Now()
	defer func() { res.took = time.Since(began) }()
	var err error
	switch sc.kind {
	case kindRespond:
		err = r.runRespond(ctx, res)
	case kindKafkaSync, kindKafkaAsync:
		err = r.runCeiling(ctx, res)
	case kindGateway, kindPixy:
		err = r.runGateway(ctx, res)
	case kindStream:
		err = r.runStreamScenario(ctx, res)
	}
	if err != nil {
		res.fail("%v", err)
	}
	res.flagged = res.non2xx > 0 || res.sockErrs > 0 || len(res.notes) > 0
	return res
}

// caddyFor starts Caddy serving site, with its admin endpoint on when
// profiling.
func (r *runner) caddyFor(ctx context.Context, res *result, brokers []string, site string) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	admin := 0
	if r.cfg.profile != "" {
		if admin, err = freePort(); err != nil {
			return nil, "", err
		}
	}
	name := fmt.Sprintf("caddy-%s-r%d", res.sc.name, res.round)
	registry := ""
	if res.sc.dialect != nil && res.sc.dialect.registry {
		registry = r.cfg.registry
	}
	p, err := startCaddy(ctx, r.caddy, r.dir, name, caddyfile(port, admin, brokers, registry, site), port)
	if err != nil {
		return nil, "", err
	}
	p.admin = admin
	return p, fmt.Sprintf("http://127.0.0.1:%d", port), nil
}

// measureWrk runs wrk against the server and fills res.
func (r *runner) measureWrk(ctx context.Context, res *result, server *proc, bm cpuMeter, base, path string, body []byte) error {
	sc := res.sc
	cm := startCPU(server.pid())
	stopProfile := r.profile(ctx, res, server)
	w, err := runWrk(ctx, r.wrk, r.dir, fmt.Sprintf("wrk-%s-r%d", sc.name, res.round), base, path,
		sc.dialect.headers, body, r.cfg.wrkThreads, sc.conns, r.cfg.duration)
	res.cpu = cm.cores()
	stopProfile()
	if bm.pid != 0 {
		res.brokerCPU = bm.cores()
		if rss, err := peakRSS(bm.pid); err == nil {
			res.brokerRSS = rss
		}
	}
	if rss, err := peakRSS(server.pid()); err == nil {
		res.rss = rss
	}
	if err != nil {
		return err
	}
	res.elapsed = time.Duration(w.durationUS) * time.Microsecond
	res.requests, res.non2xx = w.requests, w.status
	res.ok = w.requests - w.status
	res.records = res.ok * int64(sc.records)
	res.sockErrs = w.connect + w.read + w.write + w.timeout
	res.p50, res.p99 = time.Duration(w.p50US)*time.Microsecond, time.Duration(w.p99US)*time.Microsecond
	if res.elapsed > 0 {
		res.loadCPU = (w.userCPU + w.sysCPU).Seconds() / res.elapsed.Seconds()
	}
	if server.exited() {
		return fmt.Errorf("%s exited during the round: %s", server.name, server.tail())
	}
	return nil
}

// profile fetches a CPU profile of Caddy over the middle of the round from
// its admin endpoint's /debug/pprof/profile into -profile's directory, as
// <scenario>-r<round>.pprof; the returned function waits for it. It does
// nothing without -profile or for a server without an admin endpoint.
func (r *runner) profile(ctx context.Context, res *result, server *proc) (wait func()) {
	if r.cfg.profile == "" || server.admin == 0 {
		return func() {}
	}
	secs := max(1, int(r.cfg.duration/time.Second)-2)
	url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", server.admin, secs)
	out := filepath.Join(r.cfg.profile, fmt.Sprintf("%s-r%d.pprof", res.sc.name, res.round))
	done := make(chan struct{})
	go func() {
		defer close(done)
		select { // skip wrk's first second: connections opening
		case <-time.After(time.Second):
		case <-ctx.Done():
			return
		}
		if err := fetchTo(ctx, url, out); err != nil {
			res.notes = append(res.notes, fmt.Sprintf("profile: %v", err))
		}
	}()
	return func() { <-done }
}

func fetchTo(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func (r *runner) runRespond(ctx context.Context, res *result) error {
	caddy, base, err := r.caddyFor(ctx, res, nil, `respond "ok" 200`)
	if err != nil {
		return err
	}
	defer caddy.stop(os.Interrupt, 5*time.Second)
	d := res.sc.dialect
	body := d.body([][]byte{bulkValues[0]}, false)
	if err := warmRespond(ctx, base+d.path("t"), d.headers, body); err != nil {
		return err
	}
	return r.measureWrk(ctx, res, caddy, cpuMeter{}, base, d.path("t"), body)
}

func (r *runner) runGateway(ctx context.Context, res *result) error {
	sc := res.sc
	b, err := r.startBroker(ctx, sc, res.round)
	if err != nil {
		return err
	}
	defer b.close(ctx)
	var caddy *proc
	var base string
	if sc.kind == kindPixy {
		caddy, base, err = r.pixyFor(ctx, res, b.addrs)
	} else {
		caddy, base, err = r.caddyFor(ctx, res, b.addrs, sc.dialect.route(b.topic, b.addrs, sc.bulk()))
	}
	if err != nil {
		return err
	}
	defer caddy.stop(os.Interrupt, 5*time.Second)

	// Warm up, and check that the route answers as this dialect does.
	pr := newProber(base, sc, b.topic, fmt.Sprintf("p%s-r%d-", r.runID, res.round))
	for range 20 {
		pr.once(ctx)
	}
	if pr.ok != 20 {
		return fmt.Errorf("warm-up: %d of 20 requests acknowledged: %s; caddy: %s", pr.ok, strings.Join(append(pr.failure, pr.notes...), "; "), caddy.tail())
	}
	warm := pr.acked
	pr.acked, pr.ok = nil, 0 // the warm-up is in the topic before the count starts
	before, err := b.records(ctx)
	if err != nil {
		return err
	}

	values := make([][]byte, sc.records)
	for i := range values {
		values[i] = bulkValues[i%bulkRecords]
	}
	stop := pr.start(r.cfg.probeEvery)
	werr := r.measureWrk(ctx, res, caddy, b.cpuMeter(), base, sc.dialect.path(b.topic), sc.dialect.body(values, sc.bulk()))
	stop()
	if werr != nil {
		return werr
	}
	after, err := b.records(ctx)
	if err != nil {
		return err
	}
	res.grew = after - before
	res.non2xx += pr.non2xx
	res.sockErrs += pr.errs
	res.failures = append(res.failures, pr.failure...)
	res.notes = append(res.notes, pr.notes...)

	// Every 2xx record is in Kafka: the topic grew by at least that much.
	if want := res.records + pr.ok; after-before < want {
		res.fail("topic grew by %d records, but %d were acknowledged (%d 2xx x %d records + %d probes)",
			after-before, want, res.ok, sc.records, pr.ok)
	}
	check := sample(append(warm[:len(warm):len(warm)], pr.acked...), r.cfg.verifyMax)
	res.probed = len(check)
	matched, failures := readBack(ctx, b.kc, b.topic, check)
	res.verified = matched
	for _, f := range failures {
		res.fail("read-back %s", f)
	}
	if matched != len(check) && len(failures) == 0 {
		res.fail("read back %d of %d acknowledged records", matched, len(check))
	}
	return nil
}

func (r *runner) runCeiling(ctx context.Context, res *result) error {
	sc := res.sc
	b, err := r.startBroker(ctx, sc, res.round)
	if err != nil {
		return err
	}
	defer b.close(ctx)
	kc, err := kgo.NewClient(ceilingOpts(b.addrs, b.topic)...)
	if err != nil {
		return err
	}
	defer kc.Close()
	// Warm up: the producer ID and metadata, as the gateway's warm-up does.
	if err := kc.ProduceSync(ctx, &kgo.Record{Value: bulkValues[0]}).FirstErr(); err != nil {
		return fmt.Errorf("warm-up produce: %w", err)
	}
	before, err := b.records(ctx)
	if err != nil {
		return err
	}
	bm := b.cpuMeter()
	cm := startCPU(0)
	var lr loadResult
	if sc.kind == kindKafkaSync {
		lr = produceSync(ctx, kc, sc.conns, r.cfg.duration)
	} else {
		lr = produceAsync(ctx, kc, r.cfg.duration)
	}
	res.cpu = cm.cores()
	if bm.pid != 0 {
		res.brokerCPU = bm.cores()
		if rss, err := peakRSS(bm.pid); err == nil {
			res.brokerRSS = rss
		}
	}
	res.elapsed = lr.elapsed
	res.ok, res.records, res.requests = lr.ok, lr.ok, lr.ok+lr.failed
	res.non2xx = lr.failed
	res.p50, res.p99 = percentile(lr.latencies, 50), percentile(lr.latencies, 99)
	if lr.firstErr != nil {
		res.notes = append(res.notes, fmt.Sprintf("producing: %d records failed, first: %v", lr.failed, lr.firstErr))
	}
	after, err := b.records(ctx)
	if err != nil {
		return err
	}
	res.grew = after - before
	if after-before < lr.ok {
		res.fail("topic grew by %d records, but franz-go acknowledged %d", after-before, lr.ok)
	}
	return nil
}

func (r *runner) runStreamScenario(ctx context.Context, res *result) error {
	sc := res.sc
	b, err := r.startBroker(ctx, sc, res.round)
	if err != nil {
		return err
	}
	defer b.close(ctx)
	caddy, base, err := r.caddyFor(ctx, res, b.addrs, sc.dialect.route(b.topic, b.addrs, false))
	if err != nil {
		return err
	}
	defer caddy.stop(os.Interrupt, 5*time.Second)
	pr := newProber(base, sc, b.topic, fmt.Sprintf("p%s-r%d-", r.runID, res.round))
	for range 20 {
		pr.once(ctx)
	}
	if pr.ok != 20 {
		return fmt.Errorf("warm-up: %d of 20 requests acknowledged: %s; caddy: %s", pr.ok, strings.Join(append(pr.failure, pr.notes...), "; "), caddy.tail())
	}
	before, err := b.records(ctx)
	if err != nil {
		return err
	}
	bm := b.cpuMeter()
	cm := startCPU(caddy.pid())
	lm := startCPU(0)
	stopProfile := r.profile(ctx, res, caddy)
	sr := runStream(ctx, base+sc.dialect.path(b.topic), r.cfg.duration)
	res.cpu = cm.cores()
	res.loadCPU = lm.cores()
	stopProfile()
	if bm.pid != 0 {
		res.brokerCPU = bm.cores()
		if rss, err := peakRSS(bm.pid); err == nil {
			res.brokerRSS = rss
		}
	}
	if rss, err := peakRSS(caddy.pid()); err == nil {
		res.rss = rss
	}
	res.elapsed = sr.elapsed
	res.requests = 1
	if sr.status/100 == 2 {
		res.ok = 1
	} else {
		res.non2xx = 1
	}
	res.records = sr.ok
	res.non2xx += sr.failed
	res.p50, res.p99 = percentile(sr.latencies, 50), percentile(sr.latencies, 99)
	res.failures = append(res.failures, sr.failures...)
	res.notes = append(res.notes, sr.notes...)
	after, err := b.records(ctx)
	if err != nil {
		return err
	}
	res.grew = after - before
	if after-before < sr.ok {
		res.fail("topic grew by %d records, but %d reports were successes", after-before, sr.ok)
	}
	check := sample(sr.samples, r.cfg.verifyMax)
	res.probed = len(check)
	matched, failures := readBack(ctx, b.kc, b.topic, check)
	res.verified = matched
	for _, f := range failures {
		res.fail("read-back %s", f)
	}
	if caddy.exited() {
		res.fail("caddy exited during the round: %s", caddy.tail())
	}
	return nil
}

// warmRespond sends the 20 requests the gateway scenarios warm up with.
func warmRespond(ctx context.Context, url string, headers map[string]string, body []byte) error {
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for range 20 {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("warm-up: respond answered %d", resp.StatusCode)
		}
	}
	return nil
}
