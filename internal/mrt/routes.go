package mrt

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// RecordKey names a record type and subtype.
type RecordKey struct {
	Type    Type
	Subtype uint16
}

// String returns "TYPE/SUBTYPE".
func (k RecordKey) String() string { return k.Type.String() + "/" + SubtypeName(k.Type, k.Subtype) }

// Stats counts what a RouteReader has read.
type Stats struct {
	Records       map[RecordKey]int64 // records by type and subtype
	Skipped       map[RecordKey]int64 // records not decoded: types and subtypes not read (RIB_GENERIC, OSPF, ...)
	FirstSkipped  map[RecordKey]int64 // the offset of the first record of each key in Skipped
	Messages      [6]int64            // BGP4MP messages by BGP message type (index 1..5)
	Announcements int64
	Withdrawals   int64
	StateChanges  int64
	RIBEntries    int64
	Multicast     int64 // multicast routes left out of the events
	Errors        int64 // records with an error
	BytesSkipped  int64 // bytes skipped to resynchronise after corrupt headers
	// HostBits counts the routes whose prefix had bits set beyond its
	// length, as written: the events carry them masked (`bgpdump -m`
	// lines print them as written).
	HostBits    int64
	First, Last time.Time
}

// add adds the counters of o to s.
func (s *Stats) add(o *Stats) {
	for k, n := range o.Records {
		s.Records[k] += n
	}
	for k, n := range o.Skipped {
		if f, ok := s.FirstSkipped[k]; !ok || o.FirstSkipped[k] < f || s.Skipped[k] == 0 {
			s.FirstSkipped[k] = o.FirstSkipped[k]
		}
		s.Skipped[k] += n
	}
	for i, n := range o.Messages {
		s.Messages[i] += n
	}
	s.Announcements += o.Announcements
	s.Withdrawals += o.Withdrawals
	s.StateChanges += o.StateChanges
	s.RIBEntries += o.RIBEntries
	s.Multicast += o.Multicast
	s.Errors += o.Errors
	s.HostBits += o.HostBits
	if !o.First.IsZero() && (s.First.IsZero() || o.First.Before(s.First)) {
		s.First = o.First
	}
	if o.Last.After(s.Last) {
		s.Last = o.Last
	}
}

// RouteReader turns an MRT stream into route events, one at a time. Events
// and their attributes alias the reader's buffers and stay valid until the
// next call of Next: no heap allocation happens per route once the buffers
// have grown to the input's largest record.
type RouteReader struct {
	// IncludeMulticast makes multicast (SAFI 2) routes come out as events
	// marked Multicast, as `bgpdump -m` prints them; by default they are
	// left out (and counted in Stats.Multicast): outages are about unicast.
	IncludeMulticast bool

	rd        *Reader
	collector string
	rec       Record
	stats     Stats

	pi    PeerIndex
	piGen int // counts the PEER_INDEX_TABLEs read
	dump  dumpCache
	peers []bgp.Peer

	dec      wire.UpdateDecoder
	upd      wire.Update
	ribAttrs wire.AttrDecoder
	attrs    bgp.Attrs
	rib      RIBRecord
	entry    RIBEntry
	v1       TableDumpV1
	hdr      BGP4MPHeader

	pending    int // 0 none, 1 update routes, 2 RIB entries
	idx        int
	peer       bgp.Peer
	time       time.Time
	originated uint32
	ev         bgp.Event
	eof        bool
	deferred   error // an error to return after the event it belongs to

	// lazyRIB leaves the attributes of TABLE_DUMP_V2 RIB entries undecoded
	// (attrsPending) until decodeEntryAttrs (BgpdumpDumper).
	lazyRIB      bool
	attrsPending bool
	tails        *tailCache
	lastPIT      []byte // the PEER_INDEX_TABLE body a WriteBgpdump worker loaded
}

// NewRouteReader returns a RouteReader of r; name identifies the input in
// errors and collector names the route collector in the events' peers (it
// may be empty).
func NewRouteReader(r io.Reader, name, collector string) *RouteReader {
	return &RouteReader{
		rd:        NewReader(r, name),
		collector: collector,
		stats:     Stats{Records: map[RecordKey]int64{}, Skipped: map[RecordKey]int64{}, FirstSkipped: map[RecordKey]int64{}},
	}
}

// Record returns the header of the record the last event came from (its
// Body is not valid after that record).
func (rr *RouteReader) Record() *Record { return &rr.rec }

