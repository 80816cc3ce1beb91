package cluster

// The binary wire form of route events and table deltas.
//
// Written by hand, with no dependency: it is the hot path of the view
// workers and of every reader of the route stream (docs/cluster.md
// measured the view worker bound by CPU on the JSON form). Both
// messages start with a format tag that JSON can never start with (a
// UTF-8 continuation byte, 0x80-0xBF), so a reader tells the two apart
// by the first byte and still decodes the JSON messages a stream already
// holds; writers write the binary form only.
//
// Integers are varints (encoding/binary's Uvarint; signed ones zigzag),
// except communities (4 bytes, big-endian: they are mostly above 2^28).
// An address is a byte, 0 (none), 4 (4 bytes follow), 6 (16 bytes) or
// 7 (16 bytes, then the zone as a string); a string is its length then
// its bytes. A prefix is a byte, 0 (none), 4 or 6 (its address masked to
// its length: the length, then the ceil(length/8) bytes that hold it),
// 5 or 7 (with host bits: the length, then the whole address, 4 or 16
// bytes).
//
// Route event, version 1 (tag 0xA1):
//
//	tag kind flags time(zigzag unix ns) collector peer-addr peer-AS
//	[prefix] [path-id] [old-state new-state] [attrs]
//
// flags: 1 RIB, 2 SignalsReady, 4 Multicast, 8 attrs follow, 16 a
// prefix follows, 32 a path id follows, 64 states follow. attrs:
//
//	present origin path next-hop link-local-next-hop MED local-pref
//	aggregator-AS aggregator-addr communities large-communities unknown
//
// path: the segment count, then per segment its type, the AS count and
// the ASes; communities, large communities and unknown attributes: a
// count, then each (an unknown one: flags, type, the value as a string).
//
// Table delta, version 1 (tag 0xB1):
//
//	tag kind flags family size-v4 size-v6 before [old-path] [new-path]
//	[path-count paths route-count routes]
//
// flags: 1 old path, 2 new path, 4 Up, 8 Signals, 16 Loading IPv4, 32
// Loading IPv6, 64 NewPeer, 128 LongPath, 256 routes follow (the flags
// are a varint). A path is its AS count, its ASes and its origin. The
// routes are sorted by prefix (netip.Prefix.Compare), and each is its
// prefix and the index of its path in the delta's path table, from 1 in
// order of first use (0: no path), so the bytes are the same whoever
// makes them: the parts of a delta cut by two workers fit together.
//
// Decoding is bounded: every count is checked against the bytes left
// before anything is allocated, and every error names the byte offset.

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/partview"
)

// Format tags: the first byte of a binary message.
const (
	tagEventV1 = 0xA1
	tagDeltaV1 = 0xB1
)

const (
	evRIB = 1 << iota
	evSignalsReady
	evMulticast
	evAttrs
	evPrefix
	evPathID
	evStates
	evAllFlags = 1<<iota - 1
)

const (
	dOld = 1 << iota
	dNew
	dUp
	dSignals
	dLoading4
	dLoading6
	dNewPeer
	dLongPath
	dRoutes
	dAllFlags = 1<<iota - 1
)

// appendUvarint and the others append one field.
func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendVarint(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendAddr(b []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return append(b, 0)
	case a.Is4():
		x := a.As4()
		return append(append(b, 4), x[:]...)
	case a.Zone() != "":
		x := a.As16()
		return appendString(append(append(b, 7), x[:]...), a.Zone())
	}
	x := a.As16()
	return append(append(b, 6), x[:]...)
}

func appendPrefix(b []byte, p netip.Prefix) []byte {
	if !p.IsValid() {
		return append(b, 0)
	}
	a, bits := p.Addr(), p.Bits()
	masked := p.Masked().Addr() == a
	switch {
	case a.Is4() && masked:
		x := a.As4()
		return append(append(b, 4, byte(bits)), x[:(bits+7)/8]...)
	case a.Is4():
		x := a.As4()
		return append(append(b, 5, byte(bits)), x[:]...)
	case masked:
		x := a.As16()
		return append(append(b, 6, byte(bits)), x[:(bits+7)/8]...)
	}
	x := a.As16()
	return append(append(b, 7, byte(bits)), x[:]...)
}

