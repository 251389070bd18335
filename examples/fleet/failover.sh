#!/bin/sh
# Stops instance b of the fleet started by examples/fleet/run.sh, gracefully,
# through its admin API: b keeps serving for its shutdown_delay (3s) while its
# /ready answers 503, the load balancer takes it out of rotation, then b
# closes. Orders sent meanwhile and after are all answered.
# Lines starting with "# =>" show the expected output.
set -eu
URL=${URL:-http://localhost:8090}

# The admin API answers once b has stopped: 3s.
curl -sS -X POST localhost:2092/stop &
sleep 1
curl -sS localhost:8092/ready; echo
# => {"status":"draining"}
wait && echo "instance b stopped"
# => instance b stopped

for i in 1 2 3 4; do
	curl -sS -o /dev/null -D - -X POST "$URL/orders" -H "X-Order-Id: $i" -d "{\"order\":$i}"
done | tr -d '\r' | grep -E '^(HTTP|X-Instance)' | paste -d' ' - - | sort | uniq -c
# =>       4 HTTP/1.1 200 OK X-Instance: a
