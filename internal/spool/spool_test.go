package spool

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func rec(v string) Record {
	return Record{Topic: "t", Partition: -1, Value: []byte(v), Timestamp: time.UnixMilli(1700000000000)}
}

func open(t *testing.T, dir string, opt Options) (*Store, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	opt.Logger = zap.New(core)
	s, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

// all drains the store's view: every record not done, in order.
func all(t *testing.T, s *Store) []Item {
	t.Helper()
	items, err := s.Next(1<<30, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func values(items []Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, string(it.Value))
	}
	return out
}

func TestRoundTripAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{})
	in := []Record{
		{Topic: "a", Partition: -1, Key: nil, Value: []byte("v1"), Headers: []Header{{Key: "h", Value: []byte("x")}, {Key: "n", Value: nil}}},
		{Topic: "b", Partition: 2, Key: []byte{}, Value: nil, Timestamp: time.Unix(1, 5)},
	}
	seq, err := s.Append(in, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append([]Record{rec("v3")}, false); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store) {
		items := all(t, s)
		if len(items) != 3 {
			t.Fatalf("got %d records, want 3", len(items))
		}
		a, b := items[0], items[1]
		if a.Seq != seq || a.Topic != "a" || a.Key != nil || string(a.Value) != "v1" || len(a.Headers) != 2 ||
			a.Headers[1].Value != nil || string(a.Headers[0].Value) != "x" || !a.Timestamp.IsZero() || a.Partition != -1 {
			t.Fatalf("first record: %+v", a)
		}
		if b.Key == nil || len(b.Key) != 0 || b.Value != nil || b.Partition != 2 || !b.Timestamp.Equal(time.Unix(1, 5)) {
			t.Fatalf("second record: %+v", b)
		}
		if st := s.Stats(); st.Records != 3 || st.Oldest.IsZero() || st.Bytes == 0 {
			t.Fatalf("stats %+v", st)
		}
	}
	check(s)
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("a second store opened the same directory")
	}
	s.Close()
	s, _ = open(t, dir, Options{})
	defer s.Close()
	check(s)
}

func TestDoneSettleAndSegments(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{SegmentSize: 256, MaxSize: 1 << 20})
	var seqs []uint64
	for i := range 20 {
		seq, err := s.Append([]Record{rec(fmt.Sprint("a", i)), rec(fmt.Sprint("b", i))}, false)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	inflight, err := s.Append([]Record{rec("f0"), rec("f1")}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(all(t, s)); got != 40 {
		t.Fatalf("Next gave %d records, want the 40 not in flight", got)
	}
	segsBefore := countSegs(t, dir)
	var ids []ID
	for _, seq := range seqs[:15] {
		ids = append(ids, ID{seq, 0}, ID{seq, 1})
	}
	ids = append(ids, ID{seqs[15], 1})
	s.MarkDone(ids)
	s.Settle(inflight, []bool{true, false})
	got := values(all(t, s))
	want := []string{"a15"}
	for i := 16; i < 20; i++ {
		want = append(want, fmt.Sprint("a", i), fmt.Sprint("b", i))
	}
	want = append(want, "f1")
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("after marks: %v, want %v", got, want)
	}
	if s.Len() != int64(len(want)) {
		t.Fatalf("Len %d, want %d", s.Len(), len(want))
	}
	if after := countSegs(t, dir); after >= segsBefore {
		t.Fatalf("segments %d before marks, %d after: drained segments were not removed", segsBefore, after)
	}
	s.Close()
	s, _ = open(t, dir, Options{SegmentSize: 256, MaxSize: 1 << 20})
	defer s.Close()
	if got := values(all(t, s)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("after reopen: %v, want %v", got, want)
	}
}

