package reliability_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
)

const hugeBody = 2 << 30 // 2 GiB

// hugeRequest is a produce request whose body is a 2 GiB record generated
// on the fly: prefix, then filler up to the size.
type hugeRequest struct {
	dialect     string
	path        string
	contentType string
	prefix      string
	status      int // the dialect's answer to a body over max_body
}

// hugeRequests are, per dialect, a request carrying one 2 GiB record. IBM
// Event Streams answers 400 for a body over its limit, as IBM does.
func hugeRequests(g *gatewaytest.Gateway) []hugeRequest {
	return []hugeRequest{
		{"webhook", "/wh/", "text/plain", "", http.StatusRequestEntityTooLarge},
		{"confluent_v3", "/v3/clusters/c1/topics/" + g.Topic("v3") + "/records", "application/json", `{"value":{"type":"STRING","data":"`, http.StatusRequestEntityTooLarge},
		{"confluent_v2", "/v2/topics/" + g.Topic("v2"), "application/vnd.kafka.binary.v2+json", `{"records":[{"value":"`, http.StatusRequestEntityTooLarge},
		{"upstash", "/up/produce/" + g.Topic("up"), "application/json", `{"value":"`, http.StatusRequestEntityTooLarge},
		{"ibm_event_streams", "/ibm/topics/" + g.Topic("ibm") + "/records", "text/plain", "", http.StatusBadRequest},
	}
}

// sendHuge writes the request over a raw connection, with Content-Length or
// chunked, from a generator, while reading the answer. It stops sending when
// the answer arrives and reports how much of the body was sent by then.
func sendHuge(t *testing.T, addr string, hr hugeRequest, chunked bool) (resp *http.Response, body []byte, sentBefore int64) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n", hr.path, addr, hr.contentType)
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += "Content-Length: " + strconv.Itoa(hugeBody) + "\r\n\r\n"
	}
	var sent atomic.Int64
	stop := make(chan struct{})
	writeDone := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(conn, 64<<10)
		filler := bytes.Repeat([]byte("a"), 32<<10)
		write := func(p []byte) error {
			if len(p) == 0 {
				return nil // an empty chunk would end the body
			}
			if chunked {
				if _, err := fmt.Fprintf(w, "%x\r\n", len(p)); err != nil {
					return err
				}
			}
			if _, err := w.Write(p); err != nil {
				return err
			}
			if chunked {
				if _, err := w.WriteString("\r\n"); err != nil {
					return err
				}
			}
			sent.Add(int64(len(p)))
			return nil
		}
		err := func() error {
			if _, err := w.WriteString(head); err != nil {
				return err
			}
			if err := write([]byte(hr.prefix)); err != nil {
				return err
			}
			for n := int64(len(hr.prefix)); n < hugeBody; n += int64(len(filler)) {
				select {
				case <-stop:
					return nil
				default:
				}
				p := filler
				if rest := hugeBody - n; rest < int64(len(p)) {
					p = p[:rest]
				}
				if err := write(p); err != nil {
					return err
				}
			}
			if chunked {
				if _, err := w.WriteString("0\r\n\r\n"); err != nil {
					return err
				}
			}
			return w.Flush()
		}()
		writeDone <- err
	}()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	resp, err = http.ReadResponse(br, nil)
	sentBefore = sent.Load()
	close(stop)
	if err != nil {
		t.Fatalf("%s: no answer to a 2GiB body (%dMiB sent): %v", hr.dialect, sentBefore>>20, err)
	}
	body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	conn.Close()
	<-writeDone
	return resp, body, sentBefore
}

