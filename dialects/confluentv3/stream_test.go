package confluentv3_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// postChunked posts body with Transfer-Encoding: chunked (no length).
func postChunked(t *testing.T, g *gatewaytest.Gateway, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", g.URL+path, io.NopCloser(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

type report struct {
	ErrorCode   int    `json:"error_code"`
	Message     string `json:"message"`
	ClusterID   string `json:"cluster_id"`
	TopicName   string `json:"topic_name"`
	PartitionID int32  `json:"partition_id"`
	Offset      int64  `json:"offset"`
}

// A client that sends record N+1 only after reading report N, over HTTP/1.1
// and cleartext HTTP/2.
func TestStreamLockstep(t *testing.T) {
	for _, proto := range []string{"h1", "h2c"} {
		t.Run(proto, func(t *testing.T) {
			g := newGateway(t, gatewaytest.Options{Global: "servers {\n protocols h1 h2c\n}"})
			tr := &http.Transport{}
			if proto == "h2c" {
				tr.Protocols = new(http.Protocols)
				tr.Protocols.SetUnencryptedHTTP2(true)
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}

			pr, pw := io.Pipe()
			req, err := http.NewRequest("POST", g.URL+recordsPath(g, "topic-1"), pr)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = -1
			req.Header.Set("Content-Type", "application/json")
			send := func(i int) {
				go fmt.Fprintf(pw, `{"partition_id":1,"value":{"type":"STRING","data":"m%d"}}`, i)
			}
			send(0)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if want := map[string]int{"h1": 1, "h2c": 2}[proto]; resp.ProtoMajor != want {
				t.Fatalf("protocol %s", resp.Proto)
			}
			dec := json.NewDecoder(resp.Body)
			const n = 20
			for i := range n {
				var r report
				if err := dec.Decode(&r); err != nil {
					t.Fatalf("report %d: %v", i, err)
				}
				if r.ErrorCode != 200 || r.PartitionID != 1 || r.Offset != int64(i) {
					t.Fatalf("report %d: %+v", i, r)
				}
				if i+1 < n {
					send(i + 1)
				}
			}
			pw.Close()
			if err := dec.Decode(new(report)); err != io.EOF {
				t.Fatalf("after the last report: %v", err)
			}
			recs := g.Records(t, "topic-1", n)
			if len(recs) != n {
				t.Fatalf("%d records", len(recs))
			}
			for i, r := range recs {
				if string(r.Value) != "m"+strconv.Itoa(i) {
					t.Fatalf("record %d: %q", i, r.Value)
				}
			}
		})
	}
}

// Errors in streaming mode: after the first report they are reports.
func TestStreamErrors(t *testing.T) {
	g := newGateway(t, gatewaytest.Options{})
	path := recordsPath(g, "topic-1")
	big := `{"value":{"type":"STRING","data":"` + strings.Repeat("x", 3000) + `"}}`
	ok := `{"partition_id":0,"value":{"data":"AA=="}}`
	for _, tc := range []struct {
		name, body string
		status     int
		want       []int // error codes of the reports, or of the error body
	}{
		{"empty", "", 422, []int{42206}},
		{"first too large", big + ok, 413, []int{413}},
		{"later too large", ok + big + ok, 200, []int{200, 413}},
		{"malformed", ok + `{"value":}` + ok, 200, []int{200, 400}},
		{"not an object", ok + `[1]` + ok, 200, []int{200, 400}},
		{"truncated", ok + `{"value":{`, 200, []int{200, 400}},
		{"invalid record", ok + `{"nope":1}` + ok, 200, []int{200, 400, 200}},
		{"bad partition", `{"partition_id":9}` + ok, 200, []int{40402, 200}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := postChunked(t, g, path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			rs := reports(t, body)
			var codes []int
			for _, r := range rs {
				codes = append(codes, int(r["error_code"].(float64)))
			}
			if fmt.Sprint(codes) != fmt.Sprint(tc.want) {
				t.Fatalf("codes %v, want %v: %s", codes, tc.want, body)
			}
		})
	}
}

// 100,000 records over one connection, sent as fast as the client can, with
// every report in order and every record in Kafka. The handler produces a
// stream's next batches while the first are acknowledged; with a buffer
// that holds only one batch, the stream waits for its own batches instead
// of refusing the next as overload.
func TestStreamMany(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 100,000 records")
	}
	t.Run("defaults", func(t *testing.T) { streamMany(t, newGateway(t, gatewaytest.Options{}), 100000) })
	t.Run("buffer of one batch", func(t *testing.T) {
		streamMany(t, newGateway(t, gatewaytest.Options{Kafka: "max_buffered_records 600"}), 20000)
	})
}

