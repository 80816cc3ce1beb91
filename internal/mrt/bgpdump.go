package mrt

import (
	"net/netip"
	"strconv"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// AppendBgpdumpLine appends the line that `bgpdump -m` (bgpdump 1.6)
// prints for event ev read by rr, with its newline, to b. It allocates
// nothing. For the entries of multicast RIB records, which bgpdump does
// not print, it appends nothing.
//
// It follows bgpdump's rules, including its quirks:
//   - an absent ORIGIN prints INCOMPLETE; an absent next hop on an IPv4
//     route, or on a RIB entry without an IPv6 MP_REACH next hop, prints
//     255.255.255.255 (bgpdump's "none");
//   - IPv4 prefixes announced in the NLRI field print the NEXT_HOP
//     attribute, those in MP_REACH_NLRI its next hop, and print LOCAL_PREF
//     and MED as signed numbers;
//   - communities 0xFFFFFF01-03 print as no-export, no-advertise, local-AS;
//     large communities are not printed;
//   - IPv6 addresses print with bgpdump's own formatter (AppendAddr).
func AppendBgpdumpLine(b []byte, rr *RouteReader, ev *bgp.Event) []byte {
	if ev.RIB && ev.Multicast {
		// bgpdump prints the multicast routes of BGP4MP updates but not
		// the entries of RIB_IPV4/IPV6_MULTICAST records.
		return b
	}
	rec := rr.Record()
	if rec.Type == TypeBGP {
		return appendBGPLine(b, rr, ev)
	}
	c := &rr.dump
	// The type and time are the same for every line of a record: format
	// them once per record (a RIB record has one line per peer).
	if c.off != rec.Offset || c.head == nil {
		c.off = rec.Offset
		c.head, c.addPath = appendLineHead(c.head[:0], rr, ev)
		c.pfx = c.pfx[:0]
	}
	addPath := c.addPath
	if ev.Kind == bgp.PeerState {
		// STATE lines have no _LOCAL or _AP marks.
		var h []byte
		h, _ = appendLineHead(rr.dump.scratch[:0], rr, ev)
		rr.dump.scratch = h
		b = append(b, h...)
	} else {
		b = append(b, c.head...)
	}
	switch ev.Kind {
	case bgp.PeerState:
		b = append(b, "|STATE|"...)
		b = AppendAddr(b, ev.Peer.Addr)
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(ev.Peer.AS), 10)
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(ev.OldState), 10)
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(ev.NewState), 10)
		return append(b, '\n')
	case bgp.Withdraw:
		b = append(b, "|W|"...)
	default:
		if ev.RIB {
			b = append(b, "|B|"...)
		} else {
			b = append(b, "|A|"...)
		}
	}
	if rec.Type == TypeTableDumpV2 {
		// Peers repeat across records and the prefix across a record's
		// entries: both are formatted once.
		b = append(b, rr.peerField(int(rr.entry.PeerIndex))...)
		if len(c.pfx) == 0 {
			c.pfx = appendPrefixText(c.pfx, rr.rib.RawPrefix) // as written, as bgpdump prints it
		}
		b = append(b, c.pfx...)
	} else {
		b = appendPeerField(b, ev.Peer)
		p := rr.v1.RawPrefix
		if rec.Type != TypeTableDump {
			p, _ = rr.rawPrefix(ev)
		}
		b = appendPrefixText(b, p)
	}
	if ev.Kind == bgp.Withdraw {
		if addPath {
			b = append(b, '|')
			b = strconv.AppendUint(b, uint64(ev.PathID), 10)
		}
		return append(b, '\n')
	}
	b = append(b, '|')
	if addPath {
		b = appendUint(b, ev.PathID)
		b = append(b, '|')
	}
	if rec.Type == TypeTableDumpV2 && rr.tails != nil {
		// What follows depends only on the entry's attribute bytes.
		t, on := rr.tails.get(rr.entry.PeerIndex, rr.entry.Attrs)
		if t != nil {
			return append(b, t...)
		}
		start := len(b)
		var ok bool
		if rr.attrsPending {
			// Not decoded yet: format straight from the bytes if they
			// are plain enough.
			b, ok = appendRIBTail(b, rr.entry.Attrs)
		}
		if !ok {
			ok = rr.decodeEntryAttrs()
			b = appendRouteTail(b, rr, ev)
		}
		if ok && on {
			rr.tails.put(rr.entry.PeerIndex, rr.entry.Attrs, b[start:])
		}
		return b
	}
	return appendRouteTail(b, rr, ev)
}