// TestHugeBody sends every dialect a 2 GiB body, with Content-Length and
// chunked: each is refused with the dialect's too-large answer before the
// client has sent more than a sliver of it, and the gateway's heap stays
// small (nothing buffers the body, or allocates for its declared length).
func TestHugeBody(t *testing.T) {
	o := relcheck.GatewayOptions(relcheck.AllDialects, "max_body 1MiB")
	g := gatewaytest.New(t, o)
	const (
		sentBound = 64 << 20 // the refusal comes before this much is sent
		heapBound = 64       // MiB over the baseline
	)
	for _, hr := range hugeRequests(g) {
		for _, chunked := range []bool{false, true} {
			name := hr.dialect + "/content-length"
			if chunked {
				name = hr.dialect + "/chunked"
			}
			t.Run(name, func(t *testing.T) {
				heap := relcheck.SampleHeap()
				start := time.Now()
				resp, body, sent := sendHuge(t, g.Addr, hr, chunked)
				base, peak := heap.End()
				if resp.StatusCode != hr.status {
					t.Errorf("status %d, want %d: %s", resp.StatusCode, hr.status, body)
				}
				if !errorEnvelope(hr.dialect, resp.StatusCode, body) {
					t.Errorf("the answer is not the dialect's error format: %s", body)
				}
				if sent > sentBound {
					t.Errorf("answered only after %dMiB of the body were sent", sent>>20)
				}
				if peak-base > heapBound {
					t.Errorf("Go heap grew from %.1fMiB to %.1fMiB", base, peak)
				}
				t.Logf("%d after %v, %.1fMiB of 2048MiB sent; heap %.1fMiB -> peak %.1fMiB", resp.StatusCode,
					time.Since(start).Round(time.Millisecond), float64(sent)/(1<<20), base, peak)
			})
		}
	}
	// Nothing was written.
	for _, d := range relcheck.AllDialects {
		if exists, n := topicState(t, g.Brokers, g.Topic(d.Topic)); !exists || n != 0 {
			t.Errorf("%s: topic exists %v with %d records after refused requests", d.Name, exists, n)
		}
	}
}

// errorEnvelope reports whether body is the dialect's error body for status.
func errorEnvelope(dialect string, status int, body []byte) bool {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	switch dialect {
	case "webhook", "upstash":
		e, _ := m["error"].(string)
		return e != "" && m["status"] == float64(status)
	case "ibm_event_streams":
		msg, _ := m["message"].(string)
		return msg != "" && m["error_code"] == float64(status)
	default: // Confluent
		msg, _ := m["message"].(string)
		code, _ := m["error_code"].(float64)
		return msg != "" && (int(code)/100 == status || int(code) == status)
	}
}

// TestMaxRecords sends one record more than max_records in every dialect
// that takes several records per request: refused whole with the dialect's
// too-large answer, nothing written; max_records records pass.
func TestMaxRecords(t *testing.T) {
	const limit = 5
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"wh": 1, "v2": 1, "v3": 1, "up": 1},
		Site: `handle_path /wh/* {
			kafka_rest webhook {
				topic {topic.wh}
				split lines
				max_records 5
			}
		}
		handle_path /v2/* {
			kafka_rest confluent_v2 {
				max_records 5
			}
		}
		handle_path /up/* {
			kafka_rest upstash {
				max_records 5
			}
		}
		handle /v3/* {
			kafka_rest confluent_v3 {
				cluster_id c1
				max_records 5
			}
		}`,
	})
	type req struct {
		dialect, topic, path, contentType string
		body                              func(n int) string
	}
	reqs := []req{
		{"webhook", "wh", "/wh/", "text/plain", func(n int) string {
			return strings.Repeat("line\n", n)
		}},
		{"confluent_v2", "v2", "/v2/topics/" + g.Topic("v2"), "application/vnd.kafka.binary.v2+json", func(n int) string {
			return `{"records":[` + strings.TrimSuffix(strings.Repeat(`{"value":"dg=="},`, n), ",") + `]}`
		}},
		{"upstash", "up", "/up/produce/" + g.Topic("up"), "application/json", func(n int) string {
			return `[` + strings.TrimSuffix(strings.Repeat(`{"value":"v"},`, n), ",") + `]`
		}},
		{"confluent_v3", "v3", "/v3/clusters/c1/topics/" + g.Topic("v3") + "/records", "application/json", func(n int) string {
			return strings.Repeat(`{"value":{"type":"STRING","data":"v"}}`, n)
		}},
	}
	for _, r := range reqs {
		resp, body := g.Post(t, r.path, r.contentType, r.body(limit+1))
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !errorEnvelope(r.dialect, resp.StatusCode, body) {
			t.Errorf("%s: %d records over max_records %d: %d %s", r.dialect, limit+1, limit, resp.StatusCode, body)
		}
		if _, n := topicState(t, g.Brokers, g.Topic(r.topic)); n != 0 {
			t.Errorf("%s: a request over max_records wrote %d records", r.dialect, n)
		}
		resp, body = g.Post(t, r.path, r.contentType, r.body(limit))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d records, at max_records: %d %s", r.dialect, limit, resp.StatusCode, body)
		}
		if _, n := topicState(t, g.Brokers, g.Topic(r.topic)); n != limit {
			t.Errorf("%s: %d records at max_records wrote %d", r.dialect, limit, n)
		}
	}
}

