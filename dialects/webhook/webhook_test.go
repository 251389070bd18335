package webhook_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

func TestWebhookSingleRecord(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"events": 3},
		Site: `kafka_rest webhook {
			topic {topic.events}
			key {http.request.header.X-Device-Id}
			header path {http.request.uri.path}
		}`,
	})
	h := http.Header{"X-Device-Id": {"dev-1"}}
	resp, body := g.Do(t, http.MethodPost, "/in", h, `{"temp":21}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var md struct {
		Topic     string
		Partition int32
		Offset    int64
		Timestamp int64
	}
	if err := json.Unmarshal(body, &md); err != nil {
		t.Fatal(err)
	}
	recs := g.Records(t, "events", 1)
	if len(recs) != 1 {
		t.Fatalf("got %d records", len(recs))
	}
	r := recs[0]
	if string(r.Value) != `{"temp":21}` || string(r.Key) != "dev-1" || r.Partition != md.Partition || r.Offset != md.Offset {
		t.Fatalf("record %+v does not match answer %+v", r, md)
	}
	if v, _ := gatewaytest.Header(r, "path"); string(v) != "/in" {
		t.Fatalf("header path = %q", v)
	}
	if r.Timestamp.UnixMilli() != md.Timestamp {
		t.Fatalf("timestamp %d, answered %d", r.Timestamp.UnixMilli(), md.Timestamp)
	}
}
