package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-kafka/caddy-kafka/producer"
	"github.com/caddy-kafka/caddy-kafka/producer/schema"
)

func init() {
	caddy.RegisterModule(App{})
}

// clients holds one producer per cluster configuration, across config
// reloads: a reload that leaves a cluster unchanged gets the same client, with
// its connections and in-flight records; a changed cluster gets a new one, and
// the old one is flushed and closed once no config uses it.
var clients = caddy.NewUsagePool()

// How long a client being retired may take to finish its requests and
// flush what it buffered: closeFlushTimeout, or closeAwayTimeout when its
// cluster is unreachable, since nothing buffered can be written then and a
// stop should not wait for it (records written by then still count).
const (
	closeFlushTimeout = 30 * time.Second
	closeAwayTimeout  = 2 * time.Second
)

// App is the kafka app: the Kafka clusters that kafka_rest handlers produce
// to, each with one franz-go client shared by every handler and request.
type App struct {
	// Clusters by the name handlers refer to; handlers that name none use
	// "default".
	Clusters map[string]*Cluster `json:"clusters,omitempty"`

	clients   map[string]*pooledClient
	keys      []string
	spoolKeys []string // spool: the spools this config holds
	logger    *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "kafka",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision creates (or, across a reload, reuses) a client per cluster. It
// happens here rather than in Start because Caddy starts apps in no
// particular order, and the http app may serve requests before Start runs;
// franz-go connects lazily, so creating a client does no I/O.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.clients = make(map[string]*pooledClient, len(a.Clusters))
	repl := caddy.NewReplacer()
	names := make([]string, 0, len(a.Clusters))
	for name := range a.Clusters {
		names = append(names, name)
	}
	sort.Strings(names)
	expanded := make(map[string]Cluster, len(names)) // spool: for provisionSpools
	for _, name := range names {
		if a.Clusters[name] == nil {
			return fmt.Errorf("cluster %s: no configuration", name)
		}
		cl, err := a.Clusters[name].expanded(repl)
		if err != nil {
			return fmt.Errorf("cluster %s: %w", name, err)
		}
		key, err := poolKey(name, cl)
		if err != nil {
			return fmt.Errorf("cluster %s: %w", name, err)
		}
		val, loaded, err := clients.LoadOrNew(key, func() (caddy.Destructor, error) {
			return a.newClient(name, cl)
		})
		if err != nil {
			return fmt.Errorf("cluster %s: %w", name, err)
		}
		a.keys = append(a.keys, key)
		expanded[name] = cl
		pc := val.(*pooledClient)
		a.clients[name] = pc
		if loaded {
			a.logger.Debug("reusing kafka client", zap.String("cluster", name))
		}
	}
	if err := a.provisionSpools(expanded); err != nil { // spool
		return err
	}
	return a.registerMetrics(ctx)
}

func (a *App) newClient(name string, cl Cluster) (*pooledClient, error) {
	cfg, err := cl.producerConfig()
	if err != nil {
		return nil, err
	}
	// The registry client is made before the Kafka client, so that a bad
	// schema_registry leaves no Kafka client to close.
	var registry *schema.Registry
	if rcfg, ok, err := cl.registryConfig(); err != nil {
		return nil, err
	} else if ok {
		if registry, err = schema.New(rcfg); err != nil {
			return nil, fmt.Errorf("schema_registry: %w", err)
		}
	}
	logger := a.logger.With(zap.String("cluster", name))
	if cfg.Embedded {
		logger.Warn("EMBEDDED KAFKA BROKER: records are kept in memory only and are LOST when Caddy stops or this cluster's config changes; use it to try the gateway, never in production")
	}
	obs := newClientObs(name, cl, logger)
	c, err := producer.New(cfg, producer.WithLogger(logger), producer.WithMetrics(name))
	if err != nil {
		if registry != nil {
			registry.Close()
		}
		return nil, err
	}
	if cfg.Embedded {
		logger.Info("embedded kafka broker listening", zap.Strings("addrs", c.EmbeddedAddrs()))
	}
	return &pooledClient{Client: c, name: name, brokers: cl.Brokers, logger: logger, obs: obs, registry: registry}, nil
}

