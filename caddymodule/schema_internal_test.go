package caddymodule

import (
	"context"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// TestRegistryHeldWithClusterAcrossReloads: a reload that keeps a cluster's
// configuration keeps its registry client (and its caches) with its Kafka
// client; a changed schema_registry gets a new one.
func TestRegistryHeldWithClusterAcrossReloads(t *testing.T) {
	provision := func(ttl time.Duration) *App {
		t.Helper()
		d := caddy.Duration(ttl)
		a := &App{Clusters: map[string]*Cluster{"default": {
			Brokers:        []string{"127.0.0.1:1"}, // franz-go connects lazily: nothing dials it
			SchemaRegistry: &SchemaRegistry{URLs: []string{"http://127.0.0.1:1/apis/ccompat/v7"}, CacheTTL: &d},
		}}}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		t.Cleanup(cancel)
		if err := a.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Cleanup() })
		return a
	}
	first := provision(time.Minute)
	r1 := first.clients["default"].registry
	if r1 == nil || r1.Config().CacheTTL != time.Minute {
		t.Fatalf("registry %v", r1)
	}
	same := provision(time.Minute)
	if same.clients["default"].registry != r1 {
		t.Error("an unchanged cluster got a new registry client")
	}
	changed := provision(2 * time.Minute)
	if r := changed.clients["default"].registry; r == r1 || r.Config().CacheTTL != 2*time.Minute {
		t.Error("a changed schema_registry kept the old registry client")
	}

	bad := &App{Clusters: map[string]*Cluster{"default": {
		Brokers:        []string{"127.0.0.1:1"},
		SchemaRegistry: &SchemaRegistry{URLs: []string{"ftp://registry"}},
	}}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := bad.Provision(ctx); err == nil {
		_ = bad.Cleanup()
		t.Fatal("an ftp registry URL was accepted")
	}
	_ = bad.Cleanup()
}

func TestRegistryPlaceholdersExpanded(t *testing.T) {
	t.Setenv("SR_TEST_URLS", "http://127.0.0.1:1/a, http://127.0.0.1:2/b")
	t.Setenv("SR_TEST_USER", "gateway")
	t.Setenv("SR_TEST_PASS", "s3cret")
	c := Cluster{Brokers: []string{"127.0.0.1:1"}, SchemaRegistry: &SchemaRegistry{
		URLs:      []string{"{env.SR_TEST_URLS}"},
		BasicAuth: &BasicAuth{Username: "{env.SR_TEST_USER}", Password: "{env.SR_TEST_PASS}"},
	}}
	x, err := c.expanded(caddy.NewReplacer())
	if err != nil {
		t.Fatal(err)
	}
	cfg, ok, err := x.registryConfig()
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if len(cfg.URLs) != 2 || cfg.URLs[1] != "http://127.0.0.1:2/b" || cfg.BasicAuth.User != "gateway" || cfg.BasicAuth.Password != "s3cret" || !cfg.AutoRegister {
		t.Fatalf("expanded to %+v", cfg)
	}
	if c.SchemaRegistry.BasicAuth.Password != "{env.SR_TEST_PASS}" {
		t.Error("expanding changed the adapted config")
	}
}