// Originated returns the originated time of the RIB entry the last event
// came from (TABLE_DUMP and TABLE_DUMP_V2 only).
func (rr *RouteReader) Originated() uint32 { return rr.originated }

// Stats returns the counters so far. The maps are the reader's own.
func (rr *RouteReader) Stats() *Stats {
	rr.stats.BytesSkipped = rr.rd.Skipped
	return &rr.stats
}

// Undecoded is the count of the records of one type and subtype that were
// not decoded, and the offset of the first.
type Undecoded struct {
	Key   RecordKey
	Count int64
	First int64
}

// String says it for people: "24242 records of MRT type 5 (BGP) subtype 9
// (SUBTYPE_9) not decoded, the first at offset 0".
func (u Undecoded) String() string {
	s := "s"
	if u.Count == 1 {
		s = ""
	}
	return fmt.Sprintf("%d record%s of MRT type %d (%s) subtype %d (%s) not decoded, the first at offset %d",
		u.Count, s, u.Key.Type, u.Key.Type, u.Key.Subtype, SubtypeName(u.Key.Type, u.Key.Subtype), u.First)
}

// Undecoded returns the records not decoded so far, by type and subtype in
// their numeric order.
func (rr *RouteReader) Undecoded() []Undecoded {
	var out []Undecoded
	for k, n := range rr.stats.Skipped {
		out = append(out, Undecoded{Key: k, Count: n, First: rr.stats.FirstSkipped[k]})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Key, out[j].Key
		return a.Type < b.Type || (a.Type == b.Type && a.Subtype < b.Subtype)
	})
	return out
}

// Offset returns the offset of the next unread byte of the decompressed input.
func (rr *RouteReader) Offset() int64 { return rr.rd.Offset() }

// Next returns the next route event. It returns io.EOF at the end of the
// input. A *RecordError is not fatal: the events of a record come before or
// after its error, and the next call goes on with the stream.
func (rr *RouteReader) Next() (*bgp.Event, error) {
	if err := rr.deferred; err != nil {
		rr.deferred = nil
		return nil, err
	}
	for {
		switch rr.pending {
		case 1:
			if ev := rr.nextUpdateRoute(); ev != nil {
				return ev, nil
			}
			rr.pending = 0
		case 2:
			ev, err := rr.nextRIBEntry()
			if ev != nil || err != nil {
				return ev, err
			}
			rr.pending = 0
		}
		if rr.eof {
			return nil, io.EOF
		}
		err := rr.rd.Next(&rr.rec)
		if err == io.EOF {
			rr.eof = true
			return nil, io.EOF
		}
		if err != nil {
			rr.stats.Errors++
			var re *RecordError
			if !errors.As(err, &re) {
				rr.eof = true
			}
			return nil, err
		}
		ev, err := rr.dispatch()
		if err != nil {
			rr.stats.Errors++
			return nil, &RecordError{Name: rr.rd.name, Offset: rr.rec.Offset, Type: rr.rec.Type, Subtype: rr.rec.Subtype, Err: err}
		}
		if ev != nil {
			return ev, nil
		}
	}
}

func (rr *RouteReader) recordError(err error) error {
	return &RecordError{Name: rr.rd.name, Offset: rr.rec.Offset, Type: rr.rec.Type, Subtype: rr.rec.Subtype, Err: err}
}

func (rr *RouteReader) count(skipped bool) {
	k := RecordKey{rr.rec.Type, rr.rec.Subtype}
	rr.stats.Records[k]++
	if skipped {
		if rr.stats.Skipped[k] == 0 {
			rr.stats.FirstSkipped[k] = rr.rec.Offset
		}
		rr.stats.Skipped[k]++
	}
	t := rr.rec.Time()
	if rr.stats.First.IsZero() || t.Before(rr.stats.First) {
		rr.stats.First = t
	}
	if t.After(rr.stats.Last) {
		rr.stats.Last = t
	}
}