// appendRouteTail appends the fields of an announcement's line from the AS
// path on, and the newline.
func appendRouteTail(b []byte, rr *RouteReader, ev *bgp.Event) []byte {
	rec := rr.Record()
	a := ev.Attrs
	b = appendPath(b, a)
	b = append(b, '|')
	switch {
	case a.Has(bgp.AttrOrigin) && a.Origin == bgp.OriginIGP:
		b = append(b, "IGP|"...)
	case a.Has(bgp.AttrOrigin) && a.Origin == bgp.OriginEGP:
		b = append(b, "EGP|"...)
	default:
		b = append(b, "INCOMPLETE|"...)
	}

	// The next hop, and whether LOCAL_PREF and MED print signed.
	signed := false
	var nh netip.Addr
	switch rec.Type {
	case TypeTableDump, TypeTableDumpV2:
		if attr, mp := rr.ribAttrs.NextHops(); mp.Is6() {
			nh = mp
		} else {
			nh = attr
		}
	default:
		attr, mp := rr.dec.NextHops()
		switch {
		case ev.Prefix.Addr().Is6():
			nh = mp
		case rr.upd.InNLRIField(rr.idx - 1 - len(rr.upd.Withdrawn)):
			nh = attr
		default:
			nh = mp
			signed = true
		}
	}
	if nh.IsValid() {
		b = AppendAddr(b, nh)
	} else {
		b = append(b, "255.255.255.255"...)
	}
	b = append(b, '|')
	if signed {
		b = appendInt(b, int32(a.LocalPref))
		b = append(b, '|')
		b = appendInt(b, int32(a.MED))
	} else {
		b = appendUint(b, a.LocalPref)
		b = append(b, '|')
		b = appendUint(b, a.MED)
	}
	b = append(b, '|')
	b = appendCommunities(b, a)
	b = append(b, '|')
	return appendAggregate(b, a)
}

