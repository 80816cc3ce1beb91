package mrt

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

var errShort = errors.New("truncated")

// readPrefix decodes one length-prefixed prefix of family afi from b and
// returns it with the number of bytes used. Host bits beyond the length are
// cleared, as routers do.
func readPrefix(b []byte, afi uint16) (netip.Prefix, int, error) {
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

// maskTail clears the bits of a beyond the first bits.
func maskTail(a []byte, bits int) {
	if bits%8 != 0 {
		a[bits/8] &= ^byte(0xff >> (bits % 8))
	}
}

// appendNLRI decodes a run of prefixes (RFC 4271 section 4.3, RFC 7911 when
// addPath) and appends them to dst.
func appendNLRI(dst []NLRI, b []byte, afi uint16, addPath, multicast bool) ([]NLRI, error) {
	for len(b) > 0 {
		var id uint32
		if addPath {
			if len(b) < 4 {
				return dst, errShort
			}
			id = binary.BigEndian.Uint32(b)
			b = b[4:]
		}
		p, n, err := readPrefix(b, afi)
		if err != nil {
			return dst, err
		}
		dst = append(dst, NLRI{Prefix: p, PathID: id, Multicast: multicast})
		b = b[n:]
	}
	return dst, nil
}

// validNLRI reports whether b parses as a run of prefixes with or without
// ADD-PATH identifiers; used to detect ADD-PATH data in subtypes that do not
// announce it (BIRD writes such records).
func validNLRI(b []byte, afi uint16, addPath bool) bool {
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

// addrFrom decodes a 4- or 16-byte address.
func addrFrom(b []byte) (netip.Addr, bool) {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b)), true
	case 16:
		return netip.AddrFrom16([16]byte(b)), true
	}
	return netip.Addr{}, false
}
