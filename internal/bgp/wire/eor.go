package wire

import "encoding/binary"

// EndOfRIB reports whether the UPDATE message msg (with its 19-byte
// header) is an End-of-RIB marker (RFC 4724 section 2) and of which
// family: an UPDATE with nothing in it is IPv4 unicast's; one whose only
// attribute is an empty MP_UNREACH_NLRI is that attribute's family's.
func EndOfRIB(msg []byte) (afi uint16, safi uint8, ok bool) {
	if len(msg) < HeaderLen+4 || msg[18] != MsgUpdate {
		return 0, 0, false
	}
	b := msg[HeaderLen:min(len(msg), int(binary.BigEndian.Uint16(msg[16:])))]
	if len(b) == 4 && b[0]|b[1]|b[2]|b[3] == 0 {
		return AFIIPv4, SAFIUnicast, true
	}
	if len(b) < 4 || b[0]|b[1] != 0 {
		return 0, 0, false
	}
	al := int(binary.BigEndian.Uint16(b[2:]))
	a := b[4:]
	if al != len(a) || len(a) < 6 {
		return 0, 0, false
	}
	flags, typ := a[0], a[1]
	hl, n := 3, int(a[2])
	if flags&0x10 != 0 {
		hl, n = 4, int(binary.BigEndian.Uint16(a[2:]))
	}
	if typ != 15 || n != 3 || hl+n != len(a) {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(a[hl:]), a[hl+2], true
}

// UpdateAFI returns the AFI of an UPDATE message (with header): 1 when it
// has IPv4 NLRI or withdrawn routes, else the AFI of its MP_REACH_NLRI or
// MP_UNREACH_NLRI attribute, else 1. It tells which family's ADD-PATH
// setting applies to the message.
func UpdateAFI(msg []byte) uint16 {
	if len(msg) < HeaderLen+4 {
		return AFIIPv4
	}
	b := msg[HeaderLen:]
	wl := int(binary.BigEndian.Uint16(b))
	if wl > 0 || len(b) < 4+wl {
		return AFIIPv4
	}
	al := int(binary.BigEndian.Uint16(b[2+wl:]))
	if len(b) > 4+wl+al {
		return AFIIPv4 // plain NLRI follow the attributes
	}
	a := b[4+wl : min(len(b), 4+wl+al)]
	for len(a) >= 3 {
		flags, typ := a[0], a[1]
		hl, n := 3, int(a[2])
		if flags&0x10 != 0 {
			if len(a) < 4 {
				return AFIIPv4
			}
			hl, n = 4, int(binary.BigEndian.Uint16(a[2:]))
		}
		if len(a) < hl+n {
			return AFIIPv4
		}
		if (typ == 14 || typ == 15) && n >= 2 {
			return binary.BigEndian.Uint16(a[hl:])
		}
		a = a[hl+n:]
	}
	return AFIIPv4
}
