#!/bin/sh
# Produce and consume through examples/confluent-v2/Caddyfile. Start it first:
#   go run ./cmd/caddy run --config examples/confluent-v2/Caddyfile
# Lines starting with "# =>" show the expected output on a fresh broker ("..."
# stands for anything); .ci/examples checks them.
set -eu
URL=${URL:-http://localhost:8082}

echo "# produce, binary (base64) v2"
curl -sS -X POST "$URL/topics/test" \
	-H 'Content-Type: application/vnd.kafka.binary.v2+json' \
	-H 'Accept: application/vnd.kafka.v2+json' \
	--data '{"records":[{"key":"a2V5","value":"dmFsdWU="},{"value":"dmFsdWU=","partition":1}]}'
echo
# => {"offsets":[{"partition":1,"offset":0,"error_code":null,"error":null},{"partition":1,"offset":1,"error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":null}

echo "# produce, json v1, to partition 1"
curl -sS -X POST "$URL/topics/test/partitions/1" \
	-H 'Content-Type: application/vnd.kafka.json.v1+json' \
	--data '{"records":[{"key":"somekey","value":{"foo":"bar"}},{"value":53.5}]}'
echo
# => {"offsets":[{"partition":1,"offset":2,"error_code":null,"error":null},{"partition":1,"offset":3,"error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":null}

echo "# consume partition 1 from offset 0, binary"
curl -sS "$URL/topics/test/partitions/1?offset=0&count=10" \
	-H 'Accept: application/vnd.kafka.binary.v1+json'
echo
# => [{"topic":"test","key":"a2V5","value":"dmFsdWU=","partition":1,"offset":0},{"topic":"test","key":null,"value":"dmFsdWU=","partition":1,"offset":1},{"topic":"test","key":"InNvbWVrZXki","value":"eyJmb28iOiJiYXIifQ==","partition":1,"offset":2},{"topic":"test","key":null,"value":"NTMuNQ==","partition":1,"offset":3}]

echo "# consume partition 1 from offset 2 (the json records), json"
curl -sS "$URL/consume/test/partitions/1?offset=2" \
	-H 'Accept: application/vnd.kafka.json.v1+json'
echo
# => [{"topic":"test","key":"somekey","value":{"foo":"bar"},"partition":1,"offset":2},{"topic":"test","key":null,"value":53.5,"partition":1,"offset":3}]

echo "# an avro request is refused with 415"
curl -sS -X POST "$URL/topics/test" \
	-H 'Content-Type: application/vnd.kafka.avro.v2+json' \
	--data '{"value_schema":"{\"type\":\"int\"}","records":[{"value":1}]}'
echo
# => {"error_code":415,"message":"HTTP 415 Unsupported Media Type: the avro embedded format is not supported (it needs a schema registry): use binary or json"}
