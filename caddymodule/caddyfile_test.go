package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-kafka/caddy-kafka/caddymodule"
	"github.com/caddy-kafka/caddy-kafka/dialects"
)

func init() {
	caddy.RegisterModule(testProbe{})
}

// testProbe is a dialect only the tests register: that kafka_rest accepts it
// shows that a new dialect needs no change to the Caddyfile parser, and it
// records what its UnmarshalCaddyfile is given.
type testProbe struct {
	// Tokens given to UnmarshalCaddyfile, as "line:text".
	Tokens []string `json:"tokens,omitempty"`
	// Options read from them: a subdirective and its arguments, with
	// "name.sub" for a subdirective of a block.
	Options []string `json:"options,omitempty"`
}

func (testProbe) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.kafka_rest.dialects.test_probe",
		New: func() caddy.Module { return new(testProbe) },
	}
}

// UnmarshalCaddyfile reads alpha and beta { ... }, and refuses others.
func (p *testProbe) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	for d.Next() {
		p.Tokens = append(p.Tokens, fmt.Sprintf("%d:%s", d.Line(), d.Val()))
	}
	d.Reset()
	d.Next() // the dialect's name
	for d.NextBlock(0) {
		name := d.Val()
		switch name {
		case "alpha", "beta":
		default:
			return dialects.UnknownSubdirective(d, "test_probe", "alpha", "beta")
		}
		p.Options = append(p.Options, strings.Join(append([]string{name}, d.RemainingArgs()...), " "))
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			p.Options = append(p.Options, strings.Join(append([]string{name + "." + d.Val()}, d.RemainingArgs()...), " "))
		}
	}
	return nil
}

const kafkaOption = `{
	kafka {
		brokers localhost:9092
	}
}
`

// TestDialectSubDispenser checks what a dialect's UnmarshalCaddyfile is
// given: its name, then a block of the lines the handler does not own, in
// order, with their positions and nested blocks.
func TestDialectSubDispenser(t *testing.T) {
	for _, tc := range []struct {
		site    string
		tokens  []string
		options []string
	}{
		{
			site: `kafka_rest test_probe {
		alpha 1 2
		topics a
		beta {
			x y
		}
		max_body 1MiB
		alpha "3 4"
	}`,
			tokens:  []string{"7:test_probe", "7:{", "8:alpha", "8:1", "8:2", "10:beta", "10:{", "11:x", "11:y", "12:}", "14:alpha", "14:3 4", "15:}"},
			options: []string{"alpha 1 2", "beta", "beta.x y", "alpha 3 4"},
		},
		{
			site:   "kafka_rest /in test_probe {\n\t\ttopics a\n\t}",
			tokens: []string{"7:test_probe"},
		},
		{
			site:   "kafka_rest test_probe",
			tokens: []string{"7:test_probe"},
		},
	} {
		adapted, err := adaptJSON(kafkaOption + ":8080 {\n\t" + tc.site + "\n}\n")
		if err != nil {
			t.Fatalf("%s: %v", tc.site, err)
		}
		var cfg struct {
			Apps struct {
				HTTP struct {
					Servers map[string]struct {
						Routes []json.RawMessage
					}
				}
			}
		}
		if err := json.Unmarshal(adapted, &cfg); err != nil {
			t.Fatal(err)
		}
		// The probe's JSON is wherever the handler is, with or without a
		// matcher: find its dialect object.
		var probe testProbe
		var name string
		for _, r := range cfg.Apps.HTTP.Servers["srv0"].Routes {
			var route struct {
				Handle []struct {
					Dialect json.RawMessage
				}
			}
			_ = json.Unmarshal(r, &route)
			for _, h := range route.Handle {
				if h.Dialect != nil {
					var named struct{ Name string }
					_ = json.Unmarshal(h.Dialect, &named)
					name = named.Name
					if err := json.Unmarshal(h.Dialect, &probe); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		if name != "test_probe" {
			t.Fatalf("%s: dialect %q in %s", tc.site, name, adapted)
		}
		if !reflect.DeepEqual(probe.Tokens, tc.tokens) || !reflect.DeepEqual(probe.Options, tc.options) {
			t.Errorf("%s:\n got tokens %q options %q\nwant tokens %q options %q", tc.site, probe.Tokens, probe.Options, tc.tokens, tc.options)
		}
	}
}

// TestDialectErrors checks the errors of a dialect's options, told in terms
// of the kafka_rest block, and that the list of dialects is the registered
// modules'.
func TestDialectErrors(t *testing.T) {
	for _, tc := range []struct{ site, want string }{
		{"kafka_rest test_probe {\n\t\talpah 1\n\t}", `unknown kafka_rest subdirective "alpah": did you mean "alpha"?, at Caddyfile:8`},
		{"kafka_rest test_probe {\n\t\talpha 1\n\t\tmax_bdy 1MiB\n\t}", `unknown kafka_rest subdirective "max_bdy": did you mean "max_body"?, at Caddyfile:9`},
		{"kafka_rest test_probe {\n\t\tgamma\n\t}", `unknown kafka_rest subdirective "gamma": want cluster, topics, max_body, max_records, stream_buffer, timeout, trace_context, idempotency, spool, alpha or beta, at Caddyfile:8`},
		{"kafka_rest", `kafka_rest needs a dialect: want confluent_v2, confluent_v3, ibm_event_streams, test_probe, upstash or webhook`},
		{"kafka_rest test_prob", `unknown dialect "test_prob": did you mean "test_probe"?`},
	} {
		_, err := adaptJSON(kafkaOption + ":8080 {\n\t" + tc.site + "\n}\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.site, err, tc.want)
		}
	}
}

func adaptJSON(caddyfileText string) ([]byte, error) {
	got, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileText), nil)
	return got, err
}

// TestHandlerValidate checks the ranges Validate refuses.
func TestHandlerValidate(t *testing.T) {
	for _, tc := range []struct {
		h   caddymodule.Handler
		err string
	}{
		{caddymodule.Handler{}, ""},
		{caddymodule.Handler{Idempotency: &caddymodule.IdempotencyConfig{Window: caddy.Duration(1), MaxKeys: 1}}, ""},
		{caddymodule.Handler{Idempotency: &caddymodule.IdempotencyConfig{Window: -1}}, "idempotency: window and max_keys must not be negative"},
		{caddymodule.Handler{Idempotency: &caddymodule.IdempotencyConfig{MaxKeys: -1}}, "idempotency: window and max_keys must not be negative"},
		{caddymodule.Handler{Idempotency: &caddymodule.IdempotencyConfig{Disabled: true, MaxKeys: -1}}, ""}, // off: its settings are unused
		{caddymodule.Handler{Timeout: -1}, "must not be negative"},
	} {
		err := tc.h.Validate()
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%+v: error %v, want %q", tc.h, err, tc.err)
		}
	}
}

