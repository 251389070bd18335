// Package caddymodule holds every Caddy-facing type of caddy-kafka:
//
//   - the kafka app (module kafka, Caddyfile global option kafka): named
//     Kafka clusters, one shared franz-go client each, kept across config
//     reloads that leave the cluster unchanged;
//   - the kafka_rest handler (http.handlers.kafka_rest): one dialect and one
//     cluster per route;
//   - the kafka_ready handler (http.handlers.kafka_ready): 200 while a
//     cluster answers, 503 with Retry-After while it does not, for load
//     balancers;
//   - the admin endpoint GET /kafka/clusters (admin.api.kafka): clusters,
//     seed brokers (no credentials), connection state, buffered records;
//   - the api_key authentication provider
//     (http.authentication.providers.api_key).
//
// Every kafka_rest handler honours the Idempotency-Key request header
// (draft-ietf-httpapi-idempotency-key-header) unless configured with
// "idempotency off": see IdempotencyConfig. A repeat of a request (same key,
// user, method and path) gets the first answer without producing again, a
// concurrent repeat waits for the first, and the same key with other records
// is a 422. The outcome is remembered once Kafka wrote at least one record of
// the request, even if it failed others, so a retry never writes a record
// twice; a request of which nothing was written (overload, every record
// failed) is forgotten, so its retry produces. A streamed confluent_v3
// request (a body without a length) produces many times, so one key cannot
// name its outcome: it is refused with a 400 rather than ignored, so that a
// client relying on the key learns that it does not apply.
//
// The kafka app checks every cluster every 2 seconds with a broker-only
// Metadata request (2 second limit); kafka_ready and the admin endpoint
// report the outcome.
//
// Metrics go to Caddy's registry, so the admin /metrics and the metrics
// handler serve them; their values carry over config reloads:
//
//	caddy_kafka_requests_total{dialect,cluster,outcome}       counter
//	caddy_kafka_records_total{dialect,cluster,outcome}        counter
//	caddy_kafka_produce_duration_seconds{dialect,cluster}     histogram
//	caddy_kafka_read_duration_seconds{dialect,cluster,operation} histogram
//	caddy_kafka_idempotency_total{dialect,cluster,result}     counter
//	caddy_kafka_buffered_records{cluster}                     gauge
//	caddy_kafka_buffered_bytes{cluster}                       gauge
//	caddy_kafka_client_*{cluster,node_id}                     franz-go's, through kprom
//
// outcome is ok or a failure class (bad_request, unknown_topic,
// unknown_partition, too_large, not_authorized, auth_failed, timeout,
// overloaded, unavailable, kafka_error, internal); result is replayed,
// waited or conflict. No metric has a topic label: topics come from URLs.
package caddymodule
