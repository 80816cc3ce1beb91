package mrt

import (
	"strconv"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// hasMicroseconds reports whether the record's time has a microsecond part.
func hasMicroseconds(rec *Record) bool { return rec.Type == TypeBGP4MPET }

// The time formats of AppendEventText, AppendEventJSON and WriteStatsText:
// RFC 3339 in UTC, with or without microseconds.
const (
	timeLayout   = "2006-01-02T15:04:05Z07:00"
	timeLayoutUS = "2006-01-02T15:04:05.000000Z07:00"
)

// appendTime appends t in UTC, with microseconds when us.
func appendTime(b []byte, t time.Time, us bool) []byte {
	if us {
		return t.UTC().AppendFormat(b, timeLayoutUS)
	}
	return t.UTC().AppendFormat(b, timeLayout)
}

// appendKind appends the kind of ev: rib for a table dump entry.
func appendKind(b []byte, ev *bgp.Event) []byte {
	if ev.Kind == bgp.Announce && ev.RIB {
		return append(b, "rib"...)
	}
	return append(b, ev.Kind.String()...)
}

// AppendEventText appends the readable line of event ev read by rr (the
// default output of `blackout mrt dump`), with its newline, to b:
//
//	TIME KIND [COLLECTOR] PEER ASN PREFIX [multicast] [id=PATHID] [path="AS PATH"] [origin=O] [nh=NEXTHOP]
//	  [nh-ll=ADDR] [lp=N] [med=N] [comm=A:B,...] [large=G:L1:L2,...] [atomic] [agg=AS/ADDR]
//
// TIME is RFC 3339 in UTC, with microseconds for BGP4MP_ET records; KIND is
// announce, withdraw, rib (a table dump entry) or state (then PEER ASN
// OLD->NEW follow). It allocates nothing once b has grown.
func AppendEventText(b []byte, rr *RouteReader, ev *bgp.Event) []byte {
	b = appendTime(b, ev.Time, hasMicroseconds(rr.Record()))
	b = append(b, ' ')
	b = appendKind(b, ev)
	b = append(b, ' ')
	if ev.Peer.Collector != "" {
		b = append(b, ev.Peer.Collector...)
		b = append(b, ' ')
	}
	b = ev.Peer.Addr.AppendTo(b)
	b = append(b, " AS"...)
	b = strconv.AppendUint(b, uint64(ev.Peer.AS), 10)
	if ev.Kind == bgp.PeerState {
		b = append(b, ' ')
		b = append(b, ev.OldState.String()...)
		b = append(b, "->"...)
		b = append(b, ev.NewState.String()...)
		return append(b, '\n')
	}
	b = append(b, ' ')
	b = ev.Prefix.AppendTo(b)
	if ev.Multicast {
		b = append(b, " multicast"...)
	}
	if ev.PathID != 0 {
		b = append(b, " id="...)
		b = strconv.AppendUint(b, uint64(ev.PathID), 10)
	}
	if ev.Kind != bgp.Announce || ev.Attrs == nil {
		return append(b, '\n')
	}
	a := ev.Attrs
	b = append(b, ` path="`...)
	b = a.Path.AppendString(b)
	b = append(b, '"')
	if a.Has(bgp.AttrOrigin) {
		b = append(b, " origin="...)
		b = append(b, a.Origin.String()...)
	}
	if a.NextHop.IsValid() {
		b = append(b, " nh="...)
		b = a.NextHop.AppendTo(b)
	}
	if a.LinkLocalNextHop.IsValid() {
		b = append(b, " nh-ll="...)
		b = a.LinkLocalNextHop.AppendTo(b)
	}
	if a.Has(bgp.AttrLocalPref) {
		b = append(b, " lp="...)
		b = strconv.AppendUint(b, uint64(a.LocalPref), 10)
	}
	if a.Has(bgp.AttrMED) {
		b = append(b, " med="...)
		b = strconv.AppendUint(b, uint64(a.MED), 10)
	}
	for i, c := range a.Communities {
		if i == 0 {
			b = append(b, " comm="...)
		} else {
			b = append(b, ',')
		}
		b = c.AppendString(b)
	}
	for i, c := range a.LargeCommunities {
		if i == 0 {
			b = append(b, " large="...)
		} else {
			b = append(b, ',')
		}
		b = appendLarge(b, c)
	}
	if a.Has(bgp.AttrAtomicAggregate) {
		b = append(b, " atomic"...)
	}
	if a.Has(bgp.AttrAggregator) {
		b = append(b, " agg="...)
		b = strconv.AppendUint(b, uint64(a.Aggregator.AS), 10)
		b = append(b, '/')
		b = a.Aggregator.Addr.AppendTo(b)
	}
	return append(b, '\n')
}

// appendLarge appends c as global:local1:local2.
func appendLarge(b []byte, c bgp.LargeCommunity) []byte {
	b = strconv.AppendUint(b, uint64(c.Global), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(c.Local1), 10)
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(c.Local2), 10)
}

