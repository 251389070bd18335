package cluster_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
)

// TestSecureEndToEnd produces through every dialect over SASL_SSL with
// SCRAM-SHA-512, and over TLS with a client certificate, to topics the
// gateway's principal may write: every request 2xx, every record in Kafka
// exactly once.
func TestSecureEndToEnd(t *testing.T) {
	e := clusterEnv(t)
	for _, a := range []auth{e.scram(e.password), e.mtls("gateway")} {
		t.Run(a.name, func(t *testing.T) {
			r := startRun(t, e, a, e.allowed, 0, "")
			time.Sleep(5 * time.Second)
			rep, _ := r.finish(t, false)
			if rep.errors != 0 {
				t.Errorf("%d error answers with nothing broken", rep.errors)
			}
		})
	}
}

// TestBadCredentials starts the gateway with a wrong SCRAM password, with a
// client certificate from a CA the brokers do not trust, and with an
// expired one: /kafka/clusters and the log say why, kafka_ready answers 503
// with Retry-After, produce requests get the dialect's unavailable answer
// with Retry-After, and the secret shows nowhere (answers, admin API, log).
func TestBadCredentials(t *testing.T) {
	e := clusterEnv(t)
	for _, c := range []struct {
		a      auth
		reason []string // the reason must name one of these
	}{
		{e.scram("not-the-" + e.password), []string{"SASL", "sasl", "authentic", "Authentication"}},
		{e.mtls("untrusted"), []string{"tls", "certificate"}},
		{e.mtls("expired"), []string{"tls", "certificate"}},
	} {
		t.Run(c.a.name, func(t *testing.T) {
			names := e.topics(t, e.allowed, relcheck.AllDialects, 0)
			p := gateway(t, caddyfile(c.a, names, routeTimeout, ""))
			var status string
			var last string
			deadline := time.Now().Add(30 * time.Second)
			for {
				raw, cs := clusterStatus(t, p)
				status = raw
				if len(cs) == 1 && cs[0]["state"] == "unreachable" {
					last, _ = cs[0]["last_error"].(string)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/kafka/clusters never said unreachable: %s", raw)
				}
				time.Sleep(250 * time.Millisecond)
			}
			if !containsAny(last, c.reason) {
				t.Errorf("/kafka/clusters last_error does not say why (want one of %q): %q", c.reason, last)
			}
			t.Logf("/kafka/clusters: state unreachable, last_error %q", last)

			resp, err := http.Get(p.URL + "/ready")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("kafka_ready: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
			}

			client := &http.Client{Timeout: routeTimeout + 20*time.Second}
			var rs []relcheck.Result
			for _, d := range relcheck.AllDialects {
				rs = append(rs, relcheck.Send(client, d, p.URL, names[d.Topic], d.Topic+"-"+relcheck.RunID(), 0, nil))
			}
			// confluent_v3 keeps Confluent's own answer to Kafka refusing
			// the gateway's SASL credentials: 401 with 40101 (documented in
			// docs/dialects/confluent_v3.md).
			// The cluster is known unreachable by now, so every answer
			// comes at once, in the class of the health check's error.
			var others []relcheck.Result
			for _, r := range rs {
				if r.Dialect == "confluent_v3" && c.a.name == "sasl_ssl" {
					if r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, `"error_code":40101`) || !r.RetryAfter {
						t.Errorf("confluent_v3 with a wrong SASL password: %d (Retry-After %v) %s; want 401 with 40101 and Retry-After", r.Status, r.RetryAfter, r.Body)
					}
					t.Logf("confluent_v3: %d %s (Confluent's answer to Kafka refusing the gateway's credentials)", r.Status, strings.TrimSpace(r.Body))
					continue
				}
				others = append(others, r)
			}
			rep := checkAnswers(t, others, routeTimeout, false)
			for _, r := range others {
				if r.Outcome != relcheck.Unavailable {
					t.Errorf("%s: answered %d (%v), want the dialect's unavailable answer: %s", r.Dialect, r.Status, r.Outcome, r.Body)
				}
				t.Logf("%s: %d Retry-After %v after %v: %s", r.Dialect, r.Status, r.RetryAfter, r.Took.Round(time.Millisecond), strings.TrimSpace(r.Body))
			}
			t.Logf("%s", rep)

			logs, _ := os.ReadFile(p.Output)
			if !containsAny(string(logs), c.reason) {
				t.Errorf("the log does not say why (want one of %q)", c.reason)
			}
			secrets := append([]string(nil), c.a.secrets...)
			for _, s := range secrets {
				if s == "" {
					continue
				}
				for where, text := range map[string]string{"/kafka/clusters": status, "the log": string(logs)} {
					if strings.Contains(text, s) {
						t.Errorf("the secret shows in %s", where)
					}
				}
				for _, r := range rs {
					if strings.Contains(r.Body, s) {
						t.Errorf("the secret shows in the %s answer", r.Dialect)
					}
				}
			}
			relcheck.CheckNoLeak(t, rs, append(c.a.brokers, secrets...))
		})
	}
}

