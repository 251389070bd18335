// Package idempotency remembers the outcome of requests by their
// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header), so that a
// repeated request gets the first one's answer and writes nothing. It knows
// nothing of Caddy or HTTP handlers: the kafka_rest handler scopes keys,
// claims them before producing and settles them once Kafka answered.
package idempotency

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

// MaxKeyLen is the longest key accepted, in bytes.
const MaxKeyLen = 255

// RecordsPerKey bounds the results a store keeps, on average per key: a
// store holds at most this many times its maximum of keys in results,
// whatever the size of the requests.
const RecordsPerKey = 10

// Errors of Key.
var (
	ErrMultipleKeys = errors.New("more than one idempotency key")
	ErrInvalidKey   = errors.New("invalid idempotency key")
)

// Key reads the key from the header's values: an sf-string ("abc", as the
// draft has it) or, as many clients send it, a bare token.
func Key(values []string) (string, error) {
	if len(values) != 1 {
		return "", ErrMultipleKeys
	}
	key := strings.TrimSpace(values[0])
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		key = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(key[1 : len(key)-1])
	}
	if key == "" || len(key) > MaxKeyLen {
		return "", ErrInvalidKey
	}
	return key, nil
}

// Digest is a truncated SHA-256: 128 bits tell keys and requests apart as
// well as 256 would, in half the memory.
type Digest [16]byte

// Scope identifies a key: the same key from another user, or to another
// method or path, is another key.
func Scope(user, method, path, key string) Digest {
	h := sha256.New()
	for _, s := range [...]string{user, method, path, key} {
		writeLen(h, len(s))
		_, _ = io.WriteString(h, s)
	}
	return sum(h)
}

// Fingerprint identifies a request's records as Kafka would receive them:
// topic, explicit partition, key and value (null and empty told apart),
// headers and explicit timestamp; and errs, the decoding errors of the
// records refused on their own (nil, or one per record). What does not
// reach Kafka (a dialect's batch entry ids, the response's media type) is not
// part of it.
func Fingerprint(records []producer.Message, errs []error) Digest {
	h := sha256.New()
	writeLen(h, len(records))
	for i := range records {
		m := &records[i]
		writeLen(h, len(m.Topic))
		_, _ = io.WriteString(h, m.Topic)
		writeLen(h, int(m.Partition))
		writeBytes(h, m.Key)
		writeBytes(h, m.Value)
		writeLen(h, len(m.Headers))
		for _, hd := range m.Headers {
			writeLen(h, len(hd.Key))
			_, _ = io.WriteString(h, hd.Key)
			writeBytes(h, hd.Value)
		}
		if m.Timestamp.IsZero() {
			writeLen(h, 0)
		} else {
			writeLen(h, 1)
			writeLen(h, int(m.Timestamp.UnixNano()))
		}
		if errs != nil && errs[i] != nil {
			msg := errs[i].Error()
			writeLen(h, len(msg))
			_, _ = io.WriteString(h, msg)
		} else {
			writeLen(h, -1)
		}
	}
	return sum(h)
}

func sum(h hash.Hash) Digest {
	var s [sha256.Size]byte
	return Digest(h.Sum(s[:0]))
}

func writeLen(h hash.Hash, n int) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	_, _ = h.Write(b[:])
}

// writeBytes writes b with its length, -1 for nil.
func writeBytes(h hash.Hash, b []byte) {
	if b == nil {
		writeLen(h, -1)
		return
	}
	writeLen(h, len(b))
	_, _ = h.Write(b)
}

// Entry is a key's request: pending until Kafka answers it, then settled
// with its outcome.
type Entry struct {
	scope, fp Digest
	wait      chan struct{} // while pending: closed when settled; guarded by the store's mu
	expires   time.Time

	// Set before wait is closed, never after: the outcome of a request
	// Kafka wrote some record of, compact (it is kept for the window)...
	stored []storedResult
	errs   []error // per record; nil when every record was written
	// ...or of one it wrote nothing of (kept only by its waiters).
	results []producer.Result
	err     error
}

// Fingerprint is the fingerprint of the request that claimed the key.
func (e *Entry) Fingerprint() Digest { return e.fp }

// storedResult is a producer.Result without its error, in 24 bytes instead
// of 56.
type storedResult struct {
	partition int32
	spooled   bool // spool: on the spool, answered 202 (fits beside partition)
	offset    int64
	timestamp int64 // Unix nanoseconds; noTimestamp for none
}

const noTimestamp = math.MinInt64

