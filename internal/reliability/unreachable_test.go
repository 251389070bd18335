package reliability_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
	"github.com/caddy-kafka/caddy-kafka/internal/suite"
)

// The bounds of TestUnreachableAnswersAtOnce. An answer "at once" is one
// that did not wait for Kafka: well under the route's timeout, with room
// for a -race gateway on a busy 2-core machine. Noticing takes a health
// check (every 2s, each bounded by 2s); being served again, a check every
// 0.5s once the broker listens; stopping, closeAwayTimeout (2s) and
// Caddy's own stop.
const (
	unreachableRouteTimeout = 10 * time.Second
	atOnce                  = time.Second
	noticeBound             = 10 * time.Second
	backBound               = 15 * time.Second
	stopBound               = 10 * time.Second
)

// TestUnreachableAnswersAtOnce stops the broker (kill -9) under a gateway
// whose routes wait up to 10s for Kafka: once /kafka/clusters says
// unreachable, every produce and read request of every dialect is answered
// at once, with the dialect's unavailable answer and Retry-After, and holds
// nothing in the client's buffer; once the broker is back every dialect is
// served again; and a gateway stopped (SIGTERM) while its cluster is
// unreachable exits within stopBound instead of waiting out its 30s flush.
func TestUnreachableAnswersAtOnce(t *testing.T) {
	b := newBroker(t)
	run := relcheck.RunID()
	names := map[string]string{}
	var list []string
	for _, d := range relcheck.AllDialects {
		names[d.Topic] = "away-" + d.Topic + "-" + run
		list = append(list, names[d.Topic])
	}
	createTopics(t, b.Addr, list...)
	topic := func(base string) string { return names[base] }
	p := relcheck.StartCaddy(t, func(addr, admin string) string {
		site := strings.ReplaceAll(relcheck.Site("timeout "+unreachableRouteTimeout.String()), "{topic.wh}", names["wh"])
		return fmt.Sprintf("{\n\tadmin %s\n\tkafka {\n\t\tbrokers %s\n\t}\n}\nhttp://%s {\n\t%s\n}\n", admin, b.Addr, addr, site)
	})
	client := &http.Client{Timeout: unreachableRouteTimeout + 20*time.Second}
	defer client.CloseIdleConnections()
	reads := []struct{ name, path string }{
		{"confluent_v3 topic", "/v3/clusters/c1/topics/" + names["v3"]},
		{"confluent_v2 topic", "/v2/topics/" + names["v2"]},
	}
	serve := func(ids string) {
		t.Helper()
		for _, d := range relcheck.AllDialects {
			if r := relcheck.Send(client, d, p.URL, topic(d.Topic), ids+"-"+d.Topic, 0, nil); r.Outcome != relcheck.OK {
				t.Fatalf("%s with the broker up: %d %s (%v)", d.Name, r.Status, r.Body, r.Err)
			}
		}
	}
	serve(run + "-before")

	killed := time.Now()
	b.Kill(t)
	noticed := waitState(t, p, "unreachable", noticeBound)
	suite.Figure(t, "the broker killed: /kafka/clusters said unreachable %v later (bound %v)", noticed.Sub(killed).Round(time.Millisecond), noticeBound)

	var slowest time.Duration
	for i := range 3 {
		for _, d := range relcheck.AllDialects {
			r := relcheck.Send(client, d, p.URL, topic(d.Topic), fmt.Sprintf("%s-away-%d-%s", run, i, d.Topic), 0, nil)
			slowest = max(slowest, r.Took)
			if r.Outcome != relcheck.Unavailable || !r.RetryAfter || r.Took > atOnce {
				t.Errorf("%s produce while unreachable: %d (%v), Retry-After %v, after %v; want the unavailable answer with Retry-After within %v: %s",
					d.Name, r.Status, r.Outcome, r.RetryAfter, r.Took.Round(time.Millisecond), atOnce, r.Body)
			}
		}
		for _, rd := range reads {
			start := time.Now()
			resp, err := client.Get(p.URL + rd.path)
			took := time.Since(start)
			if err != nil {
				t.Fatalf("%s: %v", rd.name, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			slowest = max(slowest, took)
			// Confluent answers a retriable Kafka error 500 with
			// error_code 50003, as kafka-rest does.
			if resp.StatusCode/100 != 5 || !strings.Contains(string(body), "kafka is unavailable") || resp.Header.Get("Retry-After") == "" || took > atOnce {
				t.Errorf("%s while unreachable: %d, Retry-After %q, after %v; want the dialect's unavailable answer with Retry-After within %v: %s",
					rd.name, resp.StatusCode, resp.Header.Get("Retry-After"), took.Round(time.Millisecond), atOnce, body)
			}
		}
	}
	if _, held := clusterState(t, "http://"+p.Admin); held != 0 {
		t.Errorf("%d records buffered after requests refused at once: they were handed to the client", held)
	}
	suite.Figure(t, "while unreachable: %d produce and %d read requests, every one the dialect's unavailable answer with Retry-After, the slowest after %v (route timeout %v, bound %v)",
		3*len(relcheck.AllDialects), 3*len(reads), slowest.Round(time.Millisecond), unreachableRouteTimeout, atOnce)

	b.Restart(t)
	up := time.Now()
	deadline := up.Add(backBound)
	for _, d := range relcheck.AllDialects {
		for i := 0; ; i++ {
			r := relcheck.Send(client, d, p.URL, topic(d.Topic), fmt.Sprintf("%s-back-%d-%s", run, i, d.Topic), 0, nil)
			if r.Outcome == relcheck.OK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not served %v after the broker listened again: %d %s", d.Name, backBound, r.Status, r.Body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	suite.Figure(t, "the broker back: every dialect served again %v after it listened (bound %v)", time.Since(up).Round(time.Millisecond), backBound)

	b.Kill(t)
	waitState(t, p, "unreachable", noticeBound)
	stop := time.Now()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Wait(stopBound); !ok {
		t.Fatalf("gateway still running %v after SIGTERM with its cluster unreachable\n%s", stopBound, p.Tail(20))
	}
	suite.Figure(t, "SIGTERM with the cluster unreachable: the gateway exited after %v (bound %v; 30s before)", time.Since(stop).Round(time.Millisecond), stopBound)
}

// clusterState is the default cluster's entry of /kafka/clusters on the
// admin API at adminURL.
func clusterState(t *testing.T, adminURL string) (state string, buffered int64) {
	t.Helper()
	resp, err := http.Get(adminURL + "/kafka/clusters")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cs []struct {
		State           string `json:"state"`
		BufferedRecords int64  `json:"buffered_records"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cs); err != nil || len(cs) != 1 {
		t.Fatalf("/kafka/clusters: %v (%d clusters)", err, len(cs))
	}
	return cs[0].State, cs[0].BufferedRecords
}

// waitState waits until the cluster is in state, and returns when.
func waitState(t *testing.T, p *relcheck.CaddyProc, state string, max time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(max)
	for {
		if s, _ := clusterState(t, "http://"+p.Admin); s == state {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("/kafka/clusters did not say %s within %v", state, max)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
