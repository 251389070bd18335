package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("kafka", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("kafka_rest", parseCaddyfile)
	// A terminal responder like respond and reverse_proxy; before respond,
	// so that a catch-all respond can answer what kafka_rest's matcher skips.
	httpcaddyfile.RegisterDirectiveOrder("kafka_rest", httpcaddyfile.Before, "respond")
}

// dialectNamespace is the module namespace of the dialects.
const dialectNamespace = "http.kafka_rest.dialects"

// The subdirectives of each block, in the order of their syntax, for
// suggesting the closest to a misspelled one.
var (
	clusterSubdirectives = []string{"brokers", "client_id", "sasl", "tls", "acks", "idempotent",
		"compression", "linger", "max_buffered_records", "max_buffered_bytes", "max_message_bytes",
		"request_timeout", "delivery_timeout", "allow_auto_topic_creation", "schema_registry", "spool"}
	kafkaSubdirectives       = append(append([]string(nil), clusterSubdirectives...), "cluster")
	tlsSubdirectives         = []string{"ca", "client_cert", "server_name", "insecure_skip_verify"}
	handlerSubdirectives     = []string{"cluster", "topics", "max_body", "max_records", "stream_buffer", "timeout", "trace_context", "idempotency", "spool"}
	idempotencySubdirectives = []string{"key", "window", "max_keys", "record_header"}
	registrySubdirectives    = []string{"basic_auth", "bearer_token", "tls", "cache_ttl", "auto_register"}
)

// parseGlobalOption sets up the kafka app from the kafka global option: see
// App.UnmarshalCaddyfile.
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the kafka global option may appear only once: put every cluster in one block")
	}
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "kafka", Value: caddyconfig.JSON(app, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from the kafka global option. Syntax:
//
//	kafka {
//		brokers <host:port...> | embedded
//		client_id <id>
//		sasl plain|scram-sha-256|scram-sha-512 <user> <password>
//		sasl oauthbearer <token>
//		tls {
//			ca <pem-file...>
//			client_cert <cert-file> <key-file>
//			server_name <name>
//			insecure_skip_verify
//		}
//		acks all|leader|none
//		idempotent on|off
//		compression none|gzip|snappy|lz4|zstd
//		linger <duration>
//		max_buffered_records <n>
//		max_buffered_bytes <size>
//		max_message_bytes <size>
//		request_timeout <duration>
//		delivery_timeout <duration>
//		allow_auto_topic_creation
//		cluster <name> {
//			<the subdirectives above, for another cluster>
//		}
//	}
//
// The subdirectives at the top of the block define the cluster "default";
// each cluster block defines another, and clusters do not nest. Every
// subdirective may be given once per cluster, but brokers and tls's ca,
// whose arguments add up.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	a.Clusters = map[string]*Cluster{}
	d.Next() // the option's name
	if d.NextArg() {
		return d.ArgErr()
	}
	def := new(Cluster)
	defSeen := dialects.Seen{}
	var defSet bool
	for d.NextBlock(0) {
		if d.Val() == "cluster" {
			if !d.NextArg() {
				return d.ArgErr()
			}
			name := d.Val()
			if _, dup := a.Clusters[name]; dup || (name == "default" && defSet) {
				return d.Errf("cluster %q defined twice", name)
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			cl := new(Cluster)
			seen := dialects.Seen{}
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				if d.Val() == "cluster" {
					return d.Err("clusters cannot be nested")
				}
				if err := cl.unmarshalSubdirective(d, seen, clusterSubdirectives); err != nil {
					return err
				}
			}
			if err := cl.checkCaddyfile(d, name); err != nil {
				return err
			}
			a.Clusters[name] = cl
			continue
		}
		if _, dup := a.Clusters["default"]; dup {
			return d.Err(`cluster "default" is defined by a cluster block; top-level subdirectives would define it again`)
		}
		if err := def.unmarshalSubdirective(d, defSeen, kafkaSubdirectives); err != nil {
			return err
		}
		defSet = true
	}
	if defSet {
		if err := def.checkCaddyfile(d, "default"); err != nil {
			return err
		}
		a.Clusters["default"] = def
	}
	if len(a.Clusters) == 0 {
		return d.Err("no cluster configured: set brokers")
	}
	return nil
}

