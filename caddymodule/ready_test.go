package caddymodule_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// clusterJSON is one entry of GET /kafka/clusters.
type clusterJSON struct {
	Name            string   `json:"name"`
	Brokers         []string `json:"brokers"`
	Embedded        bool     `json:"embedded"`
	State           string   `json:"state"`
	Since           string   `json:"since"`
	LastError       string   `json:"last_error"`
	BufferedRecords *int64   `json:"buffered_records"`
	BufferedBytes   *int64   `json:"buffered_bytes"`
	Kafka           *struct {
		ClusterID string `json:"cluster_id"`
		Brokers   []struct {
			NodeID int32  `json:"node_id"`
			Host   string `json:"host"`
			Port   int32  `json:"port"`
		} `json:"brokers"`
	} `json:"kafka"`
}

func adminClusters(t *testing.T, g *gatewaytest.Gateway) ([]clusterJSON, string) {
	t.Helper()
	resp, err := http.Get(g.AdminURL + "/kafka/clusters")
	if err != nil {
		t.Fatalf("GET /kafka/clusters: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /kafka/clusters: %d %s", resp.StatusCode, b)
	}
	var out []clusterJSON
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("GET /kafka/clusters: %v\n%s", err, b)
	}
	return out, string(b)
}

// ready polls path until it answers want, for at most a while, and returns
// the last answer.
func ready(t *testing.T, g *gatewaytest.Gateway, path string, want int) (*http.Response, string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, b := g.Do(t, http.MethodGet, path, http.Header{"Connection": {"close"}}, "")
		if resp.StatusCode == want || time.Now().After(deadline) {
			return resp, string(b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReadyFollowsCluster stops the cluster and starts it again on the same
// port: kafka_ready flips to 503 with Retry-After and back to 200, and the
// admin endpoint reports the state and the error, never the SASL password.
func TestReadyFollowsCluster(t *testing.T) {
	if gatewaytest.Real() {
		t.Skip("stops the broker: kfake only")
	}
	const password = "s3cret-pw-for-the-test"
	kopts := []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("PLAIN", "gateway", password)}
	g := gatewaytest.New(t, gatewaytest.Options{
		Kafka:     "sasl plain gateway " + password,
		KfakeOpts: kopts,
		Site: `kafka_ready /ready
	kafka_ready /ready-default {
		cluster default
	}
	respond "other"`,
	})

	resp, body := ready(t, g, "/ready", 200)
	if resp.StatusCode != 200 || body != `{"status":"ready","cluster":"default"}`+"\n" ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("with the cluster up: %d %q", resp.StatusCode, body)
	}
	if resp, body := g.Do(t, http.MethodGet, "/ready-default", nil, ""); resp.StatusCode != 200 {
		t.Fatalf("cluster default named: %d %s", resp.StatusCode, body)
	}
	cs, raw := adminClusters(t, g)
	if len(cs) != 1 || cs[0].Name != "default" || cs[0].State != "reachable" || cs[0].Embedded ||
		strings.Join(cs[0].Brokers, ",") != strings.Join(g.Brokers, ",") ||
		cs[0].BufferedRecords == nil || *cs[0].BufferedRecords != 0 || cs[0].BufferedBytes == nil ||
		cs[0].Kafka == nil || len(cs[0].Kafka.Brokers) != 1 || cs[0].Kafka.ClusterID == "" {
		t.Fatalf("admin with the cluster up: %s", raw)
	}
	if strings.Contains(raw, password) {
		t.Fatalf("admin shows the SASL password: %s", raw)
	}
	upSince := cs[0].Since

	_, portStr, _ := net.SplitHostPort(g.Brokers[0])
	port, _ := strconv.Atoi(portStr)
	g.Fake.Close()

	resp, body = ready(t, g, "/ready", 503)
	if resp.StatusCode != 503 || body != `{"status":"unavailable","cluster":"default"}`+"\n" ||
		resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("with the cluster down: %d %q Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	cs, raw = adminClusters(t, g)
	if cs[0].State != "unreachable" || cs[0].LastError == "" || cs[0].Since == upSince {
		t.Fatalf("admin with the cluster down: %s", raw)
	}
	if strings.Contains(raw, password) {
		t.Fatalf("admin shows the SASL password: %s", raw)
	}

	fake, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port)}, kopts...)...)
	if err != nil {
		t.Fatalf("restarting kfake on port %d: %v", port, err)
	}
	t.Cleanup(fake.Close)

	if resp, body = ready(t, g, "/ready", 200); resp.StatusCode != 200 {
		t.Fatalf("with the cluster back: %d %s", resp.StatusCode, body)
	}
	cs, raw = adminClusters(t, g)
	if cs[0].State != "reachable" || cs[0].LastError == "" {
		t.Fatalf("admin with the cluster back (the last error is kept): %s", raw)
	}
}

// TestReadyHead answers HEAD with the status and no body, and the admin
// endpoint refuses methods other than GET and HEAD.
func TestReadyHead(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{Site: `kafka_ready /ready`})
	resp, body := ready(t, g, "/ready", 200)
	if resp.StatusCode != 200 {
		t.Fatalf("GET: %d %s", resp.StatusCode, body)
	}
	resp, b := g.Do(t, http.MethodHead, "/ready", nil, "")
	if resp.StatusCode != 200 || len(b) != 0 {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, b)
	}
	req, _ := http.NewRequest(http.MethodPost, g.AdminURL+"/kafka/clusters", nil)
	aresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	aresp.Body.Close()
	if aresp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /kafka/clusters: %d", aresp.StatusCode)
	}
}
