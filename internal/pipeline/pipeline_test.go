package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/source"
)

// world is a small hand-made routing world for end-to-end tests.
type world struct {
	peers    []bgp.Peer
	prefixes []netip.Prefix
	paths    map[netip.Prefix]string // the path after the peer's AS
}

func newWorld(nPeers int) *world {
	w := &world{paths: map[netip.Prefix]string{}}
	for i := 0; i < nPeers; i++ {
		w.peers = append(w.peers, bgp.Peer{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), AS: bgp.ASN(64500 + i)})
	}
	add := func(p, path string) {
		pfx := netip.MustParsePrefix(p)
		w.prefixes = append(w.prefixes, pfx)
		w.paths[pfx] = path
	}
	for i := 0; i < 4; i++ {
		add(fmt.Sprintf("175.45.%d.0/24", 176+i), "3356 4837 131279")
	}
	add("8.8.8.0/24", "3356 15169")
	add("193.0.0.0/21", "1299 3333")
	add("1.0.1.0/24", "4837")
	add("2001:67c:2e8::/48", "1299 3333")
	return w
}

func (w *world) attrs(t testing.TB, peer bgp.Peer, p netip.Prefix) *bgp.Attrs {
	path, err := bgp.ParsePath(fmt.Sprintf("%d %s", peer.AS, w.paths[p]))
	if err != nil {
		t.Fatal(err)
	}
	a := &bgp.Attrs{Path: path, NextHop: netip.MustParseAddr("198.51.100.1")}
	if p.Addr().Is6() {
		a.NextHop = netip.MustParseAddr("2001:db8::1")
	}
	a.Set(bgp.AttrOrigin)
	a.Set(bgp.AttrASPath)
	a.Set(bgp.AttrNextHop)
	return a
}

func (w *world) rib(t testing.TB, mw *mrt.Writer, at time.Time) {
	if err := mw.WritePeerIndex(at, netip.MustParseAddr("192.0.2.1"), "", w.peers); err != nil {
		t.Fatal(err)
	}
	for seq, p := range w.prefixes {
		var es []mrt.RIBEntryOut
		for i, peer := range w.peers {
			es = append(es, mrt.RIBEntryOut{PeerIndex: uint16(i), Originated: at, Attrs: w.attrs(t, peer, p)})
		}
		if err := mw.WriteRIB(at, uint32(seq), p, es); err != nil {
			t.Fatal(err)
		}
	}
}

var local = netip.MustParseAddr("192.0.2.1")

func (w *world) withdraw(t testing.TB, mw *mrt.Writer, at time.Time, ps []netip.Prefix, spread time.Duration) {
	for i, peer := range w.peers {
		ti := at.Add(time.Duration(i) * spread / time.Duration(len(w.peers)))
		if err := mw.WriteUpdate(ti, peer, local, 12654, ps, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *world) announce(t testing.TB, mw *mrt.Writer, at time.Time, ps []netip.Prefix) {
	for _, peer := range w.peers {
		for _, p := range ps {
			if err := mw.WriteUpdate(at, peer, local, 12654, nil, w.attrs(t, peer, p), []netip.Prefix{p}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// ticks writes a tick every `every`, from one minute after from up to span
// after from (a quiet world whose data time advances).
func (w *world) ticks(t testing.TB, mw *mrt.Writer, from time.Time, span, every time.Duration) {
	for d := time.Minute; d < span; d += every {
		w.tick(t, mw, from.Add(d))
	}
}

// keepalive writes an unrelated re-announcement so data time advances.
func (w *world) tick(t testing.TB, mw *mrt.Writer, at time.Time) {
	p := w.prefixes[4]
	if err := mw.WriteUpdate(at, w.peers[0], local, 12654, nil, w.attrs(t, w.peers[0], p), []netip.Prefix{p}); err != nil {
		t.Fatal(err)
	}
}

func runBytes(t *testing.T, data []byte) *Result {
	t.Helper()
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), source.NewFile(bytes.NewReader(data), "test", ""), Options{Config: DefaultConfig(db)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func find(res *Result, entity, code, kind string) *event.Event {
	for _, ev := range res.Events {
		if ev.EntityType.String() == entity && ev.EntityCode == code && string(ev.Kind) == kind {
			return ev
		}
	}
	return nil
}

func TestOutageEndToEnd(t *testing.T) {
	w := newWorld(10)
	var buf bytes.Buffer
	mw := mrt.NewWriter(&buf)
	t0 := time.Date(2014, 12, 22, 10, 0, 0, 0, time.UTC)
	w.rib(t, mw, t0)
	w.ticks(t, mw, t0, 6*time.Hour, 7*time.Minute)
	down := time.Date(2014, 12, 22, 16, 15, 0, 0, time.UTC)
	up := down.Add(9*time.Hour + 31*time.Minute)
	kp := w.prefixes[:4]
	// Interleave in time order.
	w.withdraw(t, mw, down, kp, 9*time.Second)
	w.ticks(t, mw, down, 9*time.Hour+31*time.Minute, 11*time.Minute)
	w.announce(t, mw, up, kp)
	w.tick(t, mw, up.Add(time.Hour))
	if err := mw.Flush(); err != nil {
		t.Fatal(err)
	}
	res := runBytes(t, buf.Bytes())
	for _, ev := range res.Events {
		t.Logf("%s %s %s %s %v..%v %s", ev.Kind, ev.EntityType, ev.EntityCode, ev.Family, ev.Start, ev.End, ev.Explanation)
	}
	for _, ent := range [][2]string{{"country", "KP"}, {"asn", "131279"}} {
		ev := find(res, ent[0], ent[1], "outage")
		if ev == nil {
			t.Fatalf("no outage for %s %s", ent[0], ent[1])
		}
		// Visible means seen by more than half of the 10 peers: it falls
		// with the 5th withdrawal, 4 x 0.9 s after the first.
		wantStart := down.Add(4 * 900 * time.Millisecond)
		if !ev.Start.Equal(wantStart) {
			t.Errorf("%s start %v, want %v", ent[1], ev.Start, wantStart)
		}
		if ev.End == nil || !ev.End.Equal(up) {
			t.Errorf("%s end %v, want %v", ent[1], ev.End, up)
		}
		if ev.AffectedPrefixes != 4 || ev.FractionLost != 1 || ev.Severity != "critical" {
			t.Errorf("%s: affected %d, lost %v, severity %s", ent[1], ev.AffectedPrefixes, ev.FractionLost, ev.Severity)
		}
		if w := ev.Withdrawal; w == nil || w.Peers != 10 || !w.First.Equal(down) {
			t.Errorf("%s withdrawal spread %+v, want 10 peers from %v", ent[1], w, down)
		}
		if ent[0] == "country" && (len(ev.UpstreamsBefore) != 1 || ev.UpstreamsBefore[0] != 4837) {
			t.Errorf("upstreams before %v, want [4837]", ev.UpstreamsBefore)
		}
		if ent[0] == "asn" && (len(ev.UpstreamsBefore) != 1 || ev.UpstreamsBefore[0] != 4837) {
			t.Errorf("AS upstreams before %v, want [4837]", ev.UpstreamsBefore)
		}
		if len(ev.Origins) != 1 || ev.Origins[0] != 131279 {
			t.Errorf("origins %v", ev.Origins)
		}
	}
	for _, ev := range res.Events {
		if (ev.Kind == "outage" || ev.Kind == "partial_outage") && ev.EntityCode != "KP" && ev.EntityCode != "131279" {
			t.Errorf("unexpected %s of %s %s", ev.Kind, ev.EntityType, ev.EntityCode)
		}
	}
}
