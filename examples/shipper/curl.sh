#!/bin/sh
# Sends what a log shipper sends to examples/shipper/Caddyfile. Start it
# first, from the repository root:
#   go run ./cmd/caddy run --config examples/shipper/Caddyfile
# Lines starting with "# =>" show the expected output ("..." stands for anything);
# .ci/examples checks them.
set -eu
URL=${URL:-http://127.0.0.1:8094}
LINES='{"timestamp":"2026-12-05T10:00:00Z","level":"info","message":"started","host":"web-1"}
{"timestamp":"2026-12-05T10:00:01Z","level":"warn","message":"slow request","host":"web-1"}'

# Vector's http sink with compression = "gzip": NDJSON, gzip'd. One record
# per line, the lines as they were before compression.
printf '%s\n' "$LINES" | gzip -c | curl -sS -X POST "$URL/logs" \
	-H 'Content-Type: application/x-ndjson' -H 'Content-Encoding: gzip' \
	-H 'User-Agent: Vector/0.43.0' --data-binary @-
echo
# => [{"topic":"logs","partition":...,"offset":...,"timestamp":...},{"topic":"logs","partition":...,"offset":...,"timestamp":...}]

# The same with compression = "zstd".
printf '%s\n' "$LINES" | zstd -q -c | curl -sS -X POST "$URL/logs" \
	-H 'Content-Type: application/x-ndjson' -H 'Content-Encoding: zstd' --data-binary @-
echo
# => [{"topic":"logs","partition":...,"offset":...,"timestamp":...},{"topic":"logs","partition":...,"offset":...,"timestamp":...}]

# A coding the gateway does not undo: 415, with the ones it does.
printf '%s\n' "$LINES" | curl -sS -X POST "$URL/logs" -H 'Content-Encoding: br' --data-binary @- -D - -o /dev/null | grep -i '^accept-encoding' | tr -d '\r'
# => Accept-Encoding: gzip, deflate, zstd

# A truncated body (a shipper killed mid-request): 400, nothing written.
printf '%s\n' "$LINES" | gzip -c | head -c 40 | curl -sS -X POST "$URL/logs" -H 'Content-Encoding: gzip' --data-binary @-
echo
# => {"error":"the body is not valid gzip (Content-Encoding): gzip: truncated; nothing was written","status":400}
