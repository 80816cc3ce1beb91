package bgp

import (
	"net/netip"
	"strconv"
	"time"
)

// Peer is a vantage point: one BGP session of one route collector.
type Peer struct {
	Collector string     // collector name ("rrc00", "route-views2"), or "" when unknown
	Addr      netip.Addr // the peer's address
	AS        ASN        // the peer's AS
}

// String returns "collector/addr/AS" (collector omitted when empty).
func (p Peer) String() string {
	s := p.Addr.String() + " AS" + p.AS.String()
	if p.Collector != "" {
		s = p.Collector + " " + s
	}
	return s
}

// State is a BGP finite state machine state (RFC 4271), as MRT records it.
type State uint16

// BGP FSM states.
const (
	StateIdle        State = 1
	StateConnect     State = 2
	StateActive      State = 3
	StateOpenSent    State = 4
	StateOpenConfirm State = 5
	StateEstablished State = 6
)

// String returns the state's name.
func (s State) String() string {
	names := [...]string{"", "Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"}
	if int(s) < len(names) && s > 0 {
		return names[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// EventKind says what a route event is.
type EventKind uint8

// Event kinds.
const (
	// Announce: the peer has (or, in a RIB dump, had) a route to Prefix.
	Announce EventKind = iota + 1
	// Withdraw: the peer no longer has a route to Prefix.
	Withdraw
	// PeerState: the peer's session changed state (OldState -> NewState).
	PeerState
	// EndOfRIB: the peer has sent its whole table of the family of Prefix
	// (0.0.0.0/0 for IPv4, ::/0 for IPv6, standing for the family only):
	// an End-of-RIB marker (RFC 4724) or, lacking one, a table that
	// stopped growing for a quiet time. Only live sources send it; the
	// peer is ready for that family (see Event.SignalsReady).
	EndOfRIB
)

// String returns "announce", "withdraw", "state" or "end-of-rib".
func (k EventKind) String() string {
	switch k {
	case Announce:
		return "announce"
	case Withdraw:
		return "withdraw"
	case PeerState:
		return "state"
	case EndOfRIB:
		return "end-of-rib"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one route event: an announcement or withdrawal of one prefix by
// one peer, or a change of a peer's session state.
//
// Events handed out by a decoder alias its buffers (Attrs in particular);
// they stay valid until the decoder's next call. Use Clone to keep one.
type Event struct {
	Time     time.Time // when the collector saw it (microseconds where the source has them)
	Kind     EventKind
	Peer     Peer
	Prefix   netip.Prefix // Announce and Withdraw
	PathID   uint32       // ADD-PATH path identifier (RFC 7911), 0 if none
	Attrs    *Attrs       // Announce only
	OldState State        // PeerState only
	NewState State        // PeerState only
	// RIB is true for routes read from a table dump rather than from an
	// update: a snapshot of what the peer had, not a change.
	RIB bool
	// SignalsReady, on a PeerState event to Established, says that the
	// source will send an EndOfRIB event for each family once the peer's
	// table is complete (BGP sessions, BMP): the peer is learning its
	// table until then, and does not count as a full-feed peer.
	SignalsReady bool
	// Multicast marks a multicast (SAFI 2) route. Decoders hand these out
	// only when asked (mrt.RouteReader.IncludeMulticast): the routing view
	// is about unicast reachability.
	Multicast bool
}

// Clone returns a copy of e that shares no memory with its source.
func (e *Event) Clone() Event {
	c := *e
	if e.Attrs != nil {
		c.Attrs = e.Attrs.Clone()
	}
	return c
}

// EndOfRIBFor returns the EndOfRIB event of peer for family f at t.
func EndOfRIBFor(t time.Time, peer Peer, f Family) Event {
	p := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	if f == IPv6 {
		p = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	return Event{Time: t, Kind: EndOfRIB, Peer: peer, Prefix: p}
}

// Family returns 4 or 6 for the prefix's address family, 0 for none.
func (e *Event) Family() int {
	switch {
	case !e.Prefix.IsValid():
		return 0
	case e.Prefix.Addr().Is4():
		return 4
	}
	return 6
}
