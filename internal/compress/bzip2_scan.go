package compress

import (
	"bytes"
	"fmt"
	"io"
)

// scanner reads the compressed input, splits it into pieces at block magics
// and hands them to the workers and, in order, to the reader.
type scanner struct {
	r     io.Reader
	order chan<- *job
	work  chan<- *job
	quit  <-chan struct{}

	buf  []byte
	base int64 // input offset of buf[0]
	eof  bool  // buf holds the rest of the input
	rerr error // read error other than io.EOF
}

const readSize = 256 << 10

// fill reads more input; it returns false once no more can come.
func (s *scanner) fill() bool {
	if s.eof {
		return false
	}
	if cap(s.buf)-len(s.buf) < readSize {
		nb := make([]byte, len(s.buf), 2*cap(s.buf)+readSize)
		copy(nb, s.buf)
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if err != nil {
		s.eof = true
		if err != io.EOF {
			s.rerr = err
		}
	}
	return true
}

// need reads until buf holds n bytes; false if the input ends first.
func (s *scanner) need(n int) bool {
	for len(s.buf) < n {
		if !s.fill() {
			return false
		}
	}
	return true
}

// discard drops the first n bytes of buf.
func (s *scanner) discard(n int) {
	s.buf = s.buf[:copy(s.buf, s.buf[n:])]
	s.base += int64(n)
}

// send queues an item for the reader and, if it has a piece, for a worker.
func (s *scanner) send(j *job) bool {
	select {
	case s.order <- j:
	case <-s.quit:
		return false
	}
	if j.piece == nil {
		return true
	}
	select {
	case s.work <- j:
		return true
	case <-s.quit:
		return false
	}
}

// truncated is the error for an input that ends early at offset off.
func (s *scanner) truncated(off int64) error {
	if s.rerr != nil {
		return fmt.Errorf("bzip2: reading compressed input at offset %d: %w", off, s.rerr)
	}
	return fmt.Errorf("bzip2: input truncated at compressed offset %d: %w", off, io.ErrUnexpectedEOF)
}

func (s *scanner) fail(err error) { s.send(&job{err: err}) }

// cut returns bits [p, q) of buf as a piece.
func (s *scanner) cut(p, q int, level byte, end endKind) *job {
	j := newJob()
	w := bitWriter{buf: make([]byte, 0, (q-p)/8+1)}
	w.writeFrom(s.buf, p, q)
	j.piece, j.nbits = w.buf, w.n
	j.level, j.off, j.end = level, s.base+int64(p/8), end
	return j
}

// falseCuts, set by tests, makes the scanner also cut every piece in two, as
// a magic occurring by chance inside compressed data would.
var falseCuts = false

// emit sends bits [p, q) of buf as a piece; crc, next and after fill the
// job's fields of the same names.
func (s *scanner) emit(p, q int, level byte, end endKind, crc uint32, next int64, after error) bool {
	if falseCuts && q-p > 4*minPieceBits {
		mid := p + (q-p)/2 + 3
		if !s.send(s.cut(p, mid, level, endBlock)) {
			return false
		}
		p = mid
	}
	j := s.cut(p, q, level, end)
	j.crc, j.next, j.after = crc, next, after
	return s.send(j)
}

// run scans the whole input, closing the channels when done.
func (s *scanner) run() {
	defer close(s.order)
	defer close(s.work)
	for first := true; ; first = false {
		// Stream header "BZh" + level, byte-aligned at buf[0].
		if !s.need(4) {
			if len(s.buf) == 0 && !first && s.rerr == nil {
				return // clean end after the last stream
			}
			if len(s.buf) >= 2 && !bytes.HasPrefix(s.buf, []byte("BZ")) {
				s.fail(fmt.Errorf("bzip2: bad magic value at compressed offset %d", s.base))
				return
			}
			s.fail(s.truncated(s.base + int64(len(s.buf))))
			return
		}
		switch {
		case !bytes.HasPrefix(s.buf, []byte("BZ")):
			s.fail(fmt.Errorf("bzip2: bad magic value at compressed offset %d", s.base))
			return
		case s.buf[2] != 'h':
			s.fail(fmt.Errorf("bzip2: non-Huffman entropy encoding at compressed offset %d", s.base))
			return
		case s.buf[3] < '1' || s.buf[3] > '9':
			s.fail(fmt.Errorf("bzip2: invalid compression level at compressed offset %d", s.base))
			return
		}
		if !s.stream(s.buf[3]) {
			return
		}
	}
}

// stream scans one stream whose header is at buf[0]; it returns true when the
// stream ended properly and buf starts at the byte after it.
func (s *scanner) stream(level byte) bool {
	p := 32 // bit position of the first magic
	if !s.need(p/8 + 10) {
		if len(s.buf)*8 < p+48 || bitsAt(s.buf, p, 48) != eosMagic {
			s.fail(s.truncated(s.base + int64(len(s.buf))))
			return false
		}
	}
	switch bitsAt(s.buf, p, 48) {
	case eosMagic: // empty stream
		if len(s.buf)*8 < p+80 {
			s.fail(s.truncated(s.base + int64(len(s.buf))))
			return false
		}
		crc := uint32(bitsAt(s.buf, p+48, 32))
		if !s.send(&job{streamEnd: true, crc: crc, off: s.base + int64(p/8)}) {
			return false
		}
		s.discard((p + 80 + 7) / 8)
		return true
	case blockMagic:
	default:
		s.fail(fmt.Errorf("bzip2: bad magic value found at compressed offset %d", s.base+int64(p/8)))
		return false
	}
	from := p + minPieceBits
	for {
		q, kind, resume := findMagic(s.buf, from, s.eof)
		if q < 0 {
			if s.eof {
				s.emit(p, len(s.buf)*8, level, endTruncated, 0, 0, s.truncated(s.base+int64(len(s.buf))))
				return false
			}
			if len(s.buf)*8-p > maxPieceBits(level) {
				s.fail(fmt.Errorf("bzip2: no block boundary within %d bytes of compressed offset %d",
					maxPieceBits(level)/8, s.base+int64(p/8)))
				return false
			}
			from = resume
			s.fill()
			continue
		}
		if kind == blockKind {
			if !s.emit(p, q, level, endBlock, 0, 0, nil) {
				return false
			}
			s.discard(q / 8)
			p, from = q&7, q&7+minPieceBits
			continue
		}
		// End-of-stream magic: a 32-bit CRC follows, then padding to a byte,
		// then the input ends or another stream starts.
		next := (q + 80 + 7) / 8
		s.need(next + 4)
		if len(s.buf)*8 < q+80 {
			s.emit(p, q, level, endBlock, 0, 0, s.truncated(s.base+int64(len(s.buf))))
			return false
		}
		rest := s.buf[next:]
		confirmed := len(rest) == 0 ||
			len(rest) >= 4 && bytes.HasPrefix(rest, []byte("BZh")) && rest[3] >= '1' && rest[3] <= '9' ||
			len(rest) < 4 && bytes.HasPrefix([]byte("BZh"), rest)
		if !confirmed && s.rerr != nil && len(rest) < 4 {
			confirmed = true // let the read error be reported at the next stream
		}
		end := endEOS
		if !confirmed {
			end = endUnconfirmed
		}
		crc := uint32(bitsAt(s.buf, q+48, 32))
		if !s.emit(p, q, level, end, crc, s.base+int64(next), nil) {
			return false
		}
		if confirmed {
			s.discard(next)
			return true
		}
		// Probably a chance match inside a block: keep cutting there.
		s.discard(q / 8)
		p, from = q&7, q&7+48
	}
}
