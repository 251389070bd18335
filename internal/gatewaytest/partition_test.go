package gatewaytest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaMurmur2 are the values of Kafka's own UtilsTest.testMurmur2.
var kafkaMurmur2 = []struct {
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

func TestMurmur2KafkaVectors(t *testing.T) {
	for _, v := range kafkaMurmur2 {
		if got := Murmur2([]byte(v.key)); got != v.hash {
			t.Errorf("Murmur2(%q) = %d, Kafka's UtilsTest says %d", v.key, got, v.hash)
		}
	}
}

// TestJavaPartitionKafkaVectors derives the partition from Kafka's hash
// values by BuiltInPartitioner.partitionForKey's definition: the values are
// Kafka's, not computed here, and every one but "abc" is negative, so
// toPositive (masking, not Math.abs) decides the answer.
func TestJavaPartitionKafkaVectors(t *testing.T) {
	for _, v := range kafkaMurmur2 {
		for _, n := range []int32{1, 2, 3, 7, 12, 100} {
			want := int32(uint32(v.hash)&0x7fffffff) % n
			if got := JavaPartition([]byte(v.key), n); got != want {
				t.Errorf("JavaPartition(%q, %d) = %d, want %d", v.key, n, got, want)
			}
		}
	}
	// A hand-worked case: -973932308 is 0xC5F2F8EC; masked, 0x45F2F8EC =
	// 1173551340, and 1173551340 % 7 = 3 (where Math.abs would give
	// 973932308 % 7 = 6).
	if got := JavaPartition([]byte("21"), 7); got != 3 {
		t.Errorf(`JavaPartition("21", 7) = %d, want 3`, got)
	}
}

// TestMurmur2AgreesWithFranzGo compares with franz-go's Kafka-compatible
// partitioner over every tail length (Kafka's vectors have no key whose
// length is 1 modulo 4), empty keys and bytes above 0x7f included.
func TestMurmur2AgreesWithFranzGo(t *testing.T) {
	tp := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 64; n++ {
		for range 8 {
			key := make([]byte, n)
			for i := range key {
				key[i] = byte(rng.UintN(256))
			}
			for _, parts := range []int32{1, 3, 7, 1000} {
				want := int32(tp.Partition(&kgo.Record{Key: key}, int(parts)))
				if got := JavaPartition(key, parts); got != want {
					t.Fatalf("key %s over %d partitions: %d, franz-go picks %d", fmt.Sprintf("%x", key), parts, got, want)
				}
			}
		}
	}
}
