package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI is the admin endpoint of the kafka app:
//
//	GET /kafka/clusters
//
// answers a JSON array with one object per cluster of the running config,
// sorted by name: its seed brokers (never credentials), whether it is the
// embedded broker, its connection state from the health checks (reachable,
// unreachable, or unknown before the first check) with the time it entered
// that state, the last error seen, the records and bytes buffered and not yet
// acknowledged, and what the brokers last said of the cluster.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.kafka",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the admin routes of the kafka app.
func (a *adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/kafka/clusters", Handler: caddy.AdminHandlerFunc(a.clusters)}}
}

// clusterStatus is one cluster in GET /kafka/clusters.
type clusterStatus struct {
	Name               string          `json:"name"`
	Brokers            []string        `json:"brokers"`
	Embedded           bool            `json:"embedded"`
	State              string          `json:"state"`
	Since              time.Time       `json:"since"`
	CheckedAt          *time.Time      `json:"checked_at,omitempty"`
	LastError          string          `json:"last_error,omitempty"`
	LastErrorAt        *time.Time      `json:"last_error_at,omitempty"`
	BufferedRecords    int64           `json:"buffered_records"`
	BufferedBytes      int64           `json:"buffered_bytes"`
	MaxBufferedRecords int             `json:"max_buffered_records"`
	MaxBufferedBytes   int64           `json:"max_buffered_bytes"`
	Kafka              *clusterSummary `json:"kafka,omitempty"`
	Spool              *spoolStatus    `json:"spool,omitempty"`
}

func (a *adminAPI) clusters(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
	}
	// The config being served, not the one being loaded: its apps are
	// provisioned and started, and no longer change.
	out := []clusterStatus{}
	appIface, err := caddy.ActiveContext().AppIfConfigured("kafka")
	switch {
	case errors.Is(err, caddy.ErrNotConfigured):
	case err != nil:
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	default:
		out = appIface.(*App).statuses()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return nil
	}
	return json.NewEncoder(w).Encode(out)
}

// statuses describes the app's clusters, sorted by name.
func (a *App) statuses() []clusterStatus {
	out := make([]clusterStatus, 0, len(a.clients))
	for name, pc := range a.clients {
		cfg := pc.Config()
		st := clusterStatus{
			Name:               name,
			MaxBufferedRecords: cfg.MaxBufferedRecords,
			MaxBufferedBytes:   cfg.MaxBufferedBytes,
		}
		st.BufferedRecords, st.BufferedBytes = pc.Buffered()
		st.Spool = pc.spoolStatus()
		if pc.obs == nil {
			st.State = stateUnknown
			out = append(out, st)
			continue
		}
		st.Brokers, st.Embedded = pc.obs.seeds, pc.obs.embedded
		if st.Embedded {
			st.Brokers = pc.EmbeddedAddrs()
		}
		h := pc.obs.snapshot()
		st.State, st.Since, st.LastError, st.Kafka = h.State, h.Since, h.LastError, h.Kafka
		if !h.CheckedAt.IsZero() {
			st.CheckedAt = &h.CheckedAt
		}
		if !h.LastErrorAt.IsZero() {
			st.LastErrorAt = &h.LastErrorAt
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Interface guards
var _ caddy.AdminRouter = (*adminAPI)(nil)
