#!/bin/sh
# The Event Streams producer guide's curl command, against the example
# Caddyfile, then a keyed record with headers, a JSON record and a refused
# topic. Start the gateway first:
#   go run ./cmd/caddy run --config examples/ibm-event-streams/Caddyfile
# Lines starting with "# =>" show the expected output on a fresh broker ("..."
# stands for anything); .ci/examples checks them.
set -eu

API_KEY=${API_KEY:-orders-demo-key-3b8f1e2a9c7d4f6051e2}
ENDPOINT=${ENDPOINT:-https://localhost:8443}

# The certificate of Caddy's local CA (tls internal), as the guide's
# es-cert.pem; -k if it is not where Caddy keeps it on Linux.
CACERT=${CACERT:-${XDG_DATA_HOME:-$HOME/.local/share}/caddy/pki/authorities/local/root.crt}
if [ -f "$CACERT" ]; then
	set -- --cacert "$CACERT"
else
	echo "no $CACERT: using curl -k" >&2
	set -- -k
fi

# The guide's command, as is.
curl -v -X POST -H "Authorization: Bearer $API_KEY" -H "Content-Type: text/plain" -H "Accept: application/json" -d 'test message' "$@" "$ENDPOINT/topics/orders-1/records"
echo
# => {"metadata":{"topic":"orders-1","timestamp":"...","partition":...,"offset":0}}

# A binary key (base16) and two headers (values base16): key bytes 0x0a 0x0b,
# headers colour=rdc and size=formidable.
curl -sS -X POST -H "Authorization: Bearer $API_KEY" -H "Content-Type: application/json" \
	-d '{"order":42}' "$@" \
	"$ENDPOINT/topics/orders-1/records?key=0a0b&keyType=binary&headers=colour:726463,size:666f726d696461626c65"
echo
# => {"metadata":{"topic":"orders-1","timestamp":"...","partition":...,"offset":...}}

# A text key, and HTTP Basic with the user "token" as IBM also accepts.
curl -sS -X POST -u "token:$API_KEY" -H "Content-Type: text/plain" -d 'keyed' "$@" \
	"$ENDPOINT/topics/orders-1/records?key=customer-7"
echo
# => {"metadata":{"topic":"orders-1","timestamp":"...","partition":...,"offset":...}}

# The orders key may not write to payments-1: 401 in Event Streams' error body.
curl -sS -X POST -H "Authorization: Bearer $API_KEY" -H "Content-Type: text/plain" -d 'refused' "$@" \
	"$ENDPOINT/topics/payments-1/records"
echo
# => {"error_code":401,"message":"Unauthorized to produce to this topic: topic \"payments-1\" is not allowed by this route (its kafka_rest topics setting)","error":{"error_code":401,"message":"Unauthorized to produce to this topic: topic \"payments-1\" is not allowed by this route (its kafka_rest topics setting)","topic":"payments-1","incident":"..."}}
