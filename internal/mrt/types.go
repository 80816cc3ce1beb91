package mrt

import "strconv"

// Type is an MRT record type.
type Type uint16

// MRT record types (RFC 6396 section 4, RFC 8050).
const (
	TypeBGP         Type = 5 // deprecated (RFC 6396 appendix B): the RIS archives of 1999-2000
	TypeOSPFv2      Type = 11
	TypeTableDump   Type = 12
	TypeTableDumpV2 Type = 13
	TypeBGP4MP      Type = 16
	TypeBGP4MPET    Type = 17
	TypeISIS        Type = 32
	TypeISISET      Type = 33
	TypeOSPFv3      Type = 48
	TypeOSPFv3ET    Type = 49
)

// String returns the type's RFC name.
func (t Type) String() string {
	switch t {
	case 0:
		return "NULL"
	case 1:
		return "START"
	case 2:
		return "DIE"
	case 3:
		return "I_AM_DEAD"
	case 4:
		return "PEER_DOWN"
	case 6:
		return "RIP"
	case 7:
		return "IDRP"
	case 8:
		return "RIPNG"
	case 9:
		return "BGP4PLUS"
	case 10:
		return "BGP4PLUS_01"
	case TypeBGP:
		return "BGP"
	case TypeOSPFv2:
		return "OSPFv2"
	case TypeTableDump:
		return "TABLE_DUMP"
	case TypeTableDumpV2:
		return "TABLE_DUMP_V2"
	case TypeBGP4MP:
		return "BGP4MP"
	case TypeBGP4MPET:
		return "BGP4MP_ET"
	case TypeISIS:
		return "ISIS"
	case TypeISISET:
		return "ISIS_ET"
	case TypeOSPFv3:
		return "OSPFv3"
	case TypeOSPFv3ET:
		return "OSPFv3_ET"
	}
	return "TYPE_" + strconv.Itoa(int(t))
}

// extendedTime reports whether records of type t carry a microsecond field.
func (t Type) extendedTime() bool {
	return t == TypeBGP4MPET || t == TypeISISET || t == TypeOSPFv3ET
}

// TABLE_DUMP_V2 subtypes.
const (
	PeerIndexTable          uint16 = 1
	RIBIPv4Unicast          uint16 = 2
	RIBIPv4Multicast        uint16 = 3
	RIBIPv6Unicast          uint16 = 4
	RIBIPv6Multicast        uint16 = 5
	RIBGeneric              uint16 = 6
	RIBIPv4UnicastAddPath   uint16 = 8
	RIBIPv4MulticastAddPath uint16 = 9
	RIBIPv6UnicastAddPath   uint16 = 10
	RIBIPv6MulticastAddPath uint16 = 11
	RIBGenericAddPath       uint16 = 12
)

// BGP4MP and BGP4MP_ET subtypes.
const (
	BGP4MPStateChange            uint16 = 0
	BGP4MPMessage                uint16 = 1
	BGP4MPMessageAS4             uint16 = 4
	BGP4MPStateChangeAS4         uint16 = 5
	BGP4MPMessageLocal           uint16 = 6
	BGP4MPMessageAS4Local        uint16 = 7
	BGP4MPMessageAddPath         uint16 = 8
	BGP4MPMessageAS4AddPath      uint16 = 9
	BGP4MPMessageLocalAddPath    uint16 = 10
	BGP4MPMessageAS4LocalAddPath uint16 = 11
)

// BGP (type 5) subtypes (RFC 6396 appendix B.2).
const (
	BGPNull        uint16 = 0
	BGPUpdate      uint16 = 1
	BGPPrefUpdate  uint16 = 2
	BGPStateChange uint16 = 3
	BGPSync        uint16 = 4
	BGPOpen        uint16 = 5
	BGPNotify      uint16 = 6
	BGPKeepalive   uint16 = 7
)

