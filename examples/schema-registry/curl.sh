#!/bin/sh
# Talks to examples/schema-registry/Caddyfile and its registry. Start both
# first, from the repository root:
#   eval "$(.ci/registry/start.sh)"
#   go run ./cmd/caddy run --config examples/schema-registry/Caddyfile
# Lines starting with "# =>" show the expected output ("..." stands for
# anything: schema ids, partitions, timestamps); .ci/examples checks them on
# a fresh broker and a fresh registry.
set -eu
URL=${URL:-http://localhost:8088}
SR=${SCHEMA_REGISTRY_URL:-http://127.0.0.1:28080/apis/ccompat/v7}
ORDER='{"type":"record","name":"Order","namespace":"example","fields":[{"name":"id","type":"long"},{"name":"item","type":"string"},{"name":"note","type":["null","string"],"default":null}]}'
# The schema as a JSON string, for the registry and for inline schemas.
ORDER_JSON=$(printf '%s' "$ORDER" | sed 's/"/\\"/g')

# Register the schema of the orders topic's values (what a schema owner
# does once; the v2 request below could also register it inline).
curl -sS -X POST "$SR/subjects/orders-value/versions" \
	-H 'Content-Type: application/vnd.schemaregistry.v1+json' -d "{\"schema\":\"$ORDER_JSON\"}"; echo
# => {"id":...}

# Confluent v2: Avro's JSON encoding in, Avro binary in Confluent's wire
# format out. The inline schema is the registered one, so its id comes back.
curl -sS -X POST "$URL/v2/topics/orders" -H 'Content-Type: application/vnd.kafka.avro.v2+json' \
	-d "{\"value_schema\":\"$ORDER_JSON\",\"records\":[{\"value\":{\"id\":42,\"item\":\"book\",\"note\":{\"string\":\"gift\"}}}]}"; echo
# => {"offsets":[{"partition":...,"offset":0,"error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":...}

# Confluent v3: the latest version of a subject; the report names it.
curl -sS -X POST "$URL/v3/clusters/cluster-1/topics/orders/records" -H 'Content-Type: application/json' \
	-d '{"value":{"subject":"orders-value","data":{"id":43,"item":"pen","note":null}}}'; echo
# => {"error_code":200,"cluster_id":"cluster-1","topic_name":"orders",...,"value":{"type":"AVRO","size":11,"subject":"orders-value","schema_id":...,"schema_version":1}}

# A webhook with value_schema: the plain JSON body must match the schema.
curl -sS -X POST "$URL/hooks/orders" -H 'Content-Type: application/json' -d '{"id":44,"item":"ink","note":null}'; echo
# => {"topic":"orders","partition":...,"offset":...,"timestamp":...}
curl -sS -X POST "$URL/hooks/orders" -H 'Content-Type: application/json' -d '{"id":"forty-five","item":"ink","note":null}'; echo
# => {"error":"data does not match schema ... (AVRO): ...","status":422}

# IBM Event Streams: the body is written as sent, labelled with the
# schema's id and version; schemavalidation=true checks it first.
curl -sS -X POST "$URL/es/topics/orders/records?schemaname=orders-value&schemavalidation=true" \
	-H 'Content-Type: application/json' -d '{"id":46,"item":"cup","note":{"string":"blue"}}'; echo
# => {"metadata":{"topic":"orders","timestamp":...,"partition":...,"offset":...}}
curl -sS -X POST "$URL/es/topics/orders/records?schemaname=orders-value&schemavalidation=true" \
	-H 'Content-Type: application/json' -d '{"id":47}'; echo
# => {"error_code":400,"message":"data does not match schema ... (AVRO): ...","error":{...,"schema":"orders-value"}}
