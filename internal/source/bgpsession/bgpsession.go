// Package bgpsession makes blackout a passive route collector: routers open
// BGP sessions to it (IPv4 and IPv6 unicast, 4-byte ASNs, ADD-PATH receive)
// and every route each of them sends becomes a bgp.Event. It never
// announces anything.
//
// The BGP protocol is GoBGP's (github.com/osrg/gobgp/v4, used as a library):
// a BgpServer listens, neighbors are configured one by one or accepted from
// address ranges (dynamic neighbors of a peer group that accepts any AS), the
// global import and export policies reject everything (nothing reaches the
// Loc-RIB, nothing is advertised), and the source follows GoBGP's per-peer
// pre-policy Adj-RIB-In update stream and its peer state stream.
//
// A session that goes down is one PeerState event (Established -> Idle);
// the withdrawals GoBGP generates internally for the routes of a peer that
// went down are not forwarded (they are on GoBGP's separate Adj-RIB-In
// withdraw stream, which this source does not follow): the view drops a down
// peer's routes by itself.
package bgpsession

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	gbgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// Neighbor is a router configured to peer with the collector.
type Neighbor struct {
	Addr netip.Addr
	AS   uint32 // 0: accept whatever AS the router announces in its OPEN
}

// Config configures a collector.
type Config struct {
	// Listen is the address and port to accept sessions on ("127.0.0.1:1179").
	Listen netip.AddrPort
	// LocalAS is the collector's AS.
	LocalAS uint32
	// RouterID is the collector's BGP identifier (default: the listen
	// address when it is IPv4, else 192.0.2.1).
	RouterID netip.Addr
	// Neighbors are routers configured one by one.
	Neighbors []Neighbor
	// Accept lists address ranges from which any router may peer, with any
	// AS (GoBGP dynamic neighbors).
	Accept []netip.Prefix
	// Collector names the collector in the events' Peer.Collector (default
	// "bgp:" + Listen).
	Collector string
	// Logger receives GoBGP's log and the source's (default: discard
	// below warnings).
	Logger *slog.Logger
}

// Collector is a passive BGP route collector; it implements source.Runner.
type Collector struct {
	cfg Config

	mu     sync.Mutex
	peerAS map[netip.Addr]uint32 // AS of each established peer (GoBGP forgets it for any-AS peers on down)
}