func countSegs(t *testing.T, dir string) int {
	m, err := filepath.Glob(filepath.Join(dir, "*"+segExt))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

func TestMaxSize(t *testing.T) {
	s, _ := open(t, t.TempDir(), Options{MaxSize: 4096, SegmentSize: 1024})
	defer s.Close()
	big := make([]byte, 300)
	n := 0
	for {
		_, err := s.Append([]Record{{Topic: "t", Value: big}, {Topic: "t", Value: big}}, false)
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 || s.Len() != int64(2*n) {
		t.Fatalf("%d appends, %d records: a full spool must hold whole requests only", n, s.Len())
	}
	if st := s.Stats(); st.Bytes > 4096 {
		t.Fatalf("%d bytes on disk, over max_size", st.Bytes)
	}
	// Draining gives room back.
	items := all(t, s)
	ids := make([]ID, len(items))
	for i := range items {
		ids[i] = items[i].ID
	}
	s.MarkDone(ids)
	if _, err := s.Append([]Record{{Topic: "t", Value: big}}, false); err != nil {
		t.Fatalf("after draining: %v", err)
	}
}

func TestGroupCommit(t *testing.T) {
	s, _ := open(t, t.TempDir(), Options{})
	defer s.Close()
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := s.Append([]Record{rec(fmt.Sprint(g, "-", i))}, false); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	fsyncs, appends := s.Fsyncs()
	t.Logf("%d appends, %d fsyncs", appends, fsyncs)
	if appends != 1280 || fsyncs >= appends {
		t.Fatalf("%d fsyncs for %d concurrent appends: they do not share fsyncs", fsyncs, appends)
	}
	if s.Len() != 1280 {
		t.Fatalf("Len %d", s.Len())
	}
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{})
	for i := range 10 {
		if _, err := s.Append([]Record{rec(fmt.Sprint("r", i))}, false); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	seg := lastSeg(t, dir)
	st, _ := os.Stat(seg)
	if err := os.Truncate(seg, st.Size()-5); err != nil {
		t.Fatal(err)
	}
	s, logs := open(t, dir, Options{})
	got := values(all(t, s))
	if len(got) != 9 || got[8] != "r8" {
		t.Fatalf("after a torn tail: %v, want r0..r8", got)
	}
	if logs.FilterMessageSnippet("torn record").Len() != 1 {
		t.Fatalf("the dropped record was not logged: %v", logs.All())
	}
	// Appends after recovery follow whole frames.
	if _, err := s.Append([]Record{rec("after")}, false); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = open(t, dir, Options{})
	defer s.Close()
	if got := values(all(t, s)); len(got) != 10 || got[9] != "after" {
		t.Fatalf("after reopening: %v", got)
	}
}

func TestCorruptMidFile(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{})
	for i := range 10 {
		if _, err := s.Append([]Record{rec(fmt.Sprint("r", i))}, false); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	seg := lastSeg(t, dir)
	data, _ := os.ReadFile(seg)
	i := bytes.Index(data, []byte("r4"))
	data[i+1] ^= 0xff
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, logs := open(t, dir, Options{})
	defer s.Close()
	got := strings.Join(values(all(t, s)), ",")
	if got != "r0,r1,r2,r3,r5,r6,r7,r8,r9" {
		t.Fatalf("after corrupting r4: %v", got)
	}
	if logs.FilterMessageSnippet("corrupt record").Len() != 1 {
		t.Fatalf("the dropped record was not logged: %v", logs.All())
	}
}

func lastSeg(t *testing.T, dir string) string {
	m, _ := filepath.Glob(filepath.Join(dir, "*"+segExt))
	if len(m) == 0 {
		t.Fatal("no segment")
	}
	sort.Strings(m)
	return m[len(m)-1]
}

// TestDiskError breaks the open segment under the store (its file closed,
// as a disk gone bad would fail every write) and makes new segments fail to
// be created (a read-only or full disk): appends fail with an error, nothing
// of them is spooled, and they work again once the disk does.
func TestDiskError(t *testing.T) {
	dir := t.TempDir()
	s, logs := open(t, dir, Options{})
	defer s.Close()
	if _, err := s.Append([]Record{rec("before")}, false); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.segs[len(s.segs)-1].f.Close()
	s.mu.Unlock()
	readOnly := errors.New("read-only file system")
	createSegment = func(string) (*os.File, error) { return nil, readOnly }
	defer func() { createSegment = createSegmentFile }()
	for range 3 {
		if _, err := s.Append([]Record{rec("lost")}, false); err == nil {
			t.Fatal("append on a broken disk succeeded")
		}
	}
	if logs.FilterMessageSnippet("SPOOL DISK ERROR").Len() == 0 {
		t.Fatal("no loud log line")
	}
	createSegment = createSegmentFile
	if _, err := s.Append([]Record{rec("after")}, false); err != nil {
		t.Fatalf("after the disk came back: %v", err)
	}
	if got := strings.Join(values(all(t, s)), ","); got != "before,after" {
		t.Fatalf("spooled: %v", got)
	}
}

// TestReadOnlyDir makes the directory read-only for real (not as root,
// which writes anyway): a new segment cannot be created.
func TestReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions (TestDiskError covers the failure)")
	}
	dir := t.TempDir()
	s, _ := open(t, dir, Options{SegmentSize: 64, MaxSize: 1 << 20})
	defer s.Close()
	if _, err := s.Append([]Record{rec("before")}, false); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if _, err := s.Append([]Record{rec("refused, the segment is full and no new one can be made")}, false); err == nil {
		t.Fatal("append to a read-only directory succeeded")
	}
	os.Chmod(dir, 0o700)
	if _, err := s.Append([]Record{rec("after")}, false); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(values(all(t, s)), ","); got != "before,after" {
		t.Fatalf("spooled: %v", got)
	}
}

