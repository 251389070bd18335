package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

// Defaults of IdempotencyConfig.
const (
	defaultIdempotencyWindow  = time.Hour
	defaultIdempotencyMaxKeys = 100000
	// idempotencyRecordsPerKey bounds the results a store keeps, on
	// average per key: a store holds at most this many times MaxKeys
	// results, whatever the size of the requests.
	idempotencyRecordsPerKey = 10
	// maxIdempotencyKey is the longest key accepted, in bytes.
	maxIdempotencyKey = 255
)

// idempotencyHeader is the request header, in canonical form
// (draft-ietf-httpapi-idempotency-key-header).
const idempotencyHeader = "Idempotency-Key"

// IdempotencyConfig configures the Idempotency-Key header
// (draft-ietf-httpapi-idempotency-key-header) of a kafka_rest handler. A
// request that carries the header produces its records once: a repeat with
// the same key, by the same user, to the same method and path, gets the first
// request's answer, read from memory, and writes nothing; a concurrent
// repeat waits for the first to finish. Keys are remembered per cluster, in
// this Caddy instance only, across config reloads.
type IdempotencyConfig struct {
	// Disabled turns the header off: requests carrying it are produced as
	// any other. Default: false (on).
	Disabled bool `json:"disabled,omitempty"`

	// How long the outcome of a request is remembered, counted from the
	// moment Kafka answered it. A key repeated later produces again.
	// Default: 1h.
	Window caddy.Duration `json:"window,omitempty"`

	// Most keys remembered per cluster; past it the oldest are forgotten
	// first (a repeat of a forgotten key produces again). The results kept
	// are bounded too, at 10 per key on average (a key's request with more
	// records forgets more keys). Each key costs about 230 bytes, plus 24
	// per record of its request beyond the first (100000 keys of one
	// record: about 23MB). Handlers of one cluster with the same window
	// and max_keys share their keys; a reload that changes either starts
	// with no keys. Default: 100000.
	MaxKeys int `json:"max_keys,omitempty"`

	// RecordHeader, when set, is the name of a record header that carries
	// the request's key on every record it produces, so that consumers can
	// drop duplicates that this instance could not prevent (a retry that
	// reached another instance of a fleet, or came after the window).
	// Default: none.
	RecordHeader string `json:"record_header,omitempty"`
}

// idempotency is a handler's Idempotency-Key support: its store, shared with
// every handler of the same cluster and settings.
type idempotency struct {
	store   *idemStore
	poolKey string
	header  string
}

// idemStores holds the stores by cluster and settings, across config reloads:
// a reload that leaves them unchanged keeps the keys, and a store no config
// uses any more is dropped.
var idemStores = caddy.NewUsagePool()

// provisionIdempotency sets up the handler's Idempotency-Key support, unless
// it is disabled.
func (h *Handler) provisionIdempotency() error {
	cfg := IdempotencyConfig{}
	if h.Idempotency != nil {
		cfg = *h.Idempotency
	}
	if cfg.Disabled {
		return nil
	}
	window := time.Duration(cfg.Window)
	if window == 0 {
		window = defaultIdempotencyWindow
	}
	maxKeys := cfg.MaxKeys
	if maxKeys == 0 {
		maxKeys = defaultIdempotencyMaxKeys
	}
	key := "kafka.idempotency." + h.cluster + "." + window.String() + "." + strconv.Itoa(maxKeys)
	val, _, err := idemStores.LoadOrNew(key, func() (caddy.Destructor, error) {
		return newIdemStore(window, maxKeys), nil
	})
	if err != nil {
		return fmt.Errorf("idempotency: %w", err)
	}
	h.idem = &idempotency{store: val.(*idemStore), poolKey: key, header: cfg.RecordHeader}
	return nil
}

// Cleanup releases the handler's hold on its Idempotency-Key store. On a
// reload Caddy cleans up while the old config's requests may still be in
// flight: they keep using the store, which outlives the pool's hold on it.
func (h *Handler) Cleanup() error {
	if h.idem == nil {
		return nil
	}
	_, err := idemStores.Delete(h.idem.poolKey)
	return err
}

// Errors of the Idempotency-Key header, in every dialect's format.
var (
	errIdemConflict = &dialects.Error{Class: producer.ClassBadRequest, Status: http.StatusUnprocessableEntity,
		Code: http.StatusUnprocessableEntity, Message: "Idempotency-Key was already used for a different request"}
	errIdemStream = &dialects.Error{Class: producer.ClassBadRequest,
		Message: "Idempotency-Key cannot apply to a streamed request: send the body with a Content-Length"}
	errIdemMany = &dialects.Error{Class: producer.ClassBadRequest, Message: "more than one Idempotency-Key"}
	errIdemBad  = &dialects.Error{Class: producer.ClassBadRequest,
		Message: fmt.Sprintf("Idempotency-Key must be 1 to %d characters", maxIdempotencyKey)}
)

