// Command caddy is the load harness's Caddy: ./cmd/caddy (the standard
// modules and this plugin) plus the harness's naive handler, which must
// never be in the plugin itself.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-kafka/caddy-kafka"
	_ "github.com/caddy-kafka/caddy-kafka/cmd/loadtest/naive"
)

func main() {
	caddycmd.Main()
}
