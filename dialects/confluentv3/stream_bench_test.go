package confluentv3_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/caddy-kafka/caddy-kafka/internal/gatewaytest"
)

// BenchmarkStream streams b.N records of a 100-byte JSON value over one
// chunked connection to a gateway on a kfake broker that acknowledges
// without storing, and reads every report: the whole path of a streaming
// client, HTTP included. Run it with a fixed count (-benchtime 200000x).
func BenchmarkStream(b *testing.B) {
	g := gatewaytest.New(b, gatewaytest.Options{Site: site, Topics: map[string]int32{"topic-1": 3, "other": 1}, KfakeOpts: []kfake.Opt{kfake.BlackholeProduce()}})
	record := []byte(`{"value":{"type":"JSON","data":"` + strings.Repeat("v", 98) + `"}}`)
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 32<<10)
		for range b.N {
			_, _ = bw.Write(record)
		}
		_ = bw.Flush()
		_ = pw.Close()
	}()
	req, err := http.NewRequest("POST", g.URL+recordsPath(g, "topic-1"), pr)
	if err != nil {
		b.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	b.ReportAllocs()
	b.ResetTimer()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(bufio.NewReaderSize(resp.Body, 64<<10))
	n := 0
	for sc.Scan() {
		if !bytes.HasPrefix(sc.Bytes(), []byte(`{"error_code":200,`)) {
			b.Fatalf("report %d: %s", n, sc.Bytes())
		}
		n++
	}
	if n != b.N {
		b.Fatalf("%d reports for %d records (%v)", n, b.N, sc.Err())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
