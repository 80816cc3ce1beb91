package wire

import (
	"encoding/binary"
	"fmt"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// decodePath decodes an AS_PATH or AS4_PATH value into segments whose ASNs
// live in buf, which it returns grown.
func decodePath(v []byte, as4 bool, buf []bgp.ASN, segs *[]bgp.Segment) ([]bgp.ASN, error) {
	w := 2
	if as4 {
		w = 4
	}
	// First pass: validate and count, so that buf grows once and the
	// segments can alias it safely.
	n := 0
	for p := v; len(p) > 0; {
		if len(p) < 2 {
			return buf, errShort
		}
		t, c := p[0], int(p[1])
		if t < 1 || t > 4 {
			return buf, fmt.Errorf("segment type %d", t)
		}
		if len(p) < 2+c*w {
			return buf, errShort
		}
		n += c
		p = p[2+c*w:]
	}
	if cap(buf) < n {
		buf = make([]bgp.ASN, 0, n+n/2)
	}
	buf = buf[:0]
	*segs = (*segs)[:0]
	for p := v; len(p) > 0; {
		t, c := bgp.SegmentType(p[0]), int(p[1])
		p = p[2:]
		start := len(buf)
		for i := 0; i < c; i++ {
			if as4 {
				buf = append(buf, bgp.ASN(binary.BigEndian.Uint32(p[i*4:])))
			} else {
				buf = append(buf, bgp.ASN(binary.BigEndian.Uint16(p[i*2:])))
			}
		}
		p = p[c*w:]
		*segs = append(*segs, bgp.Segment{Type: t, ASNs: buf[start:len(buf):len(buf)]})
	}
	return buf, nil
}

// mergeAS4 applies RFC 6793 section 4.2.3: AS4_PATH and AS4_AGGREGATOR
// received from a 2-byte speaker restore the 4-byte ASNs that AS_TRANS hides.
func (d *AttrDecoder) mergeAS4(a *bgp.Attrs, as4Path, as4Agg []byte) error {
	if as4Agg != nil {
		if len(as4Agg) != 8 {
			return fmt.Errorf("AS4_AGGREGATOR: %w", errLen)
		}
		if a.Has(bgp.AttrAggregator) && a.Aggregator.AS != bgp.ASTrans {
			// The AGGREGATOR is authoritative: ignore both AS4 attributes.
			return nil
		}
		a.Aggregator.AS = bgp.ASN(binary.BigEndian.Uint32(as4Agg))
		a.Aggregator.Addr, _ = AddrFrom(as4Agg[4:])
		a.Set(bgp.AttrAS4Aggregator)
	}
	if as4Path == nil {
		return nil
	}
	var err error
	d.as4, err = decodePath(as4Path, true, d.as4[:0], &d.segs4)
	if err != nil {
		return fmt.Errorf("AS4_PATH: %w", err)
	}
	a.Set(bgp.AttrAS4Path)
	count := func(segs []bgp.Segment) int {
		n := 0
		for _, s := range segs {
			switch s.Type {
			case bgp.ASSequence:
				n += len(s.ASNs)
			case bgp.ASSet:
				n++
			}
		}
		return n
	}
	n2, n4 := count(a.Path.Segments), count(d.segs4)
	if n4 > n2 {
		return nil // the AS4_PATH is longer: ignore it
	}
	keep := n2 - n4
	d.merged = d.merged[:0]
	if cap(d.merged) < len(d.asns)+len(d.as4) {
		d.merged = make([]bgp.ASN, 0, len(d.asns)+len(d.as4))
	}
	d.segsM = d.segsM[:0]
	for _, s := range a.Path.Segments {
		if keep == 0 && s.Type != bgp.ASConfedSequence && s.Type != bgp.ASConfedSet {
			break
		}
		start := len(d.merged)
		switch s.Type {
		case bgp.ASSequence:
			take := min(keep, len(s.ASNs))
			d.merged = append(d.merged, s.ASNs[:take]...)
			keep -= take
		case bgp.ASSet:
			d.merged = append(d.merged, s.ASNs...)
			keep--
		default:
			d.merged = append(d.merged, s.ASNs...)
		}
		d.segsM = append(d.segsM, bgp.Segment{Type: s.Type, ASNs: d.merged[start:len(d.merged):len(d.merged)]})
	}
	for _, s := range d.segs4 {
		start := len(d.merged)
		d.merged = append(d.merged, s.ASNs...)
		// Join a sequence to a preceding sequence, as the path is one.
		if k := len(d.segsM); k > 0 && s.Type == bgp.ASSequence && d.segsM[k-1].Type == bgp.ASSequence {
			prev := &d.segsM[k-1]
			prevStart := start - len(prev.ASNs)
			prev.ASNs = d.merged[prevStart:len(d.merged):len(d.merged)]
			continue
		}
		d.segsM = append(d.segsM, bgp.Segment{Type: s.Type, ASNs: d.merged[start:len(d.merged):len(d.merged)]})
	}
	// Swap the merged segments in; keep the old slice for reuse.
	a.Path.Segments, d.segsM = d.segsM, a.Path.Segments
	return nil
}

// appendPathAttr appends an AS_PATH or AS4_PATH attribute (typ) with flags,
// splitting segments of over 255 ASNs. Without as4 it writes 2-byte ASNs,
// AS_TRANS in place of 4-byte ones, and reports that an AS4_PATH is needed.
func appendPathAttr(b []byte, typ bgp.AttrType, flags uint8, p bgp.Path, as4 bool) ([]byte, bool, error) {
	w := 2
	if as4 {
		w = 4
	}
	n := 0
	for _, s := range p.Segments {
		for rest := len(s.ASNs); ; rest -= 255 {
			c := min(rest, 255)
			n += 2 + c*w
			if rest <= 255 {
				break
			}
		}
	}
	if n > 0xffff {
		return b, false, fmt.Errorf("attribute %d: %w", typ, errAttrTooLong)
	}
	b = appendAttrHeader(b, flags, typ, n)
	trans := false
	for _, s := range p.Segments {
		asns := s.ASNs
		for {
			c := min(len(asns), 255)
			b = append(b, byte(s.Type), byte(c))
			for _, a := range asns[:c] {
				if as4 {
					b = binary.BigEndian.AppendUint32(b, uint32(a))
				} else {
					if a.Is4Byte() {
						a, trans = bgp.ASTrans, true
					}
					b = binary.BigEndian.AppendUint16(b, uint16(a))
				}
			}
			asns = asns[c:]
			if len(asns) == 0 {
				break
			}
		}
	}
	return b, trans, nil
}
