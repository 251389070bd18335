// Command loadtest is the gateway's load harness (issue 7): it measures the
// gateway against two ceilings taken in the same run on the same machine,
// and checks while loading that what the gateway acknowledged is in Kafka.
//
//	go run ./cmd/loadtest                       # every scenario, 3 rounds of 10s
//	go run ./cmd/loadtest -duration 5s -rounds 3 -out results.md
//	go run ./cmd/loadtest -scenarios 'respond-c64|webhook-c64'
//	KAFKA_BROKERS=127.0.0.1:19092 go run ./cmd/loadtest
//
// Every process runs on loopback, each on its own: a kfake broker (this
// binary re-executed, a fresh one per scenario and round so that its memory
// does not accumulate; or the broker of KAFKA_BROKERS, on uniquely named
// topics with 3 partitions that are deleted afterwards), Caddy built from
// ./cmd/caddy and restarted per scenario and round with a generated
// Caddyfile, and the load generator: wrk (Debian package wrk) for
// request/response load, Go code in this command for what wrk cannot
// express (a confluent_v3 streaming connection, franz-go producing directly,
// the verification prober).
//
// Scenarios (-scenarios is a regular expression on their names):
//
//	respond-c64, respond-c256     HTTP ceiling: Caddy's respond, same method, body, connections
//	pixy-c64, pixy-c256           peer: kafka-pixy v0.18.0 (built once from the Go module proxy), sync, flush at once
//	naive-c64, naive-c256         peer: a naive Caddy handler (./naive), one ProduceSync per request
//	kafka-sync-g64                Kafka ceiling: 64 goroutines, ProduceSync one record each
//	kafka-async                   Kafka ceiling: one goroutine, pipelined async Produce
//	<dialect>-c64, <dialect>-c256 one 100-byte record per request, for each dialect
//	webhook_spool-c64, -c256      the webhook route with spool on, on a healthy cluster: spooling's cost
//	webhook-ndjson-1000           1,000 records per request (NDJSON, split lines), 8 connections
//	webhook-ndjson-1000-c1        the same on 1 connection
//	naive-ndjson-1000[-c1]        peer: the naive handler, 1,000 lines in one ProduceSync
//	confluent_v2-array-1000       1,000 records per request (JSON array)
//	confluent_v3-concat-1000      1,000 concatenated records per request (Content-Length)
//	confluent_v3-stream           one chunked connection streaming records, reports in order
//
// Each round runs every selected scenario once, each ceiling right before
// the scenarios compared to it, so that rounds alternate ceiling and gateway
// (respond, gateways, respond, gateways...); the table has the medians over the
// rounds (peak RSS: the largest), and each ratio is the median of the
// per-round ratios to the same round's ceiling: single-record scenarios to
// respond req/s at the same connection count, bulk and streaming to the
// kafka-async records/s.
//
// While wrk loads a gateway route, a prober sends a single-record request
// to the same route every 20ms with a unique value, keeps the partition and
// offset it was acknowledged at, and after the round reads those records
// back from Kafka and compares the values; the sum of the topic's high
// watermarks must also have grown by at least 2xx responses x records per
// request. The streaming scenario checks that every record got a report, in
// order (offsets increase per partition), and reads a sample back. A failed
// check makes the exit status 1; non-2xx answers are counted and flagged.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"
)

func main() {
	if os.Getenv(kfakeEnv) != "" {
		os.Exit(serveKfake(os.Stdin, os.Stdout))
	}
	cfg := config{stdout: os.Stdout, log: os.Stderr}
	var filter string
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of each scenario's measured round (wrk rounds it up to whole seconds)")
	flag.IntVar(&cfg.rounds, "rounds", 3, "rounds; every scenario runs once per round, figures are medians")
	flag.StringVar(&filter, "scenarios", "", "regular expression selecting scenarios by name (default all; ratios need their ceiling selected too)")
	flag.StringVar(&cfg.out, "out", "", "also write the markdown report to this file")
	flag.IntVar(&cfg.bulkConns, "bulk-conns", 8, "connections for 1,000-record requests (at most 10 keep 1,000-record requests within the gateway's default max_buffered_records 10000)")
	flag.DurationVar(&cfg.probeEvery, "probe-every", 20*time.Millisecond, "interval of the verification prober")
	flag.IntVar(&cfg.verifyMax, "verify-max", 500, "most acknowledged records read back per scenario and round")
	flag.StringVar(&cfg.caddyBin, "caddy", "", "a Caddy binary with this plugin and the harness's naive handler (default: go build ./cmd/loadtest/caddy)")
	flag.IntVar(&cfg.wrkThreads, "wrk-threads", 2, "wrk threads")
	flag.StringVar(&cfg.registry, "schema-registry", os.Getenv("SCHEMA_REGISTRY_URL"), "a Confluent-compatible schema registry for the Avro scenario (default $SCHEMA_REGISTRY_URL; without one the scenario is skipped)")
	flag.StringVar(&cfg.profile, "profile", "", "directory to write a CPU profile of Caddy per scenario and round into (from the admin endpoint's /debug/pprof/profile, over the round but its first and last second)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./cmd/loadtest [flags]\n\nScenarios:\n")
		for _, sc := range allScenarios(defaultConns, 8, bulkRecords) {
			fmt.Fprintf(flag.CommandLine.Output(), "  %s\n", sc.name)
		}
		fmt.Fprintf(flag.CommandLine.Output(), "\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if filter != "" {
		re, err := regexp.Compile(filter)
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadtest: -scenarios: %v\n", err)
			os.Exit(2)
		}
		cfg.filter = re
	}
	cfg.command = commandLine(os.Args[1:])
	if b := os.Getenv("KAFKA_BROKERS"); b != "" {
		cfg.brokers = strings.Split(b, ",")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
		os.Exit(1)
	}
	if rep.failed() {
		fmt.Fprintf(os.Stderr, "loadtest: FAILED: %s\n", strings.Join(rep.failures(), "; "))
		os.Exit(1)
	}
}

// commandLine is the command that reproduces this run.
func commandLine(args []string) string {
	var b strings.Builder
	if v := os.Getenv("KAFKA_BROKERS"); v != "" {
		fmt.Fprintf(&b, "KAFKA_BROKERS=%s ", v)
	}
	b.WriteString("go run ./cmd/loadtest")
	for _, a := range args {
		b.WriteByte(' ')
		if strings.ContainsAny(a, " |*?()[]{}$'\"\\&;<>") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		b.WriteString(a)
	}
	return b.String()
}

// config is one run's settings.
type config struct {
	duration   time.Duration
	rounds     int
	filter     *regexp.Regexp
	out        string
	bulkConns  int
	probeEvery time.Duration
	verifyMax  int
	caddyBin   string
	wrkThreads int
	profile    string   // directory for CPU profiles, "" for none
	registry   string   // schema registry URL, "" for none
	brokers    []string // a real broker; nil for kfake
	command    string
	stdout     io.Writer // the report
	log        io.Writer // progress
}

var errNoScenario = errors.New("no scenario matches -scenarios")
