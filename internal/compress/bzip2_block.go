package compress

import (
	"errors"
	"sync"
)

// A piece is a candidate bzip2 block cut from the input at the bit positions
// of two consecutive magics, and the job of decoding it.

// endKind says what follows a piece in the input.
type endKind uint8

const (
	endBlock       endKind = iota // another block magic
	endEOS                        // end-of-stream magic, CRC, then EOF or a new stream
	endUnconfirmed                // end-of-stream magic not followed by EOF or a new stream
	endTruncated                  // the input ended inside the piece
)

const (
	chunkSize    = 256 << 10              // decoded output travels in chunks of this size
	chunkQueue   = 16                     // chunks a worker may queue ahead of the reader
	maxPending   = chunkQueue * chunkSize // output held back until a block's CRC is checked
	minPieceBits = 80                     // block magic + block CRC
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

var errNotBlock = errors.New("bzip2: bad magic value found")

// maxPieceBits bounds the compressed size of a block at the given level
// ('1'..'9'): at most level*100k symbols of at most 20 bits, plus tables.
func maxPieceBits(level byte) int {
	return int(level-'0')*100_000*20 + 1<<20
}

// job is one piece and its decoding. Items that carry no piece report a
// stream end (checking the combined CRC) or a terminal error.
type job struct {
	piece []byte // the piece's bits, starting at bit 0
	nbits int
	level byte  // stream level digit '1'..'9'
	off   int64 // compressed byte offset of the piece's first bit
	end   endKind
	crc   uint32 // stored stream CRC when end is endEOS or endUnconfirmed
	after error  // error to report once this item's output is delivered
	next  int64  // compressed offset of what follows the stream (endUnconfirmed)

	streamEnd bool  // item without piece: a stream ended, its CRC is crc
	err       error // item without piece: terminal error

	chunks   chan *[]byte // decoded output, closed when done
	derr     error        // decode error, valid once chunks is closed
	verified bool         // (endTruncated) the output matches the block CRC
	cancel   chan struct{}
}

func newJob() *job {
	return &job{chunks: make(chan *[]byte, chunkQueue), cancel: make(chan struct{})}
}

// blockCRC returns the CRC stored in the piece's block header.
func (j *job) blockCRC() uint32 { return uint32(bitsAt(j.piece, 48, 32)) }

// wrap returns the piece as a standalone single-block bzip2 stream: header,
// the block, end-of-stream magic and a stream CRC equal to the block CRC
// (combineCRC(0, crc) == crc).
func (j *job) wrap() []byte {
	w := bitWriter{buf: make([]byte, 0, 4+len(j.piece)+11)}
	w.buf = append(w.buf, 'B', 'Z', 'h', j.level)
	w.n = 32
	w.writeFrom(j.piece, 0, j.nbits)
	w.writeBits(eosMagic, 48)
	w.writeBits(uint64(j.blockCRC()), 32)
	return w.buf
}

// merge returns a job for the bits of a followed by those of b: used when a
// magic found inside compressed data split a block in two.
func merge(a, b *job) *job {
	m := newJob()
	w := bitWriter{buf: make([]byte, 0, len(a.piece)+len(b.piece))}
	w.writeFrom(a.piece, 0, a.nbits)
	w.writeFrom(b.piece, 0, b.nbits)
	m.piece, m.nbits = w.buf, w.n
	m.level, m.off = a.level, a.off
	m.end, m.crc, m.after, m.next = b.end, b.crc, b.after, b.next
	return m
}