// New returns a collector source; nothing listens until Run.
func New(cfg Config) (*Collector, error) {
	if !cfg.Listen.IsValid() {
		return nil, errors.New("bgp session source: no listen address")
	}
	if cfg.LocalAS == 0 {
		return nil, errors.New("bgp session source: no local AS")
	}
	if len(cfg.Neighbors) == 0 && len(cfg.Accept) == 0 {
		return nil, errors.New("bgp session source: no neighbor and no accepted range: no router could peer")
	}
	if !cfg.RouterID.IsValid() {
		if a := cfg.Listen.Addr(); a.Is4() && !a.IsUnspecified() {
			cfg.RouterID = a
		} else {
			cfg.RouterID = netip.MustParseAddr("192.0.2.1")
		}
	}
	if !cfg.RouterID.Is4() {
		return nil, fmt.Errorf("bgp session source: router id %s is not an IPv4 address", cfg.RouterID)
	}
	if cfg.Collector == "" {
		cfg.Collector = "bgp:" + cfg.Listen.String()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Collector{cfg: cfg, peerAS: map[netip.Addr]uint32{}}, nil
}

// Name returns "bgp ADDR:PORT".
func (s *Collector) Name() string { return "bgp " + s.cfg.Listen.String() }

const peerGroup = "blackout-accept"

// allowOwnAS keeps routes whose AS path holds the collector's own AS:
// GoBGP would drop them as loops before the pre-policy stream, and a
// collector must see every route its peers have.
const allowOwnAS = 255

func afiSafis() []*api.AfiSafi {
	fams := []*api.Family{
		{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST},
		{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST},
	}
	out := make([]*api.AfiSafi, len(fams))
	for i, f := range fams {
		out[i] = &api.AfiSafi{
			Config:   &api.AfiSafiConfig{Family: f, Enabled: true},
			AddPaths: &api.AddPaths{Config: &api.AddPathsConfig{Receive: true}},
		}
	}
	return out
}

// Run starts the collector and delivers events until ctx is done.
func (s *Collector) Run(ctx context.Context, out chan<- bgp.Event) error {
	srv := server.NewBgpServer(server.LoggerOption(s.cfg.Logger, nil))
	go srv.Serve()
	defer srv.Stop()

	port := int32(s.cfg.Listen.Port())
	err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:             s.cfg.LocalAS,
		RouterId:        s.cfg.RouterID.String(),
		ListenPort:      port,
		ListenAddresses: []string{s.cfg.Listen.Addr().String()},
	}})
	if err != nil {
		return fmt.Errorf("%s: start: %w", s.Name(), err)
	}
	defer func() { _ = srv.StopBgp(context.Background(), &api.StopBgpRequest{}) }()

	// Nothing enters the Loc-RIB (routes are read before import policy)
	// and nothing is advertised.
	for _, dir := range []api.PolicyDirection{api.PolicyDirection_POLICY_DIRECTION_IMPORT, api.PolicyDirection_POLICY_DIRECTION_EXPORT} {
		err := srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
			Name: "global", Direction: dir, DefaultAction: api.RouteAction_ROUTE_ACTION_REJECT,
		}})
		if err != nil {
			return fmt.Errorf("%s: global policy: %w", s.Name(), err)
		}
	}

	// Watch before adding peers so that no update is missed. The callbacks
	// run on one GoBGP goroutine, in order: a peer's Established comes
	// before its routes, its routes before its down.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conv := &converter{collector: s.cfg.Collector}
	send := func(ev bgp.Event) bool {
		select {
		case out <- ev:
			return true
		case <-wctx.Done():
			return false
		}
	}
	err = srv.WatchEvent(wctx, server.WatchEventMessageCallbacks{
		OnPathUpdate: func(paths []*apiutil.Path, ts time.Time) {
			for _, p := range paths {
				ev, ok := conv.path(p, ts)
				if !ok {
					continue
				}
				s.mu.Lock()
				if as, ok := s.peerAS[ev.Peer.Addr]; ok && ev.Peer.AS == 0 {
					ev.Peer.AS = bgp.ASN(as)
				}
				s.mu.Unlock()
				if !send(ev) {
					return
				}
			}
		},
		OnPeerUpdate: func(pe *apiutil.WatchEventMessage_PeerEvent, ts time.Time) {
			if ev, ok := s.peerEvent(pe, ts); ok {
				send(ev)
			}
		},
	}, server.WatchUpdate(false, "", ""), server.WatchPeer())
	if err != nil {
		return fmt.Errorf("%s: watch: %w", s.Name(), err)
	}

	if len(s.cfg.Accept) > 0 {
		err := srv.AddPeerGroup(ctx, &api.AddPeerGroupRequest{PeerGroup: &api.PeerGroup{
			Conf:      &api.PeerGroupConf{PeerGroupName: peerGroup, LocalAsn: s.cfg.LocalAS, AllowOwnAsn: allowOwnAS},
			Transport: &api.Transport{PassiveMode: true},
			AfiSafis:  afiSafis(),
		}})
		if err != nil {
			return fmt.Errorf("%s: peer group: %w", s.Name(), err)
		}
		for _, pfx := range s.cfg.Accept {
			err := srv.AddDynamicNeighbor(ctx, &api.AddDynamicNeighborRequest{DynamicNeighbor: &api.DynamicNeighbor{
				Prefix: pfx.Masked().String(), PeerGroup: peerGroup,
			}})
			if err != nil {
				return fmt.Errorf("%s: accept %s: %w", s.Name(), pfx, err)
			}
		}
	}
	for _, n := range s.cfg.Neighbors {
		err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
			Conf:      &api.PeerConf{NeighborAddress: n.Addr.String(), PeerAsn: n.AS, LocalAsn: s.cfg.LocalAS, AllowOwnAsn: allowOwnAS},
			Transport: &api.Transport{PassiveMode: true, LocalAddress: localFor(s.cfg.Listen.Addr(), n.Addr)},
			AfiSafis:  afiSafis(),
		}})
		if err != nil {
			return fmt.Errorf("%s: neighbor %s AS%d: %w", s.Name(), n.Addr, n.AS, err)
		}
	}
	s.cfg.Logger.Info("bgp collector listening", "listen", s.cfg.Listen.String(), "as", s.cfg.LocalAS,
		"neighbors", len(s.cfg.Neighbors), "accept", len(s.cfg.Accept))
	<-ctx.Done()
	return ctx.Err()
}

