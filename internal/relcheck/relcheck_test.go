package relcheck

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recorder is a testing.TB that keeps the failures CheckExactlyOnce
// reports, so that a test can require them.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errors, "\n")
}

// The checker is what decides "lost" and "duplicated" in every fault suite:
// a planted loss, a planted duplicate and a record nobody sent must each
// make it fail, and a clean run must pass. Against kfake, over the wire.
func TestCheckExactlyOnceCatchesPlantedFaults(t *testing.T) {
	d := Dialect{Name: "webhook", Topic: "wh"}
	topic := func(base string) string { return "relcheck-" + base }
	ok := func(id string) Result { return Result{Dialect: d.Name, ID: id, Outcome: OK} }

	cases := []struct {
		name     string
		answers  []Result
		written  []string // the ids in Kafka, in order
		refused  bool     // refusedMeansAbsent
		wantFail string   // "" when the check must pass
	}{
		{"clean", []Result{ok("a"), ok("b"), ok("c")}, []string{"a", "b", "c"}, true, ""},
		{"planted loss", []Result{ok("a"), ok("b"), ok("c")}, []string{"a", "c"}, true, "acknowledged record b is in Kafka 0 times"},
		{"planted duplicate of an acknowledged record", []Result{ok("a"), ok("b")}, []string{"a", "b", "b"}, true, "acknowledged record b is in Kafka 2 times"},
		{"a timed-out record written twice", []Result{ok("a"), {Dialect: d.Name, ID: "t", Outcome: Unavailable}}, []string{"a", "t", "t"}, true, "record t (answered unavailable) is in Kafka 2 times"},
		{"a timed-out record written once", []Result{ok("a"), {Dialect: d.Name, ID: "t", Outcome: Unavailable}}, []string{"a", "t"}, true, ""},
		{"indeterminate answers, one written", []Result{ok("a"), {Dialect: d.Name, ID: "t", Outcome: Unavailable}, {Dialect: d.Name, ID: "n", Outcome: NoAnswer}, {Dialect: d.Name, ID: "u", Outcome: Unavailable}}, []string{"a", "n"}, true, ""},
		{"an overload refusal written", []Result{ok("a"), {Dialect: d.Name, ID: "o", Outcome: Overload}}, []string{"a", "o"}, true, "refused as overloaded is in Kafka 1 times"},
		{"a record nobody sent", []Result{ok("a")}, []string{"a", "ghost"}, true, `record "ghost" in Kafka was never sent`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic(d.Topic)))
			if err != nil {
				t.Fatal(err)
			}
			defer fake.Close()
			cl, err := kgo.NewClient(kgo.SeedBrokers(fake.ListenAddrs()...), kgo.DefaultProduceTopic(topic(d.Topic)))
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range tc.written {
				if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte(id + "|x")}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			cl.Close()

			rec := &recorder{TB: t}
			c := Check(rec, tc.answers, fake.ListenAddrs(), topic, []Dialect{d}, tc.refused)
			checked := c.Checked
			got := rec.failures()
			switch {
			case tc.wantFail == "" && got != "":
				t.Fatalf("the checker failed a clean run: %s", got)
			case tc.wantFail != "" && !strings.Contains(got, tc.wantFail):
				t.Fatalf("the checker missed the planted fault: want a failure containing %q, got %q", tc.wantFail, got)
			}
			if checked != len(tc.written) {
				t.Fatalf("checked %d records, %d are in Kafka", checked, len(tc.written))
			}
			// The indeterminate answers are counted by what became of
			// their record.
			var written, absent int
			seen := map[string]bool{}
			for _, id := range tc.written {
				seen[id] = true
			}
			for _, a := range tc.answers {
				if a.Outcome == Unavailable || a.Outcome == NoAnswer {
					if seen[a.ID] {
						written++
					} else {
						absent++
					}
				}
			}
			if c.ErrWritten != written || c.ErrAbsent != absent {
				t.Errorf("indeterminate answers counted %d written, %d absent; want %d, %d", c.ErrWritten, c.ErrAbsent, written, absent)
			}
		})
	}
}

// Every dialect, one record or several per request, through a gateway on
// kfake: each answer is read record by record (ReportJSON), every record
// is acknowledged with the partition and offset where Check finds it, and a
// planted wrong position makes Check fail.
func TestLoadReportsPositions(t *testing.T) {
	ds := append(append([]Dialect(nil), AllDialects...), BatchDialects...)
	g := gatewaytest.New(t, GatewayOptions(ds, ""))
	client := &http.Client{Timeout: 10 * time.Second}
	l := StartLoad(t, g.URL, g.Topic, ds, 1, client, 0, 20*time.Millisecond)
	l.WaitOK(t, ds, time.Now().Add(-time.Minute), 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	l.Stop()
	rs := l.Snapshot()
	for _, r := range rs {
		if r.Outcome != OK {
			t.Fatalf("%s: %s %v %d %s", r.Dialect, r.ID, r.Outcome, r.Status, r.Body)
		}
	}
	c := Check(t, rs, g.Brokers, g.Topic, ds, true)
	if c.Acked != len(rs) || c.Placed != len(rs) {
		t.Fatalf("%d results, %d acknowledged, %d at the position answered", len(rs), c.Acked, c.Placed)
	}
	batched := 0
	for _, r := range rs {
		if strings.Contains(r.Dialect, " ") {
			batched++
		}
	}
	if batched < len(BatchDialects)*BatchSize {
		t.Fatalf("only %d records of batch requests", batched)
	}
	// A record answered at a position it is not at.
	wrong := append([]Result(nil), rs...)
	at := *wrong[0].At
	at.Offset += 1000
	wrong[0].At = &at
	rec := &recorder{TB: t}
	Check(rec, wrong, g.Brokers, g.Topic, ds, true)
	if !strings.Contains(rec.failures(), "was answered as written at") {
		t.Fatalf("a misplaced record passed the check: %q", rec.failures())
	}
}
