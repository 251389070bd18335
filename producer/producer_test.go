package producer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newCluster(t *testing.T, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newClient(t *testing.T, c *kfake.Cluster, mod func(*Config)) *Client {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	if mod != nil {
		mod(&cfg)
	}
	cl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = cl.Close(ctx)
	})
	return cl
}

// javaPartition is Java's BuiltInPartitioner.partitionForKey written out
// from its definition: toPositive(murmur2(key)) % numPartitions, with the
// murmur2 values taken from Kafka's own UtilsTest.testMurmur2, not computed.
func javaPartition(javaMurmur2 int32, n int32) int32 {
	return (javaMurmur2 & 0x7fffffff) % n
}

var kafkaMurmur2Vectors = []struct {
	key  string
	hash int32
}{
	{"21", -973932308},
	{"foobar", -790332482},
	{"a-little-bit-long-string", -985981536},
	{"a-little-bit-longer-string", -1486304829},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"abc", 479470107},
}

func TestPartitionerMatchesJava(t *testing.T) {
	for _, n := range []int32{1, 3, 7, 12, 100} {
		tp := Partitioner().ForTopic("t")
		for _, v := range kafkaMurmur2Vectors {
			r := &kgo.Record{Key: []byte(v.key), Partition: -1}
			if !tp.RequiresConsistency(r) {
				t.Fatalf("keyed record must require consistency")
			}
			got := tp.Partition(r, int(n))
			if want := javaPartition(v.hash, n); int32(got) != want {
				t.Errorf("key %q over %d partitions: got %d, Java gives %d", v.key, n, got, want)
			}
		}
	}
}

func TestPartitionerExplicit(t *testing.T) {
	tp := Partitioner().ForTopic("t")
	for _, p := range []int32{0, 1, 6} {
		r := &kgo.Record{Key: []byte("foobar"), Partition: p}
		if got := tp.Partition(r, 7); int32(got) != p {
			t.Errorf("explicit partition %d: got %d", p, got)
		}
	}
	if tp.RequiresConsistency(&kgo.Record{Partition: -1}) {
		t.Errorf("a null-key record without partition must not require consistency")
	}
}

func TestProduceKeyedLandsWhereJavaWould(t *testing.T) {
	c := newCluster(t, 7, "keyed")
	cl := newClient(t, c, nil)
	msgs := make([]Message, len(kafkaMurmur2Vectors))
	for i, v := range kafkaMurmur2Vectors {
		msgs[i] = Message{Topic: "keyed", Partition: -1, Key: []byte(v.key), Value: []byte("v" + strconv.Itoa(i))}
	}
	results, err := cl.Produce(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range results {
		if res.Err != nil {
			t.Fatalf("record %d: %v", i, res.Err)
		}
		if want := javaPartition(kafkaMurmur2Vectors[i].hash, 7); res.Partition != want {
			t.Errorf("key %q: partition %d, Java gives %d", kafkaMurmur2Vectors[i].key, res.Partition, want)
		}
	}
	got := readAll(t, c, "keyed", len(msgs))
	for i, res := range results {
		r := got[fmt.Sprint(res.Partition, "/", res.Offset)]
		if r == nil || string(r.Key) != kafkaMurmur2Vectors[i].key || string(r.Value) != "v"+strconv.Itoa(i) {
			t.Errorf("record %d not found at %d/%d", i, res.Partition, res.Offset)
		}
	}
}

// TestProduceOrder checks that results come back in request order even
// though franz-go completes partitions in any order.
func TestProduceOrder(t *testing.T) {
	c := newCluster(t, 3, "order")
	cl := newClient(t, c, nil)
	const n = 3000
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = Message{Topic: "order", Partition: int32(i % 3), Value: []byte(strconv.Itoa(i))}
	}
	results, err := cl.Produce(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, c, "order", n)
	last := map[int32]int64{0: -1, 1: -1, 2: -1}
	for i, res := range results {
		if res.Err != nil {
			t.Fatalf("record %d: %v", i, res.Err)
		}
		if res.Partition != int32(i%3) {
			t.Fatalf("record %d: explicit partition %d not honoured, got %d", i, i%3, res.Partition)
		}
		if res.Offset <= last[res.Partition] {
			t.Fatalf("record %d: offset %d not after %d", i, res.Offset, last[res.Partition])
		}
		last[res.Partition] = res.Offset
		r := got[fmt.Sprint(res.Partition, "/", res.Offset)]
		if r == nil || string(r.Value) != strconv.Itoa(i) {
			t.Fatalf("result %d points at the wrong record", i)
		}
		if r.Key != nil {
			t.Fatalf("a record without key must have a null key, got %q", r.Key)
		}
	}
}

