package caddymodule

import (
	"encoding/json"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"

	"github.com/caddy-kafka/caddy-kafka/dialects"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("kafka", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("kafka_rest", parseHandler)
	// A terminal responder like respond and reverse_proxy; before respond,
	// so that a catch-all respond can answer what kafka_rest's matcher skips.
	httpcaddyfile.RegisterDirectiveOrder("kafka_rest", httpcaddyfile.Before, "respond")
}

// parseGlobalOption parses the kafka global option into the kafka app:
//
//	kafka {
//		# cluster "default"; more with: cluster <name> { ...same subdirectives... }
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
//		cluster <name> { ... }
//	}
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the kafka global option may appear only once: put every cluster in one block")
	}
	app := &App{Clusters: map[string]*Cluster{}}
	d.Next() // the option's name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	def := new(Cluster)
	var defSet bool
	for d.NextBlock(0) {
		if d.Val() == "cluster" {
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			name := d.Val()
			if _, dup := app.Clusters[name]; dup || (name == "default" && defSet) {
				return nil, d.Errf("cluster %q defined twice", name)
			}
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			cl := new(Cluster)
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				if d.Val() == "cluster" {
					return nil, d.Err("clusters cannot be nested")
				}
				if err := cl.unmarshalSubdirective(d); err != nil {
					return nil, err
				}
			}
			if err := cl.checkCaddyfile(d, name); err != nil {
				return nil, err
			}
			app.Clusters[name] = cl
			continue
		}
		if _, dup := app.Clusters["default"]; dup {
			return nil, d.Err(`cluster "default" is defined by a cluster block; top-level subdirectives would define it again`)
		}
		if err := def.unmarshalSubdirective(d); err != nil {
			return nil, err
		}
		defSet = true
	}
	if defSet {
		if err := def.checkCaddyfile(d, "default"); err != nil {
			return nil, err
		}
		app.Clusters["default"] = def
	}
	if len(app.Clusters) == 0 {
		return nil, d.Err("no cluster configured: set brokers")
	}
	return httpcaddyfile.App{Name: "kafka", Value: caddyconfig.JSON(app, nil)}, nil
}

// unmarshalSubdirective parses the cluster subdirective d is on.
func (c *Cluster) unmarshalSubdirective(d *caddyfile.Dispenser) error {
	switch d.Val() {
	case "brokers":
		c.Brokers = append(c.Brokers, d.RemainingArgs()...)
		if len(c.Brokers) == 0 {
			return d.ArgErr()
		}
	case "client_id":
		return oneArg(d, &c.ClientID)
	case "sasl":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		switch args[0] {
		case "plain", "scram-sha-256", "scram-sha-512":
			if len(args) != 3 {
				return d.Errf("sasl %s takes a user and a password", args[0])
			}
			c.SASL = &SASL{Mechanism: args[0], Username: args[1], Password: args[2]}
		case "oauthbearer":
			if len(args) != 2 {
				return d.Err("sasl oauthbearer takes one token")
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
		var v string
		if err := oneArg(d, &v); err != nil {
			return err
		}
		on := v == "on"
		if !on && v != "off" {
			return d.Errf("idempotent takes on or off, not %q", v)
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
		return sizeArg(d, &c.MaxMessageBytes)
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
		return d.Errf("unknown kafka subdirective %q", d.Val())
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

// parseHandler parses the kafka_rest directive:
//
//	kafka_rest [<matcher>] <dialect> {
//		cluster <name>
//		topics <glob...>
//		max_body <size>
//		max_records <n>
//		timeout <duration>
//		idempotency off | [on] {
//			window <duration>
//			max_keys <n>
//			record_header <name>
//		}
//		<dialect options...>
//	}
func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(Handler)
	h.Next() // the directive's name
	var dialectName string
	if !h.Args(&dialectName) {
		return nil, h.Err("kafka_rest needs a dialect: confluent_v3, confluent_v2, ibm_event_streams, upstash or webhook")
	}
	mod, err := caddy.GetModule("http.kafka_rest.dialects." + dialectName)
	if err != nil {
		return nil, h.Errf("unknown dialect %q: %v", dialectName, err)
	}
	dialect := mod.New()
	for h.NextBlock(0) {
		switch h.Val() {
		case "cluster":
			if err := oneArg(h.Dispenser, &handler.Cluster); err != nil {
				return nil, err
			}
		case "topics":
			handler.Topics = append(handler.Topics, h.RemainingArgs()...)
			if len(handler.Topics) == 0 {
				return nil, h.ArgErr()
			}
		case "max_body":
			if err := sizeArg(h.Dispenser, &handler.MaxBody); err != nil {
				return nil, err
			}
		case "max_records":
			n, err := intArg(h.Dispenser)
			if err != nil {
				return nil, err
			}
			handler.MaxRecords = n
		case "timeout":
			dur, err := durationArg(h.Dispenser)
			if err != nil {
				return nil, err
			}
			handler.Timeout = dur
		case "idempotency":
			cfg, err := parseIdempotency(h.Dispenser)
			if err != nil {
				return nil, err
			}
			handler.Idempotency = cfg
		default:
			opt, ok := dialect.(dialects.CaddyfileOption)
			if !ok {
				return nil, h.Errf("unknown kafka_rest subdirective %q (dialect %s has no options)", h.Val(), dialectName)
			}
			seg := h.NewFromNextSegment()
			seg.Next()
			if err := opt.UnmarshalCaddyfileOption(seg); err != nil {
				return nil, err
			}
		}
	}
	if err := checkCluster(h, handler.Cluster); err != nil {
		return nil, err
	}
	if v, ok := dialect.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, h.Errf("dialect %s: %v", dialectName, err)
		}
	}
	handler.DialectRaw = caddyconfig.JSONModuleObject(dialect, "name", dialectName, nil)
	return handler, nil
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
	if !d.AllArgs(dst) {
		return d.ArgErr()
	}
	return nil
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
	var s string
	if err := oneArg(d, &s); err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil || dur < 0 {
		return 0, d.Errf("bad duration %q: %v", s, err)
	}
	return caddy.Duration(dur), nil
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
	for nesting := d.Nesting(); d.NextBlock(nesting); {
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
			return nil, d.Errf("unknown tls subdirective %q", d.Val())
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
		return nil, d.Err("schema_registry needs the registry's URL (for Apicurio Registry, http://host:8080/apis/ccompat/v7)")
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "basic_auth":
			var user, pass string
			if !d.AllArgs(&user, &pass) {
				return nil, d.Err("basic_auth takes a user and a password")
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
			var v string
			if err := oneArg(d, &v); err != nil {
				return nil, err
			}
			on := v == "on"
			if !on && v != "off" {
				return nil, d.Errf("auto_register takes on or off, not %q", v)
			}
			sr.AutoRegister = &on
		default:
			return nil, d.Errf("unknown schema_registry subdirective %q", d.Val())
		}
	}
	if sr.BasicAuth != nil && sr.BearerToken != "" {
		return nil, d.Err("schema_registry takes basic_auth or bearer_token, not both")
	}
	return sr, nil
}
