package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
	"github.com/caddy-kafka/caddy-kafka/internal/suite"
)

// proxies are toxiproxy's TCP proxies, in-process, in front of each
// broker's PROXIED, PROXIED_SASL and PROXIED_SSL listeners, on the
// addresses the brokers advertise for them: a client bootstrapped there
// stays behind the proxies. Node n's are ps[n-1] (plaintext), ps[n+2]
// (SASL_SSL) and ps[n+5] (mTLS).
type proxies []*toxiproxy.Proxy

func startProxies(t *testing.T, e *env) proxies {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	var ps proxies
	for _, l := range []struct {
		name           string
		listen, target []string
	}{{"kafka", e.proxy, e.proxied}, {"kafka-sasl", e.proxySASL, e.proxiedSASL}, {"kafka-ssl", e.proxySSL, e.proxiedSSL}} {
		for i := range l.listen {
			p := toxiproxy.NewProxy(srv, fmt.Sprintf("%s%d", l.name, i+1), l.listen[i], l.target[i])
			if err := p.Start(); err != nil {
				t.Fatalf("proxy %s -> %s: %v", l.listen[i], l.target[i], err)
			}
			t.Cleanup(p.Stop)
			ps = append(ps, p)
		}
	}
	return ps
}

// add adds a toxic, in both directions, to the proxies of the given nodes
// (1-based; none = all).
func (ps proxies) add(t *testing.T, typ string, attrs string, nodes ...int) {
	t.Helper()
	if len(nodes) == 0 {
		nodes = []int{1, 2, 3}
	}
	for _, n := range nodes {
		for _, p := range []*toxiproxy.Proxy{ps[n-1], ps[n+2], ps[n+5]} {
			for _, stream := range []string{"upstream", "downstream"} {
				js := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":{%s}}`, typ+"-"+stream, typ, stream, attrs)
				if _, err := p.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
					t.Fatalf("adding toxic %s: %v", js, err)
				}
			}
		}
	}
}

func (ps proxies) clear(t *testing.T) {
	t.Helper()
	for _, p := range ps {
		p.Toxics.ResetToxics(context.Background())
	}
}

// TestNetworkFaults runs three gateways through a fault-injecting proxy in
// front of every broker, over plaintext, SASL_SSL and mTLS (the last two
// as the gateway principal, with its ACLs: reconnects, TLS handshakes and
// re-authentication go through the faults too), and, under load, adds 200ms of latency each
// way, then a storm of connection resets, then makes one broker accept TCP
// and never answer. Through all of it every request is answered within the
// route's timeout (2xx, or the dialect's unavailable answer with
// Retry-After), never hangs, and the gateways produce again by themselves
// once the fault is gone, without a reload. Every 2xx record is in Kafka
// exactly once, at the partition and offset answered.
func TestNetworkFaults(t *testing.T) {
	e := clusterEnv(t)
	ps := startProxies(t, e)
	plain := auth{name: "plaintext through toxiproxy", brokers: e.proxy}
	sasl := e.scram(e.password)
	sasl.name, sasl.brokers = "sasl_ssl through toxiproxy", e.proxySASL
	mtls := e.mtls("gateway")
	mtls.name, mtls.brokers = "mtls through toxiproxy", e.proxySSL
	// The plaintext gateway gets the batch requests too: a request whose
	// records go to partitions led by different brokers is partly written
	// while one broker does not answer, answered 207 (or Confluent's 200
	// with per-record errors), each record's outcome checked.
	all := append(append([]relcheck.Dialect(nil), relcheck.AllDialects...), relcheck.BatchDialects...)
	bin := relcheck.CaddyBinary(t)
	runs := []*run{
		startRunWith(t, bin, e, plain, all, 1, e.allowed, 0, ""),
		startRunWith(t, bin, e, sasl, relcheck.AllDialects, 1, e.allowed, 0, ""),
		startRunWith(t, bin, e, mtls, relcheck.AllDialects, 1, e.allowed, 0, ""),
	}
	t.Cleanup(func() { ps.clear(t) })

	// Each phase's effect is asserted, so that a fault that was not
	// injected fails instead of passing quietly: effect checks the
	// answers during the fault (their mean time and the error answers).
	// Recovery is bounded by recoverBound after the fault is removed:
	// measured 13ms-2s.
	const recoverBound = 20 * time.Second
	phase := func(name string, hold time.Duration, inject func(), effect func(mean time.Duration, rep report) string) {
		before := make([]int, len(runs))
		for i, r := range runs {
			before[i] = len(r.current().Snapshot())
		}
		start := time.Now()
		inject()
		time.Sleep(hold)
		ps.clear(t)
		cleared := time.Now()
		back := recoveredAll(t, runs, cleared, recoverBound, "the fault was removed")
		for i, r := range runs {
			rs := r.current().Snapshot()[before[i]:]
			rep := checkAnswers(t, rs, routeTimeout, false)
			var slow time.Duration
			var n int
			for _, res := range rs {
				if res.Start.After(start) && res.Start.Before(cleared) {
					slow += res.Took
					n++
				}
			}
			mean := time.Duration(0)
			if n > 0 {
				mean = slow / time.Duration(n)
			}
			suite.Figure(t, "%s, %s for %v: %s; mean answer during the fault %v; every dialect of every gateway 2xx again %v after the fault was removed",
				r.a.name, name, hold, rep, mean.Round(time.Millisecond), back.Round(time.Millisecond))
			if why := effect(mean, rep); why != "" {
				t.Errorf("%s, %s: no effect seen: %s", r.a.name, name, why)
			}
			r.load(t) // a fresh load for the next phase, on the same gateway
		}
	}
	time.Sleep(2 * time.Second)
	// A produce is a round trip to a broker: 400ms with 200ms each way,
	// against a few ms without (measured mean 403-462ms); requests that
	// span the toxic's removal are quicker, hence 300ms.
	phase("200ms latency each way on every broker", 10*time.Second, func() { ps.add(t, "latency", `"latency":200`) },
		func(mean time.Duration, _ report) string {
			if mean < 300*time.Millisecond {
				return fmt.Sprintf("mean answer %v, well under the 400ms round trip", mean)
			}
			return ""
		})
	errored := func(_ time.Duration, rep report) string {
		if rep.errors == 0 {
			return "no request was answered with an error"
		}
		return ""
	}
	phase("connection-reset storm on every broker", 8*time.Second, func() { ps.add(t, "reset_peer", `"timeout":0`) }, errored)
	phase("broker 1 accepts TCP and never answers", 15*time.Second, func() { ps.add(t, "timeout", `"timeout":0`, 1) }, errored)
	time.Sleep(time.Second)
	_, rs := runs[0].finish(t, false)
	if w, f := partly(rs); w == 0 || f == 0 {
		t.Errorf("no request was partly written (%d records written, %d failed, in such requests): the black hole of one broker should split some batches", w, f)
	}
	runs[1].finish(t, false)
	runs[2].finish(t, false)
}
