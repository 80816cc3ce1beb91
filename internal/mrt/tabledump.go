package mrt

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// PeerEntry is one peer of a PEER_INDEX_TABLE.
type PeerEntry struct {
	BGPID netip.Addr
	Addr  netip.Addr
	AS    bgp.ASN
}

// PeerIndex is a decoded PEER_INDEX_TABLE record.
type PeerIndex struct {
	CollectorID netip.Addr
	ViewName    string
	Peers       []PeerEntry
}

// DecodePeerIndex decodes a PEER_INDEX_TABLE body into pi, reusing its slice.
func DecodePeerIndex(b []byte, pi *PeerIndex) error {
	if len(b) < 6 {
		return fmt.Errorf("PEER_INDEX_TABLE: %w", errShort)
	}
	pi.CollectorID, _ = wire.AddrFrom(b[:4])
	vl := int(binary.BigEndian.Uint16(b[4:]))
	if len(b) < 6+vl+2 {
		return fmt.Errorf("PEER_INDEX_TABLE view name: %w", errShort)
	}
	pi.ViewName = string(b[6 : 6+vl])
	n := int(binary.BigEndian.Uint16(b[6+vl:]))
	p := b[8+vl:]
	pi.Peers = pi.Peers[:0]
	for i := 0; i < n; i++ {
		if len(p) < 5 {
			return fmt.Errorf("PEER_INDEX_TABLE peer %d of %d: %w", i, n, errShort)
		}
		typ := p[0]
		alen, aslen := 4, 2
		if typ&1 != 0 {
			alen = 16
		}
		if typ&2 != 0 {
			aslen = 4
		}
		need := 5 + alen + aslen
		if len(p) < need {
			return fmt.Errorf("PEER_INDEX_TABLE peer %d of %d: %w", i, n, errShort)
		}
		var e PeerEntry
		e.BGPID, _ = wire.AddrFrom(p[1:5])
		e.Addr, _ = wire.AddrFrom(p[5 : 5+alen])
		if aslen == 4 {
			e.AS = bgp.ASN(binary.BigEndian.Uint32(p[5+alen:]))
		} else {
			e.AS = bgp.ASN(binary.BigEndian.Uint16(p[5+alen:]))
		}
		pi.Peers = append(pi.Peers, e)
		p = p[need:]
	}
	return nil
}

// RIBEntry is one entry of a TABLE_DUMP_V2 RIB record. Attrs is the raw
// attribute block; decode it with RIBDecoder.
type RIBEntry struct {
	PeerIndex  uint16
	Originated uint32
	PathID     uint32
	Attrs      []byte
}

// RIBRecord iterates over a TABLE_DUMP_V2 RIB_IPV4/IPV6_UNICAST/MULTICAST
// (and _ADDPATH) record without allocating.
type RIBRecord struct {
	Sequence  uint32
	Prefix    netip.Prefix // masked
	RawPrefix netip.Prefix // as written, host bits included
	AFI       uint16
	Multicast bool
	AddPath   bool
	Count     int // entries the record announces
	rest      []byte
	read      int
}

// ribFamily returns the family of a RIB subtype; ok is false for other subtypes.
func ribFamily(st uint16) (afi uint16, multicast, addPath, ok bool) {
	switch st {
	case RIBIPv4Unicast:
		return wire.AFIIPv4, false, false, true
	case RIBIPv4Multicast:
		return wire.AFIIPv4, true, false, true
	case RIBIPv6Unicast:
		return wire.AFIIPv6, false, false, true
	case RIBIPv6Multicast:
		return wire.AFIIPv6, true, false, true
	case RIBIPv4UnicastAddPath:
		return wire.AFIIPv4, false, true, true
	case RIBIPv4MulticastAddPath:
		return wire.AFIIPv4, true, true, true
	case RIBIPv6UnicastAddPath:
		return wire.AFIIPv6, false, true, true
	case RIBIPv6MulticastAddPath:
		return wire.AFIIPv6, true, true, true
	}
	return 0, false, false, false
}

