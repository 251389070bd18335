package reliability_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
	"github.com/caddy-kafka/caddy-kafka/internal/suite"
)

// TestReloadDuringLongOutage kills the broker under load in every dialect,
// reloads the gateway with a changed cluster (a new client replaces the
// one holding the records in flight) while the broker is down, keeps it
// down for three times the cluster's delivery_timeout, then brings it
// back: the reload ends within reloadBound, every answer is a 2xx or the
// dialect's unavailable or timeout answer (or none, for a request on a
// connection the reload closed), the gateway produces again by itself,
// every acknowledged record is in Kafka exactly once and no other record
// twice, and nothing stays buffered.
func TestReloadDuringLongOutage(t *testing.T) {
	const (
		timeout  = 2 * time.Second
		delivery = 3 * time.Second
		// A retired client whose cluster is unreachable flushes for 2s
		// (closeAwayTimeout), not 30s; the rest is Caddy's own reload
		// under -race on a busy machine.
		reloadBound = 10 * time.Second
		writers     = 2
	)
	b := newBroker(t)
	// And a client retrying with an Idempotency-Key: a key whose records
	// the retired client held is told their outcome is unknown, and its
	// retries write nothing.
	ds := append(append([]relcheck.Dialect(nil), relcheck.AllDialects...), relcheck.KeyedUpstash)
	o := relcheck.GatewayOptions(ds, "timeout "+timeout.String())
	o.Kafka = "delivery_timeout " + delivery.String()
	g := b.Gateway(t, o)
	client := &http.Client{Timeout: timeout + 15*time.Second}
	defer client.CloseIdleConnections()

	l := relcheck.StartLoad(t, g.URL, g.Topic, ds, writers, client, 0, 5*time.Millisecond)
	l.WaitOK(t, ds, time.Now(), 20*time.Second)
	time.Sleep(time.Second)

	killed := time.Now()
	b.Kill(t)
	time.Sleep(time.Second)
	changed := strings.Replace(g.Caddyfile, "delivery_timeout "+delivery.String(), "delivery_timeout "+delivery.String()+"\n\t\tclient_id caddy-kafka-reloaded", 1)
	if changed == g.Caddyfile {
		t.Fatal("the Caddyfile has no delivery_timeout to change the cluster beside")
	}
	reloadStart := time.Now()
	g.Load(t, changed)
	client.CloseIdleConnections()
	reload := time.Since(reloadStart)
	if reload > reloadBound {
		t.Errorf("the reload with the broker down took %v, over %v", reload.Round(time.Millisecond), reloadBound)
	}
	if d := time.Until(killed.Add(3 * delivery)); d > 0 {
		time.Sleep(d)
	}
	b.Restart(t)
	up := time.Now()
	var recovered time.Duration
	for _, at := range l.WaitOK(t, ds, up, 45*time.Second) {
		recovered = max(recovered, at.Sub(up))
	}
	time.Sleep(time.Second)
	l.Stop()
	rs := l.Snapshot()

	outage, noAnswer, unknown := 0, 0, 0
	for _, r := range rs {
		if strings.Contains(r.Body, "Kafka did not say whether this record was written") {
			unknown++
		}
		switch r.Outcome {
		case relcheck.OK:
		case relcheck.Unavailable:
			outage++
			if r.Took > timeout+5*time.Second {
				t.Errorf("%s: outage answer %d after %v, over the %v timeout", r.Dialect, r.Status, r.Took.Round(time.Millisecond), timeout)
			}
		case relcheck.NoAnswer:
			noAnswer++ // a connection the reload closed
		default:
			t.Errorf("%s: request %s answered %d (%v), not ok, timeout or unavailable: %s", r.Dialect, r.ID, r.Status, r.Outcome, r.Body)
		}
	}
	if outage == 0 {
		t.Errorf("no request saw the outage: the fault was not injected")
	}
	c := relcheck.Check(t, rs, []string{b.Addr}, g.Topic, ds, true)

	// What the new client was given while the broker was down is written
	// or failed by now; the retired client's records went with it.
	var held int64
	for deadline := time.Now().Add(2 * delivery); ; {
		if _, held = clusterState(t, g.AdminURL); held == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if held != 0 {
		t.Errorf("%d records still buffered %v after the recovery", held, time.Since(up).Round(time.Millisecond))
	}
	suite.Figure(t, "real broker %v, down %v (delivery_timeout %v), reloaded with a changed cluster 1s into the outage in %v: %d requests (%s), %d outage answers, %d without an answer; %s; the keyed client sent %d requests again, %d keys told their outcome is unknown; every dialect 2xx again %v after the broker was back",
		b.Real(), up.Sub(killed).Round(time.Second), delivery, reload.Round(time.Millisecond), len(rs), strings.TrimSuffix(relcheck.Tally(rs), "; "),
		outage, noAnswer, c, l.Retries.Load(), unknown, recovered.Round(time.Millisecond))
}