// produceIdempotent produces req, whose records have passed the handler's
// policy, at most once per Idempotency-Key: see IdempotencyConfig. refused
// is nil, or holds the results of the records refused on their own (the
// others are zero). ctx bounds the wait.
func (h *Handler) produceIdempotent(ctx context.Context, r *http.Request, req *dialects.Request, refused []producer.Result) ([]producer.Result, error) {
	if req.Streamed {
		return nil, errIdemStream
	}
	key, err := idempotencyKey(r.Header[idempotencyHeader])
	if err != nil {
		return nil, err
	}
	user := ""
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		user, _ = repl.GetString("http.auth.user.id")
	}
	scope := idemScope(user, r.Method, r.URL.Path, key)
	fp := fingerprint(req)
	st := h.idem.store
	e, wait, created := st.claim(scope, fp, time.Now())
	if !created {
		if e.fp != fp {
			h.metrics.idempotency(idempotencyConflict)
			return nil, errIdemConflict
		}
		if wait == nil {
			h.metrics.idempotency(idempotencyReplayed)
			return e.outcome()
		}
		// The first request is still in flight (a concurrent repeat, or
		// a retry of a request that timed out): its outcome is ours.
		h.metrics.idempotency(idempotencyWaited)
		var expired <-chan time.Time
		if d := h.client.Config().DeliveryTimeout; d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			expired = t.C
		}
		select {
		case <-wait:
			return e.outcome()
		case <-ctx.Done():
		case <-expired:
		}
		return timedOut(refused, len(req.Records)), nil
	}

	todo, todoIdx := req.Records, []int(nil)
	if refused != nil {
		todo = nil
		for i := range req.Records {
			if refused[i].Err == nil {
				todo, todoIdx = append(todo, req.Records[i]), append(todoIdx, i)
			}
		}
	}
	if h.idem.header != "" {
		// After the fingerprint, so that a repeat compares equal; on
		// copies, so that the dialect's records are left as decoded.
		if refused == nil {
			todo = append([]producer.Message(nil), todo...)
		}
		for i := range todo {
			hs := make([]producer.Header, len(todo[i].Headers), len(todo[i].Headers)+1)
			copy(hs, todo[i].Headers)
			todo[i].Headers = append(hs, producer.Header{Key: h.idem.header, Value: []byte(key)})
		}
	}
	p, err := h.client.Start(todo)
	if err != nil {
		// Refused before anything was written (overload, client closed):
		// forget the key, so that a retry produces.
		st.settle(e, nil, err, false, time.Now())
		return nil, err
	}
	settle := func() []producer.Result {
		results := slot(refused, todoIdx, p.Results())
		st.settle(e, results, nil, anyWritten(results), time.Now())
		return results
	}
	res := p.Wait(ctx)
	select {
	case <-p.Done():
		// Settled before answering, so that a retry that follows the
		// answer finds the outcome (or produces, if nothing was written).
		return settle(), nil
	default:
	}
	// The outcome is stored once Kafka answers, although this request no
	// longer waits: a retry after a timeout gets the real outcome and never
	// writes the records twice.
	go func() {
		<-p.Done()
		settle()
	}()
	return slot(refused, todoIdx, res), nil
}

// idempotencyKey reads the key from the header's values: an sf-string
// ("abc", as the draft has it) or, as many clients send it, a bare token.
func idempotencyKey(values []string) (string, error) {
	if len(values) != 1 {
		return "", errIdemMany
	}
	key := strings.TrimSpace(values[0])
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		key = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(key[1 : len(key)-1])
	}
	if key == "" || len(key) > maxIdempotencyKey {
		return "", errIdemBad
	}
	return key, nil
}

// slot merges the results of the records produced (at todoIdx; all of them
// when refused is nil) into those refused on their own.
func slot(refused []producer.Result, todoIdx []int, produced []producer.Result) []producer.Result {
	if refused == nil {
		return produced
	}
	out := append([]producer.Result(nil), refused...)
	for j, i := range todoIdx {
		out[i] = produced[j]
	}
	return out
}

// timedOut is the answer to n records when the wait ended before Kafka
// answered: the refused records keep their refusal, the others time out.
func timedOut(refused []producer.Result, n int) []producer.Result {
	out := make([]producer.Result, n)
	for i := range out {
		if refused != nil && refused[i].Err != nil {
			out[i] = refused[i]
			continue
		}
		out[i] = producer.Result{Partition: -1, Offset: -1, Err: producer.ErrTimeout}
	}
	return out
}

