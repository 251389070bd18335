package producer

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
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
