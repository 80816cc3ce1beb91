package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// Attribute flags (RFC 4271 section 4.3).
const (
	flagOptional   = 0x80
	flagTransitive = 0x40
	flagExtended   = 0x10
)

// errLen reports an attribute whose value has the wrong length for its type.
var errLen = errors.New("bad length")

// errAttrTooLong reports an attribute value beyond 65535 bytes.
var errAttrTooLong = errors.New("attribute value longer than 65535 bytes")

// AttrOptions say how to read a block of path attributes.
type AttrOptions struct {
	AS4     bool // AS_PATH and AGGREGATOR carry 4-byte ASNs
	AddPath bool // the NLRI of MP_REACH_NLRI and MP_UNREACH_NLRI carry path identifiers
	// RIB says the block comes from a TABLE_DUMP_V2 RIB entry (RFC 6396
	// section 4.3.4): MP_REACH_NLRI may be abbreviated to the next hop, and
	// its NLRI, if any, are not decoded (the entry's prefix is in the record).
	RIB bool
}

// AttrDecoder decodes blocks of path attributes into reusable buffers. The
// zero value is ready to use. Once its buffers have grown it allocates
// nothing.
type AttrDecoder struct {
	asns   []bgp.ASN // AS_PATH members
	as4    []bgp.ASN // AS4_PATH members
	merged []bgp.ASN // the merged path
	segs4  []bgp.Segment
	segsM  []bgp.Segment

	// The two kinds of next hop, kept apart for formatters that print
	// the one that belongs to each prefix (bgpdump -m does): the NEXT_HOP
	// attribute, and the first next hop of MP_REACH_NLRI. Invalid when
	// absent; reset by Decode.
	nextHop   netip.Addr
	mpNextHop netip.Addr
}

// NextHops returns the next hops of the last block decoded, kept apart:
// the NEXT_HOP attribute's and MP_REACH_NLRI's (the first of its two IPv6
// next hops). Either is invalid when absent. bgp.Attrs.NextHop holds the
// one that applies to the routes of MP_REACH_NLRI when both are present.
func (d *AttrDecoder) NextHops() (attr, mpReach netip.Addr) { return d.nextHop, d.mpNextHop }