// TestSlowClients checks that Caddy's server timeouts, when configured, cut
// clients that trickle their headers, stall their body or never send a
// request, and that nothing they sent is produced. Caddy's defaults are
// read_header 1m and idle 5m, with no limit on reading the body.
func TestSlowClients(t *testing.T) {
	const readHeader, readBody = time.Second, 2 * time.Second
	g := gatewaytest.New(t, gatewaytest.Options{
		Topics: map[string]int32{"wh": 1, "v3": 1},
		Global: fmt.Sprintf("servers {\n timeouts {\n read_header %v\n read_body %v\n }\n }", readHeader, readBody),
		Site: `handle_path /wh/* {
			kafka_rest webhook {
				topic {topic.wh}
			}
		}
		handle /v3/* {
			kafka_rest confluent_v3 {
				cluster_id c1
			}
		}`,
	})
	// The margin allows for a loaded machine; a client that is not cut
	// at all hangs until the 30s read deadline.
	const margin = 3 * time.Second
	v3 := "/v3/clusters/c1/topics/" + g.Topic("v3") + "/records"
	for _, tc := range []struct {
		name  string
		limit time.Duration
		head  string // sent at once
		drip  string // then one byte every 100ms
	}{
		{name: "idle connection", limit: readHeader},
		{name: "headers trickled", head: "POST /wh/ HTTP/1.1\r\nHost: " + g.Addr + "\r\n", drip: "X-Slow: " + strings.Repeat("a", 1000), limit: readHeader},
		{name: "body stalled", head: "POST /wh/ HTTP/1.1\r\nHost: " + g.Addr + "\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nslowbody", limit: readBody},
		{name: "body trickled", head: "POST /wh/ HTTP/1.1\r\nHost: " + g.Addr + "\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n", drip: strings.Repeat("b", 1000), limit: readBody},
		{name: "chunked stream stalled", head: "POST " + v3 + " HTTP/1.1\r\nHost: " + g.Addr + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"val", limit: readBody},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", g.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := io.WriteString(conn, tc.head); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for i := 0; i < len(tc.drip); i++ {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					if _, err := conn.Write([]byte{tc.drip[i]}); err != nil {
						return
					}
				}
			}()
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			b, err := io.ReadAll(conn)
			took := time.Since(start)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server never cut the client (%v)", took.Round(time.Millisecond))
			}
			if took > tc.limit+margin {
				t.Errorf("cut after %v, over the %v timeout", took.Round(time.Millisecond), tc.limit)
			}
			status := ""
			if line, _, _ := strings.Cut(string(b), "\r\n"); line != "" {
				status = line
			}
			// Cut without an answer, or answered with a client error.
			if status != "" && !strings.HasPrefix(status, "HTTP/1.1 4") {
				t.Errorf("a cut request was answered %q", b)
			}
			t.Logf("cut after %v (answer: %q)", took.Round(time.Millisecond), status)
		})
	}
	for _, base := range []string{"wh", "v3"} {
		if _, n := topicState(t, g.Brokers, g.Topic(base)); n != 0 {
			t.Errorf("%s: %d records produced from cut requests", base, n)
		}
	}
}
