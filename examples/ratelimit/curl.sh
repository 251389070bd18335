#!/bin/sh
# Talks to examples/ratelimit/Caddyfile (a Caddy built with caddy-ratelimit,
# see README.md). Lines starting with "# =>" show the expected output ("..."
# stands for anything).
set -eu
URL=${URL:-http://localhost:8086}

# alice's first three requests in a minute are produced...
for i in 1 2 3; do
	curl -sS -u alice:alice-password "$URL/produce/alice-events/click-$i"; echo
done
# => {"topic":"alice-events","partition":...,"offset":...,"timestamp":...}
# => {"topic":"alice-events","partition":...,"offset":...,"timestamp":...}
# => {"topic":"alice-events","partition":...,"offset":...,"timestamp":...}

# ...the fourth is refused, with the seconds to wait in Retry-After.
curl -sS -u alice:alice-password "$URL/produce/alice-events/click-4" \
	-w ' HTTP %{http_code}, Retry-After: %header{retry-after}\n'
# => {"error":"too many requests","status":429} HTTP 429, Retry-After: ...

# Limits are per user: bob still has his three.
curl -sS -u bob:bob-password "$URL/produce/bob-events/click-1"; echo
# => {"topic":"bob-events","partition":...,"offset":0,"timestamp":...}
