#!/usr/bin/env bash
# Starts the fleet on this machine: two gateway instances (a on :8091, b on
# :8092; admin APIs on localhost:2091 and :2092) behind a Caddy load balancer
# on :8090 (admin localhost:2090). With KAFKA_BROKERS unset, also a stand-in
# Kafka (kafka.Caddyfile, admin localhost:2093). Ctrl-C stops everything.
#
#   examples/fleet/run.sh                                # stand-in Kafka
#   KAFKA_BROKERS=127.0.0.1:19092 examples/fleet/run.sh  # a real cluster
#
# CADDY=/path/to/caddy uses that binary instead of building ./cmd/caddy.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${CADDY:-}" ]; then
	CADDY=$(mktemp -d)/caddy
	echo "fleet: building ./cmd/caddy" >&2
	go build -o "$CADDY" ./cmd/caddy
fi

pids=()
stop() {
	trap - EXIT INT TERM
	[ ${#pids[@]} -eq 0 ] || kill -TERM "${pids[@]}" 2>/dev/null || true
	wait
}
trap stop EXIT INT TERM

if [ -z "${KAFKA_BROKERS:-}" ]; then
	echo "fleet: KAFKA_BROKERS unset: starting a stand-in Kafka (embedded, in memory)" >&2
	"$CADDY" run --config examples/fleet/kafka.Caddyfile &
	pids+=($!)
	for _ in $(seq 100); do
		KAFKA_BROKERS=$(curl -s localhost:2093/kafka/clusters |
			sed -n 's/^\[{"name":"default","brokers":\[\([^]]*\)\].*/\1/p' | tr -d '"') || true
		[ -n "$KAFKA_BROKERS" ] && break
		sleep 0.1
	done
	[ -n "$KAFKA_BROKERS" ] || { echo "fleet: the stand-in Kafka did not start" >&2; exit 1; }
fi
export KAFKA_BROKERS
echo "fleet: instances produce to $KAFKA_BROKERS" >&2

INSTANCE=a PORT=8091 ADMIN_PORT=2091 "$CADDY" run --config examples/fleet/instance.Caddyfile &
pids+=($!)
INSTANCE=b PORT=8092 ADMIN_PORT=2092 "$CADDY" run --config examples/fleet/instance.Caddyfile &
pids+=($!)
"$CADDY" run --config examples/fleet/Caddyfile &
pids+=($!)
wait
