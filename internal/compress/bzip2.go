package compress

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// Parallel bzip2 decoding.
//
// There is no well-kept Go library for parallel bzip2 decoding, so this is
// written by hand on top of compress/bzip2. bzip2 blocks are independent:
// a scanner goroutine finds the 48-bit block magics (at any bit offset) in
// the compressed input, cuts each block out, and workers decode every block
// as a standalone single-block stream with compress/bzip2, which also checks
// the block CRC (each worker keeps one compress/bzip2 reader and feeds it
// the blocks' streams one after another, see bzip2_worker.go). The reader emits blocks in input order and checks each
// stream's combined CRC. A magic can occur by chance inside compressed data:
// such a false cut makes the piece fail to decode, and the reader then
// merges it with the following piece and decodes again. At most 2*workers
// blocks are in flight, so memory is bounded whatever the input size.

// NewBzip2Reader decodes a bzip2 stream using up to `workers` goroutines (0 = GOMAXPROCS), output identical to compress/bzip2.
// Concatenated streams are read fully. Errors carry the compressed byte
// offset of the failing block; a truncated input yields every complete block
// and then an error wrapping io.ErrUnexpectedEOF. Close stops the goroutines
// (after any read of r in progress returns); it does not close r.
func NewBzip2Reader(r io.Reader, workers int) io.ReadCloser {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	d := &bzip2Reader{
		order: make(chan *job, 2*workers),
		work:  make(chan *job, workers),
		quit:  make(chan struct{}),
	}
	sc := &scanner{r: r, order: d.order, work: d.work, quit: d.quit}
	d.wg.Add(1 + workers)
	go func() {
		defer d.wg.Done()
		sc.run()
	}()
	for i := 0; i < workers; i++ {
		go func() {
			defer d.wg.Done()
			runWorker(d.work, d.quit)
		}()
	}
	return d
}

type bzip2Reader struct {
	order chan *job // every item in input order
	work  chan *job // pieces to decode
	quit  chan struct{}
	wg    sync.WaitGroup

	cur       *job      // job being streamed (output larger than maxPending)
	pending   []*[]byte // verified (or streamed) output chunks not yet read
	out       []byte    // rest of the chunk being read
	outChunk  *[]byte   // chunk behind out, returned to the pool when read
	after     error     // error to report once pending output is read
	err       error     // sticky error
	streamCRC uint32    // combined CRC of the current stream so far
	closeOnce sync.Once
}

// Read implements io.Reader.
func (d *bzip2Reader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.outChunk != nil {
			chunkPool.Put(d.outChunk)
			d.outChunk = nil
		}
		if d.err != nil {
			return 0, d.err
		}
		if len(d.pending) > 0 {
			d.outChunk = d.pending[0]
			d.out = *d.outChunk
			d.pending = d.pending[1:]
			continue
		}
		if d.after != nil {
			d.err, d.after = d.after, nil
			continue
		}
		d.err = d.advance()
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// advance makes more output pending, or returns the error ending the output.
func (d *bzip2Reader) advance() error {
	if d.cur != nil { // streaming a large block: its output was not verified first
		if c, ok := <-d.cur.chunks; ok {
			d.pending = append(d.pending, c)
			return nil
		}
		j := d.cur
		d.cur = nil
		if j.derr != nil {
			return blockError(j, j.derr)
		}
		d.after = d.finish(j)
		return nil
	}
	j, ok := <-d.order
	if !ok {
		return io.EOF
	}
	switch {
	case j.err != nil:
		return j.err
	case j.streamEnd:
		if d.streamCRC != j.crc {
			return fmt.Errorf("bzip2: stream ending at compressed offset %d: file checksum mismatch", j.off)
		}
		d.streamCRC = 0
		return nil
	}
	var first *job // first piece of a failed run, for the error message
	for {
		// Hold the output back until the block's CRC has been checked, unless
		// it is too large to hold.
		var held []*[]byte
		size := 0
		for c := range j.chunks {
			held = append(held, c)
			if size += len(*c); size >= maxPending {
				d.cur, d.pending = j, held
				return nil
			}
		}
		if j.derr == nil {
			d.pending = held
			d.after = d.finish(j)
			return nil
		}
		if j.end != endTruncated || !j.verified {
			putChunks(held)
		}
		if first == nil {
			first = j
		}
		if j.end == endTruncated {
			if j.verified { // a complete block, then the input ends inside a magic
				d.pending, d.after = held, j.after
				return nil
			}
			return j.after
		}
		if j.end == endEOS {
			return blockError(first, first.derr)
		}
		// A false magic may have cut the block: merge with the next piece.
		next, ok := <-d.order
		if !ok || next.piece == nil {
			return blockError(first, first.derr)
		}
		close(next.cancel)
		if j.nbits+next.nbits > maxPieceBits(j.level) {
			return blockError(first, first.derr)
		}
		j = merge(j, next)
		d.wg.Add(1)
		go func(m *job) {
			defer d.wg.Done()
			runOne(m, d.quit)
		}(j)
	}
}

// finish accounts for a successfully decoded piece and returns the error to
// report after its output, if any.
func (d *bzip2Reader) finish(j *job) error {
	d.streamCRC = combineCRC(d.streamCRC, j.blockCRC())
	switch j.end {
	case endEOS:
		if d.streamCRC != j.crc {
			return fmt.Errorf("bzip2: stream ending near compressed offset %d: file checksum mismatch", j.off)
		}
		d.streamCRC = 0
	case endUnconfirmed:
		if d.streamCRC != j.crc {
			return fmt.Errorf("bzip2: stream ending near compressed offset %d: file checksum mismatch", j.off)
		}
		return fmt.Errorf("bzip2: bad magic value in continuation file at compressed offset %d", j.next)
	}
	return j.after
}

func blockError(j *job, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// The piece itself is never short: a block that runs past its end is corrupt.
		err = errors.New("bzip2: block data ends early (corrupt block)")
	}
	return fmt.Errorf("bzip2: block at compressed offset %d: %w", j.off, err)
}

func putChunks(cs []*[]byte) {
	for _, c := range cs {
		chunkPool.Put(c)
	}
}

// Close stops the scanner and workers and waits for them.
func (d *bzip2Reader) Close() error {
	d.closeOnce.Do(func() {
		close(d.quit)
		d.wg.Wait()
		d.err = errors.New("bzip2: read after Close")
		d.pending, d.out, d.cur = nil, nil, nil
	})
	return nil
}
