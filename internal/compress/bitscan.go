package compress

import (
	"encoding/binary"
	"math/bits"
)

// Bit-level helpers for bzip2: bzip2 is an MSB-first bit stream whose block
// and end-of-stream markers are 48-bit magics at arbitrary bit offsets.

const (
	blockMagic = 0x314159265359 // π: starts every block
	eosMagic   = 0x177245385090 // √π: ends every stream
)

type magicKind uint8

const (
	noMagic magicKind = iota
	blockKind
	eosKind
)

// shiftTable[v] tells which magics may start in byte j when byte j+1 is v.
// Bit 2*s+k is set when magic k (0 block, 1 end of stream) starting at bit s
// of byte j has v as its bits [8-s, 16-s), i.e. as byte j+1. Every bit shift
// has byte j+1 fully inside the magic, so one table look-up per input byte
// filters candidates; ascending bit order is ascending bit position.
var shiftTable = func() (t [256]uint16) {
	for s := 0; s < 8; s++ {
		for k, m := range [2]uint64{blockMagic, eosMagic} {
			v := byte(m >> (32 + s))
			t[v] |= 1 << (2*s + k)
		}
	}
	return t
}()

// load56 returns the big-endian 64-bit word at buf[j:], zero-padded past the
// end of buf.
func load64(buf []byte, j int) uint64 {
	if j+8 <= len(buf) {
		return binary.BigEndian.Uint64(buf[j:])
	}
	var w uint64
	for i := 0; i < 8; i++ {
		w <<= 8
		if j+i < len(buf) {
			w |= uint64(buf[j+i])
		}
	}
	return w
}

// bitsAt returns the n <= 57 bits of buf starting at bit position pos;
// the caller guarantees they are inside buf.
func bitsAt(buf []byte, pos, n int) uint64 {
	w := load64(buf, pos>>3)
	return (w << (pos & 7)) >> (64 - n)
}

// findMagic returns the first bit position pos >= from in buf where a block
// or end-of-stream magic starts, and its kind. When none is found it returns
// pos = -1 and the bit position from which to resume once buf has grown.
// Unless final (buf holds the rest of the input), only magics that could not
// extend past the end of buf are considered.
func findMagic(buf []byte, from int, final bool) (pos int, kind magicKind, resume int) {
	jmax := len(buf) - 6 // bytes j..j+6 hold any shifted magic starting in byte j
	if final {
		jmax = len(buf) - 1
	}
	for j := from >> 3; j < jmax; j++ {
		m := shiftTable[buf[j+1]]
		if m == 0 {
			continue
		}
		w := load64(buf, j)
		for m != 0 {
			i := bits.TrailingZeros16(m)
			m &= m - 1
			s := i >> 1
			p := j*8 + s
			if p < from || p+48 > len(buf)*8 {
				continue
			}
			v := (w << s) >> 16
			if i&1 == 0 && v == blockMagic {
				return p, blockKind, 0
			}
			if i&1 == 1 && v == eosMagic {
				return p, eosKind, 0
			}
		}
	}
	if jmax*8 > from {
		return -1, noMagic, jmax * 8
	}
	return -1, noMagic, from
}

// bitWriter builds an MSB-first bit string.
type bitWriter struct {
	buf []byte
	n   int // bits written
}

// writeBits appends the low k bits of v, most significant first.
func (w *bitWriter) writeBits(v uint64, k int) {
	for i := k - 1; i >= 0; i-- {
		if w.n&7 == 0 {
			w.buf = append(w.buf, 0)
		}
		w.buf[len(w.buf)-1] |= byte(v>>i&1) << (7 - w.n&7)
		w.n++
	}
}

// writeFrom appends bits [from, to) of src.
func (w *bitWriter) writeFrom(src []byte, from, to int) {
	for from < to && w.n&7 != 0 {
		w.writeBits(bitsAt(src, from, 1), 1)
		from++
	}
	nb := (to - from) >> 3
	j, sh := from>>3, uint(from&7)
	if sh == 0 {
		w.buf = append(w.buf, src[j:j+nb]...)
	} else {
		for k := j; k < j+nb; k++ {
			w.buf = append(w.buf, src[k]<<sh|src[k+1]>>(8-sh))
		}
	}
	w.n += nb * 8
	from += nb * 8
	for ; from < to; from++ {
		w.writeBits(bitsAt(src, from, 1), 1)
	}
}
