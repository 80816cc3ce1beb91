package wire

import (
	"encoding/binary"
	"fmt"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// decodeMPReach decodes MP_REACH_NLRI (RFC 4760), and the abbreviated form
// that TABLE_DUMP_V2 RIB entries use (RFC 6396 section 4.3.4: next hop
// length and next hop only). Only IPv4 and IPv6 unicast and multicast NLRI
// are decoded.
func decodeMPReach(v []byte, opt AttrOptions, a *bgp.Attrs, announced *[]NLRI) error {
	if opt.RIB && len(v) > 0 && int(v[0]) == len(v)-1 {
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
	if opt.RIB || (afi != AFIIPv4 && afi != AFIIPv6) || (safi != SAFIUnicast && safi != SAFIMulticast) {
		return nil // a RIB entry's prefix is in the record; other families are not routes we track
	}
	var err error
	*announced, err = decodeNLRIGuess(*announced, nlri, afi, opt.AddPath, safi == SAFIMulticast)
	return err
}

// setNextHop decodes the next hop field of MP_REACH_NLRI: one address, an
// IPv6 global and link-local pair, or a VPN route distinguisher and address.
func setNextHop(nh []byte, a *bgp.Attrs) error {
	switch len(nh) {
	case 4, 16:
		a.NextHop, _ = AddrFrom(nh)
	case 32:
		a.NextHop, _ = AddrFrom(nh[:16])
		a.LinkLocalNextHop, _ = AddrFrom(nh[16:])
	case 12, 24: // RD + address (VPN families); RDs are zero here
		a.NextHop, _ = AddrFrom(nh[8:])
	case 0:
	default:
		return fmt.Errorf("next hop length %d", len(nh))
	}
	return nil
}

// decodeMPUnreach decodes MP_UNREACH_NLRI (RFC 4760); only IPv4 and IPv6
// unicast and multicast NLRI are decoded.
func decodeMPUnreach(v []byte, opt AttrOptions, withdrawn *[]NLRI) error {
	if len(v) < 3 {
		return errShort
	}
	afi, safi := binary.BigEndian.Uint16(v), v[2]
	if (afi != AFIIPv4 && afi != AFIIPv6) || (safi != SAFIUnicast && safi != SAFIMulticast) {
		return nil
	}
	var err error
	*withdrawn, err = decodeNLRIGuess(*withdrawn, v[3:], afi, opt.AddPath, safi == SAFIMulticast)
	return err
}

// MPAttrs say which multiprotocol attributes AppendAttrs writes, and so
// where the next hop goes.
type MPAttrs struct {
	// RIB selects the TABLE_DUMP_V2 form: a next hop that is not IPv4 goes
	// in an abbreviated MP_REACH_NLRI (next hop length and next hop only).
	RIB bool
	// ReachAFI, when not zero, writes MP_REACH_NLRI for that family (SAFI
	// unicast) with the next hop and the prefixes of Reach, instead of
	// NEXT_HOP.
	ReachAFI uint16
	Reach    []NLRI
	// UnreachAFI, when not zero, writes MP_UNREACH_NLRI (SAFI unicast) with
	// the prefixes of Unreach.
	UnreachAFI uint16
	Unreach    []NLRI
	// AddPath writes the path identifiers of Reach and Unreach (RFC 7911).
	AddPath bool
}

// nlriBytes returns the encoded length of ns.
func nlriBytes(ns []NLRI, addPath bool) int {
	n := 0
	for i := range ns {
		n += NLRILen(ns[i], addPath)
	}
	return n
}

// appendMPReach appends the MP_REACH_NLRI that mp asks for, with the next
// hop of a: the full attribute when mp.ReachAFI is set, the abbreviated RIB
// form for an IPv6 next hop when mp.RIB is.
func appendMPReach(b []byte, a *bgp.Attrs, mp *MPAttrs) ([]byte, error) {
	nh := a.NextHop
	switch {
	case mp.ReachAFI != 0:
		nhl := 0
		switch {
		case nh.Is4():
			nhl = 4
		case nh.Is6() && a.LinkLocalNextHop.IsValid():
			nhl = 32
		case nh.Is6():
			nhl = 16
		}
		n := 5 + nhl + nlriBytes(mp.Reach, mp.AddPath)
		if n > 0xffff {
			return b, fmt.Errorf("MP_REACH_NLRI: %w", errAttrTooLong)
		}
		b = appendAttrHeader(b, flagOptional, bgp.AttrMPReach, n)
		b = binary.BigEndian.AppendUint16(b, mp.ReachAFI)
		b = append(b, SAFIUnicast, byte(nhl))
		if nhl > 0 {
			b = appendAddr(b, nh)
		}
		if nhl == 32 {
			b = appendAddr(b, a.LinkLocalNextHop)
		}
		b = append(b, 0) // reserved
		b = AppendNLRI(b, mp.Reach, mp.AddPath)
	case mp.RIB && nh.Is6():
		nhl := 16
		if a.LinkLocalNextHop.IsValid() {
			nhl = 32
		}
		b = append(b, flagOptional, byte(bgp.AttrMPReach), byte(nhl+1), byte(nhl))
		b = appendAddr(b, nh)
		if nhl == 32 {
			b = appendAddr(b, a.LinkLocalNextHop)
		}
	}
	return b, nil
}

// appendMPUnreach appends MP_UNREACH_NLRI when mp.UnreachAFI is set.
func appendMPUnreach(b []byte, mp *MPAttrs) ([]byte, error) {
	if mp.UnreachAFI == 0 {
		return b, nil
	}
	n := 3 + nlriBytes(mp.Unreach, mp.AddPath)
	if n > 0xffff {
		return b, fmt.Errorf("MP_UNREACH_NLRI: %w", errAttrTooLong)
	}
	b = appendAttrHeader(b, flagOptional, bgp.AttrMPUnreach, n)
	b = binary.BigEndian.AppendUint16(b, mp.UnreachAFI)
	b = append(b, SAFIUnicast)
	return AppendNLRI(b, mp.Unreach, mp.AddPath), nil
}