func TestHeadersTimestampAndNullValue(t *testing.T) {
	c := newCluster(t, 1, "misc")
	cl := newClient(t, c, nil)
	ts := time.UnixMilli(1637745834744)
	msgs := []Message{
		{Topic: "misc", Partition: -1, Key: []byte{}, Value: nil, Timestamp: ts,
			Headers: []Header{{Key: "a", Value: []byte{0, 1}}, {Key: "b", Value: nil}}},
	}
	results, err := cl.Produce(context.Background(), msgs)
	if err != nil || results[0].Err != nil {
		t.Fatal(err, results)
	}
	if !results[0].Timestamp.Equal(ts) {
		t.Errorf("result timestamp %v, want %v", results[0].Timestamp, ts)
	}
	for _, r := range readAll(t, c, "misc", 1) {
		if r.Key == nil || len(r.Key) != 0 {
			t.Errorf("empty key must stay empty, not null: %v", r.Key)
		}
		if r.Value != nil {
			t.Errorf("null value must stay null: %v", r.Value)
		}
		if !r.Timestamp.Equal(ts) {
			t.Errorf("timestamp %v, want %v", r.Timestamp, ts)
		}
		if len(r.Headers) != 2 || r.Headers[0].Key != "a" || string(r.Headers[0].Value) != "\x00\x01" || r.Headers[1].Key != "b" {
			t.Errorf("headers %+v", r.Headers)
		}
	}
}

func TestCheckPartitionAndTopic(t *testing.T) {
	c := newCluster(t, 3, "three")
	cl := newClient(t, c, nil)
	ctx := context.Background()
	if n, err := cl.Partitions(ctx, "three"); err != nil || n != 3 {
		t.Fatalf("Partitions = %d, %v", n, err)
	}
	if err := cl.CheckPartition(ctx, "three", 2); err != nil {
		t.Fatalf("partition 2: %v", err)
	}
	if err := cl.CheckPartition(ctx, "three", 3); Classify(err) != ClassUnknownPartition {
		t.Fatalf("partition 3: %v (%v)", err, Classify(err))
	}
	_, err := cl.Partitions(ctx, "nope")
	if Classify(err) != ClassUnknownTopic || !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("missing topic: %v (%v)", err, Classify(err))
	}
	if h := Hint(err); !strings.Contains(h, "allow_auto_topic_creation") || !strings.Contains(h, "create the topic") {
		t.Fatalf("missing topic without auto-creation: hint %q", h)
	}
	// Asked to create it, a broker that does not is no fault of the
	// gateway's setting: no hint about it.
	auto := newClient(t, c, func(cfg *Config) { cfg.AllowAutoTopicCreation = true })
	if _, err := auto.Partitions(ctx, "nope"); Classify(err) != ClassUnknownTopic || Hint(err) != "" {
		t.Fatalf("missing topic with auto-creation asked: %v, hint %q", err, Hint(err))
	}
}

func TestOverloadRefusesWholeBatch(t *testing.T) {
	c := newCluster(t, 1, "small")
	cl := newClient(t, c, func(cfg *Config) { cfg.MaxBufferedRecords = 10 })
	msgs := make([]Message, 11)
	for i := range msgs {
		msgs[i] = Message{Topic: "small", Partition: -1, Value: []byte("x")}
	}
	if _, err := cl.Produce(context.Background(), msgs); !errors.Is(err, ErrOverloaded) || Classify(err) != ClassOverloaded {
		t.Fatalf("11 records over a 10 record buffer: %v", err)
	}
	if recs, _ := cl.Buffered(); recs != 0 {
		t.Fatalf("a refused batch must release its reservation, %d left", recs)
	}
	if res, err := cl.Produce(context.Background(), msgs[:10]); err != nil || res[9].Err != nil {
		t.Fatalf("10 records fit: %v", err)
	}
	if got := readAll(t, c, "small", 10); len(got) != 10 {
		t.Fatalf("%d records in Kafka, want exactly the 10 admitted", len(got))
	}
}

