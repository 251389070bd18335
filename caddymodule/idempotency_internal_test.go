package caddymodule

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/caddy-kafka/caddy-kafka/dialects"
	"github.com/caddy-kafka/caddy-kafka/producer"
)

func scopeOf(i int) digest {
	return idemScope("", http.MethodPost, "/", strconv.Itoa(i))
}

// store stores n results for scope at now.
func store(s *idemStore, scope digest, n int, now time.Time) {
	e, _, created := s.claim(scope, digest{}, now)
	if !created {
		panic("store: key already present")
	}
	s.settle(e, make([]producer.Result, n), nil, true, now)
}

// TestIdemStoreBounds checks the store's memory bounds: keys, results,
// expiry, and the FIFO's own length; and that pending entries are never
// forgotten while refused ones are forgotten at once.
func TestIdemStoreBounds(t *testing.T) {
	now := time.Now()
	s := newIdemStore(time.Hour, 3)
	for i := range 10 {
		store(s, scopeOf(i), 1, now)
	}
	if keys, records := s.size(); keys != 3 || records != 3 {
		t.Fatalf("max_keys 3: %d keys, %d records", keys, records)
	}
	if _, _, created := s.claim(scopeOf(9), digest{}, now); created {
		t.Fatal("the newest key was forgotten")
	}
	if e, _, created := s.claim(scopeOf(0), digest{}, now); !created {
		t.Fatal("the oldest key is still remembered")
	} else {
		s.settle(e, nil, errors.New("refused"), false, now)
	}
	if keys, _ := s.size(); keys != 3 {
		t.Fatalf("a refused request is remembered: %d keys", keys)
	}

	// Results: at most 10 per key on average.
	s = newIdemStore(time.Hour, 2)
	store(s, scopeOf(0), 15, now)
	store(s, scopeOf(1), 10, now)
	if keys, records := s.size(); keys != 1 || records != 10 {
		t.Fatalf("results bound 20: %d keys, %d records", keys, records)
	}

	// Expiry, with a pending entry that must outlive it.
	s = newIdemStore(time.Minute, 100)
	pending, _, _ := s.claim(scopeOf(99), digest{1}, now)
	for i := range 5 {
		store(s, scopeOf(i), 1, now)
	}
	later := now.Add(time.Minute + time.Millisecond)
	if e, _, created := s.claim(scopeOf(0), digest{}, later); !created {
		t.Fatal("an expired key is still remembered")
	} else {
		s.settle(e, nil, errors.New("refused"), false, later)
	}
	if keys, records := s.size(); keys != 1 || records != 0 {
		t.Fatalf("after the window: %d keys, %d records, want only the pending one", keys, records)
	}
	if e, wait, created := s.claim(scopeOf(99), digest{}, later); created || e != pending || wait == nil {
		t.Fatal("a pending key was forgotten")
	}

	// The FIFO does not grow with the keys that went through it.
	s = newIdemStore(time.Hour, 3)
	for i := range 10000 {
		store(s, scopeOf(i), 1, now)
	}
	if len(s.fifo) > 200 || len(s.entries) != 3 {
		t.Fatalf("after 10000 keys: fifo %d, entries %d", len(s.fifo), len(s.entries))
	}
}

// TestStoredOutcome: a stored outcome reads back as it was produced.
func TestStoredOutcome(t *testing.T) {
	ts := time.UnixMilli(1637745834744)
	in := []producer.Result{
		{Partition: 2, Offset: 41, Timestamp: ts},
		{Partition: -1, Offset: -1, Err: producer.ErrUnknownPartition},
	}
	s := newIdemStore(time.Hour, 10)
	e, _, _ := s.claim(scopeOf(1), digest{}, time.Now())
	s.settle(e, in, nil, true, time.Now())
	_, wait, _ := s.claim(scopeOf(1), digest{}, time.Now())
	out, err := e.outcome()
	if wait != nil || err != nil || len(out) != 2 {
		t.Fatalf("outcome %v %v, wait %v", out, err, wait)
	}
	if out[0].Partition != 2 || out[0].Offset != 41 || !out[0].Timestamp.Equal(ts) || out[0].Err != nil {
		t.Errorf("written record: %+v", out[0])
	}
	if out[1].Partition != -1 || out[1].Offset != -1 || !out[1].Timestamp.IsZero() || out[1].Err != producer.ErrUnknownPartition {
		t.Errorf("failed record: %+v", out[1])
	}
}

// TestFingerprint tells apart what Kafka would tell apart.
func TestFingerprint(t *testing.T) {
	base := func() *dialects.Request {
		return &dialects.Request{Records: []producer.Message{{Topic: "t", Partition: -1, Key: []byte{}, Value: []byte("v"),
			Headers: []producer.Header{{Key: "h", Value: nil}}}}}
	}
	fp := fingerprint(base())
	if fingerprint(base()) != fp {
		t.Fatal("not deterministic")
	}
	for name, mod := range map[string]func(r *dialects.Request){
		"null key":          func(r *dialects.Request) { r.Records[0].Key = nil },
		"topic":             func(r *dialects.Request) { r.Records[0].Topic = "u" },
		"partition":         func(r *dialects.Request) { r.Records[0].Partition = 0 },
		"value":             func(r *dialects.Request) { r.Records[0].Value = []byte("w") },
		"empty header":      func(r *dialects.Request) { r.Records[0].Headers[0].Value = []byte{} },
		"header key":        func(r *dialects.Request) { r.Records[0].Headers[0].Key = "g" },
		"timestamp":         func(r *dialects.Request) { r.Records[0].Timestamp = time.UnixMilli(1) },
		"another record":    func(r *dialects.Request) { r.Records = append(r.Records, r.Records[0]) },
		"decode error":      func(r *dialects.Request) { r.Errs = []error{errors.New("bad")} },
		"value/header seam": func(r *dialects.Request) { r.Records[0].Value = []byte("vh"); r.Records[0].Headers[0].Key = "" },
	} {
		r := base()
		mod(r)
		if fingerprint(r) == fp {
			t.Errorf("%s: same fingerprint", name)
		}
	}
}

// TestIdempotencyKeyHeader parses the header's forms.
func TestIdempotencyKeyHeader(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
		err  error
	}{
		{[]string{"abc"}, "abc", nil},
		{[]string{`"abc"`}, "abc", nil},
		{[]string{` "a\"b" `}, `a"b`, nil},
		{[]string{"a", "b"}, "", errIdemMany},
		{[]string{""}, "", errIdemBad},
		{[]string{`""`}, "", errIdemBad},
	} {
		got, err := idempotencyKey(tc.in)
		if got != tc.want || err != tc.err {
			t.Errorf("%q: %q %v, want %q %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