var bgpNames = map[uint16]string{
	BGPNull: "BGP_NULL", BGPUpdate: "BGP_UPDATE", BGPPrefUpdate: "BGP_PREF_UPDATE",
	BGPStateChange: "BGP_STATE_CHANGE", BGPSync: "BGP_SYNC", BGPOpen: "BGP_OPEN",
	BGPNotify: "BGP_NOTIFY", BGPKeepalive: "BGP_KEEPALIVE",
}

// TABLE_DUMP (v1) subtypes: the address family.
const (
	TableDumpAFIIPv4 uint16 = 1
	TableDumpAFIIPv6 uint16 = 2
)

var tableDumpV2Names = map[uint16]string{
	PeerIndexTable: "PEER_INDEX_TABLE", RIBIPv4Unicast: "RIB_IPV4_UNICAST",
	RIBIPv4Multicast: "RIB_IPV4_MULTICAST", RIBIPv6Unicast: "RIB_IPV6_UNICAST",
	RIBIPv6Multicast: "RIB_IPV6_MULTICAST", RIBGeneric: "RIB_GENERIC",
	RIBIPv4UnicastAddPath: "RIB_IPV4_UNICAST_ADDPATH", RIBIPv4MulticastAddPath: "RIB_IPV4_MULTICAST_ADDPATH",
	RIBIPv6UnicastAddPath: "RIB_IPV6_UNICAST_ADDPATH", RIBIPv6MulticastAddPath: "RIB_IPV6_MULTICAST_ADDPATH",
	RIBGenericAddPath: "RIB_GENERIC_ADDPATH",
}

var bgp4mpNames = map[uint16]string{
	BGP4MPStateChange: "STATE_CHANGE", BGP4MPMessage: "MESSAGE", BGP4MPMessageAS4: "MESSAGE_AS4",
	BGP4MPStateChangeAS4: "STATE_CHANGE_AS4", BGP4MPMessageLocal: "MESSAGE_LOCAL",
	BGP4MPMessageAS4Local: "MESSAGE_AS4_LOCAL", BGP4MPMessageAddPath: "MESSAGE_ADDPATH",
	BGP4MPMessageAS4AddPath: "MESSAGE_AS4_ADDPATH", BGP4MPMessageLocalAddPath: "MESSAGE_LOCAL_ADDPATH",
	BGP4MPMessageAS4LocalAddPath: "MESSAGE_AS4_LOCAL_ADDPATH",
}

// SubtypeName returns the RFC name of subtype st of type t, or a number.
func SubtypeName(t Type, st uint16) string {
	var name string
	switch t {
	case TypeTableDumpV2:
		name = tableDumpV2Names[st]
	case TypeBGP4MP, TypeBGP4MPET:
		name = bgp4mpNames[st]
	case TypeBGP:
		name = bgpNames[st]
	case TypeTableDump:
		switch st {
		case TableDumpAFIIPv4:
			name = "AFI_IPv4"
		case TableDumpAFIIPv6:
			name = "AFI_IPv6"
		}
	}
	if name == "" {
		name = "SUBTYPE_" + strconv.Itoa(int(st))
	}
	return name
}

// knownSubtype reports whether the reader decodes subtype st of type t.
func knownSubtype(t Type, st uint16) bool {
	switch t {
	case TypeTableDumpV2:
		_, ok := tableDumpV2Names[st]
		return ok
	case TypeBGP4MP, TypeBGP4MPET:
		_, ok := bgp4mpNames[st]
		return ok
	case TypeBGP:
		_, ok := bgpNames[st]
		return ok
	case TypeTableDump:
		return st == TableDumpAFIIPv4 || st == TableDumpAFIIPv6
	}
	return false
}

func isAS4(st uint16) bool {
	switch st {
	case BGP4MPMessageAS4, BGP4MPStateChangeAS4, BGP4MPMessageAS4Local,
		BGP4MPMessageAS4AddPath, BGP4MPMessageAS4LocalAddPath:
		return true
	}
	return false
}

func isAddPath(st uint16) bool {
	return st >= BGP4MPMessageAddPath && st <= BGP4MPMessageAS4LocalAddPath
}
