// Drives Confluent's Node.js client (npm kafka-rest, pinned in
// package-lock.json) against the gateway and prints what it answered as
// JSON, for ../../client_test.go to check against the records in Kafka.
// Configuration comes from the environment: KAFKA_REST_URL, TOPIC (3
// partitions, empty), and for the metadata calls METADATA=1 and TOPIC_META.
// Every step is run, and its result or error printed, so that the test can
// tell which one failed.
"use strict";

const KafkaRest = require("kafka-rest");

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const kafka = new KafkaRest({ url: env("KAFKA_REST_URL") });
const topic = env("TOPIC");
const meta = process.env.TOPIC_META;

// call runs one callback-style client call.
const call = (fn) =>
  new Promise((resolve) => {
    fn((err, res) => resolve(err ? { error: String(err), status: err.status, data: err.data } : { result: res }));
  });

// Binary records come back base64: decode them for the check.
const decoded = (msgs) =>
  (msgs || []).map((m) => ({
    topic: m.topic,
    key: m.key === null ? null : Buffer.from(m.key, "base64").toString("latin1"),
    value: m.value === null ? null : Buffer.from(m.value, "base64").toString("latin1"),
    partition: m.partition,
    offset: m.offset,
  }));

(async () => {
  const out = {};
  // Produce through topic(): a bare string value, an object with a key, an
  // explicit partition with a Buffer value, several at once.
  out.produceTopic = await call((cb) =>
    kafka.topic(topic).produce(
      "plain",
      { key: "user-1", value: "keyed ✓" },
      { partition: 2, value: Buffer.from([0, 1, 2, 255]) },
      cb,
    ),
  );
  // Produce through topicPartition(): an array, with and without keys.
  out.producePartition = await call((cb) =>
    kafka.topicPartition(topic, 1).produce([{ key: "k", value: "p1-a" }, "p1-b"], cb),
  );
  // The messages consume, in the client's default Accept and in binary.
  out.messages = await call((cb) => kafka.topicPartition(topic, 1).messages({ offset: 0, count: 10 }, cb));
  if (out.messages.result) out.messages.result = decoded(out.messages.result);
  out.messagesBinary = await call((cb) =>
    kafka.topicPartition(topic, 2).messages({ offset: 0, format: "binary" }, cb),
  );
  if (out.messagesBinary.result) out.messagesBinary.result = decoded(out.messagesBinary.result);

  // Metadata, when METADATA is set: the client throws, from inside its
  // response handler, on an answer not in Confluent's shape.
  if (!process.env.METADATA) {
    process.stdout.write(JSON.stringify(out) + "\n");
    return;
  }
  out.brokers = await call((cb) => kafka.brokers.list(cb));
  if (out.brokers.result) out.brokers.result = out.brokers.result.map((b) => ({ id: b.id, str: b.toString() }));
  out.topics = await call((cb) => kafka.topics.list(cb));
  if (out.topics.result) out.topics.result = out.topics.result.map((t) => t.name);
  out.topic = await call((cb) => kafka.topics.get(meta, cb));
  if (out.topic.result) out.topic.result = { name: out.topic.result.name, raw: out.topic.result.raw, str: out.topic.result.toString() };
  out.partitions = await call((cb) => kafka.topic(meta).partitions.list(cb));
  if (out.partitions.result)
    out.partitions.result = out.partitions.result.map((p) => ({ id: p.id, raw: p.raw, str: p.toString() }));
  out.partition = await call((cb) => kafka.topicPartition(meta, 1).get(cb));
  if (out.partition.result) out.partition.result = { id: out.partition.result.id, raw: out.partition.result.raw };
  out.missingTopic = await call((cb) => kafka.topics.get(meta + "-missing", cb));
  if (out.missingTopic.result) out.missingTopic.result = out.missingTopic.result.raw;

  process.stdout.write(JSON.stringify(out) + "\n");
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
