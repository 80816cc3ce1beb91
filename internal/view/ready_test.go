package view_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/view"
)

var r0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ann(peer bgp.Peer, i int, at time.Duration) *bgp.Event {
	a := &bgp.Attrs{Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: []bgp.ASN{peer.AS, 4837, bgp.ASN(64500 + i%7)}}}}}
	return &bgp.Event{Time: r0.Add(at), Kind: bgp.Announce, Peer: peer, Prefix: netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)), Attrs: a}
}

func up(peer bgp.Peer, at time.Duration) *bgp.Event {
	return &bgp.Event{Time: r0.Add(at), Kind: bgp.PeerState, Peer: peer, OldState: bgp.StateOpenConfirm, NewState: bgp.StateEstablished, SignalsReady: true}
}

// TestReadiness: a live peer that signals readiness is learning until its
// EndOfRIB, no full-feed peer meanwhile however large its table; at its
// EndOfRIB it is ready and the full-feed set is re-evaluated at once (not
// at the next periodic refresh).
func TestReadiness(t *testing.T) {
	var r recorder
	cfg := view.DefaultConfig()
	cfg.RefreshEvery = time.Hour
	v := view.New(cfg, &r)
	a := bgp.Peer{Collector: "bgp", Addr: netip.MustParseAddr("127.0.0.2"), AS: 65001}
	b := bgp.Peer{Collector: "bgp", Addr: netip.MustParseAddr("127.0.0.3"), AS: 65002}
	v.Apply(up(a, 0))
	v.Apply(up(b, 0))
	for i := range 50 {
		v.Apply(ann(a, i, time.Second))
		v.Apply(ann(b, i, time.Second))
	}
	if p, ready := v.Readiness(bgp.IPv4); p != 2 || ready != 0 {
		t.Fatalf("readiness %d of %d, want 0 of 2", ready, p)
	}
	if v4, _ := v.FullFeed(); v4 != 0 {
		t.Fatalf("%d full-feed peers while learning", v4)
	}
	e := bgp.EndOfRIBFor(r0.Add(2*time.Second), a, bgp.IPv4)
	v.Apply(&e)
	if p, ready := v.Readiness(bgp.IPv4); p != 2 || ready != 1 {
		t.Errorf("readiness %d of %d, want 1 of 2", ready, p)
	}
	if v4, _ := v.FullFeed(); v4 != 1 {
		t.Errorf("%d full-feed peers after one End-of-RIB, want 1", v4)
	}
	e = bgp.EndOfRIBFor(r0.Add(3*time.Second), b, bgp.IPv4)
	v.Apply(&e)
	if v4, _ := v.FullFeed(); v4 != 2 {
		t.Errorf("%d full-feed peers after both, want 2", v4)
	}
	if ks := r.peerKinds(); !slices.Contains(ks, view.PeerReady) || !slices.Contains(ks, view.PeerFullFeed) {
		t.Errorf("peer events %v", ks)
	}
	// A session that goes down leaves the readiness counts; one that
	// comes back learns again.
	v.Apply(&bgp.Event{Time: r0.Add(4 * time.Second), Kind: bgp.PeerState, Peer: b, OldState: bgp.StateEstablished, NewState: bgp.StateIdle})
	if p, ready := v.Readiness(bgp.IPv4); p != 1 || ready != 1 {
		t.Errorf("after a session down: %d of %d, want 1 of 1", ready, p)
	}
	v.Apply(up(b, 5*time.Second))
	if p, ready := v.Readiness(bgp.IPv4); p != 2 || ready != 1 {
		t.Errorf("after it came back: %d of %d, want 1 of 2", ready, p)
	}
	// Peers of sources without the signal (files, RIS Live) count nowhere.
	c := bgp.Peer{Collector: "rrc00", Addr: netip.MustParseAddr("192.0.2.1"), AS: 3333}
	v.Apply(ann(c, 1, 6*time.Second))
	if p, _ := v.Readiness(bgp.IPv4); p != 2 {
		t.Errorf("%d live peers with a file peer, want 2", p)
	}
}

// TestMaxPrefixes: a peer over its family's cap is a PeerMaxPrefix event,
// its routes are dropped and its further routes ignored until its session
// changes state; the callback is told.
func TestMaxPrefixes(t *testing.T) {
	var r recorder
	cfg := view.DefaultConfig()
	cfg.MaxPrefixes = [2]int{10, 10}
	var told []string
	cfg.OnMaxPrefix = func(p bgp.Peer, f bgp.Family, limit int) {
		told = append(told, fmt.Sprintf("%s %s %d", p.Addr, f, limit))
	}
	v := view.New(cfg, &r)
	a := bgp.Peer{Collector: "bgp", Addr: netip.MustParseAddr("127.0.0.2"), AS: 65001}
	b := bgp.Peer{Collector: "bgp", Addr: netip.MustParseAddr("127.0.0.3"), AS: 65002}
	for i := range 10 {
		v.Apply(ann(a, i, 0))
		v.Apply(ann(b, i, 0))
	}
	v.Refresh()
	if v4, _ := v.FullFeed(); v4 != 2 {
		t.Fatalf("%d full-feed peers, want 2", v4)
	}
	v.Apply(ann(a, 10, time.Second))
	var ev *view.PeerEvent
	for i := range r.peers {
		if r.peers[i].Kind == view.PeerMaxPrefix {
			ev = &r.peers[i]
		}
	}
	if ev == nil || ev.Peer != a || ev.Routes != 11 || ev.Family != bgp.IPv4 {
		t.Fatalf("max-prefix event %+v in %v", ev, r.peerKinds())
	}
	if len(told) != 1 || told[0] != "127.0.0.2 ipv4 10" {
		t.Errorf("callback told %q", told)
	}
	if v4, _ := v.FullFeed(); v4 != 1 {
		t.Errorf("%d full-feed peers after the breach, want 1", v4)
	}
	v.Apply(ann(a, 11, 2*time.Second))
	for i := range 12 {
		if id, ok := v.Lookup(ann(a, i, 0).Prefix); ok && v.PeerRoute(0, id) != 0 {
			t.Errorf("the peer over its cap has a route to %s, want none (dropped, then ignored)", v.Prefix(id))
		}
	}
}
