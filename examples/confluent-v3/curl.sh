#!/bin/sh
# Talks to examples/confluent-v3/Caddyfile. Usage: sh examples/confluent-v3/curl.sh [base-url]
set -e
BASE=${1:-http://localhost:8082}
C=$BASE/kafka/v3/clusters/cluster-1

# Discovery: the cluster, its topics, a topic's partitions.
curl -s "$BASE/kafka/v3/clusters"; echo
curl -s "$C/topics"; echo

# One record: BINARY key (base64 of "foobar"), JSON value, a header, a timestamp.
curl -s -H 'Content-Type: application/json' "$C/topics/orders/records" -d '{
  "partition_id": 1,
  "headers": [{"name": "Header-1", "value": "SGVhZGVyLTE="}],
  "key": {"type": "BINARY", "data": "Zm9vYmFy"},
  "value": {"type": "JSON", "data": {"foo": "bar"}},
  "timestamp": "2021-02-05T19:14:42Z"}'

curl -s "$C/topics/orders/partitions"; echo

# Several concatenated records: one delivery report each, in order.
curl -s -H 'Content-Type: application/json' "$C/topics/orders/records" \
  -d '{"value":{"type":"STRING","data":"one"}} {"value":{"type":"STRING","data":"two"}}'

# Streaming: chunked upload from stdin; reports come back as records are acknowledged.
printf '%s\n' '{"value":{"type":"STRING","data":"a"}}' '{"value":{"type":"STRING","data":"b"}}' |
  curl -s -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' -T - -X POST "$C/topics/events/records"

# records:batch: 207 with successes and failures by id.
curl -s -H 'Content-Type: application/json' "$C/topics/orders/records:batch" -d '{"entries":[
  {"id":"1","value":{"type":"STRING","data":"x"}},
  {"id":"2","value":{"type":"BINARY","data":"not base64!"}}]}'; echo
