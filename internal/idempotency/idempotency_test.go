package idempotency

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/caddy-kafka/caddy-kafka/producer"
)

func scopeOf(i int) Digest {
	return Scope("", http.MethodPost, "/", strconv.Itoa(i))
}

// store stores n results for scope at now.
func store(s *Store, scope Digest, n int, now time.Time) {
	e, _, created := s.Claim(scope, Digest{}, now)
	if !created {
		panic("store: key already present")
	}
	s.Settle(e, make([]producer.Result, n), nil, now)
}

// TestStoreBounds checks the store's memory bounds: keys, results,
// expiry, and the FIFO's own length; and that pending entries are never
// forgotten while refused ones are forgotten at once.
func TestStoreBounds(t *testing.T) {
	now := time.Now()
	s := NewStore(time.Hour, 3)
	for i := range 10 {
		store(s, scopeOf(i), 1, now)
	}
	if keys, records := s.Size(); keys != 3 || records != 3 {
		t.Fatalf("max_keys 3: %d keys, %d records", keys, records)
	}
	if _, _, created := s.Claim(scopeOf(9), Digest{}, now); created {
		t.Fatal("the newest key was forgotten")
	}
	if e, _, created := s.Claim(scopeOf(0), Digest{}, now); !created {
		t.Fatal("the oldest key is still remembered")
	} else {
		s.Settle(e, nil, errors.New("refused"), now)
	}
	if keys, _ := s.Size(); keys != 3 {
		t.Fatalf("a refused request is remembered: %d keys", keys)
	}

	// Results: at most 10 per key on average.
	s = NewStore(time.Hour, 2)
	store(s, scopeOf(0), 15, now)
	store(s, scopeOf(1), 10, now)
	if keys, records := s.Size(); keys != 1 || records != 10 {
		t.Fatalf("results bound 20: %d keys, %d records", keys, records)
	}

	// Expiry, with a pending entry that must outlive it.
	s = NewStore(time.Minute, 100)
	pending, _, _ := s.Claim(scopeOf(99), Digest{1}, now)
	for i := range 5 {
		store(s, scopeOf(i), 1, now)
	}
	later := now.Add(time.Minute + time.Millisecond)
	if e, _, created := s.Claim(scopeOf(0), Digest{}, later); !created {
		t.Fatal("an expired key is still remembered")
	} else {
		s.Settle(e, nil, errors.New("refused"), later)
	}
	if keys, records := s.Size(); keys != 1 || records != 0 {
		t.Fatalf("after the window: %d keys, %d records, want only the pending one", keys, records)
	}
	if e, wait, created := s.Claim(scopeOf(99), Digest{}, later); created || e != pending || wait == nil {
		t.Fatal("a pending key was forgotten")
	}

	// The FIFO does not grow with the keys that went through it.
	s = NewStore(time.Hour, 3)
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
	s := NewStore(time.Hour, 10)
	e, _, _ := s.Claim(scopeOf(1), Digest{}, time.Now())
	s.Settle(e, in, nil, time.Now())
	_, wait, _ := s.Claim(scopeOf(1), Digest{}, time.Now())
	out, err := e.Outcome()
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
	type request struct {
		Records []producer.Message
		Errs    []error
	}
	base := func() *request {
		return &request{Records: []producer.Message{{Topic: "t", Partition: -1, Key: []byte{}, Value: []byte("v"),
			Headers: []producer.Header{{Key: "h", Value: nil}}}}}
	}
	fp := Fingerprint(base().Records, nil)
	if Fingerprint(base().Records, nil) != fp {
		t.Fatal("not deterministic")
	}
	for name, mod := range map[string]func(r *request){
		"null key":          func(r *request) { r.Records[0].Key = nil },
		"topic":             func(r *request) { r.Records[0].Topic = "u" },
		"partition":         func(r *request) { r.Records[0].Partition = 0 },
		"value":             func(r *request) { r.Records[0].Value = []byte("w") },
		"empty header":      func(r *request) { r.Records[0].Headers[0].Value = []byte{} },
		"header key":        func(r *request) { r.Records[0].Headers[0].Key = "g" },
		"timestamp":         func(r *request) { r.Records[0].Timestamp = time.UnixMilli(1) },
		"another record":    func(r *request) { r.Records = append(r.Records, r.Records[0]) },
		"decode error":      func(r *request) { r.Errs = []error{errors.New("bad")} },
		"value/header seam": func(r *request) { r.Records[0].Value = []byte("vh"); r.Records[0].Headers[0].Key = "" },
	} {
		r := base()
		mod(r)
		if Fingerprint(r.Records, r.Errs) == fp {
			t.Errorf("%s: same fingerprint", name)
		}
	}
}

// TestKey parses the header's forms.
func TestKey(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
		err  error
	}{
		{[]string{"abc"}, "abc", nil},
		{[]string{`"abc"`}, "abc", nil},
		{[]string{` "a\"b" `}, `a"b`, nil},
		{[]string{"a", "b"}, "", ErrMultipleKeys},
		{[]string{""}, "", ErrInvalidKey},
		{[]string{`""`}, "", ErrInvalidKey},
	} {
		got, err := Key(tc.in)
		if got != tc.want || err != tc.err {
			t.Errorf("%q: %q %v, want %q %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// A request of which Kafka surely wrote nothing is forgotten, so that its
// retry produces; one whose records failed indeterminately (a timeout, a
// client closed with them in flight: Kafka may have written them) is
// remembered, so that its retry is told that outcome instead of writing
// the records a second time.
func TestSettleIndeterminate(t *testing.T) {
	now := time.Now()
	s := NewStore(time.Hour, 100)
	failed := func(err error) []producer.Result {
		return []producer.Result{{Partition: -1, Offset: -1, Err: err}, {Partition: -1, Offset: -1, Err: err}}
	}
	for i, tc := range []struct {
		name     string
		results  []producer.Result
		remember bool
	}{
		{"unknown topic: nothing written", failed(producer.ErrUnknownTopic), false},
		{"overloaded: nothing written", failed(producer.ErrOverloaded), false},
		{"timeout: may be written", failed(producer.ErrTimeout), true},
		{"client closed: may be written", failed(fmt.Errorf("producing: %w", kgo.ErrClientClosed)), true},
		{"one written", []producer.Result{{Partition: 0, Offset: 7}, {Partition: -1, Offset: -1, Err: producer.ErrUnknownTopic}}, true},
	} {
		e, _, _ := s.Claim(scopeOf(i), Digest{1}, now)
		s.Settle(e, tc.results, nil, now)
		again, wait, created := s.Claim(scopeOf(i), Digest{1}, now)
		if created == tc.remember || (!created && wait != nil) {
			t.Errorf("%s: retried key created anew = %v, want remembered = %v", tc.name, created, tc.remember)
		}
		if !created {
			if got, err := again.Outcome(); err != nil || len(got) != len(tc.results) || (got[0].Err == nil) != (tc.results[0].Err == nil) {
				t.Errorf("%s: the retry is told %v %v, want the first outcome", tc.name, got, err)
			}
		}
	}
}
