package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults of Options.
const (
	DefaultMaxSize     = 1 << 30
	DefaultSegmentSize = 64 << 20
)

var (
	// ErrFull is the error of an Append that would take the spool over its
	// maximum size.
	ErrFull = errors.New("spool full")
	// ErrClosed is the error of an Append after Close.
	ErrClosed = errors.New("spool closed")
)

// Options configure a Store.
type Options struct {
	// MaxSize bounds the bytes on disk; an Append beyond it fails with
	// ErrFull. Default: DefaultMaxSize.
	MaxSize int64
	// SegmentSize is the size at which a new segment file is started; the
	// disk space of drained records is given back a whole segment at a
	// time. Default: the smaller of DefaultSegmentSize and MaxSize/8.
	SegmentSize int64
	// Logger receives the recovery's findings and disk errors. Default:
	// none.
	Logger *zap.Logger
}

// Store is a spool directory. It is safe for concurrent use.
type Store struct {
	dir    string
	opt    Options
	logger *zap.Logger
	lock   *os.File // the directory's lock file, held while open

	mu      sync.Mutex
	closed  bool
	segs    []*segment // oldest first; the last is written to
	nextSeg uint64
	nextSeq uint64
	entries []*entry // live batches, oldest first (a deque: head is entries[0])
	bySeq   map[uint64]*entry
	records atomic.Int64 // records not done; written under mu, read without it by Len
	onDisk  int64        // bytes of every segment, written or being written

	// The generation being gathered: frames waiting for the flusher, the
	// batches they carry, and the channel closed once they are durable.
	buf     []byte
	pending []*entry
	gen     *generation
	kick    chan struct{}
	stopped chan struct{}
	broken  bool // the last write failed: the next flush starts a new segment
	writing bool // the flusher is writing to the last segment, outside mu

	fsyncs  int64 // for the benchmark's fsyncs per request
	appends int64
}

// generation is a group of appends made durable by one write and one fsync.
type generation struct {
	done chan struct{}
	err  error
}

type segment struct {
	id      uint64
	f       *os.File // nil once closed (not the last segment)
	size    int64
	pending int // batches in it not yet wholly done
}

// entry is a batch (the records of one Append) still on the spool.
type entry struct {
	seq      uint64
	seg      *segment
	off      int64 // of the frame
	size     uint32
	n        uint32
	left     uint32
	done     []bool // nil while no record is done
	inflight []bool // nil when no record has a first attempt in flight
	at       time.Time
}

// Open opens (creating it if needed) the spool in dir and recovers what it
// holds: every batch whose frame is whole and whose checksum holds, less the
// records marked done. A torn or corrupt frame is dropped with a log line.
func Open(dir string, opt Options) (*Store, error) {
	if opt.MaxSize <= 0 {
		opt.MaxSize = DefaultMaxSize
	}
	if opt.SegmentSize <= 0 {
		opt.SegmentSize = min(DefaultSegmentSize, max(opt.MaxSize/8, 4096))
	}
	if opt.Logger == nil {
		opt.Logger = zap.NewNop()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating spool directory: %w", err)
	}
	s := &Store{dir: dir, opt: opt, logger: opt.Logger, bySeq: map[uint64]*entry{},
		kick: make(chan struct{}, 1), stopped: make(chan struct{}), gen: newGeneration(), nextSeq: 1}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	go s.flusher()
	return s, nil
}

func newGeneration() *generation { return &generation{done: make(chan struct{})} }

const segExt = ".seg"

func (s *Store) segPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", id, segExt))
}

