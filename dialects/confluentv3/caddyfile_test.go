package confluentv3

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		in        string
		clusterID string
		batchMax  int
		err       string // a part of the error; "" for none
	}{
		{in: "confluent_v3"},
		{in: "confluent_v3 {\n}"},
		{in: "confluent_v3 {\ncluster_id lkc-1\nbatch_max_entries 50\n}", clusterID: "lkc-1", batchMax: 50},
		{in: "confluent_v3 {\nbatch_max_entries 0\n}", err: `batch_max_entries: want a positive integer, got "0"`},
		{in: "confluent_v3 {\nbatch_max_entries x\n}", err: `batch_max_entries: want a positive integer, got "x"`},
		{in: "confluent_v3 {\ncluster_id\n}", err: "wrong argument count"},
		{in: "confluent_v3 {\ncluster_id a b\n}", err: "wrong argument count"},
		{in: "confluent_v3 {\ncluster_id a\ncluster_id b\n}", err: "cluster_id is already set (line 2): give it once, at Testfile:3"},
		{in: "confluent_v3 {\nbatch_max_entries 5\nbatch_max_entries 5\n}", err: "batch_max_entries is already set"},
		{in: "confluent_v3 {\nclusterid a\n}", err: `unknown confluent_v3 subdirective "clusterid": did you mean "cluster_id"?, at Testfile:2`},
		{in: "confluent_v3 {\nnope 1\n}", err: `unknown confluent_v3 subdirective "nope": want cluster_id or batch_max_entries`},
	} {
		var c ConfluentV3
		err := c.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
		if tc.err == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.in, err)
			} else if c.ClusterID != tc.clusterID || c.BatchMaxEntries != tc.batchMax {
				t.Errorf("%q: got %+v", tc.in, c)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
		}
	}
}
