package pipeline_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
)

// TestReadinessJudging: three live BGP peers (their sessions signal
// readiness) send a world; nothing is judged until every one of them has
// its End-of-RIB, then IPv4 is judged at once. KP's four /24s come after
// the peers were declared ready (a table still arriving after a quiet
// pause); their withdrawal by all peers seconds later is still an outage
// of KP, before any bin closed. A peer's session down is a peer event.
func TestReadinessJudging(t *testing.T) {
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	var notices []event.Notice
	p := pipeline.New(pipeline.DefaultConfig(db), event.SinkFunc(func(n event.Notice) { notices = append(notices, n) }))
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var peers []bgp.Peer
	for i := range 3 {
		peers = append(peers, bgp.Peer{Collector: "bgp:127.0.0.1:1179", Addr: netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)}), AS: bgp.ASN(65001 + i)})
	}
	attrs := func(peer bgp.Peer, origin bgp.ASN) *bgp.Attrs {
		return &bgp.Attrs{Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: []bgp.ASN{peer.AS, 3356, origin}}}}}
	}
	feed := func(ev bgp.Event) { p.Feed(&ev) }
	for _, pe := range peers {
		feed(bgp.Event{Time: at(0), Kind: bgp.PeerState, Peer: pe, OldState: bgp.StateOpenConfirm, NewState: bgp.StateEstablished, SignalsReady: true})
	}
	for i := range 200 {
		pfx := netip.MustParsePrefix(fmt.Sprintf("11.0.%d.0/24", i))
		for _, pe := range peers {
			feed(bgp.Event{Time: at(time.Second), Kind: bgp.Announce, Peer: pe, Prefix: pfx, Attrs: attrs(pe, 64512)})
		}
	}
	if c := p.Detector().Coverage(); c.Judged() {
		t.Fatalf("judged before any End-of-RIB: %+v", c.Families[0])
	}
	for i, pe := range peers {
		feed(bgp.EndOfRIBFor(at(2*time.Second+time.Duration(i)*time.Millisecond), pe, bgp.IPv4))
		if c := p.Detector().Coverage(); (i < 2) == c.Judged() {
			t.Fatalf("after %d End-of-RIBs: judged %v (%+v)", i+1, c.Judged(), c.Families[0])
		}
	}
	for i := range 4 {
		kp := netip.MustParsePrefix(fmt.Sprintf("175.45.%d.0/24", 176+i))
		for _, pe := range peers {
			feed(bgp.Event{Time: at(3 * time.Second), Kind: bgp.Announce, Peer: pe, Prefix: kp, Attrs: attrs(pe, 131279)})
		}
	}
	for i := range 4 {
		kp := netip.MustParsePrefix(fmt.Sprintf("175.45.%d.0/24", 176+i))
		for _, pe := range peers {
			feed(bgp.Event{Time: at(20 * time.Second), Kind: bgp.Withdraw, Peer: pe, Prefix: kp})
		}
	}
	p.Detector().Tick(at(25 * time.Second))
	found := false
	for _, n := range notices {
		if n.Type == event.Start && n.Event.Kind == event.Outage && n.Event.EntityType == event.Country && n.Event.EntityCode == "KP" {
			found = true
			if d := n.Event.Start.Sub(at(20 * time.Second)); d < 0 || d > time.Second {
				t.Errorf("KP outage starts %s after the withdrawal", d)
			}
		}
	}
	if !found {
		t.Fatalf("no KP outage; notices: %d", len(notices))
	}
	before := len(notices)
	feed(bgp.Event{Time: at(30 * time.Second), Kind: bgp.PeerState, Peer: peers[2], OldState: bgp.StateEstablished, NewState: bgp.StateIdle})
	for _, n := range notices[before:] {
		if n.Event.Kind == event.Outage || n.Event.Kind == event.PartialOutage {
			t.Errorf("an outage on a session down: %s %s", n.Event.EntityType, n.Event.EntityCode)
		}
	}
	if len(notices) == before || notices[before].Event.Kind != event.PeerEvent {
		t.Errorf("no peer event on the session down")
	}
}