// The crash test re-executes the test binary as a writer that prints each
// record once its Append returned, and kills it with SIGKILL.
const crashChildEnv = "SPOOL_CRASH_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

func crashChild(dir string) {
	s, err := Open(dir, Options{SegmentSize: 64 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	for g := range 16 {
		go func() {
			for i := 0; ; i++ {
				v := fmt.Sprintf("g%d-%d", g, i)
				if _, err := s.Append([]Record{rec(v), rec(v + "b")}, false); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintln(out, v)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	select {}
}

func TestKill9(t *testing.T) {
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]bool{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			acked[sc.Text()] = true
			if len(acked) == 2000 {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		for sc.Scan() { // printed before the kill: acknowledged too
			acked[sc.Text()] = true
		}
		cmd.Wait()
		torn := round == 2
		if torn {
			// A torn write at the tail, as a crash in the middle of a
			// write leaves: the last frame loses its last bytes.
			seg := lastSeg(t, dir)
			st, _ := os.Stat(seg)
			if err := os.Truncate(seg, st.Size()-3); err != nil {
				t.Fatal(err)
			}
		}
		s, logs := open(t, dir, Options{SegmentSize: 64 << 10})
		have := map[string]bool{}
		items := all(t, s)
		for _, it := range items {
			have[string(it.Value)] = true
		}
		lost := 0
		for v := range acked {
			if !have[v] || !have[v+"b"] {
				lost++
			}
		}
		// Each request is whole or absent.
		half := 0
		for v := range have {
			if !strings.HasSuffix(v, "b") && !have[v+"b"] {
				half++
			}
		}
		t.Logf("round %d: %d requests acknowledged before kill -9, %d records recovered, %d lost, %d half-spooled, %d dropped torn records logged",
			round, len(acked), len(items), lost, half, logs.FilterMessageSnippet("torn").Len())
		if torn {
			// The cut frame was the last request written: it alone may
			// be gone (an acknowledged one, here, since the test cut an
			// fsync'd frame), every one before it is kept, and the drop
			// is logged.
			if lost > 1 || half > 0 || logs.FilterMessageSnippet("torn record").Len() != 1 {
				t.Fatalf("torn tail: lost %d requests (want at most the last), %d half-spooled, %d torn-record log lines",
					lost, half, logs.FilterMessageSnippet("torn record").Len())
			}
		} else if lost > 0 || half > 0 {
			t.Fatalf("lost %d acknowledged requests, %d half-spooled", lost, half)
		}
		// Drain what was recovered, as the drainer would, before the next round.
		ids := make([]ID, len(items))
		for i := range items {
			ids[i] = items[i].ID
		}
		s.MarkDone(ids)
		s.Close()
	}
}

// TestDrainedGivesDiskBack: once every record is done, every segment goes,
// the last included, and appends go on in a new one.
func TestDrainedGivesDiskBack(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{})
	defer s.Close()
	for i := range 5 {
		if _, err := s.Append([]Record{rec(fmt.Sprint("r", i))}, false); err != nil {
			t.Fatal(err)
		}
	}
	items := all(t, s)
	ids := make([]ID, len(items))
	for i := range items {
		ids[i] = items[i].ID
	}
	s.MarkDone(ids)
	deadline := time.Now().Add(5 * time.Second)
	for countSegs(t, dir) > 0 || s.Stats().Bytes > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("drained spool keeps %d segments, %d bytes", countSegs(t, dir), s.Stats().Bytes)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.Append([]Record{rec("next")}, false); err != nil {
		t.Fatal(err)
	}
	if got := values(all(t, s)); len(got) != 1 || got[0] != "next" {
		t.Fatalf("after: %v", got)
	}
}

// TestCorruptedAfterRecovery: a record the disk corrupts after the store
// indexed it is dropped, loudly, when read, and the others still come.
func TestCorruptedAfterRecovery(t *testing.T) {
	dir := t.TempDir()
	s, logs := open(t, dir, Options{})
	defer s.Close()
	for i := range 3 {
		if _, err := s.Append([]Record{rec(fmt.Sprint("r", i))}, false); err != nil {
			t.Fatal(err)
		}
	}
	seg := lastSeg(t, dir)
	data, _ := os.ReadFile(seg)
	data[bytes.Index(data, []byte("r1"))+1] ^= 0xff
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(values(all(t, s)), ","); got != "r0,r2" {
		t.Fatalf("read %s, want r0,r2", got)
	}
	if s.Len() != 2 || logs.FilterMessageSnippet("SPOOL RECORDS DROPPED").Len() != 1 {
		t.Fatalf("Len %d, drop logged %d times", s.Len(), logs.FilterMessageSnippet("SPOOL RECORDS DROPPED").Len())
	}
}
