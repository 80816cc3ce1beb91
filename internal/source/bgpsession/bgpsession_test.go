package bgpsession_test

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/source/bgpsession"
	"github.com/blackout-bgp/blackout/internal/source/peertest"
)

// collector starts a Source on 127.0.0.1:port and returns its events.
func collector(t *testing.T, cfg bgpsession.Config) <-chan bgp.Event {
	t.Helper()
	src, err := bgpsession.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan bgp.Event, 1024)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("source did not stop")
		}
	})
	return out
}

func count(evs []bgp.Event, k bgp.EventKind) int {
	n := 0
	for _, e := range evs {
		if e.Kind == k {
			n++
		}
	}
	return n
}

var kp = []string{"175.45.176.0/24", "175.45.177.0/24", "175.45.178.0/24", "175.45.179.0/24"}

func TestExabgp(t *testing.T) {
	peertest.Need(t, "exabgp", "exabgp")
	port := peertest.FreePort(t)
	events := collector(t, bgpsession.Config{
		Listen:    netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		LocalAS:   65000,
		Neighbors: []bgpsession.Neighbor{{Addr: netip.MustParseAddr("127.0.0.2"), AS: 4200000001}},
		Collector: "test",
	})
	ex := peertest.StartExabgp(t, peertest.ExabgpConfig{
		Local: "127.0.0.2", Peer: "127.0.0.1", Port: port, LocalAS: 4200000001, PeerAS: 65000, AddPath: true,
	})
	peer := bgp.Peer{Collector: "test", Addr: netip.MustParseAddr("127.0.0.2"), AS: 4200000001}

	evs := peertest.Collect(t, events, 30*time.Second, "session up", func(e []bgp.Event) bool { return count(e, bgp.PeerState) == 1 })
	if e := evs[len(evs)-1]; e.Peer != peer || e.NewState != bgp.StateEstablished {
		t.Fatalf("first event %+v, want %v Established", e, peer)
	}

	var cmds []string
	for _, p := range kp {
		cmds = append(cmds, "announce route "+p+" next-hop 198.51.100.2 community [ 4837:100 65000:1 ] large-community [ 4200000001:1:2 ] as-path [ 4200000001 4837 131279 ]")
	}
	cmds = append(cmds,
		"announce route 2001:db8:100::/48 next-hop 2001:db8::2 as-path [ 4200000001 6939 4200000002 ]",
		"announce route 192.0.2.0/24 path-information 0.0.0.7 next-hop 198.51.100.2 as-path [ 4200000001 3356 ]",
		"announce route 192.0.2.0/24 path-information 0.0.0.8 next-hop 198.51.100.3 as-path [ 4200000001 174 3356 ]",
	)
	ex.Send(t, cmds)
	evs = peertest.Collect(t, events, 20*time.Second, "7 announcements", func(e []bgp.Event) bool { return count(e, bgp.Announce) == 7 })
	byKey := map[string]bgp.Event{}
	for _, e := range evs {
		if e.Peer != peer {
			t.Errorf("event from %v, want %v", e.Peer, peer)
		}
		byKey[fmt.Sprintf("%s/%d", e.Prefix, e.PathID)] = e
	}
	e, ok := byKey["175.45.178.0/24/0"]
	if !ok {
		t.Fatalf("no KP announcement: %v", peertest.Summarize(evs))
	}
	if got := e.Attrs.Path.String(); got != "4200000001 4837 131279" {
		t.Errorf("AS path %q", got)
	}
	if e.Attrs.NextHop != netip.MustParseAddr("198.51.100.2") {
		t.Errorf("next hop %v", e.Attrs.NextHop)
	}
	if len(e.Attrs.Communities) != 2 || e.Attrs.Communities[0].String() != "4837:100" {
		t.Errorf("communities %v", e.Attrs.Communities)
	}
	if len(e.Attrs.LargeCommunities) != 1 || e.Attrs.LargeCommunities[0].String() != "4200000001:1:2" {
		t.Errorf("large communities %v", e.Attrs.LargeCommunities)
	}
	if e6, ok := byKey["2001:db8:100::/48/0"]; !ok || e6.Attrs.NextHop != netip.MustParseAddr("2001:db8::2") {
		t.Errorf("IPv6 announcement: %+v (present %v)", e6, ok)
	} else if o, _ := e6.Attrs.Path.Origin(); o != 4200000002 {
		t.Errorf("IPv6 origin %v", o)
	}
	if _, ok := byKey["192.0.2.0/24/7"]; !ok {
		t.Errorf("ADD-PATH path id 7 missing: %v", peertest.Summarize(evs))
	}
	if _, ok := byKey["192.0.2.0/24/8"]; !ok {
		t.Errorf("ADD-PATH path id 8 missing: %v", peertest.Summarize(evs))
	}

	var wd []string
	for _, p := range kp {
		wd = append(wd, "withdraw route "+p+" next-hop 198.51.100.2")
	}
	ex.Send(t, wd)
	evs = peertest.Collect(t, events, 20*time.Second, "4 withdrawals", func(e []bgp.Event) bool { return count(e, bgp.Withdraw) == 4 })
	for _, e := range evs {
		if e.Kind == bgp.Withdraw && (!strings.HasPrefix(e.Prefix.String(), "175.45.17") || e.Attrs != nil) {
			t.Errorf("unexpected withdrawal %+v", e)
		}
	}

	// The session goes down: one state event, no withdrawals of the three
	// routes still announced.
	ex.Kill()
	evs = peertest.Collect(t, events, 60*time.Second, "session down", func(e []bgp.Event) bool { return count(e, bgp.PeerState) == 1 })
	if n := count(evs, bgp.Withdraw); n != 0 {
		t.Errorf("%d withdrawals on session down, want 0: %v", n, peertest.Summarize(evs))
	}
	if e := evs[len(evs)-1]; e.Peer != peer || e.OldState != bgp.StateEstablished || e.NewState != bgp.StateIdle {
		t.Errorf("down event %+v", e)
	}
	select {
	case e := <-events:
		if e.Kind == bgp.Withdraw {
			t.Errorf("withdrawal after session down: %+v", e)
		}
	case <-time.After(500 * time.Millisecond):
	}
}

