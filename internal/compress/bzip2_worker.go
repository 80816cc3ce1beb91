package compress

import (
	"compress/bzip2"
	"io"
)

// worker decodes pieces with one long-lived compress/bzip2 reader, so its
// 3.6 MB block buffer is allocated once and stays warm in cache. Each piece
// is fed to it as a standalone stream (see job.wrap) through feeder; when
// the reader asks for the byte after a piece's stream, it has decoded the
// block, checked the block CRC and the stream CRC, and asks for the next
// stream, which the feeder takes from the work queue.
type worker struct {
	work  <-chan *job
	quit  <-chan struct{}
	zr    io.Reader // nil until needed, and after an error
	data  []byte    // wrapped stream of cur
	pos   int
	cur   *job
	total int     // bytes decoded for cur
	crc   uint32  // bzip2 CRC of them (endTruncated pieces only)
	chunk *[]byte // partly filled chunk of cur's output
	// held are cur's full chunks, sent together when cur ends so the
	// reader wakes up once per piece; past chunkQueue chunks they stream.
	held      []*[]byte
	streaming bool
	// switched is set when ReadByte finished a piece during a Read: the
	// bytes of chunk before that Read were sent (copied) to that piece.
	switched bool
	done     bool // no more jobs
}

// runWorker decodes jobs from work until it is closed or quit is.
func runWorker(work <-chan *job, quit <-chan struct{}) {
	w := &worker{work: work, quit: quit}
	for !w.done {
		if w.cur == nil {
			if !w.next() {
				return
			}
			w.zr = bzip2.NewReader(w)
		}
		if w.chunk == nil {
			w.chunk = chunkPool.Get().(*[]byte)
			*w.chunk = (*w.chunk)[:0]
		}
		c := *w.chunk
		base := len(c)
		n, err := w.zr.Read(c[base:cap(c)])
		if w.switched {
			// The chunk's old bytes went to the previous piece: keep only
			// the new ones, which belong to cur.
			w.switched = false
			copy(c[:n], c[base:base+n])
			base = 0
		}
		*w.chunk = c[:base]
		if n > 0 && w.cur != nil {
			if w.cur.end == endTruncated {
				w.crc = updateCRC(w.crc, c[base:base+n])
			}
			w.total += n
			*w.chunk = c[:base+n]
			if len(*w.chunk) == cap(c) {
				ok := w.push(w.chunk)
				w.chunk = nil
				if !ok {
					w.abandon(nil)
					continue
				}
			}
		}
		if err == io.EOF && w.cur == nil {
			continue // stopped between pieces: w.done, or a cancelled piece
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			w.abandon(err)
		}
	}
}

// runOne decodes the single job j.
func runOne(j *job, quit <-chan struct{}) {
	work := make(chan *job, 1)
	work <- j
	close(work)
	runWorker(work, quit)
}

// next makes the next valid job current; false when there is none.
func (w *worker) next() bool {
	for {
		var j *job
		var ok bool
		select {
		case j, ok = <-w.work:
		case <-w.quit:
		}
		if !ok {
			w.done = true
			return false
		}
		if j.nbits < minPieceBits || bitsAt(j.piece, 0, 48) != blockMagic {
			j.derr = errNotBlock
			close(j.chunks)
			continue
		}
		w.cur, w.data, w.pos, w.total, w.crc = j, j.wrap(), 0, 0, 0
		w.streaming = false
		return true
	}
}

// push queues a full chunk of cur's output; false if cur was cancelled.
func (w *worker) push(c *[]byte) bool {
	w.held = append(w.held, c)
	if !w.streaming && len(w.held) < chunkQueue {
		return true
	}
	w.streaming = true
	return w.sendHeld()
}

// sendHeld sends the held chunks to cur; false if cur was cancelled.
func (w *worker) sendHeld() bool {
	for i, c := range w.held {
		select {
		case w.cur.chunks <- c:
		case <-w.cur.cancel:
			w.held = w.held[:0]
			return false
		case <-w.quit:
			w.held = w.held[:0]
			return false
		}
		w.held[i] = nil
	}
	w.held = w.held[:0]
	return true
}

// flush sends cur's remaining output; false if cur was cancelled.
func (w *worker) flush() bool {
	if w.chunk != nil && len(*w.chunk) > 0 {
		w.held = append(w.held, w.chunk)
		w.chunk = nil
	}
	return w.sendHeld()
}

// abandon ends cur with err (nil: cancelled) and drops the reader, whose
// state is unknown.
func (w *worker) abandon(err error) {
	if j := w.cur; j != nil {
		if err != nil {
			w.flush()
			j.derr = err
			j.verified = w.total > 0 && w.crc == j.blockCRC()
		}
		close(j.chunks)
	}
	w.held = w.held[:0]
	w.cur, w.zr = nil, nil
}

// ReadByte feeds the reader: cur's wrapped stream, then the next job's.
func (w *worker) ReadByte() (byte, error) {
	if w.pos < len(w.data) {
		b := w.data[w.pos]
		w.pos++
		return b, nil
	}
	if w.cur == nil || w.total == 0 {
		// Reading past a piece without having decoded its block: the block
		// is corrupt (or was cancelled); report end of input.
		return 0, io.EOF
	}
	// The reader decoded and checked cur and looks for another stream. A
	// Read into chunk is in progress: send a copy of its bytes so far.
	if w.chunk != nil && len(*w.chunk) > 0 {
		cp := chunkPool.Get().(*[]byte)
		*cp = append((*cp)[:0], *w.chunk...)
		w.held = append(w.held, cp)
		w.switched = true
	}
	if !w.sendHeld() {
		w.abandon(nil)
		return 0, io.EOF
	}
	close(w.cur.chunks)
	w.cur, w.data, w.pos = nil, nil, 0
	if !w.next() {
		return 0, io.EOF
	}
	return w.ReadByte()
}

// Read makes worker an io.Reader; compress/bzip2 only uses ReadByte.
func (w *worker) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := w.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = b
	return 1, nil
}
