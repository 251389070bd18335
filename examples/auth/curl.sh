#!/bin/sh
# Talks to examples/auth/Caddyfile. Start it first, from the repository root:
#   go run ./cmd/caddy run --config examples/auth/Caddyfile
# Lines starting with "# =>" show the expected output ("..." stands for anything).
set -eu
URL=${URL:-http://localhost:8085}
ALICE_KEY=alice-key-5d2f8a41c9e07b36

# basic_auth: alice writes to her own topic...
curl -sS -u alice:alice-password "$URL/produce/alice-orders/hello"; echo
# => {"topic":"alice-orders","partition":...,"offset":0,"timestamp":...}
# ...not to bob's (nothing is written),
curl -sS -u alice:alice-password "$URL/produce/bob-orders/hello"; echo
# => {"error":"topic \"...\" is not allowed by this route (its kafka_rest topics setting)","status":403}
# ...and a wrong password gets a 401.
curl -sS -u alice:wrong "$URL/produce/alice-orders/hello"; echo
# => {"error":"unauthorized","status":401}

# api_key_auth: the same users, with API keys, in IBM Event Streams' format.
curl -sS -H "Authorization: Bearer $ALICE_KEY" -H 'Content-Type: text/plain' \
	-d 'hello' "$URL/topics/alice-orders/records"; echo
# => {"metadata":{"topic":"alice-orders","timestamp":"...","partition":...,"offset":...}}
curl -sS -H "Authorization: Bearer $ALICE_KEY" -H 'Content-Type: text/plain' \
	-d 'hello' "$URL/topics/bob-orders/records"; echo
# => {"error_code":401,"message":"Unauthorized to produce to this topic: topic \"...\" is not allowed by this route (its kafka_rest topics setting)","error":{...}}
curl -sS -H 'Authorization: Bearer not-a-key' -H 'Content-Type: text/plain' \
	-d 'hello' "$URL/topics/alice-orders/records"; echo
# => {"error_code":401,"message":"Unauthorized: the API key is missing or not valid","error":{...}}
