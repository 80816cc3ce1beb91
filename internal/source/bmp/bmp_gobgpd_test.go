package bmp_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/source/bmp"
	"github.com/blackout-bgp/blackout/internal/source/peertest"
)

// station starts a Station on 127.0.0.1:port.
func station(t *testing.T, port int, views bmp.View) (*bmp.Station, <-chan bgp.Event) {
	t.Helper()
	st := bmp.New(bmp.Config{Listen: fmt.Sprintf("127.0.0.1:%d", port), Views: views, Logf: t.Logf})
	ctx, cancel := context.WithCancel(context.Background())
	if err := st.Listen(ctx); err != nil {
		t.Fatal(err)
	}
	out := make(chan bgp.Event, 4096)
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("station did not stop")
		}
	})
	return st, out
}

func has(evs []bgp.Event, f func(bgp.Event) bool) bool {
	for _, e := range evs {
		if f(e) {
			return true
		}
	}
	return false
}

// TestGobgpdBMP: exabgp (127.0.0.4, AS65020) peers with gobgpd (127.0.0.3,
// AS65010), which streams BMP (route monitoring "all": pre-policy
// Adj-RIB-In and Loc-RIB) to the station. Routes from exabgp arrive as the
// pre-policy view of peer 127.0.0.4; a route added to gobgpd's global RIB
// as its Loc-RIB view; exabgp's session going down is a peer event.
func TestGobgpdBMP(t *testing.T) {
	peertest.Need(t, "gobgpd", "gobgpd")
	peertest.Need(t, "exabgp", "exabgp")
	bmpPort, bgpPort := peertest.FreePort(t), peertest.FreePort(t)
	st, events := station(t, bmpPort, bmp.ViewPre|bmp.ViewLocRIB)

	g := peertest.StartGobgpd(t, fmt.Sprintf(`
[global.config]
  as = 65010
  router-id = "127.0.0.3"
  port = %d
  local-address-list = ["127.0.0.3"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.4"
    peer-as = 65020
  [neighbors.transport.config]
    local-address = "127.0.0.3"
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
[[bmp-servers]]
  [bmp-servers.config]
    address = "127.0.0.1"
    port = %d
    route-monitoring-policy = "all"
    statistics-timeout = 15
    sys-name = "gobgpd-test"
`, bgpPort, bmpPort))

	ex := peertest.StartExabgp(t, peertest.ExabgpConfig{Local: "127.0.0.4", Peer: "127.0.0.3", Port: bgpPort, LocalAS: 65020, PeerAS: 65010})
	pre := func(e bgp.Event) bool {
		return e.Peer.Collector == "gobgpd-test" && e.Peer.Addr == netip.MustParseAddr("127.0.0.4") && e.Peer.AS == 65020
	}
	upEvs := peertest.Collect(t, events, 30*time.Second, "peer up of exabgp", func(evs []bgp.Event) bool {
		return has(evs, func(e bgp.Event) bool { return pre(e) && e.Kind == bgp.PeerState && e.NewState == bgp.StateEstablished })
	})
	if !has(upEvs, func(e bgp.Event) bool { return pre(e) && e.Kind == bgp.PeerState && e.SignalsReady }) {
		t.Error("the BMP peer up does not say it signals readiness")
	}
	upAt := time.Now()

	ex.Send(t, []string{
		"announce route 175.45.176.0/24 next-hop 198.51.100.4 as-path [ 65020 4837 131279 ]",
		"announce route 175.45.177.0/24 next-hop 198.51.100.4 as-path [ 65020 4837 131279 ]",
		"announce route 2001:db8:200::/48 next-hop 2001:db8::4 as-path [ 65020 4200000003 ]",
	})
	if _, err := g.CLI(context.Background(), "global", "rib", "add", "-a", "ipv4", "192.0.2.0/24", "aspath", "3356", "nexthop", "198.51.100.3"); err != nil {
		t.Fatal(err)
	}
	evs := peertest.Collect(t, events, 30*time.Second, "pre-policy and Loc-RIB routes", func(evs []bgp.Event) bool {
		n := 0
		for _, e := range evs {
			if e.Kind == bgp.Announce && pre(e) {
				n++
			}
		}
		return n >= 3 && has(evs, func(e bgp.Event) bool {
			return e.Kind == bgp.Announce && e.Peer.Collector == "gobgpd-test/loc-rib" && e.Prefix.String() == "192.0.2.0/24"
		})
	})
	for _, e := range evs {
		if e.Kind == bgp.Announce && pre(e) && e.Prefix.String() == "175.45.176.0/24" {
			if got := e.Attrs.Path.String(); got != "65020 4837 131279" {
				t.Errorf("AS path %q", got)
			}
			if e.Attrs.NextHop != netip.MustParseAddr("198.51.100.4") {
				t.Errorf("next hop %v", e.Attrs.NextHop)
			}
		}
		if e.Kind == bgp.Announce && pre(e) && e.Prefix.String() == "2001:db8:200::/48" {
			if o, _ := e.Attrs.Path.Origin(); o != 4200000003 {
				t.Errorf("IPv6 origin %v", o)
			}
		}
	}

	// Readiness: each family of the pre-policy view is ready at its
	// End-of-RIB, or once its table is quiet (5 s).
	gotRoutes := time.Now()
	peertest.Collect(t, events, 30*time.Second, "pre-policy view ready", func(evs []bgp.Event) bool {
		return has(evs, func(e bgp.Event) bool { return pre(e) && e.Kind == bgp.EndOfRIB && bgp.FamilyOf(e.Prefix) == bgp.IPv4 })
	})
	t.Logf("BMP: pre-policy view of 127.0.0.4 ready (IPv4) %s after its peer up, %s after its routes came",
		time.Since(upAt).Round(time.Millisecond), time.Since(gotRoutes).Round(time.Millisecond))

	ex.Send(t, []string{"withdraw route 175.45.177.0/24 next-hop 198.51.100.4"})
	peertest.Collect(t, events, 20*time.Second, "withdrawal", func(evs []bgp.Event) bool {
		return has(evs, func(e bgp.Event) bool {
			return pre(e) && e.Kind == bgp.Withdraw && e.Prefix.String() == "175.45.177.0/24"
		})
	})

	ex.Kill()
	peertest.Collect(t, events, 60*time.Second, "peer down of exabgp", func(evs []bgp.Event) bool {
		return has(evs, func(e bgp.Event) bool { return pre(e) && e.Kind == bgp.PeerState && e.NewState == bgp.StateIdle })
	})
	if st.Stats().Messages[bmp.TypeInitiation].Load() != 1 {
		t.Errorf("initiation messages: %d", st.Stats().Messages[bmp.TypeInitiation].Load())
	}
	t.Logf("messages by type %v, routes %d, skipped %d, stats TLVs %d, errors %d",
		[]int64{st.Stats().Messages[0].Load(), st.Stats().Messages[1].Load(), st.Stats().Messages[2].Load(), st.Stats().Messages[3].Load()},
		st.Stats().Routes.Load(), st.Stats().Skipped.Load(), st.Stats().StatCounts.Load(), st.Stats().Errors.Load())
	if st.Stats().Errors.Load() != 0 {
		t.Errorf("%d malformed messages", st.Stats().Errors.Load())
	}

	// The router goes away: its peers that were up (the Loc-RIB view) are
	// reported down.
	g.Kill()
	peertest.Collect(t, events, 20*time.Second, "Loc-RIB view down with the router", func(evs []bgp.Event) bool {
		return has(evs, func(e bgp.Event) bool {
			return e.Peer.Collector == "gobgpd-test/loc-rib" && e.Kind == bgp.PeerState && e.NewState == bgp.StateIdle
		})
	})
}