// unmarshalSubdirective parses the cluster subdirective d is on. seen holds
// the cluster's scalar subdirectives so far; known are the block's
// subdirectives, for the error of an unknown one.
func (c *Cluster) unmarshalSubdirective(d *caddyfile.Dispenser, seen dialects.Seen, known []string) error {
	if d.Val() != "brokers" {
		if err := seen.Once(d); err != nil {
			return err
		}
	}
	switch d.Val() {
	case "brokers":
		c.Brokers = append(c.Brokers, d.RemainingArgs()...)
		if len(c.Brokers) == 0 {
			return missingArgs(d, "brokers needs at least one address (host:port), or embedded")
		}
	case "client_id":
		return oneArg(d, &c.ClientID)
	case "sasl":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.Err("sasl needs a mechanism (plain, scram-sha-256, scram-sha-512 or oauthbearer) and its credentials")
		}
		switch args[0] {
		case "plain", "scram-sha-256", "scram-sha-512":
			if len(args) != 3 {
				return missingArgs(d, "sasl "+args[0]+" takes a user and a password")
			}
			c.SASL = &SASL{Mechanism: args[0], Username: args[1], Password: args[2]}
		case "oauthbearer":
			if len(args) != 2 {
				return missingArgs(d, "sasl oauthbearer takes one token")
			}
			c.SASL = &SASL{Mechanism: args[0], Token: args[1]}
		default:
			return d.Errf("unknown sasl mechanism %q: want plain, scram-sha-256, scram-sha-512 or oauthbearer", args[0])
		}
	case "tls":
		t, err := parseTLS(d)
		if err != nil {
			return err
		}
		c.TLS = t
	case "spool": // spool
		sp, err := parseSpool(d)
		if err != nil {
			return err
		}
		c.Spool = sp
	case "schema_registry":
		sr, err := parseSchemaRegistry(d)
		if err != nil {
			return err
		}
		c.SchemaRegistry = sr
	case "acks":
		if err := oneArg(d, &c.Acks); err != nil {
			return err
		}
		switch c.Acks {
		case "all", "leader", "none":
		default:
			return d.Errf("unknown acks %q: want all, leader or none", c.Acks)
		}
	case "idempotent":
		on, err := onOffArg(d)
		if err != nil {
			return err
		}
		c.Idempotent = &on
	case "compression":
		if err := oneArg(d, &c.Compression); err != nil {
			return err
		}
		switch c.Compression {
		case "none", "gzip", "snappy", "lz4", "zstd":
		default:
			return d.Errf("unknown compression %q: want none, gzip, snappy, lz4 or zstd", c.Compression)
		}
	case "linger":
		dur, err := durationArg(d)
		if err != nil {
			return err
		}
		c.Linger = &dur
	case "max_buffered_records":
		n, err := intArg(d)
		if err != nil {
			return err
		}
		c.MaxBufferedRecords = n
	case "max_buffered_bytes":
		return sizeArg(d, &c.MaxBufferedBytes)
	case "max_message_bytes":
		if err := sizeArg(d, &c.MaxMessageBytes); err != nil {
			return err
		}
		if c.MaxMessageBytes > maxMessageBytes {
			return d.Errf("max_message_bytes %s is over %s, the most Kafka's max.request.size and franz-go take", d.Val(), producer.FormatBytes(maxMessageBytes))
		}
	case "request_timeout":
		dur, err := durationArg(d)
		if err != nil {
			return err
		}
		c.RequestTimeout = dur
	case "delivery_timeout":
		dur, err := durationArg(d)
		if err != nil {
			return err
		}
		c.DeliveryTimeout = &dur
	case "allow_auto_topic_creation":
		if d.NextArg() {
			return d.ArgErr()
		}
		c.AllowAutoTopicCreation = true
	default:
		return dialects.UnknownSubdirective(d, "kafka", known...)
	}
	return nil
}

// checkCaddyfile catches contradictions at adapt time, once a cluster's
// block is read.
func (c *Cluster) checkCaddyfile(d *caddyfile.Dispenser, name string) error {
	if len(c.Brokers) == 0 {
		return d.Errf("cluster %q: brokers is required", name)
	}
	if c.Acks == "" || c.Acks == "all" {
		return nil
	}
	if c.Idempotent == nil {
		return d.Errf("cluster %q: acks %s needs idempotent off: idempotent producing (the default) requires acks all", name, c.Acks)
	}
	if *c.Idempotent {
		return d.Errf("cluster %q: idempotent on requires acks all (got acks %s): set idempotent off", name, c.Acks)
	}
	return nil
}

