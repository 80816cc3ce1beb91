package wire

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/bgptest"
)

// TestAppendAttrs2Byte checks the RFC 6793 encoding for 2-byte speakers:
// AS_TRANS in AS_PATH and AGGREGATOR, the truth in AS4_PATH and
// AS4_AGGREGATOR, merged back by the decoder.
func TestAppendAttrs2Byte(t *testing.T) {
	a := &bgp.Attrs{Path: bgptest.Path(t, "64500 4200000001 {4200000002,3}"), NextHop: netip.MustParseAddr("192.0.2.1")}
	a.Set(bgp.AttrOrigin)
	a.Set(bgp.AttrAggregator)
	a.Aggregator = bgp.Aggregator{AS: 4200000003, Addr: netip.MustParseAddr("192.0.2.3")}
	b, err := AppendAttrs(nil, a, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var d AttrDecoder
	var got bgp.Attrs
	var none []NLRI
	if err := d.Decode(b, AttrOptions{}, &got, &none, &none); err != nil {
		t.Fatal(err)
	}
	if got.Path.String() != a.Path.String() || got.Aggregator != a.Aggregator || got.NextHop != a.NextHop {
		t.Errorf("got path %q aggregator %v next hop %s, want %q %v %s", got.Path, got.Aggregator, got.NextHop, a.Path, a.Aggregator, a.NextHop)
	}
	if !got.Has(bgp.AttrAS4Path) || !got.Has(bgp.AttrAS4Aggregator) {
		t.Errorf("AS4_PATH/AS4_AGGREGATOR not present: %#x", got.Present)
	}
	// Read as 4-byte, the AS_PATH is wrong: the AS4 attributes stay apart.
	if err := d.Decode(b, AttrOptions{AS4: true}, &got, &none, &none); err == nil && got.Path.String() == a.Path.String() {
		t.Errorf("2-byte AS_PATH read as 4-byte gave the merged path %q", got.Path)
	}
}

// TestAttrsRoundTrip encodes every test attribute set, with 4- and 2-byte
// ASNs, and decodes it back.
func TestAttrsRoundTrip(t *testing.T) {
	var d AttrDecoder
	var got bgp.Attrs
	var none []NLRI
	for i, a := range bgptest.Attrs(t) {
		for _, as4 := range []bool{true, false} {
			if !as4 && hasConfed(a.Path) {
				// AppendAttrs copies confederation segments into AS4_PATH,
				// which RFC 6793 forbids, and the merge then repeats them.
				continue
			}
			b, err := AppendAttrs(nil, a, as4, nil)
			if err != nil {
				t.Fatalf("attrs %d as4=%v: %v", i, as4, err)
			}
			if err := d.Decode(b, AttrOptions{AS4: as4}, &got, &none, &none); err != nil {
				t.Fatalf("attrs %d as4=%v: decode: %v", i, as4, err)
			}
			want := a.Clone()
			want.Set(bgp.AttrNextHop)
			got.Present &^= 1<<bgp.AttrAS4Path | 1<<bgp.AttrAS4Aggregator
			if g, w := attrsString(&got), attrsString(want); g != w {
				t.Errorf("attrs %d as4=%v:\n got %s\nwant %s", i, as4, g, w)
			}
		}
	}
}

func hasConfed(p bgp.Path) bool {
	for _, s := range p.Segments {
		if s.Type == bgp.ASConfedSequence || s.Type == bgp.ASConfedSet {
			return true
		}
	}
	return false
}

// TestDecodeKeepsBadAttrs checks that a malformed attribute is kept raw,
// reported, and does not hide the others.
func TestDecodeKeepsBadAttrs(t *testing.T) {
	b := []byte{0x40, 1, 2, 0, 0} // ORIGIN of 2 bytes
	b = append(b, 0x40, 3, 4, 192, 0, 2, 1)
	var d AttrDecoder
	var a bgp.Attrs
	var none []NLRI
	err := d.Decode(b, AttrOptions{AS4: true}, &a, &none, &none)
	if err == nil || err.Error() != "attribute 1 (2 bytes): bad length" {
		t.Errorf("error %v", err)
	}
	if len(a.Unknown) != 1 || a.Unknown[0].Type != bgp.AttrOrigin || a.NextHop != netip.MustParseAddr("192.0.2.1") || a.Has(bgp.AttrOrigin) {
		t.Errorf("attrs %s", attrsString(&a))
	}
	if nh, mp := d.NextHops(); nh != a.NextHop || mp.IsValid() {
		t.Errorf("next hops %s %s", nh, mp)
	}
}

// TestAttrsAllocs checks that decoding and encoding reuse their buffers.
func TestAttrsAllocs(t *testing.T) {
	a := bgptest.Attrs(t)[1]
	b, err := AppendAttrs(nil, a, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var d AttrDecoder
	var got bgp.Attrs
	var none []NLRI
	buf := make([]byte, 0, 4096)
	n := testing.AllocsPerRun(100, func() {
		_ = d.Decode(b, AttrOptions{}, &got, &none, &none)
		buf, _ = AppendAttrs(buf[:0], &got, true, nil)
	})
	if n != 0 {
		t.Errorf("%v allocations per decode and encode", n)
	}
}

// FuzzAttrsRoundTrip checks that AppendAttrs writes back what the decoder
// read: decode, encode, decode again, and compare.
func FuzzAttrsRoundTrip(f *testing.F) {
	for _, a := range bgptest.Attrs(f) {
		b, err := AppendAttrs(nil, a, true, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		if b, err = AppendAttrs(nil, a, false, nil); err == nil {
			f.Add(b, false)
		}
	}
	var d1, d2 AttrDecoder
	var a1, a2 bgp.Attrs
	var n1, n2 []NLRI
	f.Fuzz(func(t *testing.T, data []byte, as4 bool) {
		n1, n2 = n1[:0], n2[:0]
		if err := d1.Decode(data, AttrOptions{AS4: as4}, &a1, &n1, &n1); err != nil {
			return
		}
		// Multiprotocol attributes are the writer's to build from the NLRI,
		// and repeated attributes cannot be written back as they came.
		mp := uint64(1<<bgp.AttrMPReach | 1<<bgp.AttrMPUnreach)
		if a1.Present&mp != 0 || hasRepeats(data) {
			return
		}
		b, err := AppendAttrs(nil, &a1, as4, nil)
		if err != nil {
			return // too long to write back (an AS_PATH split in segments of 255, ...)
		}
		if err := d2.Decode(b, AttrOptions{AS4: as4}, &a2, &n2, &n2); err != nil {
			t.Fatalf("decoding the re-encoded attributes: %v\n% x", err, b)
		}
		// Without as4, 4-byte ASNs travel in AS4_PATH and AS4_AGGREGATOR.
		a2.Present &^= 1<<bgp.AttrAS4Path | 1<<bgp.AttrAS4Aggregator
		if s1, s2 := attrsString(&a1), attrsString(&a2); s1 != s2 {
			t.Fatalf("round trip:\n got %s\nwant %s", s2, s1)
		}
	})
}

// hasRepeats reports whether an attribute block holds a type twice, or a
// type the decoder folds into another (AS4_PATH, AS4_AGGREGATOR).
func hasRepeats(b []byte) bool {
	var seen [256]bool
	for len(b) >= 3 {
		hl, vl := 3, int(b[2])
		if b[0]&0x10 != 0 {
			if len(b) < 4 {
				return false
			}
			hl, vl = 4, int(binary.BigEndian.Uint16(b[2:]))
		}
		t := b[1]
		if seen[t] || t == byte(bgp.AttrAS4Path) || t == byte(bgp.AttrAS4Aggregator) {
			return true
		}
		seen[t] = true
		if len(b) < hl+vl {
			return false
		}
		b = b[hl+vl:]
	}
	return false
}
