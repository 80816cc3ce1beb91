package bmp

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// TestStationQuietStamp: a station's quiet rule runs on arrival time (the
// router says nothing while its table is complete), but the EndOfRIB it
// makes due carries the data time of the router's last message, not the
// wall clock, so the router's events stay in its time order. A Loc-RIB
// view seen first by its routes (no Peer Up: no table dump is coming)
// does not signal readiness and gets no EndOfRIB.
func TestStationQuietStamp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := New(Config{Listen: "127.0.0.1:0", Quiet: 300 * time.Millisecond})
	if err := st.Listen(ctx); err != nil {
		t.Fatal(err)
	}
	out := make(chan bgp.Event, 64)
	go st.Run(ctx, out)
	conn, err := net.Dial("tcp", st.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peer := netip.MustParseAddr("192.0.2.7")
	const t0 = 1419265000 // 2014-12-22 16:16:40 UTC
	h := peerHdr(PeerGlobal, 0, peer, 64500, t0)
	h5 := peerHdr(PeerGlobal, 0, peer, 64500, t0+5)
	for _, m := range [][]byte{
		msg(TypeInitiation, tlv(2, "rtr1")),
		peerUp(h, open(65000, 0), open(64500, 0)),
		msg(TypeRouteMonitoring, append(h5, update(false, 0, "175.45.176.0/24", []uint32{64500, 4837, 131279}, "")...)),
		msg(TypeRouteMonitoring, append(peerHdr(PeerLocRIB, 0, netip.IPv4Unspecified(), 65000, t0+6), update(false, 0, "192.0.2.0/24", []uint32{3356}, "")...)),
	} {
		if _, err := conn.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	var evs []bgp.Event
	var eors []bgp.Event
	deadline := time.After(10 * time.Second)
	for len(eors) < 2 {
		select {
		case ev := <-out:
			evs = append(evs, ev)
			if ev.Kind == bgp.EndOfRIB {
				eors = append(eors, ev)
			}
		case <-deadline:
			t.Fatalf("no EndOfRIB by the quiet rule after 10 s: %+v", evs)
		}
	}
	for _, e := range eors {
		if e.Peer.Collector != "rtr1" || e.Peer.Addr != peer {
			t.Errorf("EndOfRIB of %s, want the pre-policy view of %s", e.Peer, peer)
		}
		if !e.Time.Equal(time.Unix(t0+6, 0)) {
			t.Errorf("EndOfRIB at %s, want %s (the router's last message), not the wall clock", e.Time, time.Unix(t0+6, 0).UTC())
		}
	}
	for _, e := range evs {
		if e.Kind == bgp.PeerState && e.SignalsReady != (e.Peer.Collector == "rtr1") {
			t.Errorf("%s: SignalsReady %v (a Peer Up signals; routes before any Peer Up do not)", e.Peer, e.SignalsReady)
		}
	}
	select {
	case ev := <-out:
		t.Errorf("an event after the pre-policy view's EndOfRIBs: %+v (the Loc-RIB view had no Peer Up)", ev)
	case <-time.After(time.Second):
	}
}
