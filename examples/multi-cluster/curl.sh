#!/bin/sh
# Talks to examples/multi-cluster/Caddyfile. Start it first:
#   go run ./cmd/caddy run --config examples/multi-cluster/Caddyfile
# Lines starting with "# =>" show the expected output ("..." stands for anything).
set -eu
URL=${URL:-http://localhost:8087}
ADMIN=${ADMIN:-http://localhost:2019}

# An order, to the default cluster.
curl -sS -X POST "$URL/orders" -H 'X-Order-Id: 1001' -d '{"total":42}'; echo
# => {"topic":"orders","partition":...,"offset":0,"timestamp":...}

# Clicks, to the analytics cluster.
printf '{"page":"/"}\n{"page":"/cart"}\n' | curl -sS -X POST "$URL/clicks" --data-binary @-; echo
# => [{"topic":"clicks",...},{"topic":"clicks",...}]

# Both clusters are ready.
curl -sS "$URL/ready"; curl -sS "$URL/ready/analytics"
# => {"status":"ready","cluster":"default"}
# => {"status":"ready","cluster":"analytics"}

# The admin API lists both, with their brokers and state (one line each here).
curl -sS "$ADMIN/kafka/clusters" | tr '\n' ' ' | sed 's/},{"name"/}\n{"name"/g'; echo
# => [{"name":"analytics","brokers":[...],"embedded":true,"state":"reachable",...
# => {"name":"default","brokers":[...],"embedded":true,"state":"reachable",...

# Records counted per cluster in the admin /metrics.
curl -sS "$ADMIN/metrics" | grep '^caddy_kafka_records_total{.*outcome="ok"}'
# => caddy_kafka_records_total{cluster="analytics",dialect="webhook",outcome="ok"} 2
# => caddy_kafka_records_total{cluster="default",dialect="webhook",outcome="ok"} 1
