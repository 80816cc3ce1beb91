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
	if asLen == 2 && st == BGP4MPStateChange && len(body) == 8 {
		// Early Zebra wrote STATE_CHANGE without interface, family and
		// addresses: the two ASNs and the two states. bgpdump reads it so,
		// with the addresses 0.0.0.0.
		h.Interface, h.AFI = 0, wire.AFIIPv4
		h.PeerAddr, h.LocalAddr = zero4, zero4
		return p, nil
	}
	h.Interface = binary.BigEndian.Uint16(p)
	h.AFI = binary.BigEndian.Uint16(p[2:])
	alen := 4
	switch h.AFI {
	case wire.AFIIPv4:
	case wire.AFIIPv6:
		alen = 16
	case 0xffff:
		if h.Interface == 0xffff && st != BGP4MPStateChange && st != BGP4MPStateChangeAS4 {
			// Early Zebra wrote some MESSAGE records without interface,
			// family and addresses: the BGP marker follows the ASNs, and
			// its first 4 bytes read as interface 65535, family 65535.
			// bgpdump reads the message there, with the addresses 0.0.0.0.
			h.Interface, h.AFI = 0, wire.AFIIPv4
			h.PeerAddr, h.LocalAddr = zero4, zero4
			return p, nil
		}
		fallthrough
	default:
		return nil, fmt.Errorf("BGP4MP header: address family %d", h.AFI)
	}
	p = p[4:]
	if len(p) < 2*alen {
		return nil, fmt.Errorf("BGP4MP addresses: %w", errShort)
	}
	h.PeerAddr, _ = wire.AddrFrom(p[:alen])
	h.LocalAddr, _ = wire.AddrFrom(p[alen : 2*alen])
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

// zero4 is 0.0.0.0, the address of the early records that carry none.
var zero4 = netip.AddrFrom4([4]byte{})

// BGPHeader is the common part of the records of MRT type BGP (5).
type BGPHeader struct {
	PeerAS    bgp.ASN
	PeerAddr  netip.Addr
	LocalAS   bgp.ASN // BGP_UPDATE, BGP_OPEN, BGP_NOTIFY, BGP_KEEPALIVE
	LocalAddr netip.Addr
}

// DecodeBGPHeader decodes the header of a record of MRT type BGP (RFC 6396
// appendix B) of subtype st and returns the rest of the body: for
// BGP_STATE_CHANGE the peer's 2-byte AS and IPv4 address, then the states;
// for the message subtypes also the local AS and address, then the message
// without its 19-byte BGP header (as bgpdump reads it).
func DecodeBGPHeader(body []byte, st uint16, h *BGPHeader) ([]byte, error) {
	n := 12
	if st == BGPStateChange {
		n = 6
	}
	if len(body) < n {
		return nil, fmt.Errorf("BGP header: %w", errShort)
	}
	h.PeerAS = bgp.ASN(binary.BigEndian.Uint16(body))
	h.PeerAddr = netip.AddrFrom4([4]byte(body[2:6]))
	h.LocalAS, h.LocalAddr = 0, netip.Addr{}
	if n == 12 {
		h.LocalAS = bgp.ASN(binary.BigEndian.Uint16(body[6:]))
		h.LocalAddr = netip.AddrFrom4([4]byte(body[8:12]))
	}
	return body[n:], nil
}

// errShort reports a record that ends before the structure it holds.
var errShort = errors.New("truncated")
