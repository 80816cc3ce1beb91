package mrt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// attrOptions say how to read a block of path attributes.
type attrOptions struct {
	as4     bool   // AS_PATH and AGGREGATOR carry 4-byte ASNs
	addPath bool   // MP_(UN)REACH NLRI carry path identifiers
	rib     bool   // inside a TABLE_DUMP_V2 RIB entry: MP_REACH may be abbreviated
	ribAFI  uint16 // the RIB record's family, for the abbreviated MP_REACH
}

// attrDecoder decodes path attributes into reusable buffers.
type attrDecoder struct {
	asns   []bgp.ASN // AS_PATH members
	as4    []bgp.ASN // AS4_PATH members
	merged []bgp.ASN // the merged path
	segs4  []bgp.Segment
	segsM  []bgp.Segment

	// The two kinds of next hop, kept apart for formatters that print
	// the one that belongs to each prefix (bgpdump -m does): the NEXT_HOP
	// attribute, and the first next hop of MP_REACH_NLRI. Invalid when
	// absent; reset by decode.
	nextHop   netip.Addr
	mpNextHop netip.Addr
}

// decode reads the attributes in b into a (which it resets first), and the
// NLRI of MP_REACH and MP_UNREACH into *announced and *withdrawn.
func (d *attrDecoder) decode(b []byte, opt attrOptions, a *bgp.Attrs, announced, withdrawn *[]NLRI) error {
	a.Reset()
	d.nextHop, d.mpNextHop = netip.Addr{}, netip.Addr{}
	var as4Path []byte
	var as4Agg []byte
	var errs error
	for len(b) > 0 {
		if len(b) < 3 {
			return fmt.Errorf("attribute header: %w", errShort)
		}
		flags, typ := b[0], bgp.AttrType(b[1])
		hl, vl := 3, int(b[2])
		if flags&0x10 != 0 { // extended length
			if len(b) < 4 {
				return fmt.Errorf("attribute %d header: %w", typ, errShort)
			}
			hl, vl = 4, int(binary.BigEndian.Uint16(b[2:]))
		}
		if len(b) < hl+vl {
			return fmt.Errorf("attribute %d: length %d exceeds the %d bytes left: %w", typ, vl, len(b)-hl, errShort)
		}
		v := b[hl : hl+vl]
		b = b[hl+vl:]
		var err error
		switch typ {
		case bgp.AttrOrigin:
			if len(v) != 1 {
				err = errLen
				break
			}
			a.Origin = bgp.Origin(v[0])
		case bgp.AttrASPath:
			d.asns, err = decodePath(v, opt.as4, d.asns[:0], &a.Path.Segments)
		case bgp.AttrNextHop:
			if len(v) != 4 {
				err = errLen
				break
			}
			a.NextHop, _ = addrFrom(v)
			d.nextHop = a.NextHop
		case bgp.AttrMED:
			if len(v) != 4 {
				err = errLen
				break
			}
			a.MED = binary.BigEndian.Uint32(v)
		case bgp.AttrLocalPref:
			if len(v) != 4 {
				err = errLen
				break
			}
			a.LocalPref = binary.BigEndian.Uint32(v)
		case bgp.AttrAtomicAggregate:
		case bgp.AttrAggregator:
			err = decodeAggregator(v, opt.as4, a)
		case bgp.AttrCommunities:
			if len(v)%4 != 0 {
				err = errLen
				break
			}
			for i := 0; i < len(v); i += 4 {
				a.Communities = append(a.Communities, bgp.Community(binary.BigEndian.Uint32(v[i:])))
			}
		case bgp.AttrLargeCommunities:
			if len(v)%12 != 0 {
				err = errLen
				break
			}
			for i := 0; i < len(v); i += 12 {
				a.LargeCommunities = append(a.LargeCommunities, bgp.LargeCommunity{
					Global: binary.BigEndian.Uint32(v[i:]), Local1: binary.BigEndian.Uint32(v[i+4:]), Local2: binary.BigEndian.Uint32(v[i+8:])})
			}
		case bgp.AttrMPReach:
			prev := a.NextHop
			a.NextHop = netip.Addr{}
			err = decodeMPReach(v, opt, a, announced)
			d.mpNextHop = a.NextHop
			if !a.NextHop.IsValid() {
				a.NextHop = prev
			}
		case bgp.AttrMPUnreach:
			err = decodeMPUnreach(v, opt, withdrawn)
		case bgp.AttrAS4Path:
			as4Path = v
		case bgp.AttrAS4Aggregator:
			as4Agg = v
		default:
			a.Unknown = append(a.Unknown, bgp.RawAttr{Flags: flags, Type: typ, Value: v})
		}
		if err != nil {
			// Keep the malformed attribute as raw bytes and go on: one bad
			// attribute must not hide the route.
			a.Unknown = append(a.Unknown, bgp.RawAttr{Flags: flags, Type: typ, Value: v})
			errs = errors.Join(errs, fmt.Errorf("attribute %d (%d bytes): %w", typ, len(v), err))
			continue
		}
		a.Set(typ)
	}
	if !opt.as4 && (as4Path != nil || as4Agg != nil) {
		if err := d.mergeAS4(a, as4Path, as4Agg); err != nil {
			errs = errors.Join(errs, err)
		}
	}
	return errs
}