// parseCaddyfile sets up a kafka_rest handler from its directive (see
// Handler.UnmarshalCaddyfile) and checks that the kafka global option
// defines its cluster.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(Handler)
	if err := handler.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	if err := checkCluster(h, handler.Cluster); err != nil {
		return nil, err
	}
	return handler, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	kafka_rest [<matcher>] <dialect> {
//		cluster <name>
//		topics <glob...>
//		max_body <size>
//		max_records <n>
//		stream_buffer <size>
//		trace_context [on|off]
//		timeout <duration>
//		idempotency off | [on] [{
//			window <duration>
//			max_keys <n>
//			record_header <name>
//		}]
//		<dialect options...>
//	}
//
// or, the dialect's options in a block of its own, as Caddy's encode and
// reverse_proxy take a guest module's:
//
//	kafka_rest [<matcher>] <dialect> {
//		<handler options...>
//		<dialect> {
//			<dialect options...>
//		}
//	}
//
// The dialect is the name of a module of the http.kafka_rest.dialects
// namespace. Its own block is given to caddyfile.UnmarshalModule as it
// stands. Otherwise the lines of the block that are none of the above are
// the dialect's: they are given to the dialect's UnmarshalCaddyfile as a block of
// the dialect's name,
//
//	<dialect> {
//		<dialect options...>
//	}
//
// and refused if the dialect is not a caddyfile.Unmarshaler. The dialect's
// parser refuses what it can tell without provisioning (a missing required
// option); the rest is its Validate's, after Provision, as Caddy's
// contract has it. Every subdirective may be given once, but topics, whose
// arguments add up; so may the dialect's scalar options.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if !d.NextArg() {
		return d.Err("kafka_rest needs a dialect" + dialects.Suggest("", dialectNames()))
	}
	name := d.Val()
	dialectToks := []caddyfile.Token{d.Token()}
	if d.NextArg() {
		return d.ArgErr()
	}
	mod, err := caddy.GetModule(dialectNamespace + "." + name)
	if err != nil {
		return d.Errf("unknown dialect %q%s", name, dialects.Suggest(name, dialectNames()))
	}
	dialect := mod.New()

	var (
		open, dialectLines []caddyfile.Token
		own                caddyfile.Unmarshaler // the dialect, from its own block if given
	)
	seen := dialects.Seen{}
	for d.NextBlock(0) {
		if open == nil {
			// The block's opening brace, which NextBlock consumed, opens
			// the dialect's block too.
			d.Prev()
			open = []caddyfile.Token{d.Token()}
			d.Next()
		}
		if d.Val() != "topics" && slices.Contains(handlerSubdirectives, d.Val()) {
			if err := seen.Once(d); err != nil {
				return err
			}
		}
		switch d.Val() {
		case "cluster":
			if err := oneArg(d, &h.Cluster); err != nil {
				return err
			}
		case "topics":
			globs := d.RemainingArgs()
			if len(globs) == 0 {
				return d.ArgErr()
			}
			for _, g := range globs {
				if err := checkGlob(g); err != nil {
					return d.Errf("topics: %v", err)
				}
			}
			h.Topics = append(h.Topics, globs...)
		case "max_body":
			if err := sizeArg(d, &h.MaxBody); err != nil {
				return err
			}
		case "trace_context":
			on := true
			if d.CountRemainingArgs() > 0 {
				var err error
				if on, err = onOffArg(d); err != nil {
					return err
				}
			}
			h.TraceContext = on
		case "stream_buffer":
			if err := sizeArg(d, &h.StreamBuffer); err != nil {
				return err
			}
		case "max_records":
			n, err := intArg(d)
			if err != nil {
				return err
			}
			h.MaxRecords = n
		case "timeout":
			dur, err := durationArg(d)
			if err != nil {
				return err
			}
			h.Timeout = dur
		case "idempotency":
			cfg, err := parseIdempotency(d)
			if err != nil {
				return err
			}
			h.Idempotency = cfg
		case "spool": // spool
			sr, err := parseSpoolRoute(d)
			if err != nil {
				return err
			}
			h.Spool = sr
		case name:
			// The dialect's own block, handed to it as Caddy's encode and
			// reverse_proxy hand a guest module its segment.
			if err := seen.Once(d); err != nil {
				return err
			}
			if own, err = caddyfile.UnmarshalModule(d, dialectNamespace+"."+name); err != nil {
				return err
			}
		default:
			dialectLines = append(dialectLines, d.NextSegment()...)
		}
	}
	if own != nil && len(dialectLines) > 0 {
		return errorAt(dialectLines[0], fmt.Errorf("give the %s options in its own block or among kafka_rest's, not both", name))
	}
	if own != nil {
		h.DialectRaw = caddyconfig.JSONModuleObject(own, "name", name, nil)
		return nil
	}
	if len(dialectLines) > 0 {
		// d is on the block's closing brace.
		dialectToks = append(append(append(dialectToks, open...), dialectLines...), d.Token())
	}

	if unm, ok := dialect.(caddyfile.Unmarshaler); ok {
		if err := unm.UnmarshalCaddyfile(caddyfile.NewDispenser(dialectToks)); err != nil {
			var unknown *dialects.UnknownSubdirectiveError
			if errors.As(err, &unknown) {
				// Suggest among the handler's subdirectives too: the
				// misspelled one may be either's.
				return errorAt(unknown.Token, &dialects.UnknownSubdirectiveError{Block: "kafka_rest",
					Token: unknown.Token, Known: append(slices.Clip(handlerSubdirectives), unknown.Known...)})
			}
			return err
		}
	} else if len(dialectLines) > 0 {
		tok := dialectLines[0]
		return errorAt(tok, fmt.Errorf("%w (dialect %s has no options)", &dialects.UnknownSubdirectiveError{
			Block: "kafka_rest", Token: tok, Known: handlerSubdirectives}, name))
	}
	h.DialectRaw = caddyconfig.JSONModuleObject(dialect, "name", name, nil)
	return nil
}