// appendCommunities appends the COMMUNITIES of a as bgpdump prints them.
func appendCommunities(b []byte, a *bgp.Attrs) []byte {
	for i, c := range a.Communities {
		if i > 0 {
			b = append(b, ' ')
		}
		switch c {
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
	return b
}

// aspathError is what bgpdump prints for an AS_PATH it cannot read (a bad
// segment type, a segment running past the attribute's end).
const aspathError = "! Error !"

// appendPath appends the AS path of a, or bgpdump's error marker when the
// AS_PATH attribute was present but malformed (kept raw in a.Unknown).
func appendPath(b []byte, a *bgp.Attrs) []byte {
	if !a.Has(bgp.AttrASPath) {
		for i := range a.Unknown {
			if a.Unknown[i].Type == bgp.AttrASPath {
				return append(b, aspathError...)
			}
		}
	}
	return appendASPath(b, &a.Path)
}

// appendAggregate appends the ATOMIC_AGGREGATE and AGGREGATOR fields and
// the end of the line.
func appendAggregate(b []byte, a *bgp.Attrs) []byte {
	if a.Has(bgp.AttrAtomicAggregate) {
		b = append(b, "AG|"...)
	} else {
		b = append(b, "NAG|"...)
	}
	if a.Has(bgp.AttrAggregator) && a.Aggregator.Addr != broadcast4 {
		b = appendUint(b, uint32(a.Aggregator.AS))
		b = append(b, ' ')
		b = AppendAddr(b, a.Aggregator.Addr)
	}
	b = append(b, '|')
	return append(b, '\n')
}

// dumpCache holds what AppendBgpdumpLine formats once per record or per
// peer; it lives in the RouteReader whose events it formats.
type dumpCache struct {
	off     int64  // the record head belongs to
	head    []byte // "TYPE|time|"
	addPath bool
	pfx     []byte   // the RIB record's prefix
	peers   [][]byte // "addr|AS|" by PEER_INDEX_TABLE index
	peerGen int      // the PEER_INDEX_TABLE the peers belong to
	scratch []byte

	// The prefixes of the UPDATE as written, host bits included
	// (bgpdump prints them so): the withdrawn routes field then
	// MP_UNREACH_NLRI, the NLRI field then MP_REACH_NLRI, as package wire
	// orders the decoded routes. rawPlainW counts those of the withdrawn
	// routes field.
	rawOff    int64
	rawValid  bool
	rawW      []netip.Prefix
	rawA      []netip.Prefix
	rawPlainW int
}

// rawPrefix returns the prefix of route event ev (of an UPDATE) as written
// in the message, host bits included, and whether it came from the
// withdrawn routes or NLRI fields rather than from MP_(UN)REACH_NLRI.
// Where the message cannot be read again it returns ev.Prefix.
func (rr *RouteReader) rawPrefix(ev *bgp.Event) (netip.Prefix, bool) {
	rr.rawFields()
	c := &rr.dump
	i := rr.idx - 1
	raw, inField := c.rawW, i < c.rawPlainW
	if ev.Kind != bgp.Withdraw {
		i -= len(rr.upd.Withdrawn)
		raw, inField = c.rawA, rr.upd.InNLRIField(i)
	}
	if i < len(raw) && raw[i].Masked() == ev.Prefix {
		return raw[i], inField
	}
	return ev.Prefix, inField
}

// rawFields reads the prefixes of the current record's UPDATE again,
// without clearing host bits, once per record, and counts those that had
// host bits set.
func (rr *RouteReader) rawFields() {
	rec := &rr.rec
	c := &rr.dump
	if c.rawValid && c.rawOff == rec.Offset {
		return
	}
	c.rawValid, c.rawOff = true, rec.Offset
	c.rawW, c.rawA, c.rawPlainW = c.rawW[:0], c.rawA[:0], 0
	var msg []byte
	addPath := false
	switch rec.Type {
	case TypeBGP:
		var h BGPHeader
		rest, err := DecodeBGPHeader(rec.Body, rec.Subtype, &h)
		if err != nil {
			return
		}
		msg = rest
	case TypeBGP4MP, TypeBGP4MPET:
		addPath = isAddPath(rec.Subtype)
		var h BGP4MPHeader
		rest, err := DecodeBGP4MPHeader(rec.Body, rec.Subtype, &h)
		if err != nil || len(rest) < 19 {
			return
		}
		n := int(rest[16])<<8 | int(rest[17])
		if n < 19 || n > len(rest) {
			return
		}
		msg = rest[19:n]
	default:
		return
	}
	if len(msg) < 2 {
		return
	}
	wl := int(msg[0])<<8 | int(msg[1])
	if len(msg) < 4+wl {
		return
	}
	al := int(msg[2+wl])<<8 | int(msg[3+wl])
	if len(msg) < 4+wl+al {
		return
	}
	c.rawW, _ = appendRawNLRI(c.rawW, msg[2:2+wl], wire.AFIIPv4, addPath)
	c.rawPlainW = len(c.rawW)
	c.rawA, _ = appendRawNLRI(c.rawA, msg[4+wl+al:], wire.AFIIPv4, addPath)
	if rec.Type != TypeBGP {
		// MP_REACH_NLRI and MP_UNREACH_NLRI, in attribute order.
		for attrs := msg[4+wl : 4+wl+al]; len(attrs) >= 3; {
			flags, typ := attrs[0], attrs[1]
			hl, vl := 3, int(attrs[2])
			if flags&0x10 != 0 { // extended length
				if len(attrs) < 4 {
					break
				}
				hl, vl = 4, int(attrs[2])<<8|int(attrs[3])
			}
			if len(attrs) < hl+vl {
				break
			}
			v := attrs[hl : hl+vl]
			attrs = attrs[hl+vl:]
			switch typ {
			case byte(bgp.AttrMPReach):
				if len(v) >= 5 {
					afi, safi, nhl := uint16(v[0])<<8|uint16(v[1]), v[2], int(v[3])
					if len(v) >= 5+nhl && mpFamily(afi, safi) {
						c.rawA, _ = appendRawNLRI(c.rawA, v[5+nhl:], afi, addPath)
					}
				}
			case byte(bgp.AttrMPUnreach):
				if len(v) >= 3 {
					if afi, safi := uint16(v[0])<<8|uint16(v[1]), v[2]; mpFamily(afi, safi) {
						c.rawW, _ = appendRawNLRI(c.rawW, v[3:], afi, addPath)
					}
				}
			}
		}
	}
	for _, p := range c.rawW {
		if p != p.Masked() {
			rr.stats.HostBits++
		}
	}
	for _, p := range c.rawA {
		if p != p.Masked() {
			rr.stats.HostBits++
		}
	}
}

// mpFamily reports whether package wire decodes the routes of an
// MP_(UN)REACH_NLRI of afi and safi: IPv4 and IPv6, unicast and multicast.
func mpFamily(afi uint16, safi uint8) bool {
	return (afi == wire.AFIIPv4 || afi == wire.AFIIPv6) && (safi == wire.SAFIUnicast || safi == wire.SAFIMulticast)
}

// appendRawNLRI appends the prefixes of a run of NLRI of family afi as
// written, host bits included, reading ADD-PATH identifiers as package
// wire does (when addPath, or when only that reading works), and reports
// whether the whole run read.
func appendRawNLRI(dst []netip.Prefix, b []byte, afi uint16, addPath bool) ([]netip.Prefix, bool) {
	addPath = addPath || (!wire.ValidNLRI(b, afi, false) && wire.ValidNLRI(b, afi, true))
	for len(b) > 0 {
		if addPath {
			if len(b) < 4 {
				return dst, false
			}
			b = b[4:]
		}
		p, n, ok := rawPrefix(b, afi)
		if !ok {
			return dst, false
		}
		dst = append(dst, p)
		b = b[n:]
	}
	return dst, true
}

// rawPrefix decodes one length-prefixed prefix of family afi as written,
// host bits included, and returns it with the bytes it used.
func rawPrefix(b []byte, afi uint16) (netip.Prefix, int, bool) {
	if len(b) < 1 {
		return netip.Prefix{}, 0, false
	}
	bits := int(b[0])
	n := (bits + 7) / 8
	if afi == wire.AFIIPv6 {
		if bits > 128 || len(b) < 1+n {
			return netip.Prefix{}, 0, false
		}
		var a [16]byte
		copy(a[:], b[1:1+n])
		return netip.PrefixFrom(netip.AddrFrom16(a), bits), 1 + n, true
	}
	if bits > 32 || len(b) < 1+n {
		return netip.Prefix{}, 0, false
	}
	var a [4]byte
	copy(a[:], b[1:1+n])
	return netip.PrefixFrom(netip.AddrFrom4(a), bits), 1 + n, true
}

// appendBGPLine appends the line bgpdump prints for an event of a record
// of MRT type BGP (5), or nothing for the routes of MP_REACH_NLRI and
// MP_UNREACH_NLRI, which it does not print for this type. Its quirks: the
// MED runs into the communities (no separator between them), and there is
// no empty communities field when there are none. bgpdump 1.6 prints the
// peer's address in place of a withdrawn prefix's (inet_ntoa's static
// buffer, used twice in one printf); this prints the prefix.
func appendBGPLine(b []byte, rr *RouteReader, ev *bgp.Event) []byte {
	rec := rr.Record()
	head := func(b []byte, kind string) []byte {
		b = append(b, "BGP|"...)
		b = strconv.AppendUint(b, uint64(rec.Timestamp), 10)
		b = append(b, kind...)
		b = AppendAddr(b, ev.Peer.Addr)
		b = append(b, '|')
		return strconv.AppendUint(b, uint64(ev.Peer.AS), 10)
	}
	if ev.Kind == bgp.PeerState {
		b = head(b, "|STATE|")
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(ev.OldState), 10)
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(ev.NewState), 10)
		return append(b, '\n')
	}
	p, inField := rr.rawPrefix(ev)
	if !inField {
		return b
	}
	if ev.Kind == bgp.Withdraw {
		b = head(b, "|W|")
		b = append(b, '|')
		b = appendPrefixText(b, p)
		return append(b, '\n')
	}
	a := ev.Attrs
	b = head(b, "|A|")
	b = append(b, '|')
	b = appendPrefixText(b, p)
	b = append(b, '|')
	b = appendPath(b, a)
	switch {
	case a.Has(bgp.AttrOrigin) && a.Origin == bgp.OriginIGP:
		b = append(b, "|IGP|"...)
	case a.Has(bgp.AttrOrigin) && a.Origin == bgp.OriginEGP:
		b = append(b, "|EGP|"...)
	default:
		b = append(b, "|INCOMPLETE|"...)
	}
	if nh, _ := rr.dec.NextHops(); nh.IsValid() {
		b = AppendAddr(b, nh)
	} else {
		b = append(b, "255.255.255.255"...)
	}
	b = append(b, '|')
	var pref, med uint32
	if a.Has(bgp.AttrLocalPref) {
		pref = a.LocalPref
	}
	if a.Has(bgp.AttrMED) {
		med = a.MED
	}
	b = strconv.AppendUint(b, uint64(pref), 10)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(med), 10)
	if a.Has(bgp.AttrCommunities) {
		b = appendCommunities(b, a)
	}
	b = append(b, '|')
	return appendAggregate(b, a)
}