// recover reads every segment in order.
func (s *Store) recover() error {
	names, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("reading spool directory: %w", err)
	}
	var ids []uint64
	for _, de := range names {
		name := de.Name()
		if !strings.HasSuffix(name, segExt) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(name, segExt), 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var dones []doneMark
	for i, id := range ids {
		seg := &segment{id: id}
		d, err := s.readSegment(seg, i == len(ids)-1)
		if err != nil {
			return err
		}
		dones = append(dones, d...)
		s.segs = append(s.segs, seg)
		s.onDisk += seg.size
		s.nextSeg = id + 1
	}
	for _, d := range dones {
		s.markLocked(d.seq, d.idx, false)
	}
	s.trimLocked()
	if n := len(s.entries); n > 0 {
		s.logger.Info("spool recovered", zap.String("dir", s.dir), zap.Int64("records", s.records.Load()),
			zap.Int("requests", n), zap.Int64("bytes", s.onDisk))
	}
	return nil
}

type doneMark struct {
	seq uint64
	idx uint32
}

// readSegment indexes seg's batches and returns its done marks. The torn
// tail of the last segment, if any, is cut off, so that appends follow
// whole frames (as Kafka truncates its log to the last valid batch); an
// older segment is left as it is.
func (s *Store) readSegment(seg *segment, last bool) ([]doneMark, error) {
	path := s.segPath(seg.id)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading spool segment: %w", err)
	}
	var dones []doneMark
	off := 0
	for off < len(data) {
		payload, n, ferr := readFrame(data[off:])
		if ferr != nil {
			if n > 0 && off+n <= len(data) {
				// The frame's length is plausible: skip it alone.
				s.logger.Error("spool: dropping a corrupt record (checksum mismatch); it was never answered 2xx unless the disk corrupted it after",
					zap.String("segment", path), zap.Int("offset", off), zap.Error(ferr))
				off += n
				continue
			}
			s.logger.Error("spool: dropping a torn record at the end of a segment (a write cut short by a crash, never answered 2xx)",
				zap.String("segment", path), zap.Int("offset", off), zap.Int("bytes", len(data)-off), zap.Error(ferr))
			break
		}
		switch payload[0] {
		case kindBatch:
			b, err := decodeBatchHeader(payload)
			if err != nil {
				s.logger.Error("spool: dropping an undecodable record", zap.String("segment", path), zap.Int("offset", off), zap.Error(err))
				break
			}
			e := &entry{seq: b.seq, seg: seg, off: int64(off), size: uint32(n), n: b.n, left: b.n, at: b.at}
			s.addLocked(e)
			if b.seq >= s.nextSeq {
				s.nextSeq = b.seq + 1
			}
		case kindDone:
			d, err := decodeDone(payload)
			if err != nil {
				s.logger.Error("spool: dropping undecodable done marks", zap.String("segment", path), zap.Int("offset", off), zap.Error(err))
				break
			}
			dones = append(dones, d...)
		}
		off += n
	}
	seg.size = int64(off)
	if last && off < len(data) {
		// Cut the torn tail so that later appends follow whole frames.
		if err := os.Truncate(path, int64(off)); err != nil {
			return nil, fmt.Errorf("truncating the torn tail of a spool segment: %w", err)
		}
	}
	return dones, nil
}

func (s *Store) addLocked(e *entry) {
	s.entries = append(s.entries, e)
	s.bySeq[e.seq] = e
	e.seg.pending++
	s.records.Add(int64(e.n))
}

// flusher writes and fsyncs each generation of appends and done marks.
func (s *Store) flusher() {
	defer close(s.stopped)
	for range s.kick {
		s.mu.Lock()
		buf, pending, gen := s.buf, s.pending, s.gen
		s.buf, s.pending, s.gen = nil, nil, newGeneration()
		s.mu.Unlock()
		if len(buf) == 0 {
			close(gen.done)
			continue
		}
		gen.err = s.write(buf, pending)
		close(gen.done)
	}
}

