package mrt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// MaxMessageLen is the largest BGP message (RFC 4271); WriteUpdate splits
// longer updates.
const MaxMessageLen = 4096

// bgpHeaderLen is the length of the BGP message header (marker, length, type).
const bgpHeaderLen = 19

// Writer writes MRT records: TABLE_DUMP_V2 RIB dumps and BGP4MP_ET updates
// and state changes. It buffers its output; call Flush at the end. Once its
// buffers have grown, writing a record allocates nothing.
//
// Writer is meant for tests and for the scenario generator: it writes what
// it is given, in the form public collectors use (4-byte ASNs throughout,
// microsecond timestamps for updates), and does not validate BGP semantics.
type Writer struct {
	bw   *bufio.Writer
	rec  []byte // the record being built, header included
	attr []byte // an encoded attribute block
	mpw  []byte // an MP_UNREACH NLRI run
	mpa  []byte // an MP_REACH NLRI run
	nl4w []NLRI // scratch NLRI of WriteUpdate, by family and direction
	nl4a []NLRI
	nl6w []NLRI
	nl6a []NLRI
	// AddPath forces the _ADDPATH RIB subtypes (RFC 8050) even when every
	// entry has path identifier 0.
	AddPath bool
}

// NewWriter returns a Writer that writes to w through a buffer.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 1<<20)}
}

// Flush writes any buffered data to the underlying writer.
func (w *Writer) Flush() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("mrt: flush: %w", err)
	}
	return nil
}

// beginRecord starts a record in w.rec with a header whose length is
// patched by endRecord.
func (w *Writer) beginRecord(t time.Time, typ Type, sub uint16) {
	b := w.rec[:0]
	b = binary.BigEndian.AppendUint32(b, uint32(t.Unix()))
	b = binary.BigEndian.AppendUint16(b, uint16(typ))
	b = binary.BigEndian.AppendUint16(b, sub)
	b = append(b, 0, 0, 0, 0)
	if typ.extendedTime() {
		b = binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()/1000))
	}
	w.rec = b
}

// endRecord patches the record length and writes the record.
func (w *Writer) endRecord() error {
	n := len(w.rec) - HeaderLen
	if n > MaxRecordLen {
		return fmt.Errorf("mrt: record of %d bytes exceeds the %d-byte limit", n, MaxRecordLen)
	}
	binary.BigEndian.PutUint32(w.rec[8:], uint32(n))
	if _, err := w.bw.Write(w.rec); err != nil {
		return fmt.Errorf("mrt: write: %w", err)
	}
	return nil
}

// WritePeerIndex writes a TABLE_DUMP_V2 PEER_INDEX_TABLE: the collector's
// BGP identifier (an IPv4 address), the view name and the peers, each with
// a 4-byte AS and its own address family. A peer's BGP identifier is its
// address when that is IPv4, 0.0.0.0 otherwise. RIB entries written after it
// name peers by their index in peers.
func (w *Writer) WritePeerIndex(t time.Time, collectorID netip.Addr, view string, peers []bgp.Peer) error {
	if !collectorID.IsValid() {
		collectorID = netip.IPv4Unspecified()
	}
	if !collectorID.Is4() {
		return fmt.Errorf("mrt: PEER_INDEX_TABLE: collector BGP ID %s is not an IPv4 address", collectorID)
	}
	if len(view) > 0xffff || len(peers) > 0xffff {
		return fmt.Errorf("mrt: PEER_INDEX_TABLE: view name of %d bytes or %d peers too long", len(view), len(peers))
	}
	w.beginRecord(t, TypeTableDumpV2, PeerIndexTable)
	b := w.rec
	id := collectorID.As4()
	b = append(b, id[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(view)))
	b = append(b, view...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(peers)))
	for i, p := range peers {
		typ := byte(2) // AS4
		if !p.Addr.IsValid() {
			return fmt.Errorf("mrt: PEER_INDEX_TABLE: peer %d has no address", i)
		}
		if p.Addr.Is6() {
			typ |= 1
		}
		b = append(b, typ)
		if p.Addr.Is4() {
			a := p.Addr.As4()
			b = append(b, a[:]...)
		} else {
			b = append(b, 0, 0, 0, 0)
		}
		b = appendAddr(b, p.Addr)
		b = binary.BigEndian.AppendUint32(b, uint32(p.AS))
	}
	w.rec = b
	return w.endRecord()
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