// TestBird: BIRD exports a static route to the collector, which accepts any
// router of 127.0.0.0/24 with any AS (dynamic neighbors).
func TestBird(t *testing.T) {
	peertest.Need(t, "bird", "bird2")
	port := peertest.FreePort(t)
	events := collector(t, bgpsession.Config{
		Listen:    netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		LocalAS:   65000,
		Accept:    []netip.Prefix{netip.MustParsePrefix("127.0.0.0/24")},
		Collector: "test",
	})
	b := peertest.StartBird(t, fmt.Sprintf(`
router id 127.0.0.5;
protocol device {}
protocol static s4 {
  ipv4;
  route 175.45.176.0/24 blackhole;
  route 175.45.177.0/24 blackhole;
}
protocol bgp collector {
  local 127.0.0.5 port %d as 4200000005;
  neighbor 127.0.0.1 port %d as 65000;
  connect retry time 1;
  multihop 2;
  ipv4 { import none; export all; next hop address 198.51.100.5; };
}
`, peertest.FreePort(t), port))
	defer func() {
		if t.Failed() {
			out, _ := exec.Command("birdc", "-s", filepath.Join(b.Dir, "bird.ctl"), "show", "protocols", "all", "collector").CombinedOutput()
			t.Logf("birdc:\n%s", out)
		}
	}()
	peer := bgp.Peer{Collector: "test", Addr: netip.MustParseAddr("127.0.0.5"), AS: 4200000005}
	evs := peertest.Collect(t, events, 30*time.Second, "BIRD's static routes", func(e []bgp.Event) bool { return count(e, bgp.Announce) == 2 })
	if evs[0].Kind != bgp.PeerState || evs[0].Peer != peer || evs[0].NewState != bgp.StateEstablished {
		t.Errorf("first event %+v", evs[0])
	}
	for _, e := range evs[1:] {
		if e.Peer != peer || !strings.HasPrefix(e.Prefix.String(), "175.45.17") {
			t.Errorf("event %+v", e)
		}
		if e.Kind == bgp.Announce && e.Attrs.Path.String() != "4200000005" {
			t.Errorf("AS path %q", e.Attrs.Path.String())
		}
	}
}