// dispatch decodes the current record. It returns a state event directly,
// or sets up pending routes and returns nil.
func (rr *RouteReader) dispatch() (*bgp.Event, error) {
	rec := &rr.rec
	switch rec.Type {
	case TypeTableDumpV2:
		switch rec.Subtype {
		case PeerIndexTable:
			rr.count(false)
			rr.lastPIT = nil
			return nil, rr.loadPeerIndex(rec.Body)
		case RIBGeneric, RIBGenericAddPath:
			rr.count(true)
			return nil, nil
		}
		if _, _, _, ok := ribFamily(rec.Subtype); !ok {
			rr.count(true)
			return nil, nil
		}
		rr.count(false)
		if err := rr.rib.Init(rec.Body, rec.Subtype); err != nil {
			return nil, err
		}
		rr.time = rec.Time()
		rr.pending = 2
		rr.ev = bgp.Event{Time: rr.time, Kind: bgp.Announce, Prefix: rr.rib.Prefix, Attrs: &rr.attrs, RIB: true, Multicast: rr.rib.Multicast}
		return nil, nil
	case TypeTableDump:
		if rec.Subtype != TableDumpAFIIPv4 && rec.Subtype != TableDumpAFIIPv6 {
			rr.count(true)
			return nil, nil
		}
		rr.count(false)
		return rr.tableDumpV1()
	case TypeBGP4MP, TypeBGP4MPET:
		if !knownSubtype(rec.Type, rec.Subtype) {
			rr.count(true)
			return nil, nil
		}
		rr.count(false)
		return rr.bgp4mp()
	case TypeBGP:
		if !knownSubtype(rec.Type, rec.Subtype) {
			rr.count(true)
			return nil, nil
		}
		rr.count(false)
		return rr.bgpLegacy()
	}
	rr.count(true)
	return nil, nil
}

// loadPeerIndex decodes a PEER_INDEX_TABLE body: its peers are those of
// the RIB entries that follow. On an error the peers stay those of the
// table before.
func (rr *RouteReader) loadPeerIndex(body []byte) error {
	rr.piGen++
	if err := DecodePeerIndex(body, &rr.pi); err != nil {
		return err
	}
	rr.peers = rr.peers[:0]
	for _, p := range rr.pi.Peers {
		rr.peers = append(rr.peers, bgp.Peer{Collector: rr.collector, Addr: p.Addr, AS: p.AS})
	}
	return nil
}

func (rr *RouteReader) tableDumpV1() (*bgp.Event, error) {
	rec := &rr.rec
	if err := DecodeTableDumpV1(rec.Body, rec.Subtype, &rr.v1); err != nil {
		return nil, err
	}
	var w []wire.NLRI
	err := rr.ribAttrs.Decode(rr.v1.Attrs, wire.AttrOptions{AS4: false}, &rr.attrs, &w, &w)
	rr.stats.RIBEntries++
	rr.stats.Announcements++
	if rr.v1.RawPrefix != rr.v1.Prefix {
		rr.stats.HostBits++
	}
	rr.originated = rr.v1.Originated
	rr.ev = bgp.Event{Time: rec.Time(), Kind: bgp.Announce, Peer: bgp.Peer{Collector: rr.collector, Addr: rr.v1.PeerAddr, AS: rr.v1.PeerAS},
		Prefix: rr.v1.Prefix, Attrs: &rr.attrs, RIB: true}
	if err != nil {
		// Hand out the route now and the error with the next call.
		rr.stats.Errors++
		rr.deferred = rr.recordError(err)
	}
	return &rr.ev, nil
}

func (rr *RouteReader) bgp4mp() (*bgp.Event, error) {
	rec := &rr.rec
	rest, err := DecodeBGP4MPHeader(rec.Body, rec.Subtype, &rr.hdr)
	if err != nil {
		return nil, err
	}
	rr.peer = bgp.Peer{Collector: rr.collector, Addr: rr.hdr.PeerAddr, AS: rr.hdr.PeerAS}
	rr.time = rec.Time()
	switch rec.Subtype {
	case BGP4MPStateChange, BGP4MPStateChangeAS4:
		old, nw, err := DecodeStateChange(rest)
		if err != nil {
			return nil, err
		}
		rr.stats.StateChanges++
		rr.ev = bgp.Event{Time: rr.time, Kind: bgp.PeerState, Peer: rr.peer, OldState: old, NewState: nw}
		return &rr.ev, nil
	}
	typ, err := rr.dec.DecodeMessage(rest, isAS4(rec.Subtype), isAddPath(rec.Subtype), &rr.upd)
	if int(typ) < len(rr.stats.Messages) {
		rr.stats.Messages[typ]++
	}
	if typ == wire.MsgUpdate {
		rr.pending, rr.idx = 1, 0
		rr.rawFields()
	}
	return nil, err
}

