#!/bin/sh
# Talks to examples/https-local/Caddyfile over HTTPS. Start it first:
#   go run ./cmd/caddy run --config examples/https-local/Caddyfile
# Lines starting with "# =>" show the expected output ("..." stands for anything).
set -eu
URL=${URL:-https://localhost:9443}

# The root certificate of Caddy's local CA, where Caddy keeps it on Linux
# ($XDG_DATA_HOME/caddy, else ~/.local/share/caddy; ~/Library/Application
# Support/Caddy on macOS). Pass CACERT=... if it is elsewhere.
CACERT=${CACERT:-${XDG_DATA_HOME:-$HOME/.local/share}/caddy/pki/authorities/local/root.crt}

# One record over HTTP/2, the certificate verified against the local CA.
curl -sS --cacert "$CACERT" -X POST "$URL/" -H 'X-Device-Id: dev-1' -d '{"temp":21}' \
	-w ' (HTTP/%{http_version})\n'
# => {"topic":"events","partition":...,"offset":0,"timestamp":...} (HTTP/2)

# Without the CA's certificate, curl refuses the connection (exit code 60).
curl -sS -X POST "$URL/" -d '{"temp":22}' 2>/dev/null || echo "curl exit code $?"
# => curl exit code 60
