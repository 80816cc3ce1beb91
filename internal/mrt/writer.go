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
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// Writer writes MRT records: TABLE_DUMP_V2 RIB dumps and BGP4MP_ET updates
// and state changes. It buffers its output; call Flush at the end. Once its
// buffers have grown, writing a record allocates nothing.
//
// Writer is meant for tests and for the scenario generator: it writes what
// it is given, in the form public collectors use (4-byte ASNs throughout,
// microsecond timestamps for updates), and does not validate BGP semantics.
type Writer struct {
	bw   *bufio.Writer
	rec  []byte      // the record being built, header included
	attr []byte      // an encoded attribute block
	nl4w []wire.NLRI // scratch NLRI of WriteUpdate, by family and direction
	nl4a []wire.NLRI
	nl6w []wire.NLRI
	nl6a []wire.NLRI
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
	Attrs      *bgp.Attrs // the route's attributes (see wire.AppendAttrs)
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
	b = wire.AppendPrefix(b, prefix.Masked())
	b = binary.BigEndian.AppendUint16(b, uint16(len(entries)))
	mp := wire.MPAttrs{RIB: true}
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
			b, err = wire.AppendAttrs(b, e.Attrs, true, &mp)
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
func (w *Writer) WriteUpdateAddPath(t time.Time, peer bgp.Peer, local netip.Addr, localAS bgp.ASN, withdrawn []wire.NLRI, attrs *bgp.Attrs, announced []wire.NLRI) error {
	w.nl4w, w.nl6w = splitNLRI(w.nl4w[:0], w.nl6w[:0], withdrawn)
	w.nl4a, w.nl6a = splitNLRI(w.nl4a[:0], w.nl6a[:0], announced)
	return w.writeUpdate(t, peer, local, localAS, attrs, true)
}

func splitFamilies(v4, v6 []wire.NLRI, ps []netip.Prefix) ([]wire.NLRI, []wire.NLRI) {
	for _, p := range ps {
		if p.Addr().Is4() {
			v4 = append(v4, wire.NLRI{Prefix: p.Masked()})
		} else {
			v6 = append(v6, wire.NLRI{Prefix: p.Masked()})
		}
	}
	return v4, v6
}

func splitNLRI(v4, v6 []wire.NLRI, ns []wire.NLRI) ([]wire.NLRI, []wire.NLRI) {
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
	for _, n := range [][]wire.NLRI{w.nl4w, w.nl4a, w.nl6w, w.nl6a} {
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
		if err := w.writeFamily(t, peer, local, localAS, sub, attrs, w.nl4w, w.nl4a, wire.AFIIPv4, mp, addPath); err != nil {
			return err
		}
		wrote = true
	}
	if len(w.nl6w) > 0 || len(w.nl6a) > 0 {
		if err := w.writeFamily(t, peer, local, localAS, sub, attrs, w.nl6w, w.nl6a, wire.AFIIPv6, true, addPath); err != nil {
			return err
		}
		wrote = true
	}
	if !wrote {
		return w.writeMessage(t, peer, local, localAS, sub, attrs, nil, nil, wire.AFIIPv4, false, addPath)
	}
	return nil
}

// writeFamily writes the withdrawn and announced routes of one family in as
// many messages as the 4096-byte limit needs. mp says whether they go in
// MP_(UN)REACH_NLRI rather than in the classic fields.
func (w *Writer) writeFamily(t time.Time, peer bgp.Peer, local netip.Addr, localAS bgp.ASN, sub uint16, attrs *bgp.Attrs, wd, ann []wire.NLRI, afi uint16, mp, addPath bool) error {
	// The size of the attributes with no MP NLRI, to budget each message.
	base := 0
	if len(ann) > 0 {
		var err error
		mpa := wire.MPAttrs{}
		if mp {
			mpa.ReachAFI = afi
		}
		w.attr, err = wire.AppendAttrs(w.attr[:0], attrs, true, &mpa)
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
	const room = wire.MaxMessageLen - wire.HeaderLen - 4
	for len(wd) > 0 || len(ann) > 0 {
		left := room
		if mp && len(wd) > 0 {
			left -= 7
		}
		nw := 0
		for nw < len(wd) && wire.NLRILen(wd[nw], addPath) <= left {
			left -= wire.NLRILen(wd[nw], addPath)
			nw++
		}
		na := 0
		if len(ann) > 0 && left >= base+wire.NLRILen(ann[0], addPath) {
			left -= base
			for na < len(ann) && wire.NLRILen(ann[na], addPath) <= left {
				left -= wire.NLRILen(ann[na], addPath)
				na++
			}
		}
		if nw == 0 && na == 0 {
			return fmt.Errorf("mrt: update from %s: %d bytes of attributes leave no room for a prefix in a %d-byte message", peer.Addr, base, wire.MaxMessageLen)
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
func (w *Writer) writeMessage(t time.Time, peer bgp.Peer, local netip.Addr, localAS bgp.ASN, sub uint16, attrs *bgp.Attrs, wd, ann []wire.NLRI, afi uint16, mp, addPath bool) error {
	w.beginRecord(t, TypeBGP4MPET, sub)
	b, err := appendBGP4MPHeader(w.rec, peer, local, localAS)
	if err != nil {
		w.rec = b[:0]
		return err
	}
	opt := wire.UpdateOptions{AS4: true, AddPath: addPath}
	if mp {
		opt.MPAFI = afi
	}
	b, err = wire.AppendUpdate(b, wd, attrs, ann, opt)
	if err != nil {
		w.rec = b[:0]
		return fmt.Errorf("mrt: update from %s: %w", peer.Addr, err)
	}
	w.rec = b
	return w.endRecord()
}

// appendBGP4MPHeader appends the AS4 header of a BGP4MP message or state
// change.
func appendBGP4MPHeader(b []byte, peer bgp.Peer, local netip.Addr, localAS bgp.ASN) ([]byte, error) {
	if !peer.Addr.IsValid() {
		return b, errors.New("mrt: BGP4MP: peer has no address")
	}
	afi := wire.AFIIPv4
	if !local.IsValid() {
		local = netip.IPv4Unspecified()
		if peer.Addr.Is6() {
			local = netip.IPv6Unspecified()
		}
	}
	if peer.Addr.Is6() {
		afi = wire.AFIIPv6
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
