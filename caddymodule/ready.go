package caddymodule

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(Ready{})
	httpcaddyfile.RegisterHandlerDirective("kafka_ready", parseReady)
	// Right after copy_response, hence before kafka_rest and respond
	// whatever order the plugin's directives are registered in: a
	// kafka_rest route whose dialect claims every path must not swallow the
	// health check.
	httpcaddyfile.RegisterDirectiveOrder("kafka_ready", httpcaddyfile.After, "copy_response")
}

// Ready answers whether a cluster of the kafka app is reachable, for a load
// balancer's health check on the serving port. It answers every request it
// gets, whatever its method, with a JSON body:
//
//   - 200 `{"status":"ready","cluster":"<name>"}` while the cluster's last
//     health check got an answer from a broker;
//   - 503 `{"status":"unavailable","cluster":"<name>"}` with a Retry-After
//     header while it fails, and before the first check completes;
//   - 200 `{"status":"spooling","cluster":"<name>"}` while it fails and
//     the cluster's spool has room: spooling routes still answer 2xx.
//
// The kafka app checks each cluster every 2 seconds (each check bounded by 2
// seconds), so the answer follows the cluster within a few seconds. The
// reason for a failure is not shown here, on a port clients reach: see the
// admin endpoint GET /kafka/clusters, or the logs.
type Ready struct {
	// Name of the kafka app's cluster to report on. Default: "default".
	Cluster string `json:"cluster,omitempty"`

	obs      *clientObs
	pc       *pooledClient
	ready    []byte
	unready  []byte
	spooling []byte
}

// CaddyModule returns the Caddy module information.
func (Ready) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.kafka_ready",
		New: func() caddy.Module { return new(Ready) },
	}
}

// Provision finds the cluster's client.
func (rd *Ready) Provision(ctx caddy.Context) error {
	name := rd.Cluster
	if name == "" {
		name = "default"
	}
	app, err := kafkaApp(ctx)
	if err != nil {
		return err
	}
	pc, ok := app.client(name)
	if !ok {
		return fmt.Errorf("unknown kafka cluster %q", name)
	}
	rd.obs, rd.pc = pc.obs, pc
	rd.spooling = []byte(`{"status":"spooling","cluster":` + strconv.Quote(name) + "}\n")
	q := strconv.Quote(name)
	rd.ready = []byte(`{"status":"ready","cluster":` + q + "}\n")
	rd.unready = []byte(`{"status":"unavailable","cluster":` + q + "}\n")
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (rd *Ready) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	body, status := rd.ready, http.StatusOK
	if rd.obs == nil || rd.obs.snapshot().State != stateReachable {
		body, status = rd.unready, http.StatusServiceUnavailable
		if rd.obs != nil && rd.obs.snapshot().State == stateUnreachable && rd.pc.spooling() {
			body, status = rd.spooling, http.StatusOK // spool: the routes still answer 2xx
		}
	}
	if status != http.StatusOK {
		h.Set("Retry-After", strconv.Itoa(int(healthInterval.Seconds())))
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}

// parseReady parses the kafka_ready directive:
//
//	kafka_ready [<matcher>] [{
//		cluster <name>
//	}]
func parseReady(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	rd := new(Ready)
	if err := rd.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	if _, ok := h.Option("kafka").(httpcaddyfile.App); !ok {
		return nil, h.Err("kafka_ready needs the kafka global option: add { kafka { brokers ... } } at the top of the Caddyfile")
	}
	if err := checkCluster(h, rd.Cluster); err != nil {
		return nil, err
	}
	return rd, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	kafka_ready [<matcher>] [{
//		cluster <name>     # default "default"
//	}]
func (rd *Ready) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if d.NextArg() {
		return d.Errf("kafka_ready takes no arguments (name the cluster in its block: cluster %s)", d.Val())
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "cluster":
			if err := oneArg(d, &rd.Cluster); err != nil {
				return err
			}
		default:
			return d.Errf("unknown kafka_ready subdirective %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Ready)(nil)
	_ caddyhttp.MiddlewareHandler = (*Ready)(nil)
	_ caddyfile.Unmarshaler       = (*Ready)(nil)
)