// write appends buf, the frames of pending batches, to the last segment and
// fsyncs it; then the batches join the index.
func (s *Store) write(buf []byte, pending []*entry) error {
	s.mu.Lock()
	seg, err := s.segmentForLocked(int64(len(buf)))
	s.writing = err == nil
	s.mu.Unlock()
	if err == nil {
		var n int
		n, err = seg.f.WriteAt(buf, seg.size)
		if err == nil {
			err = seg.f.Sync()
		}
		if err != nil && n > 0 {
			// Cut what was written, so the next frames follow whole
			// ones; if that fails too, the next flush starts a new
			// segment and recovery drops what is torn.
			_ = seg.f.Truncate(seg.size)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writing = false
	s.fsyncs++
	if err != nil {
		s.broken = true
		s.onDisk -= int64(len(buf))
		err = fmt.Errorf("writing to the spool: %w", err)
		s.logger.Error("SPOOL DISK ERROR: requests are refused with 503 until the disk works", zap.String("dir", s.dir), zap.Error(err))
		return err
	}
	if s.broken {
		s.logger.Info("spool disk works again", zap.String("dir", s.dir))
		s.broken = false
	}
	for _, e := range pending {
		e.seg = seg
		e.off += seg.size
		s.addLocked(e)
	}
	seg.size += int64(len(buf))
	s.trimLocked()
	return nil
}

// segmentForLocked is the segment the next n bytes go to: the last, or a
// new one when the last is full or a write to it failed.
func (s *Store) segmentForLocked(n int64) (*segment, error) {
	if len(s.segs) > 0 {
		last := s.segs[len(s.segs)-1]
		if last.f == nil && !s.broken && last.size+n <= s.opt.SegmentSize {
			f, err := os.OpenFile(s.segPath(last.id), os.O_RDWR, 0o600)
			if err != nil {
				return nil, fmt.Errorf("opening spool segment: %w", err)
			}
			last.f = f
		}
		if last.f != nil && !s.broken && (last.size == 0 || last.size+n <= s.opt.SegmentSize) {
			return last, nil
		}
	}
	id := s.nextSeg
	f, err := createSegment(s.segPath(id))
	if err != nil {
		return nil, fmt.Errorf("creating spool segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		os.Remove(s.segPath(id))
		return nil, err
	}
	s.nextSeg++
	if len(s.segs) > 0 {
		last := s.segs[len(s.segs)-1]
		if last.f != nil {
			last.f.Close()
			last.f = nil
		}
	}
	seg := &segment{id: id, f: f}
	s.segs = append(s.segs, seg)
	return seg, nil
}

// createSegment creates a segment file; tests make it fail as a read-only
// or full disk would.
var createSegment = createSegmentFile

func createSegmentFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening spool directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing spool directory: %w", err)
	}
	return nil
}

// Append spools recs as one batch and returns once they are on disk
// (written and fsync'd; concurrent appends share one fsync), or an error
// that means nothing of them is spooled. With inflight, every record is
// marked as having a first attempt in flight: Next skips it until Settle.
// It returns the batch's sequence number.
func (s *Store) Append(recs []Record, inflight bool) (uint64, error) {
	frame, err := encodeBatch(nil, 0, recs)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	if s.onDisk+int64(len(frame)) > s.opt.MaxSize {
		s.mu.Unlock()
		return 0, ErrFull
	}
	seq := s.nextSeq
	s.nextSeq++
	putSeq(frame, seq)
	e := &entry{seq: seq, off: int64(len(s.buf)), size: uint32(len(frame)), n: uint32(len(recs)), left: uint32(len(recs)), at: time.Now()}
	if inflight {
		e.inflight = make([]bool, len(recs))
		for i := range e.inflight {
			e.inflight[i] = true
		}
	}
	s.buf = append(s.buf, frame...)
	s.pending = append(s.pending, e)
	s.onDisk += int64(len(frame))
	s.appends++
	gen := s.gen
	s.kickLocked()
	s.mu.Unlock()
	<-gen.done
	if gen.err != nil {
		return 0, gen.err
	}
	return seq, nil
}

// Settle ends the first attempt of batch seq's records: those with acked
// set are done, the others are left to Next. A batch whose records have all
// been acked is forgotten.
func (s *Store) Settle(seq uint64, acked []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.bySeq[seq]
	if e == nil {
		return
	}
	var marks []doneMark
	for i := range acked {
		if i >= int(e.n) {
			break
		}
		if e.inflight != nil {
			e.inflight[i] = false
		}
		if acked[i] && s.markLocked(seq, uint32(i), true) {
			marks = append(marks, doneMark{seq, uint32(i)})
		}
	}
	e.inflight = nil
	s.logDoneLocked(marks)
}

// markLocked marks record idx of batch seq done; it reports whether it was
// not done already.
func (s *Store) markLocked(seq uint64, idx uint32, _ bool) bool {
	e := s.bySeq[seq]
	if e == nil || idx >= e.n {
		return false
	}
	if e.done == nil {
		e.done = make([]bool, e.n)
	}
	if e.done[idx] {
		return false
	}
	e.done[idx] = true
	e.left--
	s.records.Add(-1)
	if e.left == 0 {
		delete(s.bySeq, seq)
		e.seg.pending--
	}
	return true
}

// MarkDone marks records done (Kafka acknowledged them). The marks are
// written with the next flush, not waited for: a mark lost in a crash
// only makes its record be sent again.
func (s *Store) MarkDone(ids []ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var marks []doneMark
	for _, id := range ids {
		if s.markLocked(id.Seq, id.Index, true) {
			marks = append(marks, doneMark{id.Seq, id.Index})
		}
	}
	s.logDoneLocked(marks)
}

func (s *Store) logDoneLocked(marks []doneMark) {
	s.trimLocked()
	if len(marks) == 0 || s.closed {
		return
	}
	frame := encodeDone(nil, marks)
	s.buf = append(s.buf, frame...)
	s.onDisk += int64(len(frame))
	s.kickLocked()
}

// kickLocked wakes the flusher. It runs under mu, so that Close, which
// closes kick under mu once closed is set, never races a send.
func (s *Store) kickLocked() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// trimLocked drops done batches from the head of the index and deletes the
// oldest segments once every batch in them and before them is done (a
// segment's done marks may sit in a later one, so segments go in order).
func (s *Store) trimLocked() {
	i := 0
	for i < len(s.entries) && s.entries[i].left == 0 {
		s.entries[i] = nil
		i++
	}
	s.entries = s.entries[i:]
	for len(s.segs) > 0 && s.segs[0].pending == 0 {
		if len(s.segs) == 1 && (s.writing || s.records.Load() > 0 || s.segs[0].size == 0) {
			// The last segment goes too once everything is done (the
			// next write starts a new one), so that a drained spool
			// gives all its disk back, even a full disk's; not while
			// the flusher writes to it.
			break
		}
		seg := s.segs[0]
		if seg.f != nil {
			seg.f.Close()
		}
		if err := os.Remove(s.segPath(seg.id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.logger.Warn("spool: removing a drained segment", zap.Error(err))
			return
		}
		s.onDisk -= seg.size
		s.segs = s.segs[1:]
	}
}

// ID names a spooled record: its batch and its index in the batch.
type ID struct {
	Seq   uint64
	Index uint32
}

// Item is a spooled record as Next returns it.
type Item struct {
	ID
	Record
	// Spooled is when its batch was spooled.
	Spooled time.Time
}

// Next returns up to max records (and about maxBytes of keys and values,
// at least one record), oldest first, that are neither done nor in flight
// with their first attempt. It reads them from disk.
func (s *Store) Next(maxRecords, maxBytes int) ([]Item, error) {
	type want struct {
		e   *entry
		idx []uint32
	}
	var wants []want
	s.mu.Lock()
	count := 0
	for _, e := range s.entries {
		if count >= maxRecords {
			break
		}
		if e.left == 0 {
			continue
		}
		w := want{e: e}
		for i := uint32(0); i < e.n && count < maxRecords; i++ {
			if (e.done != nil && e.done[i]) || (e.inflight != nil && e.inflight[i]) {
				continue
			}
			w.idx = append(w.idx, i)
			count++
		}
		if len(w.idx) > 0 {
			wants = append(wants, w)
		}
	}
	// The files are read outside the lock; a segment may be closed
	// meanwhile only once every batch in it is done, and those are not
	// asked for.
	s.mu.Unlock()
	var out []Item
	bytes := 0
	for _, w := range wants {
		buf := make([]byte, w.e.size)
		if err := s.readAt(w.e.seg, buf, w.e.off); err != nil {
			return out, err
		}
		payload, _, err := readFrame(buf)
		var b batch
		if err == nil {
			b, err = decodeBatch(payload)
		}
		if err == nil && b.seq != w.e.seq {
			err = fmt.Errorf("batch %d found where batch %d was", b.seq, w.e.seq)
		}
		if err != nil {
			// The disk changed what it acknowledged: the batch can never
			// be read, and keeping it would stop the drain for ever.
			s.logger.Error("SPOOL RECORDS DROPPED: a spooled request no longer reads back (disk corruption)",
				zap.String("segment", s.segPath(w.e.seg.id)), zap.Int64("offset", w.e.off), zap.Uint32("records", w.e.n), zap.Error(err))
			s.mu.Lock()
			var marks []doneMark
			for i := uint32(0); i < w.e.n; i++ {
				if s.markLocked(w.e.seq, i, true) {
					marks = append(marks, doneMark{w.e.seq, i})
				}
			}
			s.logDoneLocked(marks)
			s.mu.Unlock()
			continue
		}
		for _, i := range w.idx {
			r := b.recs[i]
			out = append(out, Item{ID: ID{w.e.seq, i}, Record: r, Spooled: w.e.at})
			bytes += len(r.Key) + len(r.Value)
			if bytes >= maxBytes {
				return out, nil
			}
		}
	}
	return out, nil
}

func (s *Store) readAt(seg *segment, buf []byte, off int64) error {
	s.mu.Lock()
	f := seg.f
	s.mu.Unlock()
	if f == nil {
		var err error
		if f, err = os.Open(s.segPath(seg.id)); err != nil {
			return fmt.Errorf("reading the spool: %w", err)
		}
		defer f.Close()
	}
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the spool: %w", err)
	}
	return nil
}

// Stats are what a Store holds.
type Stats struct {
	Records int64     // not done
	Bytes   int64     // on disk
	Oldest  time.Time // when the oldest record not done was spooled; zero when none
	Dir     string
}

// Stats reports what the store holds.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Records: s.records.Load(), Bytes: s.onDisk, Dir: s.dir}
	for _, e := range s.entries {
		if e.left > 0 {
			st.Oldest = e.at
			break
		}
	}
	return st
}