// appendLineHead appends the type and time fields of a line ("TYPE|time")
// and says whether the lines carry ADD-PATH identifiers.
func appendLineHead(b []byte, rr *RouteReader, ev *bgp.Event) ([]byte, bool) {
	rec := rr.Record()
	addPath := false
	switch rec.Type {
	case TypeTableDump:
		b = append(b, "TABLE_DUMP|"...)
	case TypeTableDumpV2:
		addPath = rr.rib.AddPath
		if addPath {
			b = append(b, "TABLE_DUMP2_AP|"...)
		} else {
			b = append(b, "TABLE_DUMP2|"...)
		}
	case TypeBGP4MP, TypeBGP4MPET:
		b = append(b, "BGP4MP"...)
		if rec.Type == TypeBGP4MPET {
			b = append(b, "_ET"...)
		}
		if ev.Kind != bgp.PeerState {
			switch rec.Subtype {
			case BGP4MPMessageLocal, BGP4MPMessageAS4Local, BGP4MPMessageLocalAddPath, BGP4MPMessageAS4LocalAddPath:
				b = append(b, "_LOCAL"...)
			}
			if isAddPath(rec.Subtype) {
				addPath = true
				b = append(b, "_AP"...)
			}
		}
		b = append(b, '|')
	default:
		b = append(b, rec.Type.String()...)
		b = append(b, '|')
	}
	b = strconv.AppendUint(b, uint64(rec.Timestamp), 10)
	if rec.Type == TypeBGP4MPET {
		b = append(b, '.')
		b = appendPadded(b, rec.Microsecond, 6)
	}
	return b, addPath
}