// anyWritten reports whether Kafka acknowledged some record.
func anyWritten(results []producer.Result) bool {
	for i := range results {
		if results[i].Err == nil {
			return true
		}
	}
	return false
}

// idemScope identifies a key: the same key from another user, or to another
// method or path, is another key. The store is per cluster.
func idemScope(user, method, path, key string) digest {
	h := sha256.New()
	for _, s := range [...]string{user, method, path, key} {
		writeLen(h, len(s))
		_, _ = io.WriteString(h, s)
	}
	var sum [sha256.Size]byte
	return digest(h.Sum(sum[:0]))
}

// fingerprint identifies a request's records as Kafka would receive them:
// topic, explicit partition, key and value (null and empty told apart),
// headers and explicit timestamp; and the decoding errors of the records
// refused on their own. What does not reach Kafka (a dialect's batch entry
// ids, the response's media type) is not part of it.
func fingerprint(req *dialects.Request) digest {
	h := sha256.New()
	writeLen(h, len(req.Records))
	for i := range req.Records {
		m := &req.Records[i]
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
		if req.Errs != nil && req.Errs[i] != nil {
			msg := req.Errs[i].Error()
			writeLen(h, len(msg))
			_, _ = io.WriteString(h, msg)
		} else {
			writeLen(h, -1)
		}
	}
	var sum [sha256.Size]byte
	return digest(h.Sum(sum[:0]))
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

// digest is a truncated SHA-256: 128 bits tell keys and requests apart as
// well as 256 would, in half the memory.
type digest [16]byte

// idemEntry is a key's request: pending until Kafka answers it, then
// settled with its outcome.
type idemEntry struct {
	scope, fp digest
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

// storedResult is a producer.Result without its error, in 24 bytes instead
// of 56.
type storedResult struct {
	partition int32
	offset    int64
	timestamp int64 // Unix nanoseconds; noTimestamp for none
}

const noTimestamp = math.MinInt64

// outcome is the results or the error of a settled entry.
func (e *idemEntry) outcome() ([]producer.Result, error) {
	if e.stored == nil {
		return e.results, e.err
	}
	out := make([]producer.Result, len(e.stored))
	for i, sr := range e.stored {
		out[i] = producer.Result{Partition: sr.partition, Offset: sr.offset}
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
func (e *idemEntry) keep(results []producer.Result) {
	e.stored = make([]storedResult, len(results))
	for i, r := range results {
		sr := storedResult{partition: r.Partition, offset: r.Offset, timestamp: noTimestamp}
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

// idemStore remembers the outcome of keyed requests for a window, bounded in
// keys and results. Every stored entry has the same window, so the order in
// which they were stored is the order in which they expire: a FIFO of them
// is enough to forget the oldest first. Pending entries are not in the FIFO
// and never expire: forgetting one would let a retry write its records
// again; their number is bounded by the client's buffer, since each holds
// records in it.
type idemStore struct {
	window     time.Duration
	maxKeys    int
	maxRecords int

	mu      sync.Mutex
	entries map[digest]*idemEntry
	fifo    []*idemEntry // stored entries, oldest first, from head
	head    int
	stored  int // stored entries in entries
	records int // results of the stored entries
}

func newIdemStore(window time.Duration, maxKeys int) *idemStore {
	return &idemStore{
		window:     window,
		maxKeys:    maxKeys,
		maxRecords: maxKeys * idempotencyRecordsPerKey,
		entries:    make(map[digest]*idemEntry),
	}
}

// claim returns the live entry of scope, with its wait channel if it is
// pending, or creates a pending one for fp and reports that the caller must
// produce it.
func (s *idemStore) claim(scope, fp digest, now time.Time) (e *idemEntry, wait <-chan struct{}, created bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evict(now)
	if e, ok := s.entries[scope]; ok {
		return e, e.wait, false
	}
	e = &idemEntry{scope: scope, fp: fp, wait: make(chan struct{})}
	s.entries[scope] = e
	return e, e.wait, true
}

// settle gives a pending entry its outcome. A request Kafka wrote some record
// of is remembered for the window; one it wrote nothing of is forgotten, so
// that a retry produces it again, but the requests already waiting on it get
// its outcome.
func (s *idemStore) settle(e *idemEntry, results []producer.Result, err error, written bool, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if written {
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
func (s *idemStore) evict(now time.Time) {
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

// size is the number of keys the store holds, pending and stored, and the
// results it keeps.
func (s *idemStore) size() (keys, records int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries), s.records
}

// Destruct implements caddy.Destructor. Requests still in flight keep the
// store alive until they end.
func (s *idemStore) Destruct() error { return nil }

// Interface guards
var (
	_ caddy.CleanerUpper = (*Handler)(nil)
	_ caddy.Destructor   = (*idemStore)(nil)
)