// RIBEntryOut is one entry of a RIB record for WriteRIB.
type RIBEntryOut struct {
	PeerIndex  uint16     // the peer's index in the last PEER_INDEX_TABLE
	Originated time.Time  // when the route was received (seconds kept)
	PathID     uint32     // ADD-PATH path identifier (RFC 8050)
	Attrs      *bgp.Attrs // the route's attributes (see AppendAttrs)
}

// WriteRIB writes a TABLE_DUMP_V2 RIB_IPV4_UNICAST or RIB_IPV6_UNICAST
// record, or the _ADDPATH subtype when an entry has a path identifier or
// w.AddPath is set. Attributes are encoded with 4-byte ASNs; an IPv6 next
// hop goes in the abbreviated MP_REACH_NLRI of RFC 6396 section 4.3.4. A
// record may exceed 64 KiB; it holds at most 65535 entries.
func (w *Writer) WriteRIB(t time.Time, seq uint32, prefix netip.Prefix, entries []RIBEntryOut) error {
	if !prefix.IsValid() {
		return errors.New("mrt: RIB record: invalid prefix")
	}
	if len(entries) > 0xffff {
		return fmt.Errorf("mrt: RIB record for %s: %d entries, at most 65535", prefix, len(entries))
	}
	addPath := w.AddPath
	for i := range entries {
		if entries[i].PathID != 0 {
			addPath = true
			break
		}
	}
	var sub uint16
	switch {
	case prefix.Addr().Is4() && addPath:
		sub = RIBIPv4UnicastAddPath
	case prefix.Addr().Is4():
		sub = RIBIPv4Unicast
	case addPath:
		sub = RIBIPv6UnicastAddPath
	default:
		sub = RIBIPv6Unicast
	}
	w.beginRecord(t, TypeTableDumpV2, sub)
	b := binary.BigEndian.AppendUint32(w.rec, seq)
	b = appendPrefix(b, prefix.Masked())
	b = binary.BigEndian.AppendUint16(b, uint16(len(entries)))
	mp := MPAttrs{RIB: true}
	for i := range entries {
		e := &entries[i]
		b = binary.BigEndian.AppendUint16(b, e.PeerIndex)
		b = binary.BigEndian.AppendUint32(b, uint32(e.Originated.Unix()))
		if addPath {
			b = binary.BigEndian.AppendUint32(b, e.PathID)
		}
		lenAt := len(b)
		b = append(b, 0, 0)
		var err error
		if e.Attrs != nil {
			b, err = AppendAttrs(b, e.Attrs, true, &mp)
			if err != nil {
				w.rec = b[:0]
				return fmt.Errorf("mrt: RIB record for %s, entry %d: %w", prefix, i, err)
			}
		}
		al := len(b) - lenAt - 2
		if al > 0xffff {
			w.rec = b[:0]
			return fmt.Errorf("mrt: RIB record for %s, entry %d: %d bytes of attributes, at most 65535", prefix, i, al)
		}
		binary.BigEndian.PutUint16(b[lenAt:], uint16(al))
	}
	w.rec = b
	return w.endRecord()
}

