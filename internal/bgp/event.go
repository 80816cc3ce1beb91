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
)

// String returns "announce", "withdraw" or "state".
func (k EventKind) String() string {
	switch k {
	case Announce:
		return "announce"
	case Withdraw:
		return "withdraw"
	case PeerState:
		return "state"
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
