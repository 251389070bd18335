package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"
)

// Record is one record to spool, as it will be produced.
type Record struct {
	Topic     string
	Partition int32 // -1: the partitioner's choice
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time // zero: none
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// A frame is: length of the payload (uint32 LE), CRC-32C of the payload
// (uint32 LE), payload. The payload's first byte is its kind.
const (
	frameHeader = 8
	kindBatch   = 'B'
	kindDone    = 'D'
	// maxFrame bounds a frame's length, so that a corrupt length is not
	// taken for a huge frame.
	maxFrame = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	errTorn    = errors.New("incomplete frame")
	errBadCRC  = errors.New("checksum mismatch")
	errBadKind = errors.New("unknown frame kind")
)

// readFrame reads the frame at the start of b. On a checksum mismatch it
// still returns the frame's length n when the length fits in b, so that the
// caller may skip the frame alone; n is 0 when the length cannot be trusted.
func readFrame(b []byte) (payload []byte, n int, err error) {
	if len(b) < frameHeader {
		return nil, 0, errTorn
	}
	l := binary.LittleEndian.Uint32(b)
	if l == 0 || l > maxFrame {
		return nil, 0, fmt.Errorf("frame length %d: %w", l, errBadCRC)
	}
	n = frameHeader + int(l)
	if n > len(b) {
		return nil, 0, errTorn
	}
	payload = b[frameHeader:n]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, n, errBadCRC
	}
	if payload[0] != kindBatch && payload[0] != kindDone {
		return nil, n, errBadKind
	}
	return payload, n, nil
}

// seqOffset is where a batch frame's sequence number sits (fixed width, so
// that Append can set it under its lock after encoding outside it).
const seqOffset = frameHeader + 1

// encodeBatch appends a batch frame: kind, seq (uint64 LE), spooled-at
// (unix ns, int64 LE), record count (uvarint), then each record.
func encodeBatch(buf []byte, seq uint64, recs []Record) ([]byte, error) {
	start := len(buf)
	buf = append(buf, make([]byte, frameHeader)...)
	buf = append(buf, kindBatch)
	buf = binary.LittleEndian.AppendUint64(buf, seq)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(time.Now().UnixNano()))
	buf = binary.AppendUvarint(buf, uint64(len(recs)))
	for i := range recs {
		r := &recs[i]
		buf = appendString(buf, r.Topic)
		buf = binary.AppendVarint(buf, int64(r.Partition))
		buf = appendBytes(buf, r.Key)
		buf = appendBytes(buf, r.Value)
		if r.Timestamp.IsZero() {
			buf = binary.AppendVarint(buf, math.MinInt64)
		} else {
			buf = binary.AppendVarint(buf, r.Timestamp.UnixNano())
		}
		buf = binary.AppendUvarint(buf, uint64(len(r.Headers)))
		for _, h := range r.Headers {
			buf = appendString(buf, h.Key)
			buf = appendBytes(buf, h.Value)
		}
	}
	if len(buf)-start-frameHeader > maxFrame {
		return nil, fmt.Errorf("request of %d bytes too large for the spool", len(buf)-start)
	}
	sealFrame(buf[start:])
	return buf, nil
}

// putSeq sets the sequence number of the batch frame f and reseals it.
func putSeq(f []byte, seq uint64) {
	binary.LittleEndian.PutUint64(f[seqOffset:], seq)
	sealFrame(f)
}

func sealFrame(f []byte) {
	payload := f[frameHeader:]
	binary.LittleEndian.PutUint32(f, uint32(len(payload)))
	binary.LittleEndian.PutUint32(f[4:], crc32.Checksum(payload, castagnoli))
}

func encodeDone(buf []byte, marks []doneMark) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, frameHeader)...)
	buf = append(buf, kindDone)
	buf = binary.AppendUvarint(buf, uint64(len(marks)))
	for _, m := range marks {
		buf = binary.AppendUvarint(buf, m.seq)
		buf = binary.AppendUvarint(buf, uint64(m.idx))
	}
	sealFrame(buf[start:])
	return buf
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// appendBytes keeps nil apart from empty: a null key is not an empty one.
func appendBytes(buf []byte, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(buf, -1)
	}
	buf = binary.AppendVarint(buf, int64(len(b)))
	return append(buf, b...)
}

type batch struct {
	seq  uint64
	at   time.Time
	n    uint32
	recs []Record
}

var errShort = errors.New("truncated payload")

type reader struct {
	b   []byte
	err error
}

func (r *reader) fixed64() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.err = errShort
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(l int64) []byte {
	if r.err != nil {
		return nil
	}
	if l < 0 || l > int64(len(r.b)) {
		r.err = errShort
		return nil
	}
	v := r.b[:l:l]
	r.b = r.b[l:]
	return v
}

func (r *reader) str() string { return string(r.bytes(int64(r.uvarint()))) }

func (r *reader) nullable() []byte {
	l := r.varint()
	if l == -1 {
		return nil
	}
	return r.bytes(l)
}

func decodeBatchHeader(p []byte) (batch, error) {
	r := reader{b: p[1:]}
	b := batch{seq: r.fixed64(), at: time.Unix(0, int64(r.fixed64()))}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(p)) {
		r.err = errShort
	}
	b.n = uint32(n)
	return b, r.err
}

func decodeBatch(p []byte) (batch, error) {
	r := reader{b: p[1:]}
	b := batch{seq: r.fixed64(), at: time.Unix(0, int64(r.fixed64()))}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(p)) {
		return b, errShort
	}
	b.n = uint32(n)
	b.recs = make([]Record, n)
	for i := range b.recs {
		rec := &b.recs[i]
		rec.Topic = r.str()
		rec.Partition = int32(r.varint())
		rec.Key = r.nullable()
		rec.Value = r.nullable()
		if ts := r.varint(); ts != math.MinInt64 {
			rec.Timestamp = time.Unix(0, ts)
		}
		if nh := r.uvarint(); nh > 0 && nh <= uint64(len(r.b)) {
			rec.Headers = make([]Header, nh)
			for j := range rec.Headers {
				rec.Headers[j] = Header{Key: r.str(), Value: r.nullable()}
			}
		} else if nh > 0 {
			r.err = errShort
		}
	}
	return b, r.err
}

func decodeDone(p []byte) ([]doneMark, error) {
	r := reader{b: p[1:]}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(p)) {
		return nil, errShort
	}
	marks := make([]doneMark, n)
	for i := range marks {
		marks[i] = doneMark{seq: r.uvarint(), idx: uint32(r.uvarint())}
	}
	return marks, r.err
}