var errLen = errors.New("bad length")

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

func decodeAggregator(v []byte, as4 bool, a *bgp.Attrs) error {
	switch {
	case len(v) == 8 && as4, len(v) == 8 && !as4:
		// Some 2-byte speakers' archives still carry a 4-byte AGGREGATOR.
		a.Aggregator.AS = bgp.ASN(binary.BigEndian.Uint32(v))
		a.Aggregator.Addr, _ = addrFrom(v[4:8])
	case len(v) == 6:
		a.Aggregator.AS = bgp.ASN(binary.BigEndian.Uint16(v))
		a.Aggregator.Addr, _ = addrFrom(v[2:6])
	default:
		return errLen
	}
	return nil
}

// mergeAS4 applies RFC 6793 section 4.2.3: AS4_PATH and AS4_AGGREGATOR
// received from a 2-byte speaker restore the 4-byte ASNs that AS_TRANS hides.
func (d *attrDecoder) mergeAS4(a *bgp.Attrs, as4Path, as4Agg []byte) error {
	if as4Agg != nil {
		if len(as4Agg) != 8 {
			return fmt.Errorf("AS4_AGGREGATOR: %w", errLen)
		}
		if a.Has(bgp.AttrAggregator) && a.Aggregator.AS != bgp.ASTrans {
			// The AGGREGATOR is authoritative: ignore both AS4 attributes.
			return nil
		}
		a.Aggregator.AS = bgp.ASN(binary.BigEndian.Uint32(as4Agg))
		a.Aggregator.Addr, _ = addrFrom(as4Agg[4:])
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

// decodeMPReach decodes MP_REACH_NLRI (RFC 4760), and the abbreviated form
// that TABLE_DUMP_V2 RIB entries use (RFC 6396 section 4.3.4: next hop
// length and next hop only).
func decodeMPReach(v []byte, opt attrOptions, a *bgp.Attrs, announced *[]NLRI) error {
	if opt.rib && len(v) > 0 && int(v[0]) == len(v)-1 {
		return setNextHop(v[1:], a)
	}
	if len(v) < 5 {
		return errShort
	}
	afi, safi := binary.BigEndian.Uint16(v), v[2]
	nhl := int(v[3])
	if len(v) < 4+nhl+1 {
		return errShort
	}
	if err := setNextHop(v[4:4+nhl], a); err != nil {
		return err
	}
	nlri := v[4+nhl+1:] // after the reserved byte
	if opt.rib || (afi != AFIIPv4 && afi != AFIIPv6) || (safi != SAFIUnicast && safi != SAFIMulticast) {
		return nil // a RIB entry's prefix is in the record; other families are not routes we track
	}
	var err error
	*announced, err = appendNLRI(*announced, nlri, afi, opt.addPath || (!validNLRI(nlri, afi, false) && validNLRI(nlri, afi, true)), safi == SAFIMulticast)
	return err
}

func setNextHop(nh []byte, a *bgp.Attrs) error {
	switch len(nh) {
	case 4, 16:
		a.NextHop, _ = addrFrom(nh)
	case 32:
		a.NextHop, _ = addrFrom(nh[:16])
		a.LinkLocalNextHop, _ = addrFrom(nh[16:])
	case 12, 24: // RD + address (VPN families); RDs are zero here
		a.NextHop, _ = addrFrom(nh[8:])
	case 0:
	default:
		return fmt.Errorf("next hop length %d", len(nh))
	}
	return nil
}

func decodeMPUnreach(v []byte, opt attrOptions, withdrawn *[]NLRI) error {
	if len(v) < 3 {
		return errShort
	}
	afi, safi := binary.BigEndian.Uint16(v), v[2]
	if (afi != AFIIPv4 && afi != AFIIPv6) || (safi != SAFIUnicast && safi != SAFIMulticast) {
		return nil
	}
	nlri := v[3:]
	var err error
	*withdrawn, err = appendNLRI(*withdrawn, nlri, afi, opt.addPath || (!validNLRI(nlri, afi, false) && validNLRI(nlri, afi, true)), safi == SAFIMulticast)
	return err
}
