// Package caddykafka is a Caddy plugin that turns REST requests into Kafka
// records. Importing it registers every module: the kafka app, the kafka_rest
// handler and its dialects, the kafka_ready handler, the admin endpoint and
// the api_key authentication provider, so that
//
//	xcaddy build --with github.com/caddy-kafka/caddy-kafka
//
// builds a Caddy with all of them.
package caddykafka

import (
	_ "github.com/caddy-kafka/caddy-kafka/caddymodule"
	_ "github.com/caddy-kafka/caddy-kafka/dialects/confluentv2"
	_ "github.com/caddy-kafka/caddy-kafka/dialects/confluentv3"
	_ "github.com/caddy-kafka/caddy-kafka/dialects/ibmeventstreams"
	_ "github.com/caddy-kafka/caddy-kafka/dialects/upstash"
	_ "github.com/caddy-kafka/caddy-kafka/dialects/webhook"
)
