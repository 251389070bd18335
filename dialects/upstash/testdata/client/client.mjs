// Drives the official @upstash/kafka client against the gateway and prints
// what it answered as JSON, for ../../client_test.go to check against the
// records in Kafka. Configuration comes from the environment:
// UPSTASH_KAFKA_REST_URL, UPSTASH_KAFKA_REST_USERNAME,
// UPSTASH_KAFKA_REST_PASSWORD, TOPIC_A and TOPIC_B.
import { Kafka } from "@upstash/kafka";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const kafka = new Kafka({
  url: env("UPSTASH_KAFKA_REST_URL"),
  username: env("UPSTASH_KAFKA_REST_USERNAME"),
  password: env("UPSTASH_KAFKA_REST_PASSWORD"),
});
const a = env("TOPIC_A");
const b = env("TOPIC_B");
const p = kafka.producer();

const out = {};
// A string value with a key and headers.
out.produce1 = await p.produce(a, "hello", {
  key: "user-1",
  headers: [
    { key: "trace", value: "abc" },
    { key: "empty", value: "" },
  ],
});
// An object value (the client sends JSON.stringify of it), an explicit
// partition and timestamp.
out.produce2 = await p.produce(a, { n: 1, s: "x" }, { partition: 2, timestamp: 1637745834744 });
// Several topics in one request, keys, an empty key, explicit partitions.
out.many = await p.produceMany([
  { topic: a, value: "m1", key: "k2", partition: 1, headers: [{ key: "h", value: "v" }] },
  { topic: b, value: "m2" },
  { topic: b, value: "m3", key: "", partition: 0, timestamp: 1637455583829 },
  { topic: a, value: "ünïcødé ✓", key: "user-1" },
]);

// Read them back: consumer.fetch, one request per partition (the client's
// default) and all in one; then admin.topics and topicPartitionOffsets.
const c = kafka.consumer();
out.fetch = await c.fetch({ topic: a, partition: 1, offset: 0, timeout: 1000 });
out.fetchMany = await c.fetch(
  {
    topicPartitionOffsets: [
      { topic: a, partition: 2, offset: 0 },
      { topic: b, partition: 0, offset: 0 },
    ],
    timeout: 1000,
  },
  { parallel: false },
);
out.fetchParallel = await c.fetch({
  topic: a,
  partition: 0,
  offset: 0,
  topicPartitionOffsets: [{ topic: b, partition: 0, offset: 0 }],
  timeout: 500,
});
const admin = kafka.admin();
out.topics = await admin.topics();
out.offsetsEarliest = await admin.topicPartitionOffsets({
  timestamp: "earliest",
  topicPartitions: [
    { topic: a, partition: 1 },
    { topic: b, partition: 0 },
  ],
});
out.offsetsLatest = await admin.topicPartitionOffsets({ timestamp: "latest", topicPartition: { topic: a, partition: 2 } });
out.offsetsTime = await admin.topicPartitionOffsets({ timestamp: 1637455583829, topicPartitions: [{ topic: b, partition: 0 }] });
process.stdout.write(JSON.stringify(out) + "\n");
