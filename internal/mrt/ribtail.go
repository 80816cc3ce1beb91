package mrt

import (
	"encoding/binary"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// appendRIBTail appends the fields of a TABLE_DUMP_V2 RIB entry's
// `bgpdump -m` line from the AS path on, straight from the entry's
// attribute bytes (4-byte ASNs): what appendRouteTail appends once package
// wire has decoded them, without decoding them. It handles the blocks that
// decode without error and hold each printed attribute at most once; for
// any other (a malformed or repeated attribute, an MP_UNREACH_NLRI) it
// returns ok false and appends nothing, and the caller decodes.
func appendRIBTail(b []byte, attrs []byte) (_ []byte, ok bool) {
	var seen uint64
	var path, nextHop, med, localPref, comm, agg []byte
	var mpNH []byte // the MP_REACH_NLRI next hop field
	mp := false
	origin := -1
	atomic := false
	for p := attrs; len(p) > 0; {
		if len(p) < 3 {
			return b, false
		}
		flags, typ := p[0], p[1]
		hl, vl := 3, int(p[2])
		if flags&0x10 != 0 { // extended length
			if len(p) < 4 {
				return b, false
			}
			hl, vl = 4, int(binary.BigEndian.Uint16(p[2:]))
		}
		if len(p) < hl+vl {
			return b, false
		}
		v := p[hl : hl+vl]
		p = p[hl+vl:]
		switch bgp.AttrType(typ) {
		case bgp.AttrOrigin, bgp.AttrASPath, bgp.AttrNextHop, bgp.AttrMED, bgp.AttrLocalPref, bgp.AttrAtomicAggregate,
			bgp.AttrAggregator, bgp.AttrCommunities, bgp.AttrMPReach, bgp.AttrMPUnreach, bgp.AttrLargeCommunities:
			if seen&(1<<typ) != 0 {
				return b, false
			}
			seen |= 1 << typ
		}
		switch bgp.AttrType(typ) {
		case bgp.AttrOrigin:
			if vl != 1 {
				return b, false
			}
			origin = int(v[0])
		case bgp.AttrASPath:
			if !validPath4(v) {
				return b, false
			}
			path = v
		case bgp.AttrNextHop:
			if vl != 4 {
				return b, false
			}
			nextHop = v
		case bgp.AttrMED:
			if vl != 4 {
				return b, false
			}
			med = v
		case bgp.AttrLocalPref:
			if vl != 4 {
				return b, false
			}
			localPref = v
		case bgp.AttrAtomicAggregate:
			atomic = true
		case bgp.AttrAggregator:
			if vl != 8 && vl != 6 {
				return b, false
			}
			agg = v
		case bgp.AttrCommunities:
			if vl%4 != 0 {
				return b, false
			}
			comm = v
		case bgp.AttrLargeCommunities:
			if vl%12 != 0 {
				return b, false
			}
		case bgp.AttrMPReach:
			// The abbreviated form of RIB entries (next hop length and
			// next hop), or the full one, whose NLRI a RIB entry ignores.
			if vl > 0 && int(v[0]) == vl-1 {
				mpNH = v[1:]
			} else {
				if vl < 5 || vl < 4+int(v[3])+1 {
					return b, false
				}
				mpNH = v[4 : 4+int(v[3])]
			}
			switch len(mpNH) {
			case 0, 4, 16, 32:
			case 12, 24:
				mpNH = mpNH[8:] // route distinguisher, then the address
			default:
				return b, false
			}
			if len(mpNH) == 32 {
				mpNH = mpNH[:16] // the global address; the link-local one is not printed
			}
			mp = true
		case bgp.AttrMPUnreach:
			return b, false
		}
	}

	b = appendPath4(b, path)
	switch origin {
	case int(bgp.OriginIGP):
		b = append(b, "|IGP|"...)
	case int(bgp.OriginEGP):
		b = append(b, "|EGP|"...)
	default:
		b = append(b, "|INCOMPLETE|"...)
	}
	switch {
	case mp && len(mpNH) == 16:
		nh, _ := wire.AddrFrom(mpNH)
		b = AppendAddr(b, nh)
	case nextHop != nil:
		b = appendIPv4(b, [4]byte(nextHop))
	default:
		b = append(b, "255.255.255.255"...)
	}
	b = append(b, '|')
	b = appendUint(b, be32(localPref))
	b = append(b, '|')
	b = appendUint(b, be32(med))
	b = append(b, '|')
	for i := 0; i < len(comm); i += 4 {
		if i > 0 {
			b = append(b, ' ')
		}
		switch c := bgp.Community(binary.BigEndian.Uint32(comm[i:])); c {
		case bgp.CommunityNoExport:
			b = append(b, "no-export"...)
		case bgp.CommunityNoAdvertise:
			b = append(b, "no-advertise"...)
		case bgp.CommunityNoExportSub:
			b = append(b, "local-AS"...)
		default:
			b = appendUint(b, uint32(c>>16))
			b = append(b, ':')
			b = appendUint(b, uint32(c&0xffff))
		}
	}
	b = append(b, '|')
	if atomic {
		b = append(b, "AG|"...)
	} else {
		b = append(b, "NAG|"...)
	}
	if agg != nil {
		var as uint32
		var addr [4]byte
		if len(agg) == 8 {
			as, addr = binary.BigEndian.Uint32(agg), [4]byte(agg[4:8])
		} else {
			as, addr = uint32(binary.BigEndian.Uint16(agg)), [4]byte(agg[2:6])
		}
		if addr != [4]byte{255, 255, 255, 255} {
			b = appendUint(b, as)
			b = append(b, ' ')
			b = appendIPv4(b, addr)
		}
	}
	return append(b, '|', '\n'), true
}

// be32 reads a 4-byte value, 0 when absent.
func be32(v []byte) uint32 {
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// validPath4 reports whether v reads as an AS_PATH of 4-byte ASNs.
func validPath4(v []byte) bool {
	for p := v; len(p) > 0; {
		if len(p) < 2 || p[0] < 1 || p[0] > 4 || len(p) < 2+4*int(p[1]) {
			return false
		}
		p = p[2+4*int(p[1]):]
	}
	return true
}

// appendPath4 appends AS_PATH value v (4-byte ASNs, valid) as appendASPath
// appends its decoded form.
func appendPath4(b []byte, v []byte) []byte {
	for i := 0; len(v) > 0; i++ {
		t, n := bgp.SegmentType(v[0]), int(v[1])
		v = v[2:]
		if i > 0 {
			b = append(b, ' ')
		}
		var open, sep, close byte = 0, ' ', 0
		switch t {
		case bgp.ASSet:
			open, sep, close = '{', ',', '}'
		case bgp.ASConfedSequence:
			open, close = '(', ')'
		case bgp.ASConfedSet:
			open, sep, close = '[', ',', ']'
		}
		if open != 0 {
			b = append(b, open)
		}
		for j := 0; j < n; j++ {
			if j > 0 {
				b = append(b, sep)
			}
			b = appendUint(b, binary.BigEndian.Uint32(v[4*j:]))
		}
		v = v[4*n:]
		if close != 0 {
			b = append(b, close)
		}
	}
	return b
}
