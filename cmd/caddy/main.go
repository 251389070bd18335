// Command caddy is Caddy with the standard modules and this plugin, the same
// binary `xcaddy build --with github.com/caddy-kafka/caddy-kafka` produces,
// for `go run ./cmd/caddy` from a checkout.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-kafka/caddy-kafka"
)

func main() {
	caddycmd.Main()
}