// localFor returns the local address to bind for a neighbor: the listen
// address when it is specific and of the neighbor's family, else "".
func localFor(listen, peer netip.Addr) string {
	if listen.IsUnspecified() || listen.Is4() != peer.Is4() {
		return ""
	}
	return listen.String()
}

// peerEvent turns a GoBGP peer state change into a PeerState event.
func (s *Collector) peerEvent(pe *apiutil.WatchEventMessage_PeerEvent, ts time.Time) (bgp.Event, bool) {
	if pe.Type != apiutil.PEER_EVENT_STATE {
		return bgp.Event{}, false
	}
	st := pe.Peer.State
	newState, oldState := fsmState(st.SessionState), bgp.State(0)
	addr := st.NeighborAddress
	if !addr.IsValid() {
		addr = pe.Peer.Conf.NeighborAddress
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	as, known := s.peerAS[addr]
	if newState == bgp.StateEstablished {
		as = st.PeerASN
		s.peerAS[addr] = as
		oldState = bgp.StateOpenConfirm
	} else {
		if !known {
			// A session that was never established: not a vantage point yet.
			return bgp.Event{}, false
		}
		delete(s.peerAS, addr)
		oldState = bgp.StateEstablished
		s.cfg.Logger.Warn("bgp session down", "peer", addr.String(), "as", as, "state", newState.String(),
			"reason", st.DisconnectMessage)
	}
	return bgp.Event{
		Time: ts.UTC(), Kind: bgp.PeerState,
		Peer:     bgp.Peer{Collector: s.cfg.Collector, Addr: addr.Unmap(), AS: bgp.ASN(as)},
		OldState: oldState, NewState: newState,
	}, true
}

// fsmState maps GoBGP's session state (Idle = 0) to the MRT and RFC 4271
// numbering (Idle = 1).
func fsmState(st gbgp.FSMState) bgp.State {
	if st > gbgp.BGP_FSM_ESTABLISHED {
		return bgp.StateIdle
	}
	return bgp.State(st) + 1
}

// converter turns GoBGP paths into events.
type converter struct {
	collector string
}

// path converts one GoBGP path; ok is false for families other than IPv4
// and IPv6 unicast.
func (c *converter) path(p *apiutil.Path, ts time.Time) (bgp.Event, bool) {
	if p.Family != gbgp.RF_IPv4_UC && p.Family != gbgp.RF_IPv6_UC {
		return bgp.Event{}, false
	}
	var pfx netip.Prefix
	switch n := p.Nlri.(type) {
	case *gbgp.IPAddrPrefix:
		pfx = n.Prefix
	default:
		return bgp.Event{}, false
	}
	ev := bgp.Event{
		Time:   ts.UTC(),
		Kind:   bgp.Announce,
		Peer:   bgp.Peer{Collector: c.collector, Addr: p.PeerAddress.Unmap(), AS: bgp.ASN(p.PeerASN)},
		Prefix: pfx.Masked(),
		PathID: p.RemoteID,
	}
	if p.Withdrawal {
		ev.Kind = bgp.Withdraw
		return ev, true
	}
	ev.Attrs = convertAttrs(p.Attrs)
	return ev, true
}

// convertAttrs converts GoBGP path attributes into a fresh bgp.Attrs.
func convertAttrs(attrs []gbgp.PathAttributeInterface) *bgp.Attrs {
	a := &bgp.Attrs{}
	for _, pa := range attrs {
		switch v := pa.(type) {
		case *gbgp.PathAttributeOrigin:
			a.Set(bgp.AttrOrigin)
			a.Origin = bgp.Origin(v.Value)
		case *gbgp.PathAttributeAsPath:
			a.Set(bgp.AttrASPath)
			for _, seg := range v.Value {
				ases := seg.GetAS()
				s := bgp.Segment{Type: bgp.SegmentType(seg.GetType()), ASNs: make([]bgp.ASN, len(ases))}
				for i, as := range ases {
					s.ASNs[i] = bgp.ASN(as)
				}
				a.Path.Segments = append(a.Path.Segments, s)
			}
		case *gbgp.PathAttributeNextHop:
			a.Set(bgp.AttrNextHop)
			a.NextHop = v.Value.Unmap()
		case *gbgp.PathAttributeMpReachNLRI:
			a.Set(bgp.AttrMPReach)
			if !a.NextHop.IsValid() || a.NextHop.Is4() != v.Nexthop.Is4() {
				a.NextHop = v.Nexthop
			}
			if v.LinkLocalNexthop.IsValid() && !v.LinkLocalNexthop.IsUnspecified() {
				a.LinkLocalNextHop = v.LinkLocalNexthop
			}
		case *gbgp.PathAttributeMultiExitDisc:
			a.Set(bgp.AttrMED)
			a.MED = v.Value
		case *gbgp.PathAttributeLocalPref:
			a.Set(bgp.AttrLocalPref)
			a.LocalPref = v.Value
		case *gbgp.PathAttributeAtomicAggregate:
			a.Set(bgp.AttrAtomicAggregate)
		case *gbgp.PathAttributeAggregator:
			a.Set(bgp.AttrAggregator)
			a.Aggregator = bgp.Aggregator{AS: bgp.ASN(v.Value.AS), Addr: v.Value.Address}
		case *gbgp.PathAttributeCommunities:
			a.Set(bgp.AttrCommunities)
			for _, c := range v.Value {
				a.Communities = append(a.Communities, bgp.Community(c))
			}
		case *gbgp.PathAttributeLargeCommunities:
			a.Set(bgp.AttrLargeCommunities)
			for _, c := range v.Values {
				a.LargeCommunities = append(a.LargeCommunities, bgp.LargeCommunity{Global: c.ASN, Local1: c.LocalData1, Local2: c.LocalData2})
			}
		case *gbgp.PathAttributeMpUnreachNLRI, *gbgp.PathAttributeAs4Path, *gbgp.PathAttributeAs4Aggregator:
			// MP_UNREACH is the withdrawal itself; GoBGP has merged AS4_PATH
			// and AS4_AGGREGATOR into AS_PATH and AGGREGATOR.
		default:
			b, err := pa.Serialize()
			if err != nil || len(b) < 3 {
				continue
			}
			hdr := 3
			if b[0]&0x10 != 0 {
				hdr = 4
			}
			if len(b) < hdr {
				continue
			}
			a.Unknown = append(a.Unknown, bgp.RawAttr{Flags: b[0], Type: bgp.AttrType(b[1]), Value: append([]byte(nil), b[hdr:]...)})
			a.Set(bgp.AttrType(b[1]))
		}
	}
	return a
}

// ParseNeighbor parses "ADDR=AS" (or "ADDR" for any AS).
func ParseNeighbor(s string) (Neighbor, error) {
	addrS, asS, hasAS := cut(s, '=')
	addr, err := netip.ParseAddr(addrS)
	if err != nil {
		return Neighbor{}, fmt.Errorf("neighbor %q: %w", s, err)
	}
	n := Neighbor{Addr: addr}
	if hasAS {
		as, err := parseASN(asS)
		if err != nil {
			return Neighbor{}, fmt.Errorf("neighbor %q: AS: %w", s, err)
		}
		n.AS = as
	}
	return n, nil
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// parseASN parses "65001", "AS65001" or asdot "1.10".
func parseASN(s string) (uint32, error) {
	if len(s) > 2 && (s[:2] == "AS" || s[:2] == "as") {
		s = s[2:]
	}
	if hi, lo, dot := cut(s, '.'); dot {
		h, err := strconv.ParseUint(hi, 10, 16)
		if err != nil {
			return 0, err
		}
		l, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return 0, err
		}
		return uint32(h<<16 | l), nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	return uint32(v), err
}
