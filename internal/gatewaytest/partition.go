package gatewaytest

// Murmur2 is Kafka's Utils.murmur2 (seed 0x9747b28c), written out from the
// Java source so that tests check where records land without trusting the
// gateway's partitioner or franz-go's.
func Murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(data)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := n &^ 3
	switch n & 3 {
	case 3:
		h ^= uint32(data[tail+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[tail+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[tail])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// JavaPartition is the partition Java's producer picks for a non-null key
// over partitions partitions: BuiltInPartitioner.partitionForKey,
// Utils.toPositive(Utils.murmur2(key)) % numPartitions, where toPositive
// masks the sign bit (it is not Math.abs).
func JavaPartition(key []byte, partitions int32) int32 {
	return (Murmur2(key) & 0x7fffffff) % partitions
}
