package mrt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// BGP4MPHeader is the common part of BGP4MP MESSAGE and STATE_CHANGE records.
type BGP4MPHeader struct {
	PeerAS    bgp.ASN
	LocalAS   bgp.ASN
	Interface uint16
	AFI       uint16
	PeerAddr  netip.Addr
	LocalAddr netip.Addr
}

// DecodeBGP4MPHeader decodes the header of a BGP4MP or BGP4MP_ET record
// body of subtype st and returns the rest of the body.
func DecodeBGP4MPHeader(body []byte, st uint16, h *BGP4MPHeader) ([]byte, error) {
	asLen := 2
	if isAS4(st) {
		asLen = 4
	}
	if len(body) < 2*asLen+4 {
		return nil, fmt.Errorf("BGP4MP header: %w", errShort)
	}
	if asLen == 4 {
		h.PeerAS = bgp.ASN(binary.BigEndian.Uint32(body))
		h.LocalAS = bgp.ASN(binary.BigEndian.Uint32(body[4:]))
	} else {
		h.PeerAS = bgp.ASN(binary.BigEndian.Uint16(body))
		h.LocalAS = bgp.ASN(binary.BigEndian.Uint16(body[2:]))
	}
	p := body[2*asLen:]
	h.Interface = binary.BigEndian.Uint16(p)
	h.AFI = binary.BigEndian.Uint16(p[2:])
	p = p[4:]
	alen := 4
	switch h.AFI {
	case wire.AFIIPv4:
	case wire.AFIIPv6:
		alen = 16
	default:
		return nil, fmt.Errorf("BGP4MP header: address family %d", h.AFI)
	}
	if len(p) < 2*alen {
		return nil, fmt.Errorf("BGP4MP addresses: %w", errShort)
	}
	h.PeerAddr, _ = addrFrom(p[:alen])
	h.LocalAddr, _ = addrFrom(p[alen : 2*alen])
	return p[2*alen:], nil
}

// DecodeStateChange decodes the old and new states that follow the header
// of a STATE_CHANGE(_AS4) record.
func DecodeStateChange(rest []byte) (old, new bgp.State, err error) {
	if len(rest) < 4 {
		return 0, 0, fmt.Errorf("state change: %w", errShort)
	}
	return bgp.State(binary.BigEndian.Uint16(rest)), bgp.State(binary.BigEndian.Uint16(rest[2:])), nil
}

// errShort reports a record that ends before the structure it holds.
var errShort = errors.New("truncated")

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