// AppendEvent appends the binary wire form of ev to b.
func AppendEvent(b []byte, ev *bgp.Event) []byte {
	var flags byte
	if ev.RIB {
		flags |= evRIB
	}
	if ev.SignalsReady {
		flags |= evSignalsReady
	}
	if ev.Multicast {
		flags |= evMulticast
	}
	if ev.Attrs != nil {
		flags |= evAttrs
	}
	if ev.Prefix.IsValid() {
		flags |= evPrefix
	}
	if ev.PathID != 0 {
		flags |= evPathID
	}
	if ev.OldState != 0 || ev.NewState != 0 {
		flags |= evStates
	}
	b = append(b, tagEventV1, byte(ev.Kind), flags)
	b = appendVarint(b, ev.Time.UnixNano())
	b = appendString(b, ev.Peer.Collector)
	b = appendAddr(b, ev.Peer.Addr)
	b = appendUvarint(b, uint64(ev.Peer.AS))
	if flags&evPrefix != 0 {
		b = appendPrefix(b, ev.Prefix)
	}
	if flags&evPathID != 0 {
		b = appendUvarint(b, uint64(ev.PathID))
	}
	if flags&evStates != 0 {
		b = appendUvarint(appendUvarint(b, uint64(ev.OldState)), uint64(ev.NewState))
	}
	if a := ev.Attrs; a != nil {
		b = appendUvarint(b, a.Present)
		b = append(b, byte(a.Origin))
		b = appendUvarint(b, uint64(len(a.Path.Segments)))
		for _, s := range a.Path.Segments {
			b = append(b, byte(s.Type))
			b = appendUvarint(b, uint64(len(s.ASNs)))
			for _, as := range s.ASNs {
				b = appendUvarint(b, uint64(as))
			}
		}
		b = appendAddr(b, a.NextHop)
		b = appendAddr(b, a.LinkLocalNextHop)
		b = appendUvarint(b, uint64(a.MED))
		b = appendUvarint(b, uint64(a.LocalPref))
		b = appendUvarint(b, uint64(a.Aggregator.AS))
		b = appendAddr(b, a.Aggregator.Addr)
		b = appendUvarint(b, uint64(len(a.Communities)))
		for _, c := range a.Communities {
			b = binary.BigEndian.AppendUint32(b, uint32(c))
		}
		b = appendUvarint(b, uint64(len(a.LargeCommunities)))
		for _, c := range a.LargeCommunities {
			b = appendUvarint(appendUvarint(appendUvarint(b, uint64(c.Global)), uint64(c.Local1)), uint64(c.Local2))
		}
		b = appendUvarint(b, uint64(len(a.Unknown)))
		for _, u := range a.Unknown {
			b = append(b, u.Flags, byte(u.Type))
			b = appendUvarint(b, uint64(len(u.Value)))
			b = append(b, u.Value...)
		}
	}
	return b
}

// reader reads the fields of a binary message; the first error sticks
// and names the byte offset it was met at.
type reader struct {
	what string // "route event", "table delta"
	b    []byte
	off  int
	err  error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: byte offset %d: %s", r.what, r.off, fmt.Sprintf(format, args...))
	}
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) byte1(field string) byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("%s: cut (%d bytes)", field, len(r.b))
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *reader) bytes(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n > r.left() {
		r.fail("%s: %d bytes, %d left", field, n, r.left())
		return nil
	}
	r.off += n
	return r.b[r.off-n : r.off]
}

func (r *reader) uvarint(field string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		if n == 0 {
			r.fail("%s: cut (%d bytes)", field, len(r.b))
		} else {
			r.fail("%s: varint overflows 64 bits", field)
		}
		return 0
	}
	r.off += n
	return v
}

