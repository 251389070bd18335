#!/bin/sh
# The curl examples of Upstash's Kafka REST produce docs, against the gateway
# of ./Caddyfile. Start it first, from the repository root:
#   go run ./cmd/caddy run --config examples/upstash/Caddyfile
# The docs' third cities example writes to partitions 1, 2 and 3; the embedded
# broker creates topics with 3 partitions (0 to 2), so those examples use
# partitions 0 to 2 here. Against a cluster whose cities topic has 4 or more
# partitions, the docs' numbers work as they are.
# Lines starting with "# =>" show the expected output on a fresh broker ("..."
# stands for anything); .ci/examples checks them.
set -e
URL=${URL:-http://localhost:8084}

# GET /produce/$TOPIC/$MESSAGE?key=$KEY: one metadata object.
curl -sS "$URL/produce/greetings/hello_kafka" -u myuser:mypass; echo
# => {"topic":"greetings","partition":...,"offset":0,"timestamp":...}
curl -sS "$URL/produce/cities/Istanbul?key=city" -u myuser:mypass; echo
# => {"topic":"cities","partition":1,"offset":0,"timestamp":...}

# [GET | POST] /produce/$TOPIC: a message or an array; answers an array.
curl -sS "$URL/produce/greetings" -u myuser:mypass \
    -d '{"value": "hello_kafka"}'; echo
# => [{"topic":"greetings","partition":...,"offset":...,"timestamp":...}]

curl -sS "$URL/produce/cities" -u myuser:mypass \
    -d '{"partition": 1, "key": "city", "value": "Istanbul", "headers": [{"key": "expire", "value": "1637745834756"}] }'; echo
# => [{"topic":"cities","partition":1,"offset":1,"timestamp":...}]

curl -sS "$URL/produce/greetings" -u myuser:mypass \
    -d '[
        {"value": "hello_world"},
        {"value": "hello_upstash"},
        {"value": "hello_kafka"}
    ]'; echo
# => [{"topic":"greetings","partition":...,"offset":...,"timestamp":...},{"topic":"greetings","partition":...,"offset":...,"timestamp":...},{"topic":"greetings","partition":...,"offset":...,"timestamp":...}]

# The trailing comma before ] is as in the docs; the gateway accepts it.
curl -sS "$URL/produce/cities" -u myuser:mypass \
    -d '[
        {"partition": 0, "timestamp": 1637745834744, "key": "city", "value": "Istanbul"},
        {"partition": 1, "timestamp": 1637745823147, "key": "city", "value": "London"},
        {"partition": 2, "timestamp": 1637455583829, "key": "city", "value": "Tokyo"},
    ]'; echo
# => [{"topic":"cities","partition":0,"offset":0,"timestamp":1637745834744},{"topic":"cities","partition":1,"offset":2,"timestamp":1637745823147},{"topic":"cities","partition":2,"offset":0,"timestamp":1637455583829}]

# [GET | POST] /produce: the topic in each message.
curl -sS "$URL/produce" -u myuser:mypass \
    -d '{"topic": "greetings", "value": "hello_kafka"}'; echo
# => [{"topic":"greetings","partition":...,"offset":...,"timestamp":...}]

curl -sS "$URL/produce" -u myuser:mypass \
    -d '[
        {"topic": "greetings", "value": "hello_world"},
        {"topic": "greetings", "value": "hello_upstash"},
        {"topic": "greetings", "value": "hello_kafka"}
    ]'; echo
# => [{"topic":"greetings","partition":...,"offset":...,"timestamp":...},{"topic":"greetings","partition":...,"offset":...,"timestamp":...},{"topic":"greetings","partition":...,"offset":...,"timestamp":...}]

curl -sS "$URL/produce" -u myuser:mypass \
    -d '[
        {"topic": "greetings", "value": "hello_world"},
        {"topic": "greetings", "value": "hello_upstash"},
        {"topic": "cities", "partition": 0, "value": "Istanbul"},
        {"topic": "cities", "partition": 1, "value": "London"},
        {"topic": "cities", "partition": 2, "value": "Tokyo"},
    ]'; echo
# => [{"topic":"greetings","partition":...,"offset":...,"timestamp":...},{"topic":"greetings","partition":...,"offset":...,"timestamp":...},{"topic":"cities","partition":0,...},{"topic":"cities","partition":1,...},{"topic":"cities","partition":2,...}]

# Errors are {"error": "...", "status": N}.
curl -sS "$URL/produce/greetings" -u myuser:mypass -d '{"key": "no value"}'; echo
# => {"error":"value is required","status":400}
curl -sS "$URL/produce/secrets" -u myuser:mypass -d '{"value": "x"}'; echo
# => {"error":"topic \"...\" is not allowed by this route (its kafka_rest topics setting)","status":403}
curl -sS "$URL/produce/greetings" -d '{"value": "no credentials"}'; echo
# => {"error":"unauthorized","status":401}
