#!/bin/sh
# Talks to examples/confluent-v3/Caddyfile. Usage: sh examples/confluent-v3/curl.sh [base-url]
# Lines starting with "# =>" show the expected output on a fresh broker ("..."
# stands for anything); .ci/examples checks them.
set -e
BASE=${1:-http://localhost:8082}
C=$BASE/kafka/v3/clusters/cluster-1

# Discovery: the cluster, its topics, a topic's partitions.
curl -s "$BASE/kafka/v3/clusters"; echo
# => {"kind":"KafkaClusterList","metadata":{"self":"http://localhost:8082/kafka/v3/clusters","next":null},"data":[{"kind":"KafkaCluster",...,"cluster_id":"cluster-1",...}]}
curl -s "$C/topics"; echo
# => {"kind":"KafkaTopicList","metadata":{"self":"http://localhost:8082/kafka/v3/clusters/cluster-1/topics","next":null},"data":[...]}

# One record: BINARY key (base64 of "foobar"), JSON value, a header, a timestamp.
curl -s -H 'Content-Type: application/json' "$C/topics/orders/records" -d '{
  "partition_id": 1,
  "headers": [{"name": "Header-1", "value": "SGVhZGVyLTE="}],
  "key": {"type": "BINARY", "data": "Zm9vYmFy"},
  "value": {"type": "JSON", "data": {"foo": "bar"}},
  "timestamp": "2021-02-05T19:14:42Z"}'
# => {"error_code":200,"cluster_id":"cluster-1","topic_name":"orders","partition_id":1,"offset":0,"timestamp":"2021-02-05T19:14:42.000Z","key":{"type":"BINARY","size":6},"value":{"type":"JSON","size":14}}

curl -s "$C/topics/orders/partitions"; echo
# => {"kind":"KafkaPartitionList",...,"data":[{"kind":"KafkaPartition",...,"topic_name":"orders","partition_id":0,...},{...,"partition_id":1,...},{...,"partition_id":2,...}]}

# Several concatenated records: one delivery report each, in order.
curl -s -H 'Content-Type: application/json' "$C/topics/orders/records" \
  -d '{"value":{"type":"STRING","data":"one"}} {"value":{"type":"STRING","data":"two"}}'
# => {"error_code":200,"cluster_id":"cluster-1","topic_name":"orders","partition_id":...,"offset":...,"timestamp":"...","key":null,"value":{"type":"STRING","size":3}}
# => {"error_code":200,"cluster_id":"cluster-1","topic_name":"orders","partition_id":...,"offset":...,"timestamp":"...","key":null,"value":{"type":"STRING","size":3}}

# Streaming: chunked upload from stdin; reports come back as records are acknowledged.
printf '%s\n' '{"value":{"type":"STRING","data":"a"}}' '{"value":{"type":"STRING","data":"b"}}' |
  curl -s -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' -T - -X POST "$C/topics/events/records"
# => {"error_code":200,"cluster_id":"cluster-1","topic_name":"events",...,"value":{"type":"STRING","size":1}}
# => {"error_code":200,"cluster_id":"cluster-1","topic_name":"events",...,"value":{"type":"STRING","size":1}}

# records:batch: 207 with successes and failures by id.
curl -s -H 'Content-Type: application/json' "$C/topics/orders/records:batch" -d '{"entries":[
  {"id":"1","value":{"type":"STRING","data":"x"}},
  {"id":"2","value":{"type":"BINARY","data":"not base64!"}}]}'; echo
# => {"successes":[{"id":"1","cluster_id":"cluster-1","topic_name":"orders",...}],"failures":[{"id":"2","error_code":400,"message":"Bad Request: data=\"not base64!\" is not a valid base64 string."}]}