// dialectNames are the names of the registered dialects, sorted.
func dialectNames() []string {
	mods := caddy.GetModules(dialectNamespace)
	names := make([]string, len(mods))
	for i, m := range mods {
		names[i] = m.ID.Name()
	}
	return names
}

// errorAt is err at tok's position in the Caddyfile, as a Dispenser's
// errors are.
func errorAt(tok caddyfile.Token, err error) error {
	d := caddyfile.NewDispenser([]caddyfile.Token{tok})
	d.Next()
	return d.WrapErr(err)
}

// parseIdempotency parses the idempotency subdirective of kafka_rest:
//
//	idempotency off
//	idempotency [on] [{
//		key <template>
//		window <duration>
//		max_keys <n>
//		record_header <name>
//	}]
func parseIdempotency(d *caddyfile.Dispenser) (*IdempotencyConfig, error) {
	cfg := new(IdempotencyConfig)
	if d.NextArg() {
		switch d.Val() {
		case "off":
			cfg.Disabled = true
		case "on":
		default:
			return nil, d.Errf("idempotency takes on, off or a block, not %q", d.Val())
		}
		if d.NextArg() {
			return nil, d.ArgErr()
		}
	}
	seen := dialects.Seen{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if cfg.Disabled {
			return nil, d.Err("idempotency off takes no block")
		}
		if slices.Contains(idempotencySubdirectives, d.Val()) {
			if err := seen.Once(d); err != nil {
				return nil, err
			}
		}
		switch d.Val() {
		case "window":
			dur, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			cfg.Window = dur
		case "max_keys":
			n, err := intArg(d)
			if err != nil {
				return nil, err
			}
			cfg.MaxKeys = n
		case "record_header":
			if err := oneArg(d, &cfg.RecordHeader); err != nil {
				return nil, err
			}
		case "key":
			if err := oneArg(d, &cfg.Key); err != nil {
				return nil, err
			}
		default:
			return nil, dialects.UnknownSubdirective(d, "idempotency", idempotencySubdirectives...)
		}
	}
	return cfg, nil
}

// checkCluster refuses, at adapt time, a cluster the kafka global option
// does not define.
func checkCluster(h httpcaddyfile.Helper, name string) error {
	if name == "" {
		name = "default"
	}
	opt, ok := h.Option("kafka").(httpcaddyfile.App)
	if !ok {
		return h.Err("kafka_rest needs the kafka global option: add { kafka { brokers ... } } at the top of the Caddyfile")
	}
	var app App
	if err := json.Unmarshal(opt.Value, &app); err != nil {
		return h.Errf("reading kafka global option: %v", err)
	}
	if _, ok := app.Clusters[name]; !ok {
		return h.Errf("unknown kafka cluster %q: define it in the kafka global option", name)
	}
	return nil
}

func oneArg(d *caddyfile.Dispenser, dst *string) error {
	name := d.Val()
	if d.CountRemainingArgs() == 0 {
		return missingArgs(d, name+" needs a value")
	}
	if !d.AllArgs(dst) {
		return d.ArgErr()
	}
	return nil
}