// TestACLDenied produces, over SASL_SSL and over mTLS, through every dialect
// to a topic the broker's ACLs let the gateway describe but not write, and
// to one it may not even describe: each dialect's forbidden answer (403, or
// IBM's 401), never a 5xx, and nothing written.
func TestACLDenied(t *testing.T) {
	e := clusterEnv(t)
	for _, a := range []auth{e.scram(e.password), e.mtls("gateway")} {
		t.Run(a.name, func(t *testing.T) {
			for _, prefix := range []string{e.denied, "secret-"} {
				names := e.topics(t, prefix, relcheck.AllDialects, 0)
				p := gateway(t, caddyfile(a, names, routeTimeout, ""))
				client := &http.Client{Timeout: routeTimeout + 20*time.Second}
				for _, d := range relcheck.AllDialects {
					r := relcheck.Send(client, d, p.URL, names[d.Topic], d.Topic+"-"+relcheck.RunID(), 0, nil)
					want := http.StatusForbidden
					if d.Name == "ibm_event_streams" {
						want = http.StatusUnauthorized
					}
					// confluent_v3 answers 200 once records are being
					// processed, with each record's own report, as Confluent.
					v3Report := d.Name == "confluent_v3" && r.Status == http.StatusOK && strings.Contains(r.Body, `"error_code":40301`)
					if (r.Status != want && !v3Report) || r.Outcome != relcheck.Other {
						t.Errorf("%s to %s: %d %s, want %d", d.Name, names[d.Topic], r.Status, r.Body, want)
					} else {
						t.Logf("%s to %s...: %d %s", d.Name, prefix, r.Status, strings.TrimSpace(r.Body))
					}
				}
				_, adm := e.admin(t)
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				ends, err := adm.ListEndOffsets(ctx, values(names)...)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				ends.Each(func(o kadm.ListedOffset) {
					if o.Err != nil || o.Offset != 0 {
						t.Errorf("%s/%d: end offset %d (%v): something was written", o.Topic, o.Partition, o.Offset, o.Err)
					}
				})
			}
		})
	}
}

// TestPasswordRotation changes the gateway's SCRAM password on the brokers
// under load, then reloads the gateway's config with the new one: every
// request is answered 2xx, every record is in Kafka exactly once, and the
// new client authenticates with the new password.
//
// The load keeps its connections alive and sends an Idempotency-Key with
// each request, as docs/reliability.md advises clients for reloads: a
// reload closes the old server's idle connections, and the old server
// closes without an answer a connection whose request it read after its
// shutdown began (net/http's Server, before any handler runs); Go's client
// retries such a request on a new connection because the key makes it
// idempotent, and the gateway's Idempotency-Key support makes that retry
// exactly-once, which reading the records back checks.
func TestPasswordRotation(t *testing.T) {
	e := clusterEnv(t)
	r := startRun(t, e, e.scram(e.password), e.allowed, 0, "")
	r.loads[0].Stop()
	r.warm = append(r.warm, r.loads[0].Snapshot()...)
	r.loads = nil
	keys := &idempotencyKeys{next: &http.Transport{MaxIdleConnsPerHost: 2 * len(relcheck.AllDialects)}}
	r.client = &http.Client{Timeout: routeTimeout + 20*time.Second, Transport: keys}
	t.Cleanup(r.client.CloseIdleConnections)
	r.load(t)
	_, adm := e.admin(t)
	setPassword := func(pw string) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: e.user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: pw}})
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			t.Fatalf("setting the password: %v", err)
		}
	}
	t.Cleanup(func() { setPassword(e.password) })
	time.Sleep(2 * time.Second)
	newPW := "rotated-" + relcheck.RunID()
	setPassword(newPW)
	time.Sleep(2 * time.Second) // the old connections stay authenticated
	rotated := e.scram(newPW)
	r.a.secrets = append(r.a.secrets, newPW)
	start := time.Now()
	reload(t, r.p, caddyfile(rotated, r.names, routeTimeout, "")(r.p.Addr, r.p.Admin))
	t.Logf("reload with the new password took %v", time.Since(start).Round(time.Millisecond))
	since := time.Now()
	r.recovered(t, since)
	time.Sleep(3 * time.Second)
	_, cs := clusterStatus(t, r.p)
	if len(cs) != 1 || cs[0]["state"] != "reachable" {
		t.Errorf("after the reload with the new password: %v", cs)
	}
	rep, _ := r.finish(t, false)
	if rep.errors != 0 {
		t.Errorf("%d error answers across the rotation", rep.errors)
	}
	t.Logf("%d of %d requests were sent again by the client on a new connection (%d connections opened)",
		keys.retried.Load(), keys.requests.Load(), keys.dials.Load())
}

// idempotencyKeys is a client transport that gives each request an
// Idempotency-Key of its own, which makes Go's transport send the request
// again when the server closes a kept-alive connection under it, and counts
// those retries.
type idempotencyKeys struct {
	next                     http.RoundTripper
	requests, retried, dials atomic.Int64
}

func (k *idempotencyKeys) RoundTrip(req *http.Request) (*http.Response, error) {
	var conns atomic.Int64
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if conns.Add(1) == 2 {
				k.retried.Add(1)
			}
			if !info.Reused {
				k.dials.Add(1)
			}
		},
	}
	req = req.Clone(httptrace.WithClientTrace(req.Context(), trace))
	req.Header.Set("Idempotency-Key", rand.Text())
	k.requests.Add(1)
	return k.next.RoundTrip(req)
}

// reload loads a Caddyfile through the admin API, as `caddy reload` does.
func reload(t *testing.T, p *relcheck.CaddyProc, caddyfile string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.Admin+"/load", strings.NewReader(caddyfile))
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %d", resp.StatusCode)
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
