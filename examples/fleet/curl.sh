#!/bin/sh
# Talks to the fleet started by examples/fleet/run.sh, through the load
# balancer. Lines starting with "# =>" show the expected output ("..." stands
# for anything).
set -eu
URL=${URL:-http://localhost:8090}

# Four orders without Idempotency-Key: round robin, so both instances answer.
for i in 1 2 3 4; do
	curl -sS -o /dev/null -D - -X POST "$URL/orders" -H "X-Order-Id: $i" -d "{\"order\":$i}"
done | tr -d '\r' | grep '^X-Instance' | sort | uniq -c
# =>       2 X-Instance: a
# =>       2 X-Instance: b

# The same order sent twice with an Idempotency-Key (a client retrying): the
# load balancer sends both to the same instance, which answers the repeat
# from memory. One record is written.
first=$(curl -sS -X POST "$URL/orders" -H 'Idempotency-Key: order-42' -H 'X-Order-Id: 42' -d '{"order":42}')
again=$(curl -sS -X POST "$URL/orders" -H 'Idempotency-Key: order-42' -H 'X-Order-Id: 42' -d '{"order":42}')
echo "$first"
[ "$first" = "$again" ] && echo "same answer twice: written once"
# => {"topic":"orders","partition":...,"offset":...,"timestamp":...}
# => same answer twice: written once

# Each instance has its own metrics, at its own admin API.
for admin in localhost:2091 localhost:2092; do
	curl -sS "$admin/metrics" | grep -E '^caddy_kafka_(records|idempotency)_total\{.*(outcome="ok"|result="replayed")\}' |
		sed "s/^/$admin /"
done
# => localhost:2091 caddy_kafka_idempotency_total{cluster="default",dialect="webhook",result="replayed"} ...
# => localhost:2091 caddy_kafka_records_total{cluster="default",dialect="webhook",outcome="ok"} ...
# => localhost:2092 caddy_kafka_idempotency_total{cluster="default",dialect="webhook",result="replayed"} ...
# => localhost:2092 caddy_kafka_records_total{cluster="default",dialect="webhook",outcome="ok"} ...
