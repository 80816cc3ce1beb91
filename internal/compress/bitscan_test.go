package compress

import "testing"

// TestFindMagic writes each magic at every bit offset into zeros and checks
// findMagic finds it there, and bitWriter copies bits exactly.
func TestFindMagic(t *testing.T) {
	for _, m := range []struct {
		v    uint64
		kind magicKind
	}{{blockMagic, blockKind}, {eosMagic, eosKind}} {
		for off := 0; off < 80; off++ {
			var w bitWriter
			w.writeBits(0, off)
			w.writeBits(m.v, 48)
			w.writeBits(0, 13)
			for _, final := range []bool{false, true} {
				buf := w.buf
				pos, kind, _ := findMagic(buf, 0, final)
				if !final && pos < 0 {
					// Not final: a magic near the end waits for more input.
					buf = append(append([]byte{}, buf...), make([]byte, 8)...)
					pos, kind, _ = findMagic(buf, 0, final)
				}
				if pos != off || kind != m.kind {
					t.Fatalf("magic %x at bit %d (final %v): found %v at %d", m.v, off, final, kind, pos)
				}
				if p, _, _ := findMagic(buf, off+1, final); p >= 0 {
					t.Fatalf("magic %x at bit %d: found again at %d", m.v, off, p)
				}
			}
			var c bitWriter
			c.writeBits(1, 3)
			c.writeFrom(w.buf, off, off+48)
			if got := bitsAt(c.buf, 3, 48); got != m.v {
				t.Fatalf("writeFrom at bit %d: got %x", off, got)
			}
		}
	}
}

func TestFindMagicResume(t *testing.T) {
	buf := make([]byte, 100)
	pos, _, resume := findMagic(buf, 0, false)
	if pos >= 0 || resume <= 0 || resume > len(buf)*8 {
		t.Fatalf("pos %d resume %d", pos, resume)
	}
}