// bgpLegacy decodes a record of MRT type BGP (5). BGP_UPDATE gives routes
// (2-byte AS paths) and BGP_STATE_CHANGE a peer state event; the other
// subtypes are counted, as bgpdump reads them and prints nothing.
func (rr *RouteReader) bgpLegacy() (*bgp.Event, error) {
	rec := &rr.rec
	switch rec.Subtype {
	case BGPOpen:
		rr.stats.Messages[wire.MsgOpen]++
		return nil, nil
	case BGPNotify:
		rr.stats.Messages[wire.MsgNotification]++
		return nil, nil
	case BGPKeepalive:
		rr.stats.Messages[wire.MsgKeepalive]++
		return nil, nil
	case BGPUpdate, BGPStateChange:
	default:
		return nil, nil
	}
	var h BGPHeader
	rest, err := DecodeBGPHeader(rec.Body, rec.Subtype, &h)
	if err != nil {
		return nil, err
	}
	rr.peer = bgp.Peer{Collector: rr.collector, Addr: h.PeerAddr, AS: h.PeerAS}
	rr.time = rec.Time()
	switch rec.Subtype {
	case BGPStateChange:
		old, nw, err := DecodeStateChange(rest)
		if err != nil {
			return nil, err
		}
		rr.stats.StateChanges++
		rr.ev = bgp.Event{Time: rr.time, Kind: bgp.PeerState, Peer: rr.peer, OldState: old, NewState: nw}
		return &rr.ev, nil
	case BGPUpdate:
		rr.stats.Messages[wire.MsgUpdate]++
		err := rr.dec.DecodeUpdate(rest, false, false, &rr.upd)
		rr.pending, rr.idx = 1, 0
		rr.rawFields()
		return nil, err
	}
	return nil, nil
}

func (rr *RouteReader) nextUpdateRoute() *bgp.Event {
	u := &rr.upd
	for rr.idx < len(u.Withdrawn)+len(u.Announced) {
		i := rr.idx
		rr.idx++
		var n wire.NLRI
		kind := bgp.Withdraw
		if i < len(u.Withdrawn) {
			n = u.Withdrawn[i]
		} else {
			n = u.Announced[i-len(u.Withdrawn)]
			kind = bgp.Announce
		}
		if n.Multicast && !rr.IncludeMulticast {
			rr.stats.Multicast++
			continue
		}
		rr.ev = bgp.Event{Time: rr.time, Kind: kind, Peer: rr.peer, Prefix: n.Prefix, PathID: n.PathID, Multicast: n.Multicast}
		if kind == bgp.Announce {
			rr.ev.Attrs = &u.Attrs
			rr.stats.Announcements++
		} else {
			rr.stats.Withdrawals++
		}
		return &rr.ev
	}
	return nil
}

func (rr *RouteReader) nextRIBEntry() (*bgp.Event, error) {
	for {
		ok, err := rr.rib.Next(&rr.entry)
		if err != nil {
			rr.stats.Errors++
			return nil, &RecordError{Name: rr.rd.name, Offset: rr.rec.Offset, Type: rr.rec.Type, Subtype: rr.rec.Subtype, Err: err}
		}
		if !ok {
			return nil, nil
		}
		rr.stats.RIBEntries++
		if rr.rib.Multicast && !rr.IncludeMulticast {
			rr.stats.Multicast++
			continue
		}
		if int(rr.entry.PeerIndex) >= len(rr.peers) {
			rr.stats.Errors++
			return nil, &RecordError{Name: rr.rd.name, Offset: rr.rec.Offset, Type: rr.rec.Type, Subtype: rr.rec.Subtype,
				Err: fmt.Errorf("RIB entry for %s: peer index %d beyond the %d peers of the PEER_INDEX_TABLE", rr.rib.Prefix, rr.entry.PeerIndex, len(rr.peers))}
		}
		rr.originated = rr.entry.Originated
		rr.stats.Announcements++
		if rr.rib.RawPrefix != rr.rib.Prefix {
			rr.stats.HostBits++
		}
		// The fields common to the record's entries were set by dispatch.
		rr.ev.Peer = rr.peers[rr.entry.PeerIndex]
		rr.ev.PathID = rr.entry.PathID
		rr.attrsPending = true
		if !rr.lazyRIB {
			rr.decodeEntryAttrs()
		}
		return &rr.ev, nil
	}
}