// FuzzUnmarshalCaddyfile checks that the kafka_rest and kafka parsers never
// panic, and that what they accept is a usable configuration.
func FuzzUnmarshalCaddyfile(f *testing.F) {
	for _, seed := range []string{
		"kafka_rest webhook {\n\ttopic events\n\tkey {http.request.header.X}\n\theader a b\n\tsplit lines\n\ttopics e*\n}",
		"kafka_rest confluent_v3 {\n\tcluster_id c\n\tbatch_max_entries 5\n\tidempotency {\n\t\twindow 1m\n\t}\n\ttimeout 1s\n}",
		"kafka_rest confluent_v2 {\n\tconsume\n\tmax_body 1MiB\n\tmax_records 3\n\tidempotency off\n}",
		"kafka_rest upstash {\n\ttopcs a\n}",
		"kafka_rest webhook {\n\ttopic a\n\ttopic b\n}",
		"kafka {\n\tbrokers a:1\n\ttls {\n\t\tca x\n\t\tserver_name s\n\t}\n\tcluster b {\n\t\tbrokers b:1\n\t\tacks leader\n\t\tidempotent off\n\t}\n}",
		"kafka {\n\tbrokers a:1\n\tlinger -1s\n}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tokens, err := caddyfile.Tokenize([]byte(in), "Caddyfile")
		if err != nil || len(tokens) == 0 {
			return
		}
		d := caddyfile.NewDispenser(tokens)
		if tokens[0].Text == "kafka" {
			var app caddymodule.App
			if app.UnmarshalCaddyfile(d) != nil {
				return
			}
			if len(app.Clusters) == 0 {
				t.Fatalf("%q: accepted with no cluster", in)
			}
			for name, c := range app.Clusters {
				if len(c.Brokers) == 0 {
					t.Fatalf("%q: cluster %s accepted without brokers", in, name)
				}
			}
			return
		}
		var h caddymodule.Handler
		if h.UnmarshalCaddyfile(d) != nil {
			return
		}
		var dialect struct{ Name string }
		if err := json.Unmarshal(h.DialectRaw, &dialect); err != nil || dialect.Name == "" {
			t.Fatalf("%q: accepted with dialect %s (%v)", in, h.DialectRaw, err)
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("%q: accepted, but Validate says %v", in, err)
		}
	})
}
