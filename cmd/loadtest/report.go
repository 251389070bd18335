package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is a run's results, by scenario name, one per round.
type report struct {
	cfg       config
	scenarios []*scenario
	results   map[string][]*result
	elapsed   time.Duration
}

func (rep *report) failures() []string {
	var out []string
	for _, sc := range rep.scenarios {
		for _, r := range rep.results[sc.name] {
			for _, f := range r.failures {
				out = append(out, fmt.Sprintf("%s round %d: %s", sc.name, r.round, f))
			}
		}
	}
	return out
}

func (rep *report) failed() bool { return len(rep.failures()) > 0 }

// ratios are a scenario's per-round ratios to another scenario's same
// round (its ceiling or a peer): req/s for single-record requests,
// records/s for the rest.
func (rep *report) ratios(sc *scenario, to string) []float64 {
	ceil := rep.results[to]
	var out []float64
	for _, r := range rep.results[sc.name] {
		for _, c := range ceil {
			if c.round != r.round || r.elapsed <= 0 {
				continue
			}
			num, den := r.recPerSec(), c.recPerSec()
			if sc.records == 1 && sc.kind != kindStream {
				num, den = r.reqPerSec(), c.reqPerSec()
			}
			if den > 0 {
				out = append(out, num/den)
			}
		}
	}
	return out
}

// ratioCell is the median ratio of sc to the scenario named to.
func (rep *report) ratioCell(sc *scenario, to string) string {
	if _, ok := rep.results[to]; !ok {
		return "(no " + to + ")"
	}
	if m := median(rep.ratios(sc, to)); m >= 0 {
		return fmt.Sprintf("%.2fx %s", m, to)
	}
	return "-"
}

