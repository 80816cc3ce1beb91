package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/scenario"
	"github.com/blackout-bgp/blackout/internal/source/peertest"
)

// worldRoutes returns about n routes of a generated world (prefix and AS
// path from its origin, no KP prefix), and KP's four /24s reached through
// China Unicom.
func worldRoutes(t *testing.T, n int) (world []string, kp []string) {
	t.Helper()
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	cfg := scenario.Config{Name: "bgp-world", Seed: 7, Duration: time.Hour, Peers: 2, Countries: 40, Collector: "rrc00"}
	g, err := scenario.GenerateInMemory(context.Background(), cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Prefix]bool{}
	for _, f := range g.Files {
		rr := mrt.NewRouteReader(bytes.NewReader(f.Data), f.Name, "rrc00")
		for len(world) < n-4 {
			ev, err := rr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			if ev.Kind != bgp.Announce || !ev.Prefix.Addr().Is4() || seen[ev.Prefix] {
				continue
			}
			if c, ok := db.Country(ev.Prefix.Addr()); ok && c.String() == "KP" {
				continue
			}
			seen[ev.Prefix] = true
			path := ev.Attrs.Path.AppendFlat(nil)
			if len(path) > 1 {
				path = path[1:] // the generated peer's own AS: exabgp's goes first
			}
			world = append(world, fmt.Sprintf("%s as-path [ %s ]", ev.Prefix, joinASNs(path)))
		}
	}
	if len(world) < n/2 {
		t.Fatalf("world of %d routes", len(world))
	}
	for i := range 4 {
		kp = append(kp, fmt.Sprintf("175.45.%d.0/24", 176+i))
	}
	return world, kp
}

func joinASNs(p []bgp.ASN) string {
	s := make([]string, len(p))
	for i, a := range p {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

// TestWatchBGPOutage is issue 12's must-show, with real exabgp speakers on
// loopback and watch's default flags but the listen address, the accepted
// range and the local AS: three peers come up and announce their world;
// watch says when each is up and ready and when it judges IPv4; a
// withdrawal of KP's four /24s 20 s later is an outage event (its wall
// latency is logged; with BLACKOUT_TIMING=1 it must be under 1 s); then
// one peer's session is lost: a peer event, and no outage.
func TestWatchBGPOutage(t *testing.T) {
	peertest.Need(t, "exabgp", "exabgp")
	world, kp := worldRoutes(t, 200)
	port := peertest.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	code := make(chan int, 1)
	start := time.Now()
	go func() {
		code <- run(ctx, &cmdEnv{stdout: &out, stderr: &errb}, []string{"watch", "--bgp-listen", "127.0.0.1:" + strconv.Itoa(port),
			"--bgp-accept", "127.0.0.0/8", "--local-as", "65000", "--json"})
	}()
	wait := func(what string, d time.Duration, cond func() bool) time.Time {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			select {
			case c := <-code:
				t.Fatalf("watch stopped (exit %d) waiting for %s:\n%s", c, what, errb.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s within %s\nstdout:\n%s\nstderr:\n%s", what, d, out.String(), errb.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Now()
	}
	wait("listening", 10*time.Second, func() bool { return strings.Contains(errb.String(), "listening as AS65000") })

	var speakers []*peertest.Exabgp
	for i := range 3 {
		speakers = append(speakers, peertest.StartExabgp(t, peertest.ExabgpConfig{Local: fmt.Sprintf("127.0.0.%d", 2+i), Peer: "127.0.0.1",
			Port: port, LocalAS: uint32(65001 + i), PeerAS: 65000, Families: "ipv4 unicast;"}))
	}
	up := wait("3 sessions up", 60*time.Second, func() bool { return strings.Count(errb.String(), "session up: 127.0.0.") == 3 })
	for i, ex := range speakers {
		var cmds []string
		for _, r := range append(slices.Clone(world), kp...) {
			if !strings.Contains(r, "as-path") {
				r += " as-path [ 4837 131279 ]"
			}
			cmds = append(cmds, fmt.Sprintf("announce route %s next-hop 198.51.100.%d", strings.Replace(r, "as-path [ ", fmt.Sprintf("as-path [ %d ", 65001+i), 1), 2+i))
		}
		ex.Send(t, cmds)
	}
	announced := time.Now()
	ready := wait("IPv4 judged", 60*time.Second, func() bool { return strings.Contains(errb.String(), "IPv4: judged from") })
	t.Logf("sessions up %s after start; IPv4 judged %s after the sessions came up (%s after the announcements were sent)",
		up.Sub(start).Round(time.Millisecond), ready.Sub(up).Round(time.Millisecond), ready.Sub(announced).Round(time.Millisecond))
	if n := strings.Count(errb.String(), "peer ready: 127.0.0."); n < 3 {
		t.Errorf("%d peers said ready, want 3:\n%s", n, errb.String())
	}
	if d := time.Until(announced.Add(20 * time.Second)); d > 0 {
		time.Sleep(d)
	}
	var wd []string
	for _, p := range kp {
		wd = append(wd, "withdraw route "+p+" next-hop 198.51.100.2")
	}
	for _, ex := range speakers {
		ex.Send(t, wd)
	}
	isKP := func(l string) bool {
		return strings.Contains(l, `"entity_type":"country","entity_code":"KP"`) && strings.Contains(l, `"kind":"outage"`)
	}
	seen := wait("KP outage", 10*time.Second, func() bool { return slices.ContainsFunc(strings.Split(out.String(), "\n"), isKP) })
	// The latency: from the second speaker's withdrawal (2 of 3 peers make
	// the prefixes invisible) to the line, as the wall clock sees it.
	sent := speakers[1].SentTimes()
	lat := seen.Sub(sent[len(sent)-1])
	t.Logf("withdrawal -> outage event: %s (machine load not controlled)", lat.Round(time.Microsecond))
	if os.Getenv("BLACKOUT_TIMING") == "1" && lat > time.Second {
		t.Errorf("outage %s after the withdrawal, want under 1 s", lat)
	}

	// A peer's session is lost: a peer event, no outage.
	before := len(jsonEvents(t, out.String()))
	speakers[2].Kill()
	wait("peer event", 30*time.Second, func() bool {
		return strings.Contains(out.String(), `"entity_type":"peer","entity_code":"127.0.0.4"`)
	})
	time.Sleep(2 * time.Second)
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d: %s", c, errb.String())
	}
	evs := jsonEvents(t, out.String())
	for _, ev := range evs[before:] {
		if ev.Kind == event.Outage || ev.Kind == event.PartialOutage {
			t.Errorf("outage after the session loss: %+v", ev)
		}
	}
	if !strings.Contains(errb.String(), "session down: 127.0.0.4 AS65003") {
		t.Errorf("no session down line:\n%s", errb.String())
	}
	t.Logf("stderr:\n%s", errb.String())
}