// TestGobgpd: gobgpd peers with the collector; routes added to its global
// RIB arrive (IPv4 and IPv6); a reset of the session is one down event and
// no withdrawal, and the routes come back after it.
func TestGobgpd(t *testing.T) {
	peertest.Need(t, "gobgpd", "gobgpd")
	port := peertest.FreePort(t)
	events := collector(t, bgpsession.Config{
		Listen:    netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		LocalAS:   65000,
		Neighbors: []bgpsession.Neighbor{{Addr: netip.MustParseAddr("127.0.0.6"), AS: 65040}},
		Collector: "test",
	})
	g := peertest.StartGobgpd(t, fmt.Sprintf(`
[global.config]
  as = 65040
  router-id = "127.0.0.6"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.1"
    peer-as = 65000
  [neighbors.transport.config]
    local-address = "127.0.0.6"
    remote-port = %d
  [neighbors.timers.config]
    connect-retry = 1
    idle-hold-time-after-reset = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`, port))
	ctx := context.Background()
	for _, args := range [][]string{
		{"global", "rib", "add", "-a", "ipv4", "175.45.178.0/24", "aspath", "4837,131279", "nexthop", "198.51.100.6"},
		{"global", "rib", "add", "-a", "ipv4", "175.45.179.0/24", "aspath", "4837,131279", "nexthop", "198.51.100.6", "community", "4837:7"},
		{"global", "rib", "add", "-a", "ipv6", "2001:db8:300::/48", "aspath", "6939", "nexthop", "2001:db8::6"},
	} {
		if _, err := g.CLI(ctx, args...); err != nil {
			t.Fatal(err)
		}
	}
	peer := bgp.Peer{Collector: "test", Addr: netip.MustParseAddr("127.0.0.6"), AS: 65040}
	evs := peertest.Collect(t, events, 30*time.Second, "gobgpd's routes", func(e []bgp.Event) bool { return count(e, bgp.Announce) == 3 })
	for _, e := range evs {
		if e.Peer != peer {
			t.Errorf("event from %v", e.Peer)
		}
		if e.Kind == bgp.Announce && e.Prefix.String() == "175.45.179.0/24" {
			if e.Attrs.Path.String() != "65040 4837 131279" || len(e.Attrs.Communities) != 1 {
				t.Errorf("attributes %+v", e.Attrs)
			}
		}
	}
	// Readiness: gobgpd's End-of-RIB (or a quiet table) makes an EndOfRIB
	// event per family.
	routesAt := time.Now()
	if n := count(evs, bgp.EndOfRIB); n < 2 {
		peertest.Collect(t, events, 20*time.Second, "End-of-RIB of both families", func(e []bgp.Event) bool { return count(e, bgp.EndOfRIB) == 2-n })
	}
	t.Logf("gobgpd ready (both families) %s after its routes came", time.Since(routesAt).Round(time.Millisecond))
	if _, err := g.CLI(ctx, "neighbor", "127.0.0.1", "reset"); err != nil {
		t.Fatal(err)
	}
	evs = peertest.Collect(t, events, 60*time.Second, "reset and re-announcement", func(e []bgp.Event) bool { return count(e, bgp.Announce) == 3 })
	if count(evs, bgp.Withdraw) != 0 {
		t.Errorf("withdrawals on reset:%s", peertest.Summarize(evs))
	}
	if count(evs, bgp.PeerState) != 2 || evs[0].NewState != bgp.StateIdle {
		t.Errorf("state events on reset:%s", peertest.Summarize(evs))
	}
}