// AppendEventJSON appends event ev read by rr as one JSON object on its own
// line (JSON Lines, the output of `blackout mrt dump --json`) to b.
// collector is the collector name already encoded as a JSON string, or nil
// to leave the field out. The fields:
//
//	time            string  RFC 3339, UTC, with microseconds where the record has them
//	kind            string  "announce", "withdraw" or "state"
//	rib             bool    true for a table dump entry (a snapshot, not a change); omitted when false
//	multicast       bool    true for a multicast (SAFI 2) route; omitted when false
//	collector       string  the collector's name; omitted when collector is nil
//	peer            string  the peer's address
//	peer_as         number  the peer's AS
//	prefix          string  the prefix (announce, withdraw)
//	path_id         number  ADD-PATH path identifier; omitted when 0
//	as_path         string  the AS path in bgpdump notation ("1 2 {3,4}"; "(...)" and "[...]" confederations)
//	origin_as       number  the last AS of the path; omitted when the path has none
//	origin          string  "IGP", "EGP" or "INCOMPLETE"; omitted when the attribute is absent
//	next_hop        string  NEXT_HOP or the MP_REACH_NLRI next hop; omitted when none
//	link_local_next_hop string the second IPv6 next hop; omitted when none
//	local_pref, med number  omitted when the attribute is absent
//	communities     [string] "AS:value"; well-known ones by name (no-export, no-advertise, no-export-subconfed)
//	large_communities [string] "global:local1:local2"
//	atomic_aggregate bool   omitted when false
//	aggregator      string  "AS addr"; omitted when absent
//	old_state, new_state string  BGP FSM state names (state events)
//
// It allocates nothing once b has grown.
func AppendEventJSON(b []byte, rr *RouteReader, ev *bgp.Event, collector []byte) []byte {
	b = append(b, `{"time":"`...)
	b = appendTime(b, ev.Time, hasMicroseconds(rr.Record()))
	b = append(b, `","kind":"`...)
	b = append(b, ev.Kind.String()...)
	b = append(b, '"')
	if ev.RIB {
		b = append(b, `,"rib":true`...)
	}
	if ev.Multicast {
		b = append(b, `,"multicast":true`...)
	}
	if collector != nil {
		b = append(b, `,"collector":`...)
		b = append(b, collector...)
	}
	b = append(b, `,"peer":"`...)
	b = ev.Peer.Addr.AppendTo(b)
	b = append(b, `","peer_as":`...)
	b = strconv.AppendUint(b, uint64(ev.Peer.AS), 10)
	if ev.Kind == bgp.PeerState {
		b = append(b, `,"old_state":"`...)
		b = append(b, ev.OldState.String()...)
		b = append(b, `","new_state":"`...)
		b = append(b, ev.NewState.String()...)
		return append(b, "\"}\n"...)
	}
	b = append(b, `,"prefix":"`...)
	b = ev.Prefix.AppendTo(b)
	b = append(b, '"')
	if ev.PathID != 0 {
		b = append(b, `,"path_id":`...)
		b = strconv.AppendUint(b, uint64(ev.PathID), 10)
	}
	if ev.Kind != bgp.Announce || ev.Attrs == nil {
		return append(b, "}\n"...)
	}
	a := ev.Attrs
	b = append(b, `,"as_path":"`...)
	b = a.Path.AppendString(b)
	b = append(b, '"')
	if o, ok := a.Path.Origin(); ok {
		b = append(b, `,"origin_as":`...)
		b = strconv.AppendUint(b, uint64(o), 10)
	}
	if a.Has(bgp.AttrOrigin) {
		b = append(b, `,"origin":"`...)
		b = append(b, a.Origin.String()...)
		b = append(b, '"')
	}
	if a.NextHop.IsValid() {
		b = append(b, `,"next_hop":"`...)
		b = a.NextHop.AppendTo(b)
		b = append(b, '"')
	}
	if a.LinkLocalNextHop.IsValid() {
		b = append(b, `,"link_local_next_hop":"`...)
		b = a.LinkLocalNextHop.AppendTo(b)
		b = append(b, '"')
	}
	if a.Has(bgp.AttrLocalPref) {
		b = append(b, `,"local_pref":`...)
		b = strconv.AppendUint(b, uint64(a.LocalPref), 10)
	}
	if a.Has(bgp.AttrMED) {
		b = append(b, `,"med":`...)
		b = strconv.AppendUint(b, uint64(a.MED), 10)
	}
	if len(a.Communities) > 0 {
		b = append(b, `,"communities":[`...)
		for i, c := range a.Communities {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = c.AppendString(b)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	if len(a.LargeCommunities) > 0 {
		b = append(b, `,"large_communities":[`...)
		for i, c := range a.LargeCommunities {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = appendLarge(b, c)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	if a.Has(bgp.AttrAtomicAggregate) {
		b = append(b, `,"atomic_aggregate":true`...)
	}
	if a.Has(bgp.AttrAggregator) {
		b = append(b, `,"aggregator":"`...)
		b = strconv.AppendUint(b, uint64(a.Aggregator.AS), 10)
		b = append(b, ' ')
		b = a.Aggregator.Addr.AppendTo(b)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}