// TestKafkaErrorsAreClassified injects produce errors with kfake and checks
// the classification every dialect relies on.
func TestKafkaErrorsAreClassified(t *testing.T) {
	for _, tc := range []struct {
		code  int16
		class Class
	}{
		{kerr.TopicAuthorizationFailed.Code, ClassNotAuthorized},
		{kerr.InvalidRecord.Code, ClassBadRequest},
		{kerr.InvalidTimestamp.Code, ClassBadRequest},
	} {
		t.Run(kerr.ErrorForCode(tc.code).Error(), func(t *testing.T) {
			c := newCluster(t, 1, "inject")
			c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				req := kr.(*kmsg.ProduceRequest)
				resp := req.ResponseKind().(*kmsg.ProduceResponse)
				for _, rt := range req.Topics {
					st := kmsg.NewProduceResponseTopic()
					st.Topic, st.TopicID = rt.Topic, rt.TopicID // v13+ matches by topic ID
					for _, rp := range rt.Partitions {
						sp := kmsg.NewProduceResponseTopicPartition()
						sp.Partition = rp.Partition
						sp.ErrorCode = tc.code
						st.Partitions = append(st.Partitions, sp)
					}
					resp.Topics = append(resp.Topics, st)
				}
				return resp, nil, true
			})
			cl := newClient(t, c, func(cfg *Config) { cfg.DeliveryTimeout = 5 * time.Second })
			res, err := cl.Produce(context.Background(), []Message{{Topic: "inject", Partition: -1, Value: []byte("x")}})
			if err != nil {
				t.Fatal(err)
			}
			if got := Classify(res[0].Err); got != tc.class {
				t.Fatalf("error %v classified %v, want %v", res[0].Err, got, tc.class)
			}
			if code, ok := KafkaCode(res[0].Err); !ok || code != tc.code {
				t.Fatalf("kafka code %d %v, want %d", code, ok, tc.code)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for err, want := range map[error]Class{
		nil:                           ClassOK,
		kerr.TopicAuthorizationFailed: ClassNotAuthorized,
		kerr.SaslAuthenticationFailed: ClassAuthFailed,
		kerr.UnknownTopicOrPartition:  ClassUnknownTopic,
		ErrUnknownPartition:           ClassUnknownPartition,
		kerr.NotEnoughReplicas:        ClassUnavailable,
		kerr.RequestTimedOut:          ClassTimeout,
		kgo.ErrRecordTimeout:          ClassTimeout,
		ErrTimeout:                    ClassTimeout,
		kgo.ErrMaxBuffered:            ClassOverloaded,
		kgo.ErrClientClosed:           ClassUnavailable,
		kerr.CorruptMessage:           ClassBadRequest,
		kerr.DuplicateSequenceNumber:  ClassKafka,
		fmt.Errorf("wrapped: %w", kerr.RecordListTooLarge): ClassTooLarge,
	} {
		if got := Classify(err); got != want {
			t.Errorf("Classify(%v) = %v, want %v", err, got, want)
		}
	}
	if !Retriable(kerr.NotLeaderForPartition) || Retriable(kerr.MessageTooLarge) {
		t.Errorf("Retriable: leader changes retry, too large records do not")
	}
}

func TestRecordTooLargeForBatch(t *testing.T) {
	c := newCluster(t, 1, "big")
	cl := newClient(t, c, func(cfg *Config) { cfg.MaxMessageBytes = 4096 })
	res, err := cl.Produce(context.Background(), []Message{{Topic: "big", Partition: -1, Value: make([]byte, 8192)}})
	if err != nil {
		t.Fatal(err)
	}
	if Classify(res[0].Err) != ClassTooLarge || !errors.Is(res[0].Err, kerr.MessageTooLarge) {
		t.Fatalf("8 KiB record over a 4 KiB max: %v", res[0].Err)
	}
	if h := Hint(res[0].Err); !strings.Contains(h, "max_message_bytes (4 KiB)") {
		t.Fatalf("8 KiB record over a 4 KiB max: hint %q", h)
	}
}

// TestCheckSizeNeverStricter produces records around max_message_bytes, with
// and without a key and headers: CheckSize refuses only records franz-go
// refuses too, and lets through at most a few bytes' worth that franz-go
// refuses (the produce request's framing).
func TestCheckSizeNeverStricter(t *testing.T) {
	c := newCluster(t, 1, "edge")
	const limit = 4096
	cl := newClient(t, c, func(cfg *Config) { cfg.MaxMessageBytes = limit; cfg.Linger = 0 })
	ctx := context.Background()
	for _, shape := range []Message{
		{Topic: "edge", Partition: -1},
		{Topic: "edge", Partition: -1, Key: []byte("key"), Headers: []Header{{Key: "h", Value: []byte("v")}}},
	} {
		lastChecked, lastProduced := -1, -1
		for n := limit - 120; n <= limit; n++ {
			m := shape
			m.Value = make([]byte, n)
			if cl.CheckSize(&m) == nil {
				lastChecked = n
			}
			res, err := cl.Produce(ctx, []Message{m})
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Err == nil {
				lastProduced = n
			} else if Classify(res[0].Err) != ClassTooLarge {
				t.Fatalf("%d bytes: %v", n, res[0].Err)
			}
		}
		if lastChecked < lastProduced || lastChecked > lastProduced+16 || lastProduced < 0 {
			t.Errorf("key %q: CheckSize passes values up to %d bytes, franz-go produces up to %d", shape.Key, lastChecked, lastProduced)
		}
	}
	err := cl.CheckSize(&Message{Topic: "edge", Value: make([]byte, limit)})
	if Classify(err) != ClassTooLarge || !strings.Contains(Hint(err), "max_message_bytes (4 KiB)") {
		t.Fatalf("CheckSize of a record over: %v, hint %q", err, Hint(err))
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{1: "1 byte", 1000: "1000 bytes", 1024: "1 KiB", 16 << 20: "16 MiB",
		1536 << 10: "1536 KiB", 1 << 30: "1 GiB", 1<<20 + 1: "1048577 bytes"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// slowProduce delays every produce response until release is closed, and
// counts the produce requests it saw.
func slowProduce(c *kfake.Cluster, release <-chan struct{}, seen *atomic.Int32) {
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		seen.Add(1)
		<-release
		return nil, nil, false
	})
}

func TestTimeoutStopsWaitingOnly(t *testing.T) {
	c := newCluster(t, 1, "slow")
	release := make(chan struct{})
	var seen atomic.Int32
	slowProduce(c, release, &seen)
	cl := newClient(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := cl.Produce(ctx, []Message{{Topic: "slow", Partition: -1, Value: []byte("late")}})
	if err != nil {
		t.Fatal(err)
	}
	if Classify(res[0].Err) != ClassTimeout || !Retriable(res[0].Err) {
		t.Fatalf("got %v, want a retriable timeout", res[0].Err)
	}
	close(release)
	// A timeout is not a "no": the record is still written.
	if got := readAll(t, c, "slow", 1); len(got) != 1 {
		t.Fatalf("the timed-out record should still land, got %d records", len(got))
	}
}

func TestCloseFlushesBufferedRecords(t *testing.T) {
	c := newCluster(t, 1, "flush")
	release := make(chan struct{})
	var seen atomic.Int32
	slowProduce(c, release, &seen)
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	cl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []Result)
	go func() {
		res, _ := cl.Produce(context.Background(), []Message{{Topic: "flush", Partition: -1, Value: []byte("in flight")}})
		done <- res
	}()
	for seen.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	go func() { time.Sleep(100 * time.Millisecond); close(release) }()
	if err := cl.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	if res := <-done; res[0].Err != nil {
		t.Fatalf("a record in flight at Close must be flushed, got %v", res[0].Err)
	}
	if got := readAll(t, c, "flush", 1); len(got) != 1 {
		t.Fatalf("%d records in Kafka", len(got))
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Acks = "leader" }, "idempotent producing requires acks all"},
		{func(c *Config) { c.Acks = "some" }, "unknown acks"},
		{func(c *Config) { c.Compression = "brotli" }, "unknown compression"},
		{func(c *Config) { c.Brokers = nil }, "no brokers"},
		{func(c *Config) { c.SASL = &SASL{Mechanism: "kerberos"} }, "unknown sasl mechanism"},
		{func(c *Config) { c.MaxBufferedRecords = 0 }, "max_buffered_records"},
	} {
		cfg := DefaultConfig()
		cfg.Brokers = []string{"127.0.0.1:1"}
		tc.mod(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error containing %q, got %v", tc.want, err)
		}
	}
	cfg := DefaultConfig()
	cfg.Brokers = []string{"127.0.0.1:1"}
	cfg.Acks, cfg.Idempotent = "leader", false
	if err := cfg.Validate(); err != nil {
		t.Errorf("acks leader without idempotence is valid: %v", err)
	}
}

func TestEmbeddedAutoCreatesThreePartitions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Embedded = true
	cl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close(context.Background())
	n, err := cl.Partitions(context.Background(), "fresh")
	if err != nil || n != 3 {
		t.Fatalf("auto-created topic: %d partitions, %v", n, err)
	}
}

