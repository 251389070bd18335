#!/bin/sh
# Talks to examples/spool/Caddyfile. Start it first, from the repository root:
#   go run ./cmd/caddy run --config examples/spool/Caddyfile
# Lines starting with "# =>" show the expected output ("..." stands for anything);
# .ci/examples checks them.
set -eu
URL=${URL:-http://127.0.0.1:8089}

# Kafka is there and the spool empty: produced, answered 200 with the offset.
curl -sS -X POST "$URL/events" -d '{"event":"signup"}'; echo
# => {"topic":"events","partition":...,"offset":0,"timestamp":...}

# Cluster "away" has no broker: the health check says unreachable, and its
# spool has room, so kafka_ready still says the route takes requests.
curl -sS "$URL/ready/away"
# => {"status":"spooling","cluster":"away"}

# Its route spools the request whole, fsync'd before the answer: 202.
printf '{"n":1}\n{"n":2}\n' | curl -sS -X POST "$URL/away" --data-binary @- -w ' %{http_code}'; echo
# => [{"topic":"events","spooled":true},{"topic":"events","spooled":true}] 202

# The spool as the admin API shows it: records waiting, bytes, the oldest.
curl -sS localhost:2019/kafka/clusters | grep -o '"spool":{"directory":"/tmp/caddy-kafka-spool-away"'
# => "spool":{"directory":"/tmp/caddy-kafka-spool-away"