// varint reads a zigzag varint (binary.AppendVarint's form).
func (r *reader) varint(field string) int64 {
	u := r.uvarint(field)
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// uint returns a varint of at most max.
func (r *reader) uint(field string, max uint64) uint64 {
	at := r.off
	v := r.uvarint(field)
	if v > max && r.err == nil {
		r.off = at
		r.fail("%s: %d is more than %d", field, v, max)
		return 0
	}
	return v
}

// count returns a count of items of at least size bytes each, no more
// than the bytes left can hold.
func (r *reader) count(field string, size int) int {
	at := r.off
	v := r.uvarint(field)
	if r.err == nil && v > uint64(r.left()/size) {
		r.off = at
		r.fail("%s: count %d, but only %d bytes left", field, v, r.left())
		return 0
	}
	return int(v)
}

func (r *reader) str(field string) string {
	return string(r.strBytes(field))
}

// strBytes returns a string's bytes (aliasing the message).
func (r *reader) strBytes(field string) []byte {
	n := r.count(field, 1)
	return r.bytes(n, field)
}

func (r *reader) addr(field string) netip.Addr {
	at := r.off
	switch t := r.byte1(field); t {
	case 0:
		return netip.Addr{}
	case 4:
		x := r.bytes(4, field)
		if x == nil {
			return netip.Addr{}
		}
		return netip.AddrFrom4([4]byte(x))
	case 6, 7:
		x := r.bytes(16, field)
		if x == nil {
			return netip.Addr{}
		}
		a := netip.AddrFrom16([16]byte(x))
		if t == 7 {
			z := r.str(field)
			if z == "" && r.err == nil {
				r.off = at
				r.fail("%s: an empty zone", field)
			}
			a = a.WithZone(z)
		}
		return a
	default:
		if r.err == nil {
			r.off = at
			r.fail("%s: address type %d", field, t)
		}
	}
	return netip.Addr{}
}

func (r *reader) prefix(field string) netip.Prefix {
	at := r.off
	t := r.byte1(field)
	if t == 0 || r.err != nil {
		return netip.Prefix{}
	}
	bits := int(r.byte1(field))
	max, full := 32, 4
	if t == 6 || t == 7 {
		max, full = 128, 16
	}
	if t < 4 || t > 7 || bits > max {
		if r.err == nil {
			r.off = at
			r.fail("%s: prefix type %d length %d", field, t, bits)
		}
		return netip.Prefix{}
	}
	n := full
	if t == 4 || t == 6 {
		n = (bits + 7) / 8
	}
	x := r.bytes(n, field)
	if x == nil {
		return netip.Prefix{}
	}
	var a netip.Addr
	if full == 4 {
		var y [4]byte
		copy(y[:], x)
		a = netip.AddrFrom4(y)
	} else {
		var y [16]byte
		copy(y[:], x)
		a = netip.AddrFrom16(y)
	}
	p := netip.PrefixFrom(a, bits)
	if masked := p.Masked().Addr() == a; masked != (t == 4 || t == 6) {
		r.off = at
		r.fail("%s: prefix type %d, but %s", field, t, map[bool]string{true: "no host bits", false: "host bits set"}[masked])
		return netip.Prefix{}
	}
	return p
}

func (r *reader) end() {
	if r.err == nil && r.off != len(r.b) {
		r.fail("%d bytes after the end of the message", len(r.b)-r.off)
	}
}

// eventDecoder keeps what a reader of many route events reuses: the
// attributes (an event stays valid until the next one is decoded) and
// the last collector name.
type eventDecoder struct {
	attrs     bgp.Attrs
	collector string
}

// decodeBinaryEvent decodes a route event of the binary form, into
// dec's attributes (nil: new ones).
func decodeBinaryEvent(b []byte, dec *eventDecoder) (bgp.Event, error) {
	r := &reader{what: "route event", b: b}
	var ev bgp.Event
	if tag := r.byte1("tag"); tag != tagEventV1 {
		r.off = 0
		r.fail("format tag %#x, not %#x (binary route event, version 1)", tag, tagEventV1)
		return ev, r.err
	}
	at := r.off
	ev.Kind = bgp.EventKind(r.byte1("kind"))
	if r.err == nil && (ev.Kind < bgp.Announce || ev.Kind > bgp.EndOfRIB) {
		r.off = at
		r.fail("kind %d", ev.Kind)
	}
	at = r.off
	flags := r.byte1("flags")
	if r.err == nil && flags&^evAllFlags != 0 {
		r.off = at
		r.fail("unknown flags %#x", flags&^evAllFlags)
	}
	ev.RIB, ev.SignalsReady, ev.Multicast = flags&evRIB != 0, flags&evSignalsReady != 0, flags&evMulticast != 0
	ev.Time = time.Unix(0, r.varint("time")).UTC()
	if c := r.strBytes("collector"); dec != nil {
		if string(c) != dec.collector {
			dec.collector = string(c)
		}
		ev.Peer.Collector = dec.collector
	} else {
		ev.Peer.Collector = string(c)
	}
	ev.Peer.Addr = r.addr("peer address")
	ev.Peer.AS = bgp.ASN(r.uint("peer AS", math.MaxUint32))
	if flags&evPrefix != 0 {
		at = r.off
		ev.Prefix = r.prefix("prefix")
		if r.err == nil && !ev.Prefix.IsValid() {
			r.off = at
			r.fail("prefix flagged but absent")
		}
	}
	if flags&evPathID != 0 {
		ev.PathID = uint32(r.uint("path id", math.MaxUint32))
	}
	if flags&evStates != 0 {
		ev.OldState = bgp.State(r.uint("old state", math.MaxUint16))
		ev.NewState = bgp.State(r.uint("new state", math.MaxUint16))
	}
	if flags&evAttrs != 0 {
		attrs := &bgp.Attrs{}
		if dec != nil {
			attrs = &dec.attrs
			attrs.Reset()
		}
		r.attrs(attrs)
		ev.Attrs = attrs
	}
	r.end()
	if r.err == nil && ev.Kind != bgp.PeerState && !ev.Prefix.IsValid() {
		r.fail("%s without a prefix", ev.Kind)
	}
	if r.err != nil {
		return bgp.Event{}, r.err
	}
	if ev.Kind == bgp.Announce && ev.Attrs == nil {
		ev.Attrs = &bgp.Attrs{}
	}
	return ev, nil
}

// attrs reads the attributes into a (reset, its slices reused).
func (r *reader) attrs(a *bgp.Attrs) {
	a.Present = r.uvarint("attributes present")
	a.Origin = bgp.Origin(r.byte1("origin"))
	if n := r.count("path segments", 2); n > 0 {
		a.Path.Segments = slices.Grow(a.Path.Segments[:0], n)
		for range n {
			t := bgp.SegmentType(r.byte1("segment type"))
			k := r.count("segment ASes", 1)
			if r.err != nil {
				return
			}
			// The segment's ASes go after those of the previous ones in
			// one backing array when there is room (reused slices).
			var asns []bgp.ASN
			if i := len(a.Path.Segments); i < cap(a.Path.Segments) {
				asns = a.Path.Segments[:i+1][i].ASNs[:0]
			}
			asns = slices.Grow(asns, k)
			for range k {
				asns = append(asns, bgp.ASN(r.uint("AS", math.MaxUint32)))
			}
			a.Path.Segments = append(a.Path.Segments, bgp.Segment{Type: t, ASNs: asns})
		}
	}
	a.NextHop = r.addr("next hop")
	a.LinkLocalNextHop = r.addr("link-local next hop")
	a.MED = uint32(r.uint("MED", math.MaxUint32))
	a.LocalPref = uint32(r.uint("LOCAL_PREF", math.MaxUint32))
	a.Aggregator.AS = bgp.ASN(r.uint("aggregator AS", math.MaxUint32))
	a.Aggregator.Addr = r.addr("aggregator address")
	if n := r.count("communities", 4); n > 0 {
		x := r.bytes(4*n, "communities")
		a.Communities = slices.Grow(a.Communities[:0], n)
		for i := 0; i+4 <= len(x); i += 4 {
			a.Communities = append(a.Communities, bgp.Community(binary.BigEndian.Uint32(x[i:])))
		}
	}
	if n := r.count("large communities", 3); n > 0 {
		a.LargeCommunities = slices.Grow(a.LargeCommunities[:0], n)
		for range n {
			g := uint32(r.uint("large community", math.MaxUint32))
			l1 := uint32(r.uint("large community", math.MaxUint32))
			l2 := uint32(r.uint("large community", math.MaxUint32))
			if r.err != nil {
				return
			}
			a.LargeCommunities = append(a.LargeCommunities, bgp.LargeCommunity{Global: g, Local1: l1, Local2: l2})
		}
	}
	if n := r.count("unknown attributes", 3); n > 0 {
		a.Unknown = make([]bgp.RawAttr, 0, n) // not reused: the values are copied out of the message
		for range n {
			f, t := r.byte1("attribute flags"), bgp.AttrType(r.byte1("attribute type"))
			v := r.bytes(r.count("attribute length", 1), "attribute value")
			if r.err != nil {
				return
			}
			a.Unknown = append(a.Unknown, bgp.RawAttr{Flags: f, Type: t, Value: slices.Clone(v)})
		}
	}
}

func appendPath(b []byte, p *partview.Path) []byte {
	b = appendUvarint(b, uint64(len(p.ASes)))
	for _, a := range p.ASes {
		b = appendUvarint(b, uint64(a))
	}
	return appendUvarint(b, uint64(p.Origin))
}

// appendDelta appends the binary wire form of d to b.
func appendDelta(b []byte, d *partview.Delta) []byte {
	var flags uint64
	for _, f := range []struct {
		on  bool
		bit uint64
	}{{d.Old != nil, dOld}, {d.New != nil, dNew}, {d.Up, dUp}, {d.Signals, dSignals}, {d.Loading[0], dLoading4},
		{d.Loading[1], dLoading6}, {d.NewPeer, dNewPeer}, {d.LongPath, dLongPath}, {len(d.Routes) > 0, dRoutes}} {
		if f.on {
			flags |= f.bit
		}
	}
	b = append(b, tagDeltaV1, byte(d.Kind))
	b = appendUvarint(b, flags)
	b = append(b, byte(d.Family))
	b = appendVarint(appendVarint(appendVarint(b, int64(d.Size[0])), int64(d.Size[1])), int64(d.Before))
	if d.Old != nil {
		b = appendPath(b, d.Old)
	}
	if d.New != nil {
		b = appendPath(b, d.New)
	}
	if len(d.Routes) == 0 {
		return b
	}
	// In prefix order, the paths numbered by first use: the bytes are the
	// same whoever makes them, so the parts of a cut delta fit together
	// whichever worker sent each.
	rs := slices.Clone(d.Routes)
	slices.SortFunc(rs, func(x, y partview.PrefixPath) int { return x.Prefix.Compare(y.Prefix) })
	index := make(map[*partview.Path]uint64)
	var order []*partview.Path
	for _, r := range rs {
		if r.Path != nil && index[r.Path] == 0 {
			order = append(order, r.Path)
			index[r.Path] = uint64(len(order))
		}
	}
	// The same path under two pointers would make the bytes depend on
	// who made them: paths are interned per worker, but a delta put
	// together by hand may not be.
	byKey := make(map[string]uint64, len(order))
	var key []byte
	uniq := order[:0:0]
	for _, p := range order {
		key = appendPath(key[:0], p)
		if i, ok := byKey[string(key)]; ok {
			index[p] = i
			continue
		}
		uniq = append(uniq, p)
		byKey[string(key)] = uint64(len(uniq))
		index[p] = uint64(len(uniq))
	}
	b = appendUvarint(b, uint64(len(uniq)))
	for _, p := range uniq {
		b = appendPath(b, p)
	}
	b = appendUvarint(b, uint64(len(rs)))
	for _, r := range rs {
		b = appendPrefix(b, r.Prefix)
		b = appendUvarint(b, index[r.Path])
	}
	return b
}

func (r *reader) path(field string) *partview.Path {
	n := r.count(field, 1)
	if r.err != nil {
		return nil
	}
	p := &partview.Path{}
	if n > 0 {
		p.ASes = make([]bgp.ASN, n)
		for i := range n {
			p.ASes[i] = bgp.ASN(r.uint(field, math.MaxUint32))
		}
	}
	p.Origin = bgp.ASN(r.uint(field, math.MaxUint32))
	return p
}

// decodeBinaryDelta decodes a table delta of the binary form.
func decodeBinaryDelta(b []byte) (partview.Delta, error) {
	r := &reader{what: "table delta", b: b}
	var d partview.Delta
	if tag := r.byte1("tag"); tag != tagDeltaV1 {
		r.off = 0
		r.fail("format tag %#x, not %#x (binary table delta, version 1)", tag, tagDeltaV1)
		return d, r.err
	}
	at := r.off
	d.Kind = partview.DeltaKind(r.byte1("kind"))
	if r.err == nil && d.Kind > partview.Ready {
		r.off = at
		r.fail("kind %d", d.Kind)
	}
	at = r.off
	flags := r.uvarint("flags")
	if r.err == nil && flags&^dAllFlags != 0 {
		r.off = at
		r.fail("unknown flags %#x", flags&^dAllFlags)
	}
	d.Up, d.Signals, d.Loading = flags&dUp != 0, flags&dSignals != 0, [2]bool{flags&dLoading4 != 0, flags&dLoading6 != 0}
	d.NewPeer, d.LongPath = flags&dNewPeer != 0, flags&dLongPath != 0
	at = r.off
	d.Family = bgp.Family(r.byte1("family"))
	if r.err == nil && d.Family > bgp.IPv6 {
		r.off = at
		r.fail("family %d", d.Family)
	}
	d.Size[0] = r.int("IPv4 size")
	d.Size[1] = r.int("IPv6 size")
	d.Before = r.int("routes before")
	if flags&dOld != 0 {
		d.Old = r.path("old path")
	}
	if flags&dNew != 0 {
		d.New = r.path("new path")
	}
	if flags&dRoutes != 0 {
		paths := make([]*partview.Path, 1, 1+r.count("paths", 2))
		for i := 1; i < cap(paths) && r.err == nil; i++ {
			paths = append(paths, r.path("path"))
		}
		n := r.count("routes", 2)
		if r.err == nil && n == 0 {
			r.fail("routes flagged but none")
		}
		if r.err == nil {
			d.Routes = make([]partview.PrefixPath, 0, n)
		}
		for range n {
			at := r.off
			p := r.prefix("route prefix")
			i := r.uvarint("route path")
			if r.err != nil {
				break
			}
			if !p.IsValid() || i >= uint64(len(paths)) {
				r.off = at
				r.fail("route %s with path %d of %d", p, i, len(paths)-1)
				break
			}
			if k := len(d.Routes); k > 0 && d.Routes[k-1].Prefix.Compare(p) >= 0 {
				r.off = at
				r.fail("route %s after %s: the routes are not in prefix order", p, d.Routes[k-1].Prefix)
				break
			}
			d.Routes = append(d.Routes, partview.PrefixPath{Prefix: p, Path: paths[i]})
		}
	}
	r.end()
	if r.err != nil {
		return partview.Delta{}, r.err
	}
	return d, nil
}

// int reads a zigzag varint that fits an int.
func (r *reader) int(field string) int {
	at := r.off
	v := r.varint(field)
	if int64(int(v)) != v {
		r.off = at
		r.fail("%s: %d overflows an int", field, v)
	}
	return int(v)
}