// readAll consumes a topic from the start until want records are read and
// indexes them by "partition/offset".
func readAll(t *testing.T, c *kfake.Cluster, topic string, want int) map[string]*kgo.Record {
	t.Helper()
	kc, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[string]*kgo.Record{}
	for len(out) < want && ctx.Err() == nil {
		kc.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out[fmt.Sprint(r.Partition, "/", r.Offset)] = r })
	}
	return out
}

// A partition whose leader is stuck delays only the requests that wrote to
// it: requests to other partitions keep finishing, and the stuck request
// finishes when its broker answers.
func TestSlowPartitionDelaysOnlyItsRequests(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.SeedTopics(2, "split"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if c.LeaderFor("split", 0) == c.LeaderFor("split", 1) {
		other := (c.LeaderFor("split", 0) + 1) % 2
		if err := c.MoveTopicPartition("split", 1, other); err != nil {
			t.Fatal(err)
		}
	}
	stuck := c.LeaderFor("split", 0)
	release := make(chan struct{})
	var sleeping atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if c.CurrentNode() == stuck {
			sleeping.Add(1)
			c.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	cl := newClient(t, c, nil)

	slow := make(chan []Result, 1)
	go func() {
		res, _ := cl.Produce(context.Background(), []Message{{Topic: "split", Partition: 0, Value: []byte("slow")}})
		slow <- res
	}()
	for sleeping.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// Many requests to the healthy partition, several at a time, all
	// while partition 0 is stuck: none may wait for the stuck one.
	var g errgroup
	for i := range 40 {
		g.Go(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := cl.Produce(ctx, []Message{{Topic: "split", Partition: 1, Value: []byte(strconv.Itoa(i))}})
			if err != nil {
				return err
			}
			return res[0].Err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("a request to the healthy partition failed while another partition was stuck: %v", err)
	}
	select {
	case res := <-slow:
		t.Fatalf("the stuck partition's request finished early: %+v", res)
	default:
	}
	close(release)
	if res := <-slow; res[0].Err != nil || res[0].Partition != 0 {
		t.Fatalf("stuck request after release: %+v", res[0])
	}
}

// Close is bounded by its context even when the broker never answers, and
// every record still waiting then fails instead of hanging its caller.
func TestCloseBoundedWhenBrokerHangs(t *testing.T) {
	c := newCluster(t, 1, "hang")
	release := make(chan struct{})
	defer close(release)
	var seen atomic.Int32
	slowProduce(c, release, &seen)
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	cl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cl.Start([]Message{{Topic: "hang", Partition: -1, Value: []byte("never")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := cl.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: got %v, want the flush to give up at the deadline", err)
	}
	<-p.Done()
	if res := p.Results(); !errors.Is(res[0].Err, kgo.ErrClientClosed) {
		t.Fatalf("record left at close: got %v, want ErrClientClosed", res[0].Err)
	}
	if _, err := cl.Start([]Message{{Topic: "hang", Value: []byte("after")}}); !errors.Is(err, kgo.ErrClientClosed) {
		t.Fatalf("start after close: got %v", err)
	}
}

// errgroup is the part of x/sync/errgroup these tests need.
type errgroup struct {
	wg    sync.WaitGroup
	once  sync.Once
	first error
}

func (g *errgroup) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.once.Do(func() { g.first = err })
		}
	}()
}

func (g *errgroup) Wait() error { g.wg.Wait(); return g.first }

// A caller that stops waiting (its request's context is cancelled) must not
// fail the records produced with its own: franz-go fails a partition's
// buffered batch by its first record's context, so the request's context
// must never reach it.
func TestCancelledCallerFailsNoOtherRecord(t *testing.T) {
	c := newCluster(t, 1, "shared")
	release := make(chan struct{})
	var seen atomic.Int32
	slowProduce(c, release, &seen)
	cl := newClient(t, c, nil)
	// Hold the first produce request, so that the next records share a
	// batch behind it.
	first, err := cl.Start([]Message{{Topic: "shared", Partition: 0, Value: []byte("first")}})
	if err != nil {
		t.Fatal(err)
	}
	for seen.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan []Result)
	go func() {
		res, _ := cl.Produce(ctx, []Message{{Topic: "shared", Partition: 0, Value: []byte("gone")}})
		gone <- res
	}()
	stays, err := cl.Start([]Message{{Topic: "shared", Partition: 0, Value: []byte("stays")}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	if res := <-gone; Classify(res[0].Err) != ClassTimeout {
		t.Fatalf("the cancelled caller got %v, want a timeout", res[0].Err)
	}
	close(release)
	<-first.Done()
	<-stays.Done()
	if err := stays.Results()[0].Err; err != nil {
		t.Fatalf("another caller's record failed with the cancelled one: %v", err)
	}
	if got := readAll(t, c, "shared", 3); len(got) != 3 {
		t.Fatalf("%d records in Kafka, want 3 (the cancelled caller's too)", len(got))
	}
}

// TestDeliveryTimeout: a broker that never acknowledges gets every waiter
// ErrTimeout once DeliveryTimeout has passed (the shared expiry, not a timer
// per wait), or sooner when the caller's context ends first; the waits
// sharing a tick share its channel.
func TestDeliveryTimeout(t *testing.T) {
	c := newCluster(t, 1, "stuck")
	stop := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		<-stop
		return nil, errors.New("test over"), true
	})
	const timeout = 300 * time.Millisecond
	cl := newClient(t, c, func(cfg *Config) { cfg.DeliveryTimeout = timeout })
	t.Cleanup(func() { close(stop) }) // before the client's Close flushes
	began := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := cl.Produce(context.Background(), []Message{{Topic: "stuck", Partition: -1, Value: []byte("x")}})
			if err != nil || !errors.Is(res[0].Err, ErrTimeout) {
				t.Errorf("a record no broker acknowledges: %v %v, want ErrTimeout", res, err)
			}
			if waited := time.Since(began); waited < timeout {
				t.Errorf("timed out after %v, before the delivery timeout %v", waited, timeout)
			}
		}()
	}
	wg.Wait()
	// A caller's deadline before the delivery timeout ends the wait by
	// itself, without an expiry.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res, err := cl.Produce(ctx, []Message{{Topic: "stuck", Partition: -1, Value: []byte("y")}})
	if err != nil || !errors.Is(res[0].Err, ErrTimeout) {
		t.Fatalf("with a shorter context: %v %v", res, err)
	}
	e := newExpiries(time.Hour)
	if a, b := e.after(time.Minute), e.after(time.Minute+time.Second); a != b {
		t.Errorf("two waits ending in the same tick got different channels")
	}
}

// A wait that ends before every record of several is finished reports
// those already acknowledged with their partition and offset, and only the
// others as timed out: a request partly written is told so, rather than
// timed out whole (which a client would retry, writing the rest twice).
func TestTimeoutKeepsFinishedRecords(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.SeedTopics(2, "split"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.MoveTopicPartition("split", 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.MoveTopicPartition("split", 1, 1); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if c.CurrentNode() == 1 { // partition 1's leader does not answer
			c.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	cl := newClient(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	res, err := cl.Produce(ctx, []Message{
		{Topic: "split", Partition: 0, Value: []byte("a")},
		{Topic: "split", Partition: 1, Value: []byte("b")},
		{Topic: "split", Partition: 0, Value: []byte("c")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].Partition != 0 || res[0].Offset != 0 || res[2].Err != nil || res[2].Offset != 1 {
		t.Fatalf("the records of partition 0: %+v, %+v; want acknowledged at offsets 0 and 1", res[0], res[2])
	}
	if Classify(res[1].Err) != ClassTimeout {
		t.Fatalf("the record of partition 1: %+v; want a timeout", res[1])
	}
	close(release)
}