// Outcome is the results or the error of a settled entry.
func (e *Entry) Outcome() ([]producer.Result, error) {
	if e.stored == nil {
		return e.results, e.err
	}
	out := make([]producer.Result, len(e.stored))
	for i, sr := range e.stored {
		out[i] = producer.Result{Partition: sr.partition, Offset: sr.offset, Spooled: sr.spooled}
		if sr.timestamp != noTimestamp {
			out[i].Timestamp = time.Unix(0, sr.timestamp)
		}
		if e.errs != nil {
			out[i].Err = e.errs[i]
		}
	}
	return out, nil
}

// keep stores results compactly in e.
func (e *Entry) keep(results []producer.Result) {
	e.stored = make([]storedResult, len(results))
	for i, r := range results {
		sr := storedResult{partition: r.Partition, spooled: r.Spooled, offset: r.Offset, timestamp: noTimestamp}
		if !r.Timestamp.IsZero() {
			sr.timestamp = r.Timestamp.UnixNano()
		}
		e.stored[i] = sr
		if r.Err != nil {
			if e.errs == nil {
				e.errs = make([]error, len(results))
			}
			e.errs[i] = r.Err
		}
	}
}

// Store remembers the outcome of keyed requests for a window, bounded in
// keys and results. Every stored entry has the same window, so the order in
// which they were stored is the order in which they expire: a FIFO of them
// is enough to forget the oldest first. Pending entries are not in the FIFO
// and never expire: forgetting one would let a retry write its records
// again; their number is bounded by the producer's buffer, since each holds
// records in it.
type Store struct {
	window     time.Duration
	maxKeys    int
	maxRecords int

	mu      sync.Mutex
	entries map[Digest]*Entry
	fifo    []*Entry // stored entries, oldest first, from head
	head    int
	stored  int // stored entries in entries
	records int // results of the stored entries
}

// NewStore returns a store that remembers outcomes for window, at most
// maxKeys of them and RecordsPerKey times as many results.
func NewStore(window time.Duration, maxKeys int) *Store {
	return &Store{
		window:     window,
		maxKeys:    maxKeys,
		maxRecords: maxKeys * RecordsPerKey,
		entries:    make(map[Digest]*Entry),
	}
}

// Claim returns the live entry of scope, with its wait channel if it is
// pending, or creates a pending one for fp and reports that the caller must
// produce it and Settle it.
func (s *Store) Claim(scope, fp Digest, now time.Time) (e *Entry, wait <-chan struct{}, created bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evict(now)
	if e, ok := s.entries[scope]; ok {
		return e, e.wait, false
	}
	e = &Entry{scope: scope, fp: fp, wait: make(chan struct{})}
	s.entries[scope] = e
	return e, e.wait, true
}

// Settle gives a pending entry its outcome. A request Kafka wrote some
// record of is remembered for the window, and so is one of which a record
// failed indeterminately (a timeout, a client closed with it in flight:
// producer.Indeterminate), which Kafka may have written: a retry is told
// that outcome rather than writing the records again. One Kafka surely
// wrote nothing of is forgotten, so that a retry produces it again, but the
// requests already waiting on it get its outcome.
func (s *Store) Settle(e *Entry, results []producer.Result, err error, now time.Time) {
	keep := false
	for i := range results {
		if results[i].Err == nil || producer.Indeterminate(results[i].Err) {
			keep = true
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if keep {
		e.keep(results)
		e.expires = now.Add(s.window)
		s.fifo = append(s.fifo, e)
		s.stored++
		s.records += len(results)
	} else {
		e.results, e.err = results, err
		if s.entries[e.scope] == e {
			delete(s.entries, e.scope)
		}
	}
	close(e.wait)
	e.wait = nil
	s.evict(now)
}

// evict forgets the stored entries that expired, then the oldest ones while
// there are too many keys or results.
func (s *Store) evict(now time.Time) {
	for s.head < len(s.fifo) {
		e := s.fifo[s.head]
		if now.Before(e.expires) && s.stored <= s.maxKeys && s.records <= s.maxRecords {
			break
		}
		s.fifo[s.head] = nil
		s.head++
		if s.entries[e.scope] == e {
			delete(s.entries, e.scope)
			s.stored--
			s.records -= len(e.stored)
		}
	}
	if s.head > 64 && s.head*2 > len(s.fifo) {
		n := copy(s.fifo, s.fifo[s.head:])
		clear(s.fifo[n:])
		s.fifo, s.head = s.fifo[:n], 0
	}
}

// Size is the number of keys the store holds, pending and stored, and the
// results it keeps.
func (s *Store) Size() (keys, records int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries), s.records
}

// Destruct lets a Store live in a caddy.UsagePool. Requests still in flight
// keep the store alive until they end.
func (s *Store) Destruct() error { return nil }