// Decode reads the path attributes in b into a, which it resets first, and
// appends the NLRI of MP_REACH_NLRI and MP_UNREACH_NLRI (IPv4 and IPv6,
// unicast and multicast; other families are skipped) to *announced and
// *withdrawn. The slices of a alias d's buffers until d's next call.
//
// A malformed attribute does not stop the decoding: it is kept as raw bytes
// in a.Unknown, and reported in the returned error (errors.Join of one
// error per attribute). Only a block whose framing breaks stops early.
// Without opt.AS4, AS4_PATH and AS4_AGGREGATOR are merged into the path and
// aggregator as RFC 6793 section 4.2.3 says.
func (d *AttrDecoder) Decode(b []byte, opt AttrOptions, a *bgp.Attrs, announced, withdrawn *[]NLRI) error {
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
		if flags&flagExtended != 0 {
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
			d.asns, err = decodePath(v, opt.AS4, d.asns[:0], &a.Path.Segments)
		case bgp.AttrNextHop:
			if len(v) != 4 {
				err = errLen
				break
			}
			a.NextHop, _ = AddrFrom(v)
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
			err = decodeAggregator(v, opt.AS4, a)
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
	if !opt.AS4 && (as4Path != nil || as4Agg != nil) {
		if err := d.mergeAS4(a, as4Path, as4Agg); err != nil {
			errs = errors.Join(errs, err)
		}
	}
	return errs
}

// decodeAggregator decodes AGGREGATOR: 2-byte AS and address, or 4-byte AS
// and address (as4 decides nothing here: some 2-byte speakers' archives
// still carry a 4-byte AGGREGATOR).
func decodeAggregator(v []byte, as4 bool, a *bgp.Attrs) error {
	switch {
	case len(v) == 8 && as4, len(v) == 8 && !as4:
		a.Aggregator.AS = bgp.ASN(binary.BigEndian.Uint32(v))
		a.Aggregator.Addr, _ = AddrFrom(v[4:8])
	case len(v) == 6:
		a.Aggregator.AS = bgp.ASN(binary.BigEndian.Uint16(v))
		a.Aggregator.Addr, _ = AddrFrom(v[2:6])
	default:
		return errLen
	}
	return nil
}

// appendAggregator appends AGGREGATOR (with a 4-byte AS when as4) or
// AS4_AGGREGATOR (typ). An aggregator address that is not IPv4 is written
// as 0.0.0.0.
func appendAggregator(b []byte, typ bgp.AttrType, agg bgp.Aggregator, as4 bool) []byte {
	addr := agg.Addr
	if !addr.Is4() {
		addr = netip.IPv4Unspecified()
	}
	v := addr.As4()
	if as4 {
		b = append(b, flagOptional|flagTransitive, byte(typ), 8)
		b = binary.BigEndian.AppendUint32(b, uint32(agg.AS))
	} else {
		b = append(b, flagOptional|flagTransitive, byte(typ), 6)
		b = binary.BigEndian.AppendUint16(b, uint16(agg.AS))
	}
	return append(b, v[:]...)
}

// appendAttrHeader appends one attribute header for a value of n bytes,
// with the extended length flag when n > 255.
func appendAttrHeader(b []byte, flags uint8, typ bgp.AttrType, n int) []byte {
	if n > 255 {
		return append(b, flags|flagExtended, byte(typ), byte(n>>8), byte(n))
	}
	return append(b, flags&^flagExtended, byte(typ), byte(n))
}

// AppendAttrs appends the path attributes of a to b and returns the
// extended buffer. It writes the attributes marked present in a.Present, and
// AS_PATH and the next hop whenever they are set, in type order, followed by
// a.Unknown as they are (with the extended length flag fixed to fit):
// ORIGIN, AS_PATH (segments of over 255 ASNs split), NEXT_HOP (or the
// MP_REACH_NLRI that mp asks for), MED, LOCAL_PREF, ATOMIC_AGGREGATE,
// AGGREGATOR, COMMUNITIES, MP_REACH_NLRI, MP_UNREACH_NLRI, LARGE_COMMUNITIES.
//
// With as4, AS_PATH and AGGREGATOR carry 4-byte ASNs. Without, they carry
// 2-byte ones, with AS_TRANS in place of larger ASNs and the true path and
// aggregator in AS4_PATH and AS4_AGGREGATOR (RFC 6793). The present bits of
// MP_REACH_NLRI, MP_UNREACH_NLRI, AS4_PATH and AS4_AGGREGATOR are ignored:
// mp and as4 decide those. mp may be nil (classic IPv4 NEXT_HOP). It fails
// on an attribute value longer than 65535 bytes.
func AppendAttrs(b []byte, a *bgp.Attrs, as4 bool, mp *MPAttrs) ([]byte, error) {
	if mp == nil {
		mp = &MPAttrs{}
	}
	if a.Has(bgp.AttrOrigin) {
		b = append(b, flagTransitive, byte(bgp.AttrOrigin), 1, byte(a.Origin))
	}
	needAS4 := false
	if a.Has(bgp.AttrASPath) || len(a.Path.Segments) > 0 {
		var err error
		b, needAS4, err = appendPathAttr(b, bgp.AttrASPath, flagTransitive, a.Path, as4)
		if err != nil {
			return b, err
		}
	}
	nh := a.NextHop
	if mp.ReachAFI == 0 && nh.Is4() {
		v := nh.As4()
		b = append(b, flagTransitive, byte(bgp.AttrNextHop), 4, v[0], v[1], v[2], v[3])
	}
	if a.Has(bgp.AttrMED) {
		b = append(b, flagOptional, byte(bgp.AttrMED), 4)
		b = binary.BigEndian.AppendUint32(b, a.MED)
	}
	if a.Has(bgp.AttrLocalPref) {
		b = append(b, flagTransitive, byte(bgp.AttrLocalPref), 4)
		b = binary.BigEndian.AppendUint32(b, a.LocalPref)
	}
	if a.Has(bgp.AttrAtomicAggregate) {
		b = append(b, flagTransitive, byte(bgp.AttrAtomicAggregate), 0)
	}
	aggAS4 := false
	if a.Has(bgp.AttrAggregator) {
		agg := a.Aggregator
		if !as4 && agg.AS.Is4Byte() {
			agg.AS, aggAS4 = bgp.ASTrans, true
		}
		b = appendAggregator(b, bgp.AttrAggregator, agg, as4)
	}
	if a.Has(bgp.AttrCommunities) || len(a.Communities) > 0 {
		n := 4 * len(a.Communities)
		if n > 0xffff {
			return b, fmt.Errorf("COMMUNITIES: %w", errAttrTooLong)
		}
		b = appendAttrHeader(b, flagOptional|flagTransitive, bgp.AttrCommunities, n)
		for _, c := range a.Communities {
			b = binary.BigEndian.AppendUint32(b, uint32(c))
		}
	}
	var err error
	if b, err = appendMPReach(b, a, mp); err != nil {
		return b, err
	}
	if b, err = appendMPUnreach(b, mp); err != nil {
		return b, err
	}
	if needAS4 {
		b, _, err = appendPathAttr(b, bgp.AttrAS4Path, flagOptional|flagTransitive, a.Path, true)
		if err != nil {
			return b, err
		}
	}
	if aggAS4 {
		b = appendAggregator(b, bgp.AttrAS4Aggregator, a.Aggregator, true)
	}
	if a.Has(bgp.AttrLargeCommunities) || len(a.LargeCommunities) > 0 {
		n := 12 * len(a.LargeCommunities)
		if n > 0xffff {
			return b, fmt.Errorf("LARGE_COMMUNITIES: %w", errAttrTooLong)
		}
		b = appendAttrHeader(b, flagOptional|flagTransitive, bgp.AttrLargeCommunities, n)
		for _, c := range a.LargeCommunities {
			b = binary.BigEndian.AppendUint32(b, c.Global)
			b = binary.BigEndian.AppendUint32(b, c.Local1)
			b = binary.BigEndian.AppendUint32(b, c.Local2)
		}
	}
	for _, u := range a.Unknown {
		if len(u.Value) > 0xffff {
			return b, fmt.Errorf("attribute %d: %w", u.Type, errAttrTooLong)
		}
		b = appendAttrHeader(b, u.Flags, u.Type, len(u.Value))
		b = append(b, u.Value...)
	}
	return b, nil
}
