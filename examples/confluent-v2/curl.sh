#!/bin/sh
# Produce and consume through examples/confluent-v2/Caddyfile.
set -eu
URL=${URL:-http://localhost:8082}

echo "# produce, binary (base64) v2"
curl -sS -X POST "$URL/topics/test" \
	-H 'Content-Type: application/vnd.kafka.binary.v2+json' \
	-H 'Accept: application/vnd.kafka.v2+json' \
	--data '{"records":[{"key":"a2V5","value":"dmFsdWU="},{"value":"dmFsdWU=","partition":1}]}'
echo

echo "# produce, json v1, to partition 1"
curl -sS -X POST "$URL/topics/test/partitions/1" \
	-H 'Content-Type: application/vnd.kafka.json.v1+json' \
	--data '{"records":[{"key":"somekey","value":{"foo":"bar"}},{"value":53.5}]}'
echo

echo "# consume partition 1 from offset 0, binary"
curl -sS "$URL/topics/test/partitions/1?offset=0&count=10" \
	-H 'Accept: application/vnd.kafka.binary.v1+json'
echo

echo "# consume partition 1 from offset 2 (the json records), json"
curl -sS "$URL/consume/test/partitions/1?offset=2" \
	-H 'Accept: application/vnd.kafka.json.v1+json'
echo

echo "# an avro request is refused with 415"
curl -sS -X POST "$URL/topics/test" \
	-H 'Content-Type: application/vnd.kafka.avro.v2+json' \
	--data '{"value_schema":"{\"type\":\"int\"}","records":[{"value":1}]}'
echo