// Len is the number of records not done. It takes no lock: every request
// of a spooling route asks.
func (s *Store) Len() int64 { return s.records.Load() }

// Dir is the spool's directory.
func (s *Store) Dir() string { return s.dir }

// MaxSize is the spool's bound in bytes.
func (s *Store) MaxSize() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opt.MaxSize
}

// SetMaxSize changes the bound (a reload that keeps the directory); records
// already over it stay, and appends wait for the room.
func (s *Store) SetMaxSize(n int64) {
	if n <= 0 {
		n = DefaultMaxSize
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opt.MaxSize = n
}

// Fsyncs reports how many flushes (each one write and one fsync) and
// appends the store has done, for measuring group commit.
func (s *Store) Fsyncs() (fsyncs, appends int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fsyncs, s.appends
}

// Close flushes what is pending (done marks) and closes the files.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	gen := s.gen
	s.kickLocked()
	s.mu.Unlock()
	<-gen.done
	s.mu.Lock()
	close(s.kick)
	s.mu.Unlock()
	<-s.stopped
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeFiles()
	return nil
}

func (s *Store) closeFiles() {
	for _, seg := range s.segs {
		if seg.f != nil {
			seg.f.Close()
			seg.f = nil
		}
	}
	if s.lock != nil {
		unlockDir(s.lock)
		s.lock = nil
	}
}
