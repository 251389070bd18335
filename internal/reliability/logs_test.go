package reliability_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/internal/relcheck"
)

// TestLogsHoldNoSecrets runs the gateway as a process with debug logs (the
// kafka app's and franz-go's included) and an access log, sends requests in
// every dialect with distinctive credentials, keys, values and headers,
// successful and failing (wrong credentials, forbidden topic, malformed
// body, too large, broker stalled), then greps every log line:
// credentials and anything carried in a body never appear; keys and headers
// carried in the URI or in request headers never appear in the gateway's
// own logs (Caddy's access and error logs do show the URI and the request
// headers, Authorization redacted: see the report at the end).
func TestLogsHoldNoSecrets(t *testing.T) {
	b := newBroker(t)
	run := relcheck.RunID()
	topic := "logs-" + run
	createTopics(t, b.Addr, topic)
	s := func(kind string) string { return kind + "-" + run } // a distinctive string
	apiKey, password := s("apikeysecret"), s("passwordsecret")
	bin := relcheck.CaddyBinary(t)
	hash, err := exec.Command(bin, "hash-password", "--plaintext", password, "--algorithm", "bcrypt", "--bcrypt-cost", "4").Output()
	if err != nil {
		t.Fatalf("caddy hash-password: %v", err)
	}
	digest := sha256.Sum256([]byte(apiKey))
	dir := t.TempDir()
	logFile, accessFile := filepath.Join(dir, "caddy.log"), filepath.Join(dir, "access.log")
	p := relcheck.StartCaddy(t, func(addr, admin string) string {
		return fmt.Sprintf(`{
	admin %s
	log {
		output file %s
		format json
		level DEBUG
	}
	kafka {
		brokers %s
	}
}
http://%s {
	log {
		output file %s
		format json
	}
	handle_path /wh/* {
		kafka_rest webhook {
			topics %[6]s
			topic {http.request.uri.path.0}
			key {http.request.header.X-Key}
			header h {http.request.header.X-Hdr}
			max_body 1KiB
			timeout 1s
		}
	}
	handle_path /up/* {
		basic_auth {
			loguser %[7]s
		}
		kafka_rest upstash {
			topics %[6]s
			timeout 1s
		}
	}
	handle_path /ibm/* {
		api_key_auth {
			ibmuser %[8]s
		}
		kafka_rest ibm_event_streams {
			topics %[6]s
			timeout 1s
		}
	}
	handle_path /v2/* {
		kafka_rest confluent_v2 {
			topics %[6]s
			timeout 1s
		}
	}
	handle /v3/* {
		kafka_rest confluent_v3 {
			cluster_id c1
			topics %[6]s
			timeout 1s
		}
	}
}
`, admin, logFile, b.Addr, addr, accessFile, topic, strings.TrimSpace(string(hash)), hex.EncodeToString(digest[:]))
	})

	b64 := func(v string) string { return base64.StdEncoding.EncodeToString([]byte(v)) }
	basic := func(user, pass string) string { return "Basic " + b64(user+":"+pass) }
	credentials := []string{apiKey, password, s("wrongpassword"), s("wrongapikey"),
		b64("loguser:" + password), b64("loguser:" + s("wrongpassword"))}
	inBody := []string{s("bodykey"), s("bodyvalue"), s("bodyheader"), s("badbody"), s("largebody"),
		s("binkey"), s("binvalue"), b64(s("binkey")), b64(s("binvalue"))}
	inRequestLine := []string{s("headerkey"), s("headerheader"), s("urikey"), s("uriheader"), hex.EncodeToString([]byte(s("uriheader"))), s("urimessage")}

	type req struct {
		name, method, path string
		header             map[string]string
		body               string
		want               int
	}
	ibmAuth := map[string]string{"Authorization": "Bearer " + apiKey, "Content-Type": "text/plain"}
	upAuth := map[string]string{"Authorization": basic("loguser", password), "Content-Type": "application/json"}
	v3 := "/v3/clusters/c1/topics/"
	v3body := func() string {
		return fmt.Sprintf(`{"key":{"type":"STRING","data":"%s"},"value":{"type":"STRING","data":"%s"},"headers":[{"name":"h","value":"%s"}]}`,
			s("bodykey"), s("bodyvalue"), b64(s("bodyheader")))
	}
	upBody := fmt.Sprintf(`{"key":"%s","value":"%s","headers":[{"key":"h","value":"%s"}]}`, s("bodykey"), s("bodyvalue"), s("bodyheader"))
	reqs := func(want int, tp string) []req {
		return []req{
			{"webhook", "POST", "/wh/" + tp, map[string]string{"X-Key": s("headerkey"), "X-Hdr": s("headerheader"), "Content-Type": "text/plain"}, s("bodyvalue"), want},
			{"upstash", "POST", "/up/produce/" + tp, upAuth, upBody, want},
			{"upstash get", "GET", "/up/produce/" + tp + "/" + s("urimessage") + "?key=" + s("urikey"), upAuth, "", want},
			{"ibm", "POST", "/ibm/topics/" + tp + "/records?key=" + s("urikey") + "&headers=h:" + hex.EncodeToString([]byte(s("uriheader"))), ibmAuth, s("bodyvalue"), want},
			{"v2 json", "POST", "/v2/topics/" + tp, map[string]string{"Content-Type": "application/vnd.kafka.json.v2+json"},
				fmt.Sprintf(`{"records":[{"key":"%s","value":"%s"}]}`, s("bodykey"), s("bodyvalue")), want},
			{"v2 binary", "POST", "/v2/topics/" + tp, map[string]string{"Content-Type": "application/vnd.kafka.binary.v2+json"},
				fmt.Sprintf(`{"records":[{"key":"%s","value":"%s"}]}`, b64(s("binkey")), b64(s("binvalue"))), want},
			{"v3", "POST", v3 + tp + "/records", map[string]string{"Content-Type": "application/json"}, v3body(), want},
		}
	}
	var all []req
	all = append(all, reqs(200, topic)...)
	forbidden := reqs(403, "forbidden-"+run)
	for i := range forbidden {
		if strings.HasPrefix(forbidden[i].name, "ibm") {
			forbidden[i].want = 401 // Event Streams' answer for a topic not allowed
		}
	}
	all = append(all, forbidden...)
	all = append(all,
		req{"upstash wrong password", "POST", "/up/produce/" + topic, map[string]string{"Authorization": basic("loguser", s("wrongpassword"))}, upBody, 401},
		req{"ibm wrong key", "POST", "/ibm/topics/" + topic + "/records", map[string]string{"Authorization": "Bearer " + s("wrongapikey")}, s("bodyvalue"), 401},
		req{"v3 malformed", "POST", v3 + topic + "/records", map[string]string{"Content-Type": "application/json"}, `{"value":{"type":"JSON","data":` + s("badbody") + `}}`, 200},
		req{"upstash malformed", "POST", "/up/produce/" + topic, upAuth, `{"value":` + s("badbody") + `}`, 400},
		req{"v2 malformed", "POST", "/v2/topics/" + topic, map[string]string{"Content-Type": "application/vnd.kafka.binary.v2+json"}, `{"records":[{"value":"` + s("badbody") + `!!"}]}`, 422},
		req{"webhook too large", "POST", "/wh/" + topic, map[string]string{"Content-Type": "text/plain"}, s("largebody") + strings.Repeat("x", 2048), 413},
	)
	do := func(r req) int {
		var body io.Reader
		if r.body != "" {
			body = strings.NewReader(r.body)
		}
		hr, err := http.NewRequest(r.method, p.URL+r.path, body)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range r.header {
			hr.Header.Set(k, v)
		}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(hr)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if r.want != 0 && resp.StatusCode != r.want {
			t.Errorf("%s %s: %d %s, want %d", r.name, r.path, resp.StatusCode, b, r.want)
		}
		return resp.StatusCode
	}
	for _, r := range all {
		do(r)
	}
	// Failures at the broker: timeouts while it is stalled, with franz-go
	// retrying underneath.
	b.Pause(t)
	stalled := reqs(0, topic)
	for _, r := range stalled {
		if code := do(req{r.name, r.method, r.path, r.header, r.body, 0}); code == 200 && !strings.HasPrefix(r.name, "v") {
			t.Errorf("%s: 200 while the broker is stalled", r.name)
		}
	}
	b.Resume(t)
	time.Sleep(time.Second) // the stalled records are written, with franz-go's logs
	signalProc(t, p, syscall.SIGTERM)
	if _, ok := p.Wait(30 * time.Second); !ok {
		t.Fatal("caddy did not exit")
	}

	lines := 0
	requestLog := map[string][]string{} // secret -> Caddy's loggers showing it
	own := 0
	for _, f := range []string{logFile, accessFile, p.Output} {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatalf("log file: %v", err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			lines++
			var entry struct {
				Logger string `json:"logger"`
			}
			_ = json.Unmarshal([]byte(line), &entry)
			if ownLogger(entry.Logger) {
				own++
			}
			for _, c := range credentials {
				if strings.Contains(line, c) {
					t.Errorf("a credential is in %s: %s", filepath.Base(f), line)
				}
			}
			for _, v := range inBody {
				if strings.Contains(line, v) {
					t.Errorf("record content sent in a body is in %s: %s", filepath.Base(f), line)
				}
			}
			for _, v := range inRequestLine {
				if !strings.Contains(line, v) {
					continue
				}
				if !ownLogger(entry.Logger) {
					requestLog[v] = append(requestLog[v], entry.Logger)
					continue
				}
				t.Errorf("record content sent in the URI or a header is in the gateway's own log %s: %s", filepath.Base(f), line)
			}
		}
		fh.Close()
	}
	if len(requestLog[s("urikey")]) == 0 {
		t.Errorf("the grep did not even find what Caddy's access log shows: the check is broken")
	}
	if lines < 50 || own < 10 {
		t.Errorf("only %d log lines, %d of the gateway's: debug logging was not captured", lines, own)
	}
	t.Logf("%d requests, %d log lines (debug, access, stderr; %d of the kafka app, franz-go and the gateway's handlers) grepped for %d credentials and %d body-carried strings: none found",
		len(all)+len(stalled), lines, own, len(credentials), len(inBody))
	for _, v := range inRequestLine {
		if ls := requestLog[v]; len(ls) > 0 {
			t.Logf("Caddy's own logs show %q (sent in the URI or a request header) %d times (loggers %v)", strings.TrimSuffix(v, "-"+run), len(ls), dedup(ls))
		}
	}
}

// ownLogger reports whether a logger is the gateway's: the kafka app and
// franz-go ("kafka", "kafka.franz"), the kafka_rest handler and the api_key
// provider. The others are Caddy's, whose access log and debug logs show
// each request's URI and headers (Authorization redacted).
func ownLogger(name string) bool {
	return name == "kafka" || strings.HasPrefix(name, "kafka.") ||
		strings.Contains(name, "kafka_rest") || strings.Contains(name, "api_key")
}

func dedup(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
