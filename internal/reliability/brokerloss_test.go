package reliability_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
	"github.com/caddy-kafka/caddy-kafka/internal/suite"
)

// TestBrokerLoss kills the broker under steady load in every dialect and
// brings it back: every acknowledged record is in Kafka exactly once, every
// request during the outage gets the dialect's timeout or unavailable answer
// within the route's timeout (never a hang, never internals in the body),
// and the gateway produces again by itself once the broker is back.
//
// Real broker: kill -9, then a restart on the same data dir. kfake: the
// broker closes every connection for the outage.
func TestBrokerLoss(t *testing.T) {
	const (
		timeout = 2 * time.Second
		// Margin over the route's timeout for an answer to count as on
		// time: scheduling under -race on a loaded machine, with a JVM
		// starting. The outage lasts longer than timeout+margin, so an
		// answer within it was bounded by the timeout, not by the broker.
		margin  = 5 * time.Second
		writers = 3 // per dialect
	)
	b := newBroker(t)
	g := b.Gateway(t, relcheck.GatewayOptions(relcheck.AllDialects, "timeout "+timeout.String()))
	// The client's own timeout catches a hang: any request outliving it
	// is a failure.
	client := &http.Client{Timeout: timeout + 15*time.Second}
	defer client.CloseIdleConnections()

	l := relcheck.StartLoad(t, g.URL, g.Topic, relcheck.AllDialects, writers, client, 0, 5*time.Millisecond)
	start := time.Now()
	l.WaitOK(t, relcheck.AllDialects, start, 20*time.Second)
	time.Sleep(time.Second)

	killedAt := time.Now()
	b.Kill(t)
	t.Logf("broker killed")
	// Load goes on against the dead broker. A real one takes 10s or more
	// to restart besides.
	down := 3 * time.Second
	if !b.Real() {
		down = timeout + margin + time.Second
	}
	time.Sleep(down)
	b.Restart(t)
	upAt := time.Now()
	t.Logf("broker back after %v down", upAt.Sub(killedAt).Round(time.Millisecond))

	firstOK := l.WaitOK(t, relcheck.AllDialects, upAt, 45*time.Second)
	var recovered time.Duration
	for _, at := range firstOK {
		if d := at.Sub(upAt); d > recovered {
			recovered = d
		}
	}
	time.Sleep(time.Second) // some load after the recovery too
	l.Stop()
	rs := l.Snapshot()

	outage, late := 0, 0
	var slowest time.Duration
	for _, r := range rs {
		switch r.Outcome {
		case relcheck.OK:
		case relcheck.Unavailable:
			outage++
			slowest = max(slowest, r.Took)
			if r.Took > timeout+margin {
				late++
				if late <= 3 {
					t.Errorf("%s: outage answer %d after %v, over the %v timeout", r.Dialect, r.Status, r.Took.Round(time.Millisecond), timeout)
				}
			}
		case relcheck.NoAnswer:
			t.Errorf("%s: request %s got no answer after %v (a hang or a broken connection): %v", r.Dialect, r.ID, r.Took.Round(time.Millisecond), r.Err)
		default:
			t.Errorf("%s: request %s answered %d (%v), not ok, timeout or unavailable: %s", r.Dialect, r.ID, r.Status, r.Outcome, r.Body)
		}
	}
	if outage == 0 {
		t.Errorf("no request saw the outage: the fault was not injected")
	}
	leaks := relcheck.CheckNoLeak(t, rs, []string{b.Addr})
	c := relcheck.Check(t, rs, []string{b.Addr}, g.Topic, relcheck.AllDialects, true)
	suite.Figure(t, "real broker: %v; %d requests (%s); %d outage answers, the slowest after %v (timeout %v); %d error bodies checked for leaks; %d records read back: %s; first 2xx of every dialect %v after the broker was back (%v after the kill)",
		b.Real(), len(rs), strings.TrimSuffix(relcheck.Tally(rs), "; "), outage, slowest.Round(time.Millisecond), timeout, leaks, c.Checked, c,
		recovered.Round(time.Millisecond), upAt.Add(recovered).Sub(killedAt).Round(time.Millisecond))
}
