package bgp

import (
	"net/netip"
	"strconv"
)

// AttrType is a BGP path attribute type code.
type AttrType uint8

// Path attribute type codes that blackout decodes.
const (
	AttrOrigin           AttrType = 1
	AttrASPath           AttrType = 2
	AttrNextHop          AttrType = 3
	AttrMED              AttrType = 4
	AttrLocalPref        AttrType = 5
	AttrAtomicAggregate  AttrType = 6
	AttrAggregator       AttrType = 7
	AttrCommunities      AttrType = 8
	AttrMPReach          AttrType = 14
	AttrMPUnreach        AttrType = 15
	AttrAS4Path          AttrType = 17
	AttrAS4Aggregator    AttrType = 18
	AttrLargeCommunities AttrType = 32
)

// Origin is the ORIGIN attribute.
type Origin uint8

// ORIGIN values.
const (
	OriginIGP        Origin = 0
	OriginEGP        Origin = 1
	OriginIncomplete Origin = 2
)

// String returns "IGP", "EGP" or "INCOMPLETE".
func (o Origin) String() string {
	switch o {
	case OriginIGP:
		return "IGP"
	case OriginEGP:
		return "EGP"
	case OriginIncomplete:
		return "INCOMPLETE"
	}
	return "ORIGIN(" + strconv.Itoa(int(o)) + ")"
}

// Community is an RFC 1997 community, high 16 bits the AS.
type Community uint32

// Well-known communities.
const (
	CommunityNoExport    Community = 0xFFFFFF01
	CommunityNoAdvertise Community = 0xFFFFFF02
	CommunityNoExportSub Community = 0xFFFFFF03
)

// String returns "AS:value", or the name of a well-known community.
func (c Community) String() string { return string(c.AppendString(nil)) }

// AppendString appends the community as String formats it.
func (c Community) AppendString(b []byte) []byte {
	switch c {
	case CommunityNoExport:
		return append(b, "no-export"...)
	case CommunityNoAdvertise:
		return append(b, "no-advertise"...)
	case CommunityNoExportSub:
		return append(b, "no-export-subconfed"...)
	}
	b = strconv.AppendUint(b, uint64(c>>16), 10)
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(c&0xffff), 10)
}

// LargeCommunity is an RFC 8092 large community.
type LargeCommunity struct {
	Global, Local1, Local2 uint32
}

// String returns "global:local1:local2".
func (c LargeCommunity) String() string {
	b := strconv.AppendUint(nil, uint64(c.Global), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(c.Local1), 10)
	b = append(b, ':')
	return string(strconv.AppendUint(b, uint64(c.Local2), 10))
}

// Aggregator is the AGGREGATOR attribute (merged with AS4_AGGREGATOR).
type Aggregator struct {
	AS   ASN
	Addr netip.Addr
}

// RawAttr is a path attribute kept as its undecoded bytes: an unknown type,
// or a known one whose value was malformed.
type RawAttr struct {
	Flags uint8
	Type  AttrType
	Value []byte
}

// Attrs are the path attributes of an announcement. Present tells which were
// in the message (bit n set for attribute type n, n < 64).
type Attrs struct {
	Present          uint64
	Origin           Origin
	Path             Path
	NextHop          netip.Addr // NEXT_HOP, or the first MP_REACH next hop
	LinkLocalNextHop netip.Addr // the second IPv6 MP_REACH next hop, if any
	MED              uint32
	LocalPref        uint32
	Aggregator       Aggregator
	Communities      []Community
	LargeCommunities []LargeCommunity
	Unknown          []RawAttr
}

// Has reports whether attribute t was present.
func (a *Attrs) Has(t AttrType) bool { return t < 64 && a.Present&(1<<t) != 0 }

// Set marks attribute t as present.
func (a *Attrs) Set(t AttrType) {
	if t < 64 {
		a.Present |= 1 << t
	}
}

// Reset clears a for reuse, keeping the capacity of its slices.
func (a *Attrs) Reset() {
	segs := a.Path.Segments[:0]
	comms, large, unk := a.Communities[:0], a.LargeCommunities[:0], a.Unknown[:0]
	*a = Attrs{Path: Path{Segments: segs}, Communities: comms, LargeCommunities: large, Unknown: unk}
}

// Clone returns a deep copy of a that shares no memory with it.
func (a *Attrs) Clone() *Attrs {
	c := *a
	c.Path = a.Path.Clone()
	c.Communities = append([]Community(nil), a.Communities...)
	c.LargeCommunities = append([]LargeCommunity(nil), a.LargeCommunities...)
	if a.Unknown != nil {
		c.Unknown = make([]RawAttr, len(a.Unknown))
		for i, u := range a.Unknown {
			c.Unknown[i] = RawAttr{Flags: u.Flags, Type: u.Type, Value: append([]byte(nil), u.Value...)}
		}
	}
	return &c
}