func streamMany(t *testing.T, g *gatewaytest.Gateway, n int) {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 32<<10)
		for i := range n {
			fmt.Fprintf(bw, `{"partition_id":2,"value":{"type":"STRING","data":"%d"}}`, i)
		}
		bw.Flush()
		pw.Close()
	}()
	req, err := http.NewRequest("POST", g.URL+recordsPath(g, "topic-1"), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
	for i := range n {
		var r report
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
		if r.ErrorCode != 200 || r.PartitionID != 2 || r.Offset != int64(i) {
			t.Fatalf("report %d: %+v", i, r)
		}
	}
	if err := dec.Decode(new(report)); err != io.EOF {
		t.Fatalf("after the last report: %v", err)
	}
	recs := g.Records(t, "topic-1", n)
	if len(recs) != n {
		t.Fatalf("%d records in Kafka", len(recs))
	}
	for i, r := range recs {
		if r.Partition != 2 || r.Offset != int64(i) || string(r.Value) != strconv.Itoa(i) {
			t.Fatalf("record %d: %d/%d %q", i, r.Partition, r.Offset, r.Value)
		}
	}
}

// A client that goes away in the middle of a stream, while the gateway has
// batches on their way to Kafka: the request ends (it is counted in the
// metrics, which happens once the handler returns), and the gateway goes on
// serving.
func TestStreamClientGone(t *testing.T) {
	g := newGateway(t, gatewaytest.Options{})
	if g.Fake != nil {
		// Slow acknowledgements: the stream's batches pile up behind the
		// one being written when the client goes.
		g.Fake.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
			g.Fake.KeepControl()
			g.Fake.SleepControl(func() { time.Sleep(20 * time.Millisecond) })
			return nil, nil, false
		})
	}
	streams := func() float64 {
		resp, err := http.Get(g.AdminURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("metrics: %d %v", resp.StatusCode, err)
		}
		n := 0.0
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "caddy_kafka_requests_total{") && strings.Contains(line, `dialect="confluent_v3"`) {
				v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				if err != nil {
					t.Fatalf("metrics line %q: %v", line, err)
				}
				n += v
			}
		}
		return n
	}
	before := streams()

	conn, err := net.Dial("tcp", g.Addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", recordsPath(g, "topic-1"), g.Addr)
	go func() {
		// Records until the connection is gone.
		chunk := strings.Repeat(`{"value":{"type":"STRING","data":"s"}}`, 200)
		for {
			if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
	}()
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("status line %q: %v", status, err)
	}
	for seen := 0; seen < 5000; {
		line, err := br.ReadString('}')
		if err != nil {
			t.Fatalf("after %d reports: %v (%q)", seen, err, line)
		}
		seen += strings.Count(line, `"error_code":200`)
	}
	conn.Close()

	deadline := time.Now().Add(15 * time.Second)
	for streams() != before+1 {
		if time.Now().After(deadline) {
			t.Fatalf("the stream's request did not end after its client went away")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp, body := postChunked(t, g, recordsPath(g, "topic-1"), `{"value":{"type":"STRING","data":"after"}}`); resp.StatusCode != 200 || !strings.Contains(string(body), `"error_code":200`) {
		t.Fatalf("a stream after: %d %s", resp.StatusCode, body)
	}
}
