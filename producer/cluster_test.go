package producer

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// deadAddr is an address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestClusterState(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.ClusterID("state-test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// The first seed is down: the check must go on to the next one.
	cl := newClientOn(t, append([]string{deadAddr(t)}, c.ListenAddrs()...))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := cl.ClusterState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != "state-test" || info.Controller < 0 || info.Topics != nil {
		t.Fatalf("cluster %+v", info)
	}
	if len(info.Brokers) != 3 {
		t.Fatalf("brokers %+v, want 3", info.Brokers)
	}
	addrs := map[string]bool{}
	for _, a := range c.ListenAddrs() {
		addrs[a] = true
	}
	for i, b := range info.Brokers {
		if i > 0 && b.NodeID <= info.Brokers[i-1].NodeID {
			t.Fatalf("brokers not sorted by node ID: %+v", info.Brokers)
		}
		if !addrs[net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))] {
			t.Fatalf("broker %+v is none of %v", b, c.ListenAddrs())
		}
	}
	// Asked again, it goes to the brokers it discovered.
	if again, err := cl.ClusterState(ctx); err != nil || again.ID != info.ID || len(again.Brokers) != 3 {
		t.Fatalf("second check: %+v, %v", again, err)
	}
}

func TestClusterStateUnreachable(t *testing.T) {
	cl := newClientOn(t, []string{deadAddr(t), deadAddr(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := cl.ClusterState(ctx)
	if err == nil {
		t.Fatalf("no broker listens, yet the check answered %+v", info)
	}
	if c := Classify(err); c != ClassUnavailable {
		t.Fatalf("error %v classified %s, want unavailable", err, c)
	}
	if ctx.Err() != nil {
		t.Fatalf("refused connections must fail the check at once, not at the deadline")
	}
}

func newClientOn(t *testing.T, brokers []string, with ...Option) *Client {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Brokers = brokers
	cl, err := New(cfg, with...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = cl.Close(ctx)
	})
	return cl
}

// TestClusterStateMovesOffAFencedLeader: a leader that holds the produce
// request it was sent and never answers (a paused broker) and is then
// fenced (gone from the metadata, its partitions moved; its connections
// still open). franz-go alone would wait out the request's read timeout,
// request_timeout plus 10s, here over a minute; a health check that sees
// the live brokers change has it refresh its metadata, which drops the
// fenced broker and sends the record again to the new leader, where it is
// acknowledged while the old leader still holds the first request.
func TestClusterStateMovesOffAFencedLeader(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(1, "moved"))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	t.Cleanup(c.Close)
	t.Cleanup(func() { close(release) }) // before c.Close: cleanups run last first
	cl := newClient(t, c, func(cfg *Config) { cfg.RequestTimeout = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg := []Message{{Topic: "moved", Partition: -1, Value: []byte("warm")}}
	if res, err := cl.Produce(ctx, msg); err != nil || res[0].Err != nil {
		t.Fatalf("warm-up: %v %v", err, res)
	}
	if _, err := cl.ClusterState(ctx); err != nil { // the live brokers before
		t.Fatal(err)
	}
	old := c.LeaderFor("moved", 0)
	held := make(chan struct{}, 1)
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if c.CurrentNode() != old {
			return nil, nil, false
		}
		select {
		case held <- struct{}{}:
		default:
		}
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	done := make(chan error, 1)
	go func() {
		res, err := cl.Produce(ctx, []Message{{Topic: "moved", Partition: -1, Value: []byte("held")}})
		if err == nil {
			err = res[0].Err
		}
		done <- err
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("the record was answered (%v) before the old leader held it", err)
	}
	if err := c.RemoveNode(old); err != nil {
		t.Fatal(err)
	}
	if n := c.LeaderFor("moved", 0); n == old || n < 0 {
		t.Fatalf("leader %d after removing node %d", n, old)
	}
	info, err := cl.ClusterState(ctx)
	if err != nil || len(info.Brokers) != 2 {
		t.Fatalf("check after the fence: %+v, %v", info, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the record was not acknowledged by the new leader: %v", err)
	}
	select {
	case <-release:
		t.Fatal("released early")
	default: // the first request is still held: the new leader acknowledged the record
	}
}
