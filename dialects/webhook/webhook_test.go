package webhook_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
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

// TestWebhookSplitLinesLargeBody is the regression test of a bug the fuzz
// target found: the records of split lines were slices of a bufio.Scanner's
// buffer, which the scanner overwrites as it reads on, so a body over 4 KiB
// (or one whose last line has no newline) was acknowledged with records
// holding other lines' bytes.
func TestWebhookSplitLinesLargeBody(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"logs": 1},
		Site: `kafka_rest webhook {
			topic {topic.logs}
			split lines
		}`,
	})
	var body strings.Builder
	var want []string
	for i := range 200 {
		line := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i%50))
		want = append(want, line)
		body.WriteString(line)
		if i < 199 { // the last line without a newline
			body.WriteString("\r\n")
		}
	}
	resp, out := g.Do(t, http.MethodPost, "/", nil, body.String())
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	recs := g.Records(t, "logs", len(want))
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		if string(r.Value) != want[i] {
			t.Fatalf("record %d is %q, want %q", i, r.Value, want[i])
		}
	}
}

// The whole route is the webhook's URL space: a method other than POST or
// PUT is a 405 with Allow, in the webhook's format, and writes nothing;
// never the next handler's answer.
func TestWebhookOtherMethods(t *testing.T) {
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"events": 1},
		Site: `kafka_rest webhook {
			topic {topic.events}
		}`,
	})
	for _, m := range []string{http.MethodGet, http.MethodDelete, http.MethodPatch} {
		resp, body := g.Do(t, m, "/in/anything", nil, "x")
		var e struct {
			Error  string `json:"error"`
			Status int    `json:"status"`
		}
		if resp.StatusCode != 405 || json.Unmarshal(body, &e) != nil || e.Status != 405 || e.Error != "method not allowed: use POST or PUT" {
			t.Fatalf("%s: %d %s", m, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Allow"); got != "POST, PUT" {
			t.Fatalf("%s: Allow %q", m, got)
		}
	}
	if recs := g.Records(t, "events", 0); len(recs) != 0 {
		t.Fatalf("%d records written", len(recs))
	}
}