// appendPrefix appends p in the length-prefixed NLRI form.
func appendPrefix(b []byte, p netip.Prefix) []byte {
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

// prefixLen returns the encoded length of p.
func prefixLen(p netip.Prefix) int { return 1 + (p.Bits()+7)/8 }

// WriteUpdate writes a BGP UPDATE from peer as BGP4MP_ET MESSAGE_AS4
// records (microsecond timestamps, 4-byte ASNs). local is the collector's
// address (the zero address of the peer's family when invalid) and localAS
// its AS. IPv4 prefixes go in the UPDATE's classic fields, IPv6 ones in
// MP_REACH_NLRI and MP_UNREACH_NLRI; an IPv4 announcement with an IPv6 next
// hop goes in MP_REACH_NLRI too (RFC 8950). Each family goes in its own
// messages, and an update larger than the 4096-byte BGP maximum is split in
// several. attrs may be nil when nothing is announced; with no prefixes at
// all, one empty UPDATE (an End-of-RIB marker) is written.
func (w *Writer) WriteUpdate(t time.Time, peer bgp.Peer, local netip.Addr, localAS bgp.ASN, withdrawn []netip.Prefix, attrs *bgp.Attrs, announced []netip.Prefix) error {
	w.nl4w, w.nl6w = splitFamilies(w.nl4w[:0], w.nl6w[:0], withdrawn)
	w.nl4a, w.nl6a = splitFamilies(w.nl4a[:0], w.nl6a[:0], announced)
	return w.writeUpdate(t, peer, local, localAS, attrs, false)
}

// WriteUpdateAddPath is WriteUpdate for a session with ADD-PATH (RFC 7911):
// it writes BGP4MP_ET MESSAGE_AS4_ADDPATH records whose NLRI carry the path
// identifiers of withdrawn and announced.
func (w *Writer) WriteUpdateAddPath(t time.Time, peer bgp.Peer, local netip.Addr, localAS bgp.ASN, withdrawn []NLRI, attrs *bgp.Attrs, announced []NLRI) error {
	w.nl4w, w.nl6w = splitNLRI(w.nl4w[:0], w.nl6w[:0], withdrawn)
	w.nl4a, w.nl6a = splitNLRI(w.nl4a[:0], w.nl6a[:0], announced)
	return w.writeUpdate(t, peer, local, localAS, attrs, true)
}

func splitFamilies(v4, v6 []NLRI, ps []netip.Prefix) ([]NLRI, []NLRI) {
	for _, p := range ps {
		if p.Addr().Is4() {
			v4 = append(v4, NLRI{Prefix: p.Masked()})
		} else {
			v6 = append(v6, NLRI{Prefix: p.Masked()})
		}
	}
	return v4, v6
}

func splitNLRI(v4, v6 []NLRI, ns []NLRI) ([]NLRI, []NLRI) {
	for _, n := range ns {
		n.Prefix = n.Prefix.Masked()
		if n.Prefix.Addr().Is4() {
			v4 = append(v4, n)
		} else {
			v6 = append(v6, n)
		}
	}
	return v4, v6
}

// writeUpdate writes the updates for the NLRI split in w.nl4w, w.nl4a,
// w.nl6w and w.nl6a.
func (w *Writer) writeUpdate(t time.Time, peer bgp.Peer, local netip.Addr, localAS bgp.ASN, attrs *bgp.Attrs, addPath bool) error {
	for _, n := range [][]NLRI{w.nl4w, w.nl4a, w.nl6w, w.nl6a} {
		for _, x := range n {
			if !x.Prefix.IsValid() {
				return fmt.Errorf("mrt: update from %s: invalid prefix", peer.Addr)
			}
		}
	}
	if (len(w.nl4a) > 0 || len(w.nl6a) > 0) && attrs == nil {
		return fmt.Errorf("mrt: update from %s: announcements without attributes", peer.Addr)
	}
	sub := BGP4MPMessageAS4
	if addPath {
		sub = BGP4MPMessageAS4AddPath
	}
	wrote := false
	if len(w.nl4w) > 0 || len(w.nl4a) > 0 {
		// Classic fields, unless an IPv4 route needs an IPv6 next hop.
		mp := len(w.nl4a) > 0 && attrs.NextHop.IsValid() && !attrs.NextHop.Is4()
		if err := w.writeFamily(t, peer, local, localAS, sub, attrs, w.nl4w, w.nl4a, AFIIPv4, mp, addPath); err != nil {
			return err
		}
		wrote = true
	}
	if len(w.nl6w) > 0 || len(w.nl6a) > 0 {
		if err := w.writeFamily(t, peer, local, localAS, sub, attrs, w.nl6w, w.nl6a, AFIIPv6, true, addPath); err != nil {
			return err
		}
		wrote = true
	}
	if !wrote {
		return w.writeMessage(t, peer, local, localAS, sub, attrs, nil, nil, AFIIPv4, false, addPath)
	}
	return nil
}

// nlriLen returns the encoded length of n.
func nlriLen(n NLRI, addPath bool) int {
	l := prefixLen(n.Prefix)
	if addPath {
		l += 4
	}
	return l
}

// writeFamily writes the withdrawn and announced routes of one family in as
// many messages as the 4096-byte limit needs. mp says whether they go in
// MP_(UN)REACH_NLRI rather than in the classic fields.
func (w *Writer) writeFamily(t time.Time, peer bgp.Peer, local netip.Addr, localAS bgp.ASN, sub uint16, attrs *bgp.Attrs, wd, ann []NLRI, afi uint16, mp, addPath bool) error {
	// The size of the attributes with no MP NLRI, to budget each message.
	base := 0
	if len(ann) > 0 {
		var err error
		mpa := MPAttrs{}
		if mp {
			mpa.ReachAFI = afi
		}
		w.attr, err = AppendAttrs(w.attr[:0], attrs, true, &mpa)
		if err != nil {
			return fmt.Errorf("mrt: update from %s: %w", peer.Addr, err)
		}
		base = len(w.attr)
		if mp {
			base++ // MP_REACH_NLRI may need the extended length
		}
	}
	// Room for withdrawn + attributes + NLRI in one message, with the
	// headers of MP_UNREACH (4+3 bytes) counted when used.
	const room = MaxMessageLen - bgpHeaderLen - 4
	for len(wd) > 0 || len(ann) > 0 {
		left := room
		if mp && len(wd) > 0 {
			left -= 7
		}
		nw := 0
		for nw < len(wd) && nlriLen(wd[nw], addPath) <= left {
			left -= nlriLen(wd[nw], addPath)
			nw++
		}
		na := 0
		if len(ann) > 0 && left >= base+nlriLen(ann[0], addPath) {
			left -= base
			for na < len(ann) && nlriLen(ann[na], addPath) <= left {
				left -= nlriLen(ann[na], addPath)
				na++
			}
		}
		if nw == 0 && na == 0 {
			return fmt.Errorf("mrt: update from %s: %d bytes of attributes leave no room for a prefix in a %d-byte message", peer.Addr, base, MaxMessageLen)
		}
		var a *bgp.Attrs
		if na > 0 {
			a = attrs
		}
		if err := w.writeMessage(t, peer, local, localAS, sub, a, wd[:nw], ann[:na], afi, mp, addPath); err != nil {
			return err
		}
		wd, ann = wd[nw:], ann[na:]
	}
	return nil
}

// writeMessage writes one BGP4MP_ET record holding one UPDATE.
func (w *Writer) writeMessage(t time.Time, peer bgp.Peer, local netip.Addr, localAS bgp.ASN, sub uint16, attrs *bgp.Attrs, wd, ann []NLRI, afi uint16, mp, addPath bool) error {
	w.beginRecord(t, TypeBGP4MPET, sub)
	b, err := appendBGP4MPHeader(w.rec, peer, local, localAS)
	if err != nil {
		w.rec = b[:0]
		return err
	}
	msgAt := len(b)
	for range 16 {
		b = append(b, 0xff)
	}
	b = append(b, 0, 0, MsgUpdate)
	// Withdrawn routes.
	wAt := len(b)
	b = append(b, 0, 0)
	if !mp {
		b = appendNLRIs(b, wd, addPath)
	}
	binary.BigEndian.PutUint16(b[wAt:], uint16(len(b)-wAt-2))
	// Path attributes.
	aAt := len(b)
	b = append(b, 0, 0)
	mpa := MPAttrs{}
	if mp {
		if len(wd) > 0 {
			mpa.UnreachAFI = afi
			w.mpw = appendNLRIs(w.mpw[:0], wd, addPath)
			mpa.UnreachNLRI = w.mpw
		}
		if len(ann) > 0 {
			mpa.ReachAFI = afi
			w.mpa = appendNLRIs(w.mpa[:0], ann, addPath)
			mpa.ReachNLRI = w.mpa
		}
	}
	if attrs != nil {
		b, err = AppendAttrs(b, attrs, true, &mpa)
	} else if mpa.UnreachAFI != 0 {
		b, err = AppendAttrs(b, &noAttrs, true, &mpa)
	}
	if err != nil {
		w.rec = b[:0]
		return fmt.Errorf("mrt: update from %s: %w", peer.Addr, err)
	}
	binary.BigEndian.PutUint16(b[aAt:], uint16(len(b)-aAt-2))
	if !mp {
		b = appendNLRIs(b, ann, addPath)
	}
	if n := len(b) - msgAt; n > MaxMessageLen {
		w.rec = b[:0]
		return fmt.Errorf("mrt: update from %s: message of %d bytes exceeds %d", peer.Addr, n, MaxMessageLen)
	}
	binary.BigEndian.PutUint16(b[msgAt+16:], uint16(len(b)-msgAt))
	w.rec = b
	return w.endRecord()
}

func appendNLRIs(b []byte, ns []NLRI, addPath bool) []byte {
	for _, n := range ns {
		if addPath {
			b = binary.BigEndian.AppendUint32(b, n.PathID)
		}
		b = appendPrefix(b, n.Prefix)
	}
	return b
}

// appendBGP4MPHeader appends the AS4 header of a BGP4MP message or state
// change.
func appendBGP4MPHeader(b []byte, peer bgp.Peer, local netip.Addr, localAS bgp.ASN) ([]byte, error) {
	if !peer.Addr.IsValid() {
		return b, errors.New("mrt: BGP4MP: peer has no address")
	}
	afi := AFIIPv4
	if !local.IsValid() {
		local = netip.IPv4Unspecified()
		if peer.Addr.Is6() {
			local = netip.IPv6Unspecified()
		}
	}
	if peer.Addr.Is6() {
		afi = AFIIPv6
	}
	if peer.Addr.Is6() != local.Is6() {
		return b, fmt.Errorf("mrt: BGP4MP: peer address %s and local address %s of different families", peer.Addr, local)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(peer.AS))
	b = binary.BigEndian.AppendUint32(b, uint32(localAS))
	b = binary.BigEndian.AppendUint16(b, 0) // interface index
	b = binary.BigEndian.AppendUint16(b, afi)
	b = appendAddr(b, peer.Addr)
	return appendAddr(b, local), nil
}

// WriteStateChange writes a BGP4MP_ET STATE_CHANGE_AS4 record: peer's
// session went from old to new.
func (w *Writer) WriteStateChange(t time.Time, peer bgp.Peer, local netip.Addr, localAS bgp.ASN, old, new bgp.State) error {
	w.beginRecord(t, TypeBGP4MPET, BGP4MPStateChangeAS4)
	b, err := appendBGP4MPHeader(w.rec, peer, local, localAS)
	if err != nil {
		w.rec = b[:0]
		return err
	}
	b = binary.BigEndian.AppendUint16(b, uint16(old))
	b = binary.BigEndian.AppendUint16(b, uint16(new))
	w.rec = b
	return w.endRecord()
}

// MPAttrs say which multiprotocol attributes AppendAttrs writes, and so
// where the next hop goes.
type MPAttrs struct {
	// RIB selects the TABLE_DUMP_V2 form: a next hop that is not IPv4 goes
	// in an abbreviated MP_REACH_NLRI (next hop length and next hop only).
	RIB bool
	// ReachAFI, when not zero, writes MP_REACH_NLRI for that family (SAFI
	// unicast) with the next hop and ReachNLRI (encoded prefixes), instead
	// of NEXT_HOP.
	ReachAFI  uint16
	ReachNLRI []byte
	// UnreachAFI, when not zero, writes MP_UNREACH_NLRI with UnreachNLRI.
	UnreachAFI  uint16
	UnreachNLRI []byte
}

// Attribute flags (RFC 4271 section 4.3).
const (
	flagOptional   = 0x80
	flagTransitive = 0x40
	flagExtended   = 0x10
)

// appendAttr appends one attribute header for a value of n bytes, with the
// extended length flag when n > 255.
func appendAttrHeader(b []byte, flags uint8, typ bgp.AttrType, n int) []byte {
	if n > 255 {
		return append(b, flags|flagExtended, byte(typ), byte(n>>8), byte(n))
	}
	return append(b, flags&^flagExtended, byte(typ), byte(n))
}

// noAttrs is the empty attribute set of a withdrawal-only update.
var noAttrs bgp.Attrs

// errAttrTooLong reports an attribute value beyond 65535 bytes.
var errAttrTooLong = errors.New("attribute value longer than 65535 bytes")

// AppendAttrs appends the path attributes of a to b and returns the
// extended buffer. It writes the attributes marked present in a.Present, and
// AS_PATH and the next hop whenever they are set, in type order, followed by
// a.Unknown as they are (with the extended length flag fixed to fit):
// ORIGIN, AS_PATH (segments of over 255 ASNs split), NEXT_HOP (or the
// MP_REACH_NLRI that mp asks for), MED, LOCAL_PREF, ATOMIC_AGGREGATE,
// AGGREGATOR, COMMUNITIES, MP_REACH_NLRI, MP_UNREACH_NLRI, LARGE_COMMUNITIES.
//
// With as4, AS_PATH and AGGREGATOR carry 4-byte ASNs. Without, they carry
// 2-byte ones, with AS_TRANS in place of larger ASNs and the true path and
// aggregator in AS4_PATH and AS4_AGGREGATOR (RFC 6793). The present bits of
// MP_REACH_NLRI, MP_UNREACH_NLRI, AS4_PATH and AS4_AGGREGATOR are ignored:
// mp and as4 decide those. mp may be nil (classic IPv4 NEXT_HOP).
func AppendAttrs(b []byte, a *bgp.Attrs, as4 bool, mp *MPAttrs) ([]byte, error) {
	if mp == nil {
		mp = &MPAttrs{}
	}
	if a.Has(bgp.AttrOrigin) {
		b = append(b, flagTransitive, byte(bgp.AttrOrigin), 1, byte(a.Origin))
	}
	needAS4 := false
	if a.Has(bgp.AttrASPath) || len(a.Path.Segments) > 0 {
		var err error
		b, needAS4, err = appendPathAttr(b, bgp.AttrASPath, flagTransitive, a.Path, as4)
		if err != nil {
			return b, err
		}
	}
	nh := a.NextHop
	if mp.ReachAFI == 0 && nh.Is4() {
		v := nh.As4()
		b = append(b, flagTransitive, byte(bgp.AttrNextHop), 4, v[0], v[1], v[2], v[3])
	}
	if a.Has(bgp.AttrMED) {
		b = append(b, flagOptional, byte(bgp.AttrMED), 4)
		b = binary.BigEndian.AppendUint32(b, a.MED)
	}
	if a.Has(bgp.AttrLocalPref) {
		b = append(b, flagTransitive, byte(bgp.AttrLocalPref), 4)
		b = binary.BigEndian.AppendUint32(b, a.LocalPref)
	}
	if a.Has(bgp.AttrAtomicAggregate) {
		b = append(b, flagTransitive, byte(bgp.AttrAtomicAggregate), 0)
	}
	aggAS4 := false
	if a.Has(bgp.AttrAggregator) {
		addr := a.Aggregator.Addr
		if !addr.Is4() {
			addr = netip.IPv4Unspecified()
		}
		v := addr.As4()
		if as4 {
			b = append(b, flagOptional|flagTransitive, byte(bgp.AttrAggregator), 8)
			b = binary.BigEndian.AppendUint32(b, uint32(a.Aggregator.AS))
		} else {
			as := a.Aggregator.AS
			if as.Is4Byte() {
				as, aggAS4 = bgp.ASTrans, true
			}
			b = append(b, flagOptional|flagTransitive, byte(bgp.AttrAggregator), 6)
			b = binary.BigEndian.AppendUint16(b, uint16(as))
		}
		b = append(b, v[:]...)
	}
	if a.Has(bgp.AttrCommunities) || len(a.Communities) > 0 {
		n := 4 * len(a.Communities)
		if n > 0xffff {
			return b, fmt.Errorf("COMMUNITIES: %w", errAttrTooLong)
		}
		b = appendAttrHeader(b, flagOptional|flagTransitive, bgp.AttrCommunities, n)
		for _, c := range a.Communities {
			b = binary.BigEndian.AppendUint32(b, uint32(c))
		}
	}
	switch {
	case mp.ReachAFI != 0:
		nhl := 0
		switch {
		case nh.Is4():
			nhl = 4
		case nh.Is6() && a.LinkLocalNextHop.IsValid():
			nhl = 32
		case nh.Is6():
			nhl = 16
		}
		n := 5 + nhl + len(mp.ReachNLRI)
		if n > 0xffff {
			return b, fmt.Errorf("MP_REACH_NLRI: %w", errAttrTooLong)
		}
		b = appendAttrHeader(b, flagOptional, bgp.AttrMPReach, n)
		b = binary.BigEndian.AppendUint16(b, mp.ReachAFI)
		b = append(b, SAFIUnicast, byte(nhl))
		if nhl > 0 {
			b = appendAddr(b, nh)
		}
		if nhl == 32 {
			b = appendAddr(b, a.LinkLocalNextHop)
		}
		b = append(b, 0) // reserved
		b = append(b, mp.ReachNLRI...)
	case mp.RIB && nh.Is6():
		nhl := 16
		if a.LinkLocalNextHop.IsValid() {
			nhl = 32
		}
		b = append(b, flagOptional, byte(bgp.AttrMPReach), byte(nhl+1), byte(nhl))
		b = appendAddr(b, nh)
		if nhl == 32 {
			b = appendAddr(b, a.LinkLocalNextHop)
		}
	}
	if mp.UnreachAFI != 0 {
		n := 3 + len(mp.UnreachNLRI)
		if n > 0xffff {
			return b, fmt.Errorf("MP_UNREACH_NLRI: %w", errAttrTooLong)
		}
		b = appendAttrHeader(b, flagOptional, bgp.AttrMPUnreach, n)
		b = binary.BigEndian.AppendUint16(b, mp.UnreachAFI)
		b = append(b, SAFIUnicast)
		b = append(b, mp.UnreachNLRI...)
	}
	if needAS4 {
		var err error
		b, _, err = appendPathAttr(b, bgp.AttrAS4Path, flagOptional|flagTransitive, a.Path, true)
		if err != nil {
			return b, err
		}
	}
	if aggAS4 {
		addr := a.Aggregator.Addr
		if !addr.Is4() {
			addr = netip.IPv4Unspecified()
		}
		v := addr.As4()
		b = append(b, flagOptional|flagTransitive, byte(bgp.AttrAS4Aggregator), 8)
		b = binary.BigEndian.AppendUint32(b, uint32(a.Aggregator.AS))
		b = append(b, v[:]...)
	}
	if a.Has(bgp.AttrLargeCommunities) || len(a.LargeCommunities) > 0 {
		n := 12 * len(a.LargeCommunities)
		if n > 0xffff {
			return b, fmt.Errorf("LARGE_COMMUNITIES: %w", errAttrTooLong)
		}
		b = appendAttrHeader(b, flagOptional|flagTransitive, bgp.AttrLargeCommunities, n)
		for _, c := range a.LargeCommunities {
			b = binary.BigEndian.AppendUint32(b, c.Global)
			b = binary.BigEndian.AppendUint32(b, c.Local1)
			b = binary.BigEndian.AppendUint32(b, c.Local2)
		}
	}
	for _, u := range a.Unknown {
		if len(u.Value) > 0xffff {
			return b, fmt.Errorf("attribute %d: %w", u.Type, errAttrTooLong)
		}
		b = appendAttrHeader(b, u.Flags, u.Type, len(u.Value))
		b = append(b, u.Value...)
	}
	return b, nil
}

// appendPathAttr appends an AS_PATH or AS4_PATH attribute. Without as4 it
// writes AS_TRANS for 4-byte ASNs and reports that an AS4_PATH is needed.
func appendPathAttr(b []byte, typ bgp.AttrType, flags uint8, p bgp.Path, as4 bool) ([]byte, bool, error) {
	w := 2
	if as4 {
		w = 4
	}
	n := 0
	for _, s := range p.Segments {
		for rest := len(s.ASNs); ; rest -= 255 {
			c := min(rest, 255)
			n += 2 + c*w
			if rest <= 255 {
				break
			}
		}
	}
	if n > 0xffff {
		return b, false, fmt.Errorf("attribute %d: %w", typ, errAttrTooLong)
	}
	b = appendAttrHeader(b, flags, typ, n)
	trans := false
	for _, s := range p.Segments {
		asns := s.ASNs
		for {
			c := min(len(asns), 255)
			b = append(b, byte(s.Type), byte(c))
			for _, a := range asns[:c] {
				if as4 {
					b = binary.BigEndian.AppendUint32(b, uint32(a))
				} else {
					if a.Is4Byte() {
						a, trans = bgp.ASTrans, true
					}
					b = binary.BigEndian.AppendUint16(b, uint16(a))
				}
			}
			asns = asns[c:]
			if len(asns) == 0 {
				break
			}
		}
	}
	return b, trans, nil
}