// peerField returns "addr|AS|" of PEER_INDEX_TABLE entry i, formatted once.
func (rr *RouteReader) peerField(i int) []byte {
	c := &rr.dump
	if c.peerGen != rr.piGen {
		c.peerGen = rr.piGen
		c.peers = c.peers[:0]
	}
	for len(c.peers) <= i {
		c.peers = append(c.peers, nil)
	}
	if c.peers[i] == nil && i < len(rr.peers) {
		c.peers[i] = appendPeerField(nil, rr.peers[i])
	}
	return c.peers[i]
}

func appendPeerField(b []byte, p bgp.Peer) []byte {
	b = AppendAddr(b, p.Addr)
	b = append(b, '|')
	b = appendUint(b, uint32(p.AS))
	return append(b, '|')
}

func appendPrefixText(b []byte, p netip.Prefix) []byte {
	b = AppendAddr(b, p.Addr())
	b = append(b, '/')
	return appendUint(b, uint32(p.Bits()))
}

// broadcast4 is INADDR_NONE, which bgpdump uses to mean "no address".
var broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// appendPadded appends v in decimal, zero-padded to width digits.
func appendPadded(b []byte, v uint32, width int) []byte {
	var buf [10]byte
	i := len(buf)
	for v > 0 || i > len(buf)-width {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if i == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}

// AppendAddr appends a in the notation of bgpdump: dotted quad for IPv4;
// for IPv6, lower-case hexadecimal groups without leading zeros, where the
// longest run of zero groups (the first of equal runs), even a single one,
// becomes "::", and IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible
// (::a.b.c.d, but not :: or ::1) addresses end in a dotted quad. It
// differs from netip.Addr.String, which leaves a single zero group alone
// (RFC 5952). An invalid address appends nothing. It allocates nothing.
func AppendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		return appendIPv4(b, a.As4())
	}
	if !a.IsValid() {
		return b
	}
	x := a.As16()
	var zero10 = x[0]|x[1]|x[2]|x[3]|x[4]|x[5]|x[6]|x[7]|x[8]|x[9] == 0
	if zero10 && x[10] == 0xff && x[11] == 0xff {
		b = append(b, "::ffff:"...)
		return appendIPv4(b, [4]byte(x[12:16]))
	}
	if zero10 && x[10] == 0 && x[11] == 0 {
		if v := uint32(x[12])<<24 | uint32(x[13])<<16 | uint32(x[14])<<8 | uint32(x[15]); v > 1 {
			b = append(b, "::"...)
			return appendIPv4(b, [4]byte(x[12:16]))
		}
	}
	// The longest run of zero groups; the first wins a tie.
	best, bestLen := -1, 0
	for i := 0; i < 8; {
		if x[2*i] != 0 || x[2*i+1] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && x[2*j] == 0 && x[2*j+1] == 0 {
			j++
		}
		if j-i > bestLen {
			best, bestLen = i, j-i
		}
		i = j
	}
	const hex = "0123456789abcdef"
	for i := 0; i < 8; i++ {
		if i == best {
			if i == 0 {
				b = append(b, ':')
			}
			b = append(b, ':')
			i += bestLen - 1
			continue
		}
		g := uint16(x[2*i])<<8 | uint16(x[2*i+1])
		switch {
		case g >= 0x1000:
			b = append(b, hex[g>>12], hex[g>>8&0xf], hex[g>>4&0xf], hex[g&0xf])
		case g >= 0x100:
			b = append(b, hex[g>>8], hex[g>>4&0xf], hex[g&0xf])
		case g >= 0x10:
			b = append(b, hex[g>>4], hex[g&0xf])
		default:
			b = append(b, hex[g])
		}
		if i != 7 {
			b = append(b, ':')
		}
	}
	return b
}

// octets holds the decimal forms of 0 to 255.
var octets = func() (t [256]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

func appendIPv4(b []byte, v [4]byte) []byte {
	b = append(b, octets[v[0]]...)
	b = append(b, '.')
	b = append(b, octets[v[1]]...)
	b = append(b, '.')
	b = append(b, octets[v[2]]...)
	b = append(b, '.')
	return append(b, octets[v[3]]...)
}
