package confluentv3

import (
	"bytes"
	"io"

	"github.com/caddy-kafka/caddy-kafka/dialects/internal/jsonfast"
)

// maxEmptyReads is how many reads in a row may return nothing before the
// splitter gives up with io.ErrNoProgress, as bufio.Reader does.
const maxEmptyReads = 100

// splitter cuts concatenated JSON objects out of a stream without decoding
// them, so that each can be bounded in size and decoded on its own.
//
// Reading a whole body, the objects it returns are slices of its buffers,
// which it never writes again: a record decoded from one may keep pointing
// into it. When a buffer is full the object in progress moves to a new one
// and the old buffer is left to the records that use it.
//
// Reading a stream (copyOut set), it copies each object into a slab, and
// reuses its read buffer: records pin slabs of records only, never the
// whitespace between them.
type splitter struct {
	r     io.Reader
	buf   []byte // buf[:pos] is handed out or skipped; buf[pos:] is read and not yet
	pos   int
	max   int64 // largest object in bytes
	chunk int   // size of a new buffer
	err   error // the reader's error, once it has returned one
	// copyOut has objects copied to slabs, and buf reused.
	copyOut bool
	slab    []byte // where objects are copied to, with copyOut
	// beforeRead, if set, is called before each read of r, which may wait
	// for the client.
	beforeRead func()
}

// newSplitter reads objects of at most max bytes from r into buffers of
// chunk bytes (more for a larger object), and copies them out if copyOut is
// set.
func newSplitter(r io.Reader, chunk int, max int64, copyOut bool) *splitter {
	return &splitter{r: r, buf: make([]byte, 0, chunk), max: max, chunk: chunk, copyOut: copyOut}
}

// fill reads more input after buf[len(buf)], making room when the buffer is
// full. It returns nil when it read something, else the reader's error.
func (s *splitter) fill() error {
	if len(s.buf) == cap(s.buf) {
		n := len(s.buf) - s.pos
		if s.copyOut && n <= cap(s.buf)/2 {
			// Nothing points into buf: move the object in progress to
			// its start.
			s.buf = s.buf[:copy(s.buf, s.buf[s.pos:])]
		} else {
			nb := make([]byte, n, max(s.chunk, 2*n))
			copy(nb, s.buf[s.pos:])
			s.buf = nb
		}
		s.pos = 0
	}
	if s.beforeRead != nil && s.err == nil {
		s.beforeRead()
	}
	for range maxEmptyReads {
		if s.err != nil {
			return s.err
		}
		n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		s.err = err
		if n > 0 {
			return nil
		}
	}
	if s.err == nil {
		s.err = io.ErrNoProgress
	}
	return s.err
}

// next returns the next object, io.EOF at the clean end of the input,
// errSplitTooLarge, a *malformedError, or the reader's error.
func (s *splitter) next() ([]byte, error) {
	for {
		for s.pos < len(s.buf) && jsonfast.IsSpace(s.buf[s.pos]) {
			s.pos++
		}
		if s.pos < len(s.buf) {
			break
		}
		if err := s.fill(); err != nil {
			return nil, err
		}
	}
	if s.buf[s.pos] != '{' {
		s.pos++
		return nil, &malformedError{"Error processing JSON: a record must be a JSON object"}
	}
	depth, inStr := 1, false
	i := s.pos + 1 // next byte to scan; s.pos may move with the bytes
	for {
		for i < len(s.buf) {
			if inStr {
				// The string ends at the next quote after an even
				// number of backslashes. The opening quote stops the
				// count, and is at or after s.pos.
				j := bytes.IndexByte(s.buf[i:], '"')
				if j < 0 {
					i = len(s.buf)
					break
				}
				i += j
				k := i
				for s.buf[k-1] == '\\' {
					k--
				}
				inStr = (i-k)%2 == 1
				i++
				continue
			}
			c := s.buf[i]
			i++
			switch c {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					obj := s.buf[s.pos:i:i]
					s.pos = i
					if int64(len(obj)) > s.max {
						return nil, errSplitTooLarge
					}
					if s.copyOut {
						obj = s.keep(obj)
					}
					return obj, nil
				}
			}
		}
		// As the reference splitter did, the size is checked once some
		// bytes after the '{' are in.
		if n := len(s.buf) - s.pos; n > 1 && int64(n) > s.max {
			return nil, errSplitTooLarge
		}
		off := i - s.pos
		if err := s.fill(); err != nil {
			if err == io.EOF {
				return nil, &malformedError{"Error processing JSON: unexpected end of input"}
			}
			return nil, err
		}
		i = s.pos + off
	}
}

// keep copies b to the slab.
func (s *splitter) keep(b []byte) []byte {
	if cap(s.slab)-len(s.slab) < len(b) {
		s.slab = make([]byte, 0, max(s.chunk, len(b)))
	}
	start := len(s.slab)
	s.slab = append(s.slab, b...)
	return s.slab[start:len(s.slab):len(s.slab)]
}

// streamChunk is the buffer size of a streaming request's splitter.
const streamChunk = 64 << 10

// wholeChunk is the first buffer of a splitter reading a body of declared
// length n: all of it and a byte to see its end in, up to 1 MiB (more grows
// as it arrives: a declared length is the client's word).
func wholeChunk(n int64) int { return int(min(max(n, 511), 1<<20)) + 1 }
