package bgp

import "strconv"

// ASN is an autonomous system number (4 bytes, RFC 6793).
type ASN uint32

// ASTrans is AS 23456, the placeholder a 2-byte speaker sees for a 4-byte ASN.
const ASTrans ASN = 23456

// String returns the number in plain decimal ("asplain", RFC 5396).
func (a ASN) String() string { return strconv.FormatUint(uint64(a), 10) }

// Is4Byte reports whether a does not fit in 2 bytes.
func (a ASN) Is4Byte() bool { return a > 0xffff }
