package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/caddy-kafka/caddy-kafka/internal/suite"
)

func TestMain(m *testing.M) {
	if os.Getenv(kfakeEnv) != "" { // the harness re-executes this binary as its broker
		os.Exit(serveKfake(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// TestSmoke runs one short round of the HTTP ceiling, the naive handler and
// a gateway route with their prober and read-back, and the streaming
// connection, so that the harness cannot rot. It says nothing about speed.
// (kafka-pixy is left out: its first build takes minutes.)
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Caddy and runs load: not with -short")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		suite.Missing(t, "wrk", "wrk is not installed (apt-get install wrk)")
	}
	var out bytes.Buffer
	cfg := config{
		duration:   time.Second,
		rounds:     1,
		filter:     regexp.MustCompile(`^(respond-c64|naive-c64|webhook-c64|confluent_v3-stream)$`),
		bulkConns:  8,
		probeEvery: 20 * time.Millisecond,
		verifyMax:  500,
		wrkThreads: 1,
		command:    "go test ./cmd/loadtest",
		stdout:     &out,
		log:        tlog{t},
	}
	if b := os.Getenv("KAFKA_BROKERS"); b != "" {
		cfg.brokers = strings.Split(b, ",")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if rep.failed() {
		t.Fatalf("checks failed: %s", strings.Join(rep.failures(), "; "))
	}
	for _, name := range []string{"respond-c64", "naive-c64", "webhook-c64", "confluent_v3-stream"} {
		rs := rep.results[name]
		if len(rs) != 1 {
			t.Fatalf("%s: %d results, want 1", name, len(rs))
		}
		r := rs[0]
		if r.records == 0 || r.elapsed <= 0 {
			t.Errorf("%s: %d records in %v", name, r.records, r.elapsed)
		}
		if name != "respond-c64" && (r.probed == 0 || r.verified != r.probed) {
			t.Errorf("%s: verified %d of %d records read back", name, r.verified, r.probed)
		}
		if name != "respond-c64" && r.grew < r.records {
			t.Errorf("%s: topic grew by %d, %d records acknowledged", name, r.grew, r.records)
		}
	}
	if !strings.Contains(out.String(), "| webhook-c64 | 64 | 1 |") || !strings.Contains(out.String(), "x respond-c64") ||
		!strings.Contains(out.String(), "x naive-c64") {
		t.Errorf("report has no webhook-c64 row with its ratios to respond and naive:\n%s", out.String())
	}
}

// tlog writes progress lines to the test log.
type tlog struct{ t *testing.T }

func (l tlog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestParseReport checks the streaming report reader against the report
// shapes confluent_v3 writes.
func TestParseReport(t *testing.T) {
	p, o, code, err := parseReport([]byte(`{"error_code":200,"cluster_id":"c","topic_name":"t","partition_id":2,"offset":41,"timestamp":"2026-11-21T10:00:00.000Z","key":null,"value":{"type":"JSON","size":100}}` + "\n"))
	if err != nil || p != 2 || o != 41 || code != 200 {
		t.Errorf("success report: %d %d %d %v", p, o, code, err)
	}
	_, _, code, err = parseReport([]byte(`{"error_code":50003,"message":"timeout"}` + "\n"))
	if err != nil || code != 50003 {
		t.Errorf("error report: %d %v", code, err)
	}
	if _, _, _, err := parseReport([]byte(`{"error_code":200,"cluster_id":"c"}`)); err == nil {
		t.Error("a success report without partition_id/offset parsed")
	}
}

// TestValues checks the value layout the read-back relies on.
func TestValues(t *testing.T) {
	for _, prefix := range []string{"b-", streamPrefix, "p0123abcd-r12-"} {
		for _, n := range []int64{0, 999, 1000, 123456789} {
			v := appendValue(nil, prefix, n)
			if len(v) != valueSize {
				t.Errorf("value %s%d has %d bytes: %s", prefix, n, len(v), v)
			}
		}
	}
	if bytes.Equal(appendValue(nil, "s-", 1), appendValue(nil, "s-", 1001)) {
		t.Error("values of different records are equal")
	}
	acks, err := dialectConfluentV3.parse([]byte(`{"error_code":200,"partition_id":1,"offset":5}` + "\n" + `{"error_code":200,"partition_id":0,"offset":7}` + "\n"))
	if err != nil || len(acks) != 2 || acks[1] != (ack{0, 7}) {
		t.Errorf("v3 reports: %v %v", acks, err)
	}
}

// TestReadBack checks the verification itself: records written are found
// with their values, a wrong value or a missing offset is reported, and the
// high watermarks count what was written.
func TestReadBack(t *testing.T) {
	fake, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(fake.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const topic = "readback"
	if err := createTopic(ctx, admin, topic, 1); err != nil {
		t.Fatal(err)
	}
	kc, err := kgo.NewClient(ceilingOpts(fake.ListenAddrs(), topic)...)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	var good []sent
	for i := range 50 {
		v := appendValue(nil, "t-", int64(i))
		r := &kgo.Record{Value: v}
		if err := kc.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		good = append(good, sent{ack{r.Partition, r.Offset}, v})
	}
	if n, err := records(ctx, admin, topic); err != nil || n != 50 {
		t.Fatalf("high watermarks sum to %d (%v), want 50", n, err)
	}
	if matched, failures := readBack(ctx, admin, topic, good); matched != 50 || len(failures) > 0 {
		t.Fatalf("read back %d of 50: %v", matched, failures)
	}
	bad := []sent{
		{good[3].ack, appendValue(nil, "t-", 4)},         // another record's value
		{ack{good[7].partition, 1 << 40}, good[7].value}, // an offset never written
	}
	matched, failures := readBack(ctx, admin, topic, bad)
	if matched != 0 || len(failures) != 2 {
		t.Fatalf("wrong acknowledgements: %d matched, failures %v", matched, failures)
	}
}

// TestAvroWire checks the read-back's expected bytes of the Avro scenario
// against goavro: what the gateway writes for a value is what avroWire says.
func TestAvroWire(t *testing.T) {
	avroSchemaID = 258
	codec, err := goavro.NewCodec(avroSchema)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{0, 7, 999} {
		v := appendValue(nil, "a-", n)
		w, err := avroWire(v)
		if err != nil {
			t.Fatal(err)
		}
		native, _, err := codec.NativeFromTextual(v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := codec.BinaryFromNative([]byte{0, 0, 0, 1, 2}, native)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w, want) {
			t.Fatalf("value %s: avroWire % x, goavro % x", v, w, want)
		}
	}
}