// missingArgs is the error of a directive short of arguments. Caddy expands
// {$VAR} as it reads the Caddyfile, and an unset variable leaves nothing,
// not an empty argument: the directive only sees fewer arguments than were
// written, so the error says what that may mean.
func missingArgs(d *caddyfile.Dispenser, msg string) error {
	return d.Errf("%s; if you wrote {$VAR}, that environment variable is unset or empty", msg)
}

func intArg(d *caddyfile.Dispenser) (int, error) {
	name := d.Val()
	var s string
	if err := oneArg(d, &s); err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, d.Errf("%s takes a positive whole number, not %q", name, s)
	}
	return n, nil
}

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	var s string
	if err := oneArg(d, &s); err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("%s takes a duration like 10s or 1m30s, not %q", name, s)
	}
	if dur < 0 {
		return 0, d.Errf("%s must not be negative", name)
	}
	return caddy.Duration(dur), nil
}

// onOffArg reads the one argument of a subdirective that takes on or off.
func onOffArg(d *caddyfile.Dispenser) (bool, error) {
	name := d.Val()
	var v string
	if err := oneArg(d, &v); err != nil {
		return false, err
	}
	if v != "on" && v != "off" {
		return false, d.Errf("%s takes on or off, not %q", name, v)
	}
	return v == "on", nil
}

// sizeArg parses a size like Caddy's request_body does ("1MiB", "64kb").
func sizeArg(d *caddyfile.Dispenser, dst *int64) error {
	var s string
	if err := oneArg(d, &s); err != nil {
		return err
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n == 0 || n > 1<<40 {
		return d.Errf("bad size %q: want a positive size like 1MiB", s)
	}
	*dst = int64(n)
	return nil
}

// parseTLS parses a tls block, for the brokers or the schema registry.
func parseTLS(d *caddyfile.Dispenser) (*TLS, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	t := new(TLS)
	seen := dialects.Seen{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() != "ca" {
			if err := seen.Once(d); err != nil {
				return nil, err
			}
		}
		switch d.Val() {
		case "ca":
			t.CA = append(t.CA, d.RemainingArgs()...)
			if len(t.CA) == 0 {
				return nil, d.ArgErr()
			}
		case "client_cert":
			if !d.AllArgs(&t.ClientCert, &t.ClientKey) {
				return nil, d.Err("client_cert takes a certificate file and a key file")
			}
		case "server_name":
			if err := oneArg(d, &t.ServerName); err != nil {
				return nil, err
			}
		case "insecure_skip_verify":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			t.InsecureSkipVerify = true
		default:
			return nil, dialects.UnknownSubdirective(d, "tls", tlsSubdirectives...)
		}
	}
	return t, nil
}

// parseSchemaRegistry parses:
//
//	schema_registry <url...> {
//		basic_auth <user> <password>
//		bearer_token <token>
//		tls { ... }
//		cache_ttl <duration>
//		auto_register on|off
//	}
func parseSchemaRegistry(d *caddyfile.Dispenser) (*SchemaRegistry, error) {
	sr := &SchemaRegistry{URLs: d.RemainingArgs()}
	if len(sr.URLs) == 0 {
		return nil, missingArgs(d, "schema_registry needs the registry's URL (for Apicurio Registry, http://host:8080/apis/ccompat/v7)")
	}
	seen := dialects.Seen{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if err := seen.Once(d); err != nil {
			return nil, err
		}
		switch d.Val() {
		case "basic_auth":
			var user, pass string
			if !d.AllArgs(&user, &pass) {
				return nil, missingArgs(d, "basic_auth takes a user and a password")
			}
			sr.BasicAuth = &BasicAuth{Username: user, Password: pass}
		case "bearer_token":
			if err := oneArg(d, &sr.BearerToken); err != nil {
				return nil, err
			}
		case "tls":
			t, err := parseTLS(d)
			if err != nil {
				return nil, err
			}
			sr.TLS = t
		case "cache_ttl":
			dur, err := durationArg(d)
			if err != nil {
				return nil, err
			}
			sr.CacheTTL = &dur
		case "auto_register":
			on, err := onOffArg(d)
			if err != nil {
				return nil, err
			}
			sr.AutoRegister = &on
		default:
			return nil, dialects.UnknownSubdirective(d, "schema_registry", registrySubdirectives...)
		}
	}
	if sr.BasicAuth != nil && sr.BearerToken != "" {
		return nil, d.Err("schema_registry takes basic_auth or bearer_token, not both")
	}
	return sr, nil
}
