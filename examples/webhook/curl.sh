#!/bin/sh
# Talks to examples/webhook/Caddyfile. Start it first, from the repository root:
#   go run ./cmd/caddy run --config examples/webhook/Caddyfile
# Lines starting with "# =>" show the expected output ("..." stands for anything:
# partitions of keyless records, timestamps); .ci/examples checks them on a fresh broker.
set -eu
URL=${URL:-http://localhost:8081}

# A webhook delivery: the JSON body as is, keyed by X-Delivery-Id.
curl -sS -X POST "$URL/hooks/github" -H 'X-Delivery-Id: 72d3162e-cc78' \
	-H 'Content-Type: application/json' -d '{"action":"opened","number":42}'; echo
# => {"topic":"hooks.github","partition":0,"offset":0,"timestamp":...}

# NDJSON: one record per line, answered in order.
printf '{"level":"info","msg":"up"}\n{"level":"warn","msg":"slow"}\n' |
	curl -sS -X POST "$URL/logs" --data-binary @-; echo
# => [{"topic":"logs","partition":...,"offset":0,"timestamp":...},{"topic":"logs","partition":...,"timestamp":...}]

# A source that is not in the allow-list: nothing is written.
curl -sS -X POST "$URL/hooks/gitlab" -d '{}'; echo
# => {"error":"topic \"...\" is not allowed by this route (its kafka_rest topics setting)","status":403}

# Only POST and PUT produce.
curl -sS "$URL/logs"; echo
# => {"error":"method not allowed: use POST or PUT","status":405}