// cpuPerRequest is the server's CPU time per answered request, in µs.
func (r *result) cpuPerRequest() float64 {
	if r.cpu < 0 || r.requests <= 0 || r.elapsed <= 0 || r.sc.kind == kindKafkaSync || r.sc.kind == kindKafkaAsync || r.sc.kind == kindStream {
		return -1
	}
	return r.cpu * r.elapsed.Seconds() / float64(r.requests) * 1e6
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return -1
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianOf(rs []*result, f func(*result) float64) float64 {
	v := make([]float64, 0, len(rs))
	for _, r := range rs {
		if x := f(r); x >= 0 {
			v = append(v, x)
		}
	}
	return median(v)
}

// percentile of a sample of latencies, by nearest rank.
func percentile(lat []time.Duration, p int) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// table is the markdown results table.
func (rep *report) table(w io.Writer) {
	fmt.Fprintln(w, "| scenario | conns | records/req | req/s | records/s | p50 ms | p99 ms | server CPU | CPU µs/req | broker CPU | peak RSS MiB | non-2xx (rounds) | ratio | vs peers | verified |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|")
	for _, sc := range rep.scenarios {
		rs := rep.results[sc.name]
		var ok []*result // rounds that ran
		for _, r := range rs {
			if r.elapsed > 0 {
				ok = append(ok, r)
			}
		}
		var non2xx, errs int64
		flagged, verified, probed := 0, 0, 0
		var rss int64 = -1
		for _, r := range rs {
			non2xx += r.non2xx
			errs += r.sockErrs
			if r.flagged {
				flagged++
			}
			verified += r.verified
			probed += r.probed
			rss = max(rss, r.rss)
		}
		reqs := num(medianOf(ok, (*result).reqPerSec))
		if sc.kind == kindStream || sc.kind == kindKafkaAsync || sc.kind == kindKafkaSync {
			reqs = "-"
		}
		errCell := fmt.Sprint(non2xx)
		if errs > 0 {
			errCell += fmt.Sprintf(" +%d socket errors", errs)
		}
		if flagged > 0 {
			errCell += fmt.Sprintf(" (%d/%d) ⚠", flagged, len(rs))
		}
		ratio := "-"
		if sc.ceiling != "" {
			ratio = rep.ratioCell(sc, sc.ceiling)
		}
		var peers []string
		for _, p := range sc.peers {
			peers = append(peers, rep.ratioCell(sc, p))
		}
		peerCell := "-"
		if len(peers) > 0 {
			peerCell = strings.Join(peers, ", ")
		}
		rssCell := "-"
		if rss > 0 {
			rssCell = fmt.Sprint(rss >> 20)
		}
		ver := "-"
		if probed > 0 {
			ver = fmt.Sprintf("%d/%d", verified, probed)
		}
		failedRounds := 0
		for _, r := range rs {
			if len(r.failures) > 0 {
				failedRounds++
			}
		}
		if failedRounds > 0 {
			ver += fmt.Sprintf(" FAILED %d/%d", failedRounds, len(rs))
		}
		conns := fmt.Sprint(sc.conns)
		if sc.kind == kindKafkaSync {
			conns += " goroutines"
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			sc.name, conns, sc.records, reqs, num(medianOf(ok, (*result).recPerSec)),
			msCell(medianOf(ok, func(r *result) float64 { return ms(r.p50) })),
			msCell(medianOf(ok, func(r *result) float64 { return ms(r.p99) })),
			cores(medianOf(ok, func(r *result) float64 { return r.cpu })),
			usCell(medianOf(ok, (*result).cpuPerRequest)),
			cores(medianOf(ok, func(r *result) float64 { return r.brokerCPU })),
			rssCell, errCell, ratio, peerCell, ver)
	}
}

// num formats a rate with thousands separators.
func num(f float64) string {
	if f < 0 {
		return "-"
	}
	s := fmt.Sprintf("%.0f", f)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func usCell(f float64) string {
	if f < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", f)
}

func msCell(f float64) string {
	if f < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", f)
}

// write prints the report and writes it to -out.
func (rep *report) write() error {
	var b strings.Builder
	fmt.Fprintf(&b, "Command: `%s`\n\n", rep.cfg.command)
	broker := "kfake (a separate process, fresh per scenario and round)"
	if len(rep.cfg.brokers) > 0 {
		broker = "KAFKA_BROKERS=" + strings.Join(rep.cfg.brokers, ",")
	}
	fmt.Fprintf(&b, "%s, %s/%s, %d CPUs (%s), %s; broker: %s; %d rounds of %v; run took %v.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(),
		runtime.Version(), broker, rep.cfg.rounds, rep.cfg.duration, rep.elapsed.Round(time.Second))
	if rev := gitRevision(); rev != "" {
		fmt.Fprintf(&b, "Source: %s.\n\n", rev)
	}
	rep.table(&b)
	b.WriteString(`
Medians over the rounds (peak RSS: the largest). server CPU is Caddy's (kafka-pixy's for pixy-*;
for kafka-* rows, this harness's own, which is the producer), in cores, and CPU µs/req that over the
requests answered; broker CPU is kfake's. ratio is the median of the per-round ratios to the named
ceiling in the same round, vs peers the same to the peers (kafka-pixy, the naive handler): req/s
for single-record requests, records/s for 1,000-record requests and streaming. non-2xx counts
failed answers (records, for kafka-* rows, and failed reports for the stream); a flagged round (⚠)
had some. verified is the acknowledged records read back from Kafka with the right value.
`)
	var flagged []string
	for _, sc := range rep.scenarios {
		for _, r := range rep.results[sc.name] {
			if r.flagged {
				flagged = append(flagged, fmt.Sprintf("- %s round %d: %d non-2xx, %d socket errors. %s",
					sc.name, r.round, r.non2xx, r.sockErrs, strings.Join(r.notes, " ")))
			}
		}
	}
	if len(flagged) > 0 {
		b.WriteString("\nFlagged rounds:\n" + strings.Join(flagged, "\n") + "\n")
	}
	if f := rep.failures(); len(f) > 0 {
		b.WriteString("\nFailed checks:\n")
		for _, s := range f {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	out := b.String()
	fmt.Fprint(rep.cfg.stdout, "\n"+out)
	if rep.cfg.out != "" {
		if err := os.WriteFile(rep.cfg.out, []byte(out), 0o644); err != nil {
			return fmt.Errorf("writing -out: %w", err)
		}
	}
	return nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// gitRevision is the checkout's commit, and whether it has changes.
func gitRevision() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := "commit " + strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		rev += " with uncommitted changes"
	}
	return rev
}
