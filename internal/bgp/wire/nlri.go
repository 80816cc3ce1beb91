package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// AFIs and SAFIs (RFC 4760).
const (
	AFIIPv4       uint16 = 1
	AFIIPv6       uint16 = 2
	SAFIUnicast   uint8  = 1
	SAFIMulticast uint8  = 2
)

// NLRI is one prefix of an UPDATE or RIB record.
type NLRI struct {
	Prefix    netip.Prefix
	PathID    uint32 // ADD-PATH identifier, 0 without ADD-PATH
	Multicast bool   // SAFI 2
}

// errShort reports data that ends before the structure it holds.
var errShort = errors.New("truncated")

// DecodePrefix decodes one length-prefixed prefix of family afi from b and
// returns it with the number of bytes used. Host bits beyond the length are
// cleared, as routers do.
func DecodePrefix(b []byte, afi uint16) (netip.Prefix, int, error) {
	if len(b) < 1 {
		return netip.Prefix{}, 0, errShort
	}
	bits := int(b[0])
	maxBits := 32
	if afi == AFIIPv6 {
		maxBits = 128
	}
	if bits > maxBits {
		return netip.Prefix{}, 0, fmt.Errorf("prefix length %d for AFI %d", bits, afi)
	}
	n := (bits + 7) / 8
	if len(b) < 1+n {
		return netip.Prefix{}, 0, errShort
	}
	var addr netip.Addr
	if afi == AFIIPv6 {
		var a [16]byte
		copy(a[:], b[1:1+n])
		maskTail(a[:], bits)
		addr = netip.AddrFrom16(a)
	} else {
		var a [4]byte
		copy(a[:], b[1:1+n])
		maskTail(a[:], bits)
		addr = netip.AddrFrom4(a)
	}
	return netip.PrefixFrom(addr, bits), 1 + n, nil
}

// AppendPrefix appends p in the length-prefixed NLRI form. p must be
// masked (netip.Prefix.Masked) for the trailing bits to be zero.
func AppendPrefix(b []byte, p netip.Prefix) []byte {
	bits := p.Bits()
	b = append(b, byte(bits))
	n := (bits + 7) / 8
	if p.Addr().Is4() {
		a := p.Addr().As4()
		return append(b, a[:n]...)
	}
	a := p.Addr().As16()
	return append(b, a[:n]...)
}

// PrefixLen returns the encoded length of p in the NLRI form.
func PrefixLen(p netip.Prefix) int { return 1 + (p.Bits()+7)/8 }

// maskTail clears the bits of a beyond the first bits.
func maskTail(a []byte, bits int) {
	if bits%8 != 0 {
		a[bits/8] &= ^byte(0xff >> (bits % 8))
	}
}

// DecodeNLRI decodes a run of prefixes of family afi (RFC 4271 section
// 4.3; RFC 7911 when addPath: each preceded by its path identifier) and
// appends them to dst, marked multicast when asked. On an error it returns
// the prefixes decoded before it.
func DecodeNLRI(dst []NLRI, b []byte, afi uint16, addPath, multicast bool) ([]NLRI, error) {
	for len(b) > 0 {
		var id uint32
		if addPath {
			if len(b) < 4 {
				return dst, errShort
			}
			id = binary.BigEndian.Uint32(b)
			b = b[4:]
		}
		p, n, err := DecodePrefix(b, afi)
		if err != nil {
			return dst, err
		}
		dst = append(dst, NLRI{Prefix: p, PathID: id, Multicast: multicast})
		b = b[n:]
	}
	return dst, nil
}

// ValidNLRI reports whether b parses as a run of prefixes of family afi
// with (addPath) or without ADD-PATH identifiers. It tells ADD-PATH data
// in messages that do not announce it (BIRD writes such MRT records).
func ValidNLRI(b []byte, afi uint16, addPath bool) bool {
	maxBits := 32
	if afi == AFIIPv6 {
		maxBits = 128
	}
	for len(b) > 0 {
		if addPath {
			if len(b) < 4 {
				return false
			}
			b = b[4:]
		}
		if len(b) < 1 || int(b[0]) > maxBits {
			return false
		}
		n := 1 + (int(b[0])+7)/8
		if len(b) < n {
			return false
		}
		b = b[n:]
	}
	return true
}

// decodeNLRIGuess decodes a run of prefixes, reading ADD-PATH identifiers
// when addPath is set or when only that reading of b works.
func decodeNLRIGuess(dst []NLRI, b []byte, afi uint16, addPath, multicast bool) ([]NLRI, error) {
	return DecodeNLRI(dst, b, afi, addPath || (!ValidNLRI(b, afi, false) && ValidNLRI(b, afi, true)), multicast)
}

// AppendNLRI appends the prefixes of ns in the NLRI form, each preceded by
// its path identifier when addPath (RFC 7911).
func AppendNLRI(b []byte, ns []NLRI, addPath bool) []byte {
	for _, n := range ns {
		if addPath {
			b = binary.BigEndian.AppendUint32(b, n.PathID)
		}
		b = AppendPrefix(b, n.Prefix)
	}
	return b
}

// NLRILen returns the encoded length of n, with its path identifier when
// addPath.
func NLRILen(n NLRI, addPath bool) int {
	l := PrefixLen(n.Prefix)
	if addPath {
		l += 4
	}
	return l
}

// AddrFrom decodes a 4- or 16-byte address (false for another length).
func AddrFrom(b []byte) (netip.Addr, bool) {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b)), true
	case 16:
		return netip.AddrFrom16([16]byte(b)), true
	}
	return netip.Addr{}, false
}

// appendAddr appends the 4 or 16 bytes of a.
func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...)
	}
	v := a.As16()
	return append(b, v[:]...)
}