// poolKey identifies a cluster's client by name and expanded configuration.
// It holds a hash, not the configuration, so no secret lingers in the key.
func poolKey(name string, cl Cluster) (string, error) {
	b, err := json.Marshal(cl)
	if err != nil {
		return "", fmt.Errorf("hashing cluster configuration: %w", err)
	}
	sum := sha256.Sum256(b)
	return "kafka.cluster." + name + "." + hex.EncodeToString(sum[:]), nil
}

// Validate checks the cluster names.
func (a *App) Validate() error {
	for name := range a.Clusters {
		if name == "" {
			return errors.New("a cluster name must not be empty")
		}
	}
	return nil
}

// Start starts each client's health checks (once per client: a client
// kept across a reload keeps its checks), without blocking startup: an
// unreachable cluster is logged, and requests to it fail with the dialect's
// unavailable answer until it answers.
func (a *App) Start() error {
	for _, pc := range a.clients {
		pc.obs.start(pc.Client)
	}
	return nil
}

// Stop does nothing: HTTP requests may still be draining when apps stop, so
// clients are flushed and closed in Cleanup, which runs after every Stop.
func (a *App) Stop() error { return nil }

// Cleanup releases this config's hold on its clients; a client no config
// holds any more is flushed and closed. It tolerates partial provisioning.
func (a *App) Cleanup() error {
	var errs []error
	// spool: the drainers stop before the clients they produce with close.
	for _, key := range a.spoolKeys {
		if _, err := spools.Delete(key); err != nil {
			errs = append(errs, err)
		}
	}
	a.spoolKeys = nil
	for _, key := range a.keys {
		if _, err := clients.Delete(key); err != nil {
			errs = append(errs, err)
		}
	}
	a.keys = nil
	return errors.Join(errs...)
}

// client returns the named cluster's client.
func (a *App) client(name string) (*pooledClient, bool) {
	pc, ok := a.clients[name]
	return pc, ok
}

// pooledClient is a producer shared through the usage pool.
type pooledClient struct {
	*producer.Client
	name    string
	brokers []string
	logger  *zap.Logger
	obs     *clientObs // metrics and health checks
	// registry is the cluster's schema registry client, nil without one.
	// It lives in the pool with the Kafka client: a reload that leaves the
	// cluster unchanged keeps both, and their caches.
	registry *schema.Registry

	// requests in flight on this client. On a reload Caddy's http app
	// stops without waiting for requests to drain and Cleanup follows at
	// once, so Destruct must wait for them itself.
	requests atomic.Int64

	// spool is the cluster's spool and drainer, nil without one.
	spool atomic.Pointer[spooler]
}

// Destruct stops the health checks, waits for the requests in flight, then
// flushes what is buffered and closes the client, all within
// closeFlushTimeout, or closeAwayTimeout if the cluster is unreachable.
// Records still buffered then are lost, and logged by count: their
// requests were not acknowledged.
func (p *pooledClient) Destruct() error {
	wait := closeFlushTimeout
	if p.obs.snapshot().State == stateUnreachable {
		wait = closeAwayTimeout
	}
	p.obs.stop()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for p.requests.Load() > 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if p.registry != nil {
		p.registry.Close()
	}
	held, _ := p.Buffered()
	if err := p.Close(ctx); err != nil {
		p.logger.Error("closing kafka client lost buffered records, whose requests were not acknowledged",
			zap.Int64("records", held), zap.Duration("waited", wait), zap.Error(err))
		return err
	}
	p.logger.Debug("kafka client closed")
	return nil
}

// kafkaApp is the config's kafka app, for the modules that use its
// clusters. Only its absence is told as such: an app that failed to load
// has its own error, which says what is wrong.
func kafkaApp(ctx caddy.Context) (*App, error) {
	app, err := ctx.AppIfConfigured("kafka")
	if errors.Is(err, caddy.ErrNotConfigured) {
		return nil, fmt.Errorf("kafka app not configured: add a kafka global option with the cluster's brokers: %w", err)
	}
	if err != nil {
		return nil, err
	}
	return app.(*App), nil
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
	_ caddy.Destructor   = (*pooledClient)(nil)
)