// Init decodes the record header (sequence, prefix, entry count) of a RIB
// record body of subtype st.
func (r *RIBRecord) Init(b []byte, st uint16) error {
	afi, mc, ap, ok := ribFamily(st)
	if !ok {
		return fmt.Errorf("not a RIB subtype: %d", st)
	}
	*r = RIBRecord{AFI: afi, Multicast: mc, AddPath: ap}
	if len(b) < 5 {
		return fmt.Errorf("RIB header: %w", errShort)
	}
	r.Sequence = binary.BigEndian.Uint32(b)
	p, n, ok := rawPrefix(b[4:], afi)
	if !ok {
		_, _, err := wire.DecodePrefix(b[4:], afi)
		return fmt.Errorf("RIB prefix: %w", err)
	}
	r.Prefix, r.RawPrefix = p.Masked(), p
	b = b[4+n:]
	if len(b) < 2 {
		return fmt.Errorf("RIB entry count: %w", errShort)
	}
	r.Count = int(binary.BigEndian.Uint16(b))
	r.rest = b[2:]
	return nil
}

// Next reads the next entry into e. It returns false when all entries have
// been read or on an error, which it returns.
func (r *RIBRecord) Next(e *RIBEntry) (bool, error) {
	if r.read >= r.Count {
		if len(r.rest) > 0 {
			n := len(r.rest)
			r.rest = nil
			return false, fmt.Errorf("%d bytes after the last of %d RIB entries", n, r.Count)
		}
		return false, nil
	}
	hl := 8
	if r.AddPath {
		hl = 12
	}
	b := r.rest
	if len(b) < hl {
		r.read = r.Count
		return false, fmt.Errorf("RIB entry %d of %d: %w", r.read+1, r.Count, errShort)
	}
	e.PeerIndex = binary.BigEndian.Uint16(b)
	e.Originated = binary.BigEndian.Uint32(b[2:])
	e.PathID = 0
	if r.AddPath {
		e.PathID = binary.BigEndian.Uint32(b[6:])
	}
	al := int(binary.BigEndian.Uint16(b[hl-2:]))
	if len(b) < hl+al {
		read := r.read
		r.read = r.Count
		r.rest = nil
		return false, fmt.Errorf("RIB entry %d of %d: attributes (%d bytes): %w", read+1, r.Count, al, errShort)
	}
	e.Attrs = b[hl : hl+al]
	r.rest = b[hl+al:]
	r.read++
	return true, nil
}

// TableDumpV1 is a decoded legacy TABLE_DUMP record (RFC 6396 section 4.2).
type TableDumpV1 struct {
	View       uint16
	Sequence   uint16
	Prefix     netip.Prefix // masked
	RawPrefix  netip.Prefix // as written, host bits included
	Status     uint8
	Originated uint32
	PeerAddr   netip.Addr
	PeerAS     bgp.ASN
	Attrs      []byte // 2-byte ASN attributes
}

// DecodeTableDumpV1 decodes a TABLE_DUMP body of subtype afi (1 IPv4, 2 IPv6).
func DecodeTableDumpV1(b []byte, afi uint16, t *TableDumpV1) error {
	alen := 4
	switch afi {
	case TableDumpAFIIPv4:
	case TableDumpAFIIPv6:
		alen = 16
	default:
		return fmt.Errorf("TABLE_DUMP address family %d", afi)
	}
	need := 4 + alen + 1 + 1 + 4 + alen + 2 + 2
	if len(b) < need {
		return fmt.Errorf("TABLE_DUMP entry: %w", errShort)
	}
	t.View = binary.BigEndian.Uint16(b)
	t.Sequence = binary.BigEndian.Uint16(b[2:])
	addr, _ := wire.AddrFrom(b[4 : 4+alen])
	p := b[4+alen:]
	bits := int(p[0])
	if bits > addr.BitLen() {
		return fmt.Errorf("TABLE_DUMP prefix length %d", bits)
	}
	t.RawPrefix = netip.PrefixFrom(addr, bits)
	t.Prefix = t.RawPrefix.Masked()
	t.Status = p[1]
	t.Originated = binary.BigEndian.Uint32(p[2:])
	t.PeerAddr, _ = wire.AddrFrom(p[6 : 6+alen])
	p = p[6+alen:]
	t.PeerAS = bgp.ASN(binary.BigEndian.Uint16(p))
	al := int(binary.BigEndian.Uint16(p[2:]))
	if len(p) < 4+al {
		return fmt.Errorf("TABLE_DUMP attributes (%d bytes): %w", al, errShort)
	}
	t.Attrs = p[4 : 4+al]
	return nil
}
