// Package gatewaytest runs the gateway for tests the way users run it: a
// Kafka broker over the wire (franz-go's kfake in-process, or a real broker
// when KAFKA_BROKERS is set) and a real Caddy server loaded from a Caddyfile.
package gatewaytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard" // the http app, matchers, basic_auth...
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	_ "github.com/caddy-kafka/caddy-kafka" // every module of this project
)

// Options describe a gateway to start.
type Options struct {
	// Topics to create, by base name, with their partition counts.
	Topics map[string]int32
	// Kafka is extra kafka global option subdirectives (besides brokers),
	// e.g. "linger 0s\n max_buffered_records 10".
	Kafka string
	// Global is extra global options (outside the kafka block).
	Global string
	// Site is the body of the site block. Use {topic.NAME} to refer to a
	// topic of Topics by its base name.
	Site string
	// KfakeOpts are extra options for the kfake cluster (ignored against a
	// real broker).
	KfakeOpts []kfake.Opt
}

// Gateway is a running gateway.
type Gateway struct {
	// URL is the HTTP base URL, e.g. http://127.0.0.1:12345.
	URL string
	// Addr is the HTTP listener's host:port.
	Addr string
	// AdminURL is the admin API's base URL.
	AdminURL string
	// Brokers are the Kafka seed brokers.
	Brokers []string
	// Fake is the kfake cluster, nil against a real broker.
	Fake *kfake.Cluster
	// Kafka is a plain client on the same brokers, for reading back.
	Kafka *kgo.Client
	// Caddyfile is the config that was loaded.
	Caddyfile string

	suffix string
}

// Real reports whether KAFKA_BROKERS points the tests at a real broker.
func Real() bool { return os.Getenv("KAFKA_BROKERS") != "" }

// New starts a broker (kfake, or the real one from KAFKA_BROKERS with the
// topics created under unique names) and Caddy with the given site. Both
// stop when the test ends. Caddy runs one config per process, so tests using
// New must not run in parallel.
func New(t testing.TB, o Options) *Gateway {
	t.Helper()
	g := &Gateway{}
	if Real() {
		g.Brokers = strings.Split(os.Getenv("KAFKA_BROKERS"), ",")
		var b [4]byte
		_, _ = rand.Read(b[:])
		g.suffix = "-" + hex.EncodeToString(b[:])
	} else {
		opts := append([]kfake.Opt{kfake.NumBrokers(1)}, o.KfakeOpts...)
		for name, parts := range o.Topics {
			opts = append(opts, kfake.SeedTopics(parts, name))
		}
		fake, err := kfake.NewCluster(opts...)
		if err != nil {
			t.Fatalf("starting kfake: %v", err)
		}
		t.Cleanup(fake.Close)
		g.Fake, g.Brokers = fake, fake.ListenAddrs()
	}
	kc, err := kgo.NewClient(kgo.SeedBrokers(g.Brokers...))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(kc.Close)
	g.Kafka = kc
	if Real() {
		g.createTopics(t, o.Topics)
	}

	g.Addr, g.AdminURL = freeAddr(t), "http://"+freeAddr(t)
	g.URL = "http://" + g.Addr
	site := o.Site
	for name := range o.Topics {
		site = strings.ReplaceAll(site, "{topic."+name+"}", g.Topic(name))
	}
	g.Caddyfile = fmt.Sprintf(`{
	admin %s
	skip_install_trust
	%s
	kafka {
		brokers %s
		%s
	}
}

http://%s {
	%s
}
`, strings.TrimPrefix(g.AdminURL, "http://"), o.Global, strings.Join(g.Brokers, " "), o.Kafka, g.Addr, site)
	g.Load(t, g.Caddyfile)
	t.Cleanup(func() { _ = caddy.Stop() })
	return g
}

// Load adapts and loads a Caddyfile into the running Caddy, as a reload does.
func (g *Gateway) Load(t testing.TB, caddyfile string) {
	t.Helper()
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatalf("adapting Caddyfile: %v\n%s", err, caddyfile)
	}
	for _, w := range warnings {
		t.Logf("caddyfile warning: %s", w.String())
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading config: %v", err)
	}
	// The old servers close their idle connections as the new config takes
	// over: a POST sent on one of them would be reset, and Go's client
	// retries only idempotent requests. Start the next ones afresh.
	http.DefaultClient.CloseIdleConnections()
	g.Caddyfile = caddyfile
}

// Topic is the real name of the topic with the given base name.
func (g *Gateway) Topic(base string) string { return base + g.suffix }

func (g *Gateway) createTopics(t testing.TB, topics map[string]int32) {
	adm := kadm.NewClient(g.Kafka)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, parts := range topics {
		resp, err := adm.CreateTopic(ctx, parts, 1, nil, g.Topic(name))
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("creating topic %s: %v", g.Topic(name), err)
		}
	}
	// Wait until every topic has leaders, so the first produce does not race
	// topic creation.
	for name := range topics {
		for {
			md, err := adm.Metadata(ctx, g.Topic(name))
			if err == nil && md.Topics[g.Topic(name)].Err == nil && len(md.Topics[g.Topic(name)].Partitions) > 0 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("topic %s never got leaders: %v", g.Topic(name), err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// Do sends a request and returns the response with its body read.
func (g *Gateway) Do(t testing.TB, method, path string, header http.Header, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return resp, b
}

// Post is Do with POST and a Content-Type.
func (g *Gateway) Post(t testing.TB, path, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return g.Do(t, http.MethodPost, path, h, body)
}

// Records reads every record of the topic (by base name) from the start,
// waiting up to 10s for at least want of them.
func (g *Gateway) Records(t testing.TB, base string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(g.Brokers...),
		kgo.ConsumeTopics(g.Topic(base)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	// Give stragglers (more than want) a moment to show up too.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	cl.PollFetches(ctx2).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	return out
}

// Header returns the value of the record's first header with key, and
// whether there is one.
func Header(r *kgo.Record, key string) ([]byte, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// EqualBytes compares byte slices telling nil from empty, as Kafka does.
func EqualBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
