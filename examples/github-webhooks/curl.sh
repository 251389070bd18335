#!/bin/sh
# Sends what GitHub sends to examples/github-webhooks/Caddyfile. Start it
# first, from the repository root:
#   go run ./cmd/caddy run --config examples/github-webhooks/Caddyfile
# Lines starting with "# =>" show the expected output ("..." stands for anything);
# .ci/examples checks them.
set -eu
URL=${URL:-http://127.0.0.1:8093}
SECRET=${SECRET:-demo-secret}
BODY='{"action":"opened","issue":{"number":1347,"title":"Found a bug"},"repository":{"full_name":"octocat/Hello-World"}}'
DELIVERY=72d3162e-cc78-11e3-81ab-4c9367dc0958

# GitHub signs the body with the secret: X-Hub-Signature-256 is
# sha256=<hex HMAC-SHA256>, X-Hub-Signature the older sha1 form.
SIG256=$(printf %s "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')
SIG1=$(printf %s "$BODY" | openssl dgst -sha1 -hmac "$SECRET" | sed 's/^.* //')

deliver() { # <delivery id> <body> <sha256 signature>
	curl -sS -X POST "$URL/github" \
		-H 'User-Agent: GitHub-Hookshot/044aadd' \
		-H 'Content-Type: application/json' \
		-H 'X-GitHub-Event: issues' \
		-H "X-GitHub-Delivery: $1" \
		-H 'X-GitHub-Hook-ID: 292430182' \
		-H 'X-GitHub-Hook-Installation-Target-ID: 79929171' \
		-H 'X-GitHub-Hook-Installation-Target-Type: repository' \
		-H "X-Hub-Signature: sha1=$SIG1" \
		-H "X-Hub-Signature-256: sha256=$3" \
		--data-binary "$2"
	echo
}

# The delivery: written to github.issues, keyed by the delivery id.
deliver "$DELIVERY" "$BODY" "$SIG256"
# => {"topic":"github.issues","partition":...,"offset":0,"timestamp":...}

# GitHub redelivers it (a "Redeliver" click, or a retry after a timeout):
# the same answer, and nothing is written again.
deliver "$DELIVERY" "$BODY" "$SIG256"
# => {"topic":"github.issues","partition":...,"offset":0,"timestamp":...}

# A body that is not the one signed: refused, nothing written.
deliver 8e1f5a3c-cc78-11e3-81ab-4c9367dc0958 '{"action":"deleted"}' "$SIG256"
# => {"error":"signature check failed: X-Hub-Signature-256: no signature matches the body with the configured secret; nothing was written","status":401}

# An unsigned request: refused.
curl -sS -X POST "$URL/github" -H 'X-GitHub-Event: issues' -d '{}'; echo
# => {"error":"signature check failed: missing X-Hub-Signature-256 header; nothing was written","status":401}
