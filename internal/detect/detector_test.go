package detect_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/signal"
)

var (
	t0   = time.Date(2014, 12, 22, 0, 0, 0, 0, time.UTC)
	kpPs = []string{"175.45.176.0/24", "175.45.177.0/24", "175.45.178.0/24", "175.45.179.0/24"}
	kp   = signal.CountryEntity(geo.Country{'K', 'P'})
)

// world feeds hand-made route events through a whole pipeline: nPeers
// full-feed peers, the four KP prefixes of AS131279 reached through
// AS4837, and a background of other countries.
type world struct {
	t       *testing.T
	p       *pipeline.Pipeline
	peers   []bgp.Peer
	paths   map[string]string // prefix -> path after the peer's AS
	now     time.Time
	notices []event.Notice
}

func newWorld(t *testing.T, nPeers int, cfgs ...func(*pipeline.Config)) *world {
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, now: t0, paths: map[string]string{}}
	cfg := pipeline.DefaultConfig(db)
	for _, f := range cfgs {
		f(&cfg)
	}
	w.p = pipeline.New(cfg, noticeList{w})
	for i := range nPeers {
		w.peers = append(w.peers, bgp.Peer{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), AS: bgp.ASN(64500 + i)})
	}
	for _, p := range kpPs {
		w.paths[p] = "3356 4837 131279"
	}
	w.paths["8.8.8.0/24"] = "3356 15169"
	w.paths["193.0.0.0/21"] = "1299 3333"
	w.paths["1.0.1.0/24"] = "4837"
	w.paths["80.0.0.0/16"] = "1299 5089"
	return w
}

// noticeList keeps the notices of a world.
type noticeList struct{ w *world }

func (l noticeList) Notify(n event.Notice) { l.w.notices = append(l.w.notices, n) }

// detected returns the events that started and were not retracted, in the
// order they started.
func (w *world) detected() []*event.Event {
	var out []*event.Event
	gone := map[*event.Event]bool{}
	for _, n := range w.notices {
		if n.Type == event.Retract {
			gone[n.Event] = true
		}
	}
	for _, n := range w.notices {
		if n.Type == event.Start && !gone[n.Event] {
			out = append(out, n.Event)
		}
	}
	return out
}

func (w *world) feed(kind bgp.EventKind, peer int, p, path string, rib bool) {
	ev := &bgp.Event{Time: w.now, Kind: kind, Peer: w.peers[peer], Prefix: netip.MustParsePrefix(p), RIB: rib}
	if kind == bgp.Announce {
		pp, err := bgp.ParsePath(fmt.Sprintf("%d %s", w.peers[peer].AS, path))
		if err != nil {
			w.t.Fatal(err)
		}
		ev.Attrs = &bgp.Attrs{Path: pp}
	}
	w.p.Feed(ev)
}

// rib dumps every prefix of w.paths to the peers listed in only (all
// peers for a prefix not in only).
func (w *world) rib(only map[string][]int) {
	for p, path := range w.paths {
		peers := only[p]
		if peers == nil {
			for i := range w.peers {
				peers = append(peers, i)
			}
		}
		for _, i := range peers {
			w.feed(bgp.Announce, i, p, path, true)
		}
	}
}

// wait advances data time by d with a harmless re-announcement every 5 min.
func (w *world) wait(d time.Duration) {
	end := w.now.Add(d)
	for w.now.Before(end) {
		step := min(5*time.Minute, end.Sub(w.now))
		w.now = w.now.Add(step)
		w.feed(bgp.Announce, 0, "193.0.0.0/21", w.paths["193.0.0.0/21"], false)
	}
}

func (w *world) withdrawAll(ps ...string) {
	for i := range w.peers {
		for _, p := range ps {
			w.feed(bgp.Withdraw, i, p, "", false)
		}
	}
}

func (w *world) announceAll(ps ...string) {
	for i := range w.peers {
		for _, p := range ps {
			w.feed(bgp.Announce, i, p, w.paths[p], false)
		}
	}
}

func (w *world) events(code string, kind event.Kind) []*event.Event {
	var out []*event.Event
	for _, ev := range w.detected() {
		if ev.EntityCode == code && ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (w *world) logEvents() {
	for _, ev := range w.detected() {
		end := "ongoing"
		if ev.End != nil {
			end = ev.End.Format(time.DateTime)
		}
		w.t.Logf("%s %s %s %s %s..%s lost %.2f", ev.Kind, ev.EntityType, ev.EntityCode, ev.Family, ev.Start.Format(time.DateTime), end, ev.FractionLost)
	}
}

// start sets up the world and an hour of normal data.
func (w *world) start(only map[string][]int) {
	w.rib(only)
	w.wait(6 * time.Hour)
}

func TestLongOutageDoesNotBecomeTheBaseline(t *testing.T) {
	w := newWorld(t, 10)
	w.start(nil)
	down := w.now.Add(time.Minute)
	w.now = down
	w.withdrawAll(kpPs...)
	w.wait(30 * time.Hour)
	if b := w.p.Detector().Baseline(kp, bgp.IPv4); b < 3.9 {
		t.Errorf("after 30 h dark, KP's baseline is %v, want 4 (in-painted)", b)
	}
	for _, code := range []string{"KP", "131279"} {
		evs := w.events(code, event.Outage)
		if len(evs) != 1 || evs[0].End != nil || !evs[0].Start.Equal(down) {
			w.logEvents()
			t.Fatalf("%s: outages %v: want one, ongoing, from %v", code, evs, down)
		}
	}
	up := w.now.Add(time.Minute)
	w.now = up
	w.announceAll(kpPs...)
	w.wait(time.Hour)
	w.p.Finish()
	for _, code := range []string{"KP", "131279"} {
		evs := w.events(code, event.Outage)
		if len(evs) != 1 || evs[0].End == nil || !evs[0].End.Equal(up) || evs[0].Severity != event.Critical || evs[0].FractionLost != 1 {
			w.logEvents()
			t.Errorf("%s: outages %+v: want one from %v to %v, critical, all lost", code, evs, down, up)
		}
		// An outage is not an upstream change.
		if u := w.events(code, event.UpstreamChange); len(u) != 0 {
			t.Errorf("%s: the outage was also reported as an upstream change: %+v", code, u[0])
		}
	}
	for _, ev := range w.detected() {
		if ev.EntityCode != "KP" && ev.EntityCode != "131279" && ev.EntityType != event.Peer {
			t.Errorf("unexpected %s of %s %s", ev.Kind, ev.EntityType, ev.EntityCode)
		}
	}
}

func TestPartialOutageNeedsConfirmation(t *testing.T) {
	// Half of KP gone for 3 minutes (< PartialConfirm, 5 min): nothing.
	w := newWorld(t, 10)
	w.start(nil)
	w.withdrawAll(kpPs[:2]...)
	w.wait(3 * time.Minute)
	w.announceAll(kpPs[:2]...)
	w.wait(time.Hour)
	w.p.Finish()
	for _, kind := range []event.Kind{event.PartialOutage, event.Outage} {
		if evs := w.events("KP", kind); len(evs) != 0 {
			w.logEvents()
			t.Errorf("a 3-minute loss of half of KP was reported as %s", kind)
		}
	}
	// Half of KP gone for 20 minutes: a partial outage from the fall.
	w = newWorld(t, 10)
	w.start(nil)
	down := w.now
	w.withdrawAll(kpPs[:2]...)
	w.wait(4 * time.Minute)
	if evs := w.events("KP", event.PartialOutage); len(evs) != 0 {
		t.Errorf("partial outage reported before PartialConfirm: %+v", evs[0])
	}
	w.wait(16 * time.Minute)
	up := w.now
	w.announceAll(kpPs[:2]...)
	w.wait(time.Hour)
	w.p.Finish()
	for _, code := range []string{"KP", "131279"} {
		evs := w.events(code, event.PartialOutage)
		if len(evs) != 1 {
			w.logEvents()
			t.Fatalf("%s: %d partial outages, want 1", code, len(evs))
		}
		ev := evs[0]
		if !ev.Start.Equal(down) || ev.End == nil || !ev.End.Equal(up) || ev.FractionLost != 0.5 || ev.AffectedPrefixes != 2 {
			t.Errorf("%s: partial outage %v..%v lost %v affected %d; want %v..%v, 0.5, 2", code, ev.Start, ev.End, ev.FractionLost, ev.AffectedPrefixes, down, up)
		}
	}
}

func TestTransientOutageIsRetracted(t *testing.T) {
	w := newWorld(t, 10)
	w.start(nil)
	w.withdrawAll(kpPs...)
	w.now = w.now.Add(60 * time.Second)
	w.announceAll(kpPs...)
	w.wait(time.Hour)
	w.p.Finish()
	if evs := w.events("KP", event.Outage); len(evs) != 0 {
		w.logEvents()
		t.Errorf("a 60-second outage (< TransientOutage) was kept: %+v", evs[0])
	}
	retracted := 0
	for _, n := range w.notices {
		if n.Type == "retract" && n.Event.EntityCode == "KP" {
			retracted++
		}
	}
	if retracted != 1 {
		t.Errorf("%d retract notices for KP, want 1", retracted)
	}
}

func TestMarginalPrefixIsNotAnOutage(t *testing.T) {
	// 80.0.0.0/16 (AS5089) is seen by 6 of 10 peers: visible. One peer's
	// withdrawal tips it under the threshold: the prefix is invisible, but
	// the world did not withdraw it (BreadthShare).
	w := newWorld(t, 10)
	w.start(map[string][]int{"80.0.0.0/16": {0, 1, 2, 3, 4, 5}})
	w.feed(bgp.Withdraw, 3, "80.0.0.0/16", "", false)
	if vis := w.p.View(); vis != nil {
		id, _ := vis.Lookup(netip.MustParsePrefix("80.0.0.0/16"))
		if vis.Visible(id) {
			t.Fatal("5 of 10 peers: still visible")
		}
	}
	w.wait(2 * time.Hour)
	w.p.Finish()
	for _, code := range []string{"GB", "5089"} {
		for _, kind := range []event.Kind{event.Outage, event.PartialOutage} {
			if evs := w.events(code, kind); len(evs) != 0 {
				w.logEvents()
				t.Errorf("%s: one peer's withdrawal of a marginal prefix gave %s", code, kind)
			}
		}
	}
	// The same prefix withdrawn by all 6 peers is an outage.
	w = newWorld(t, 10)
	w.start(map[string][]int{"80.0.0.0/16": {0, 1, 2, 3, 4, 5}})
	for i := range 6 {
		w.feed(bgp.Withdraw, i, "80.0.0.0/16", "", false)
	}
	w.wait(2 * time.Hour)
	w.p.Finish()
	if evs := w.events("5089", event.Outage); len(evs) != 1 {
		w.logEvents()
		t.Errorf("AS5089: %d outages when every peer withdrew, want 1", len(evs))
	}
}

func TestUpstreamChange(t *testing.T) {
	w := newWorld(t, 10)
	w.start(nil)
	change := w.now.Add(time.Minute)
	w.now = change
	for i := range w.peers {
		w.now = change.Add(time.Duration(i) * time.Second)
		for _, p := range kpPs {
			w.feed(bgp.Announce, i, p, "3356 9808 131279", false)
		}
	}
	w.wait(time.Hour)
	w.p.Finish()
	for _, code := range []string{"KP", "131279"} {
		evs := w.events(code, event.UpstreamChange)
		if len(evs) != 1 {
			w.logEvents()
			t.Fatalf("%s: %d upstream changes, want 1", code, len(evs))
		}
		ev := evs[0]
		if fmt.Sprint(ev.Lost) != "[4837]" || fmt.Sprint(ev.Gained) != "[9808]" {
			t.Errorf("%s: lost %v gained %v; want [4837] and [9808]", code, ev.Lost, ev.Gained)
		}
		if ev.Start.Before(change) || ev.Start.After(change.Add(10*time.Second)) {
			t.Errorf("%s: upstream change at %v, want within the change (%v + 10 s)", code, ev.Start, change)
		}
		for _, kind := range []event.Kind{event.Outage, event.PartialOutage} {
			if len(w.events(code, kind)) != 0 {
				t.Errorf("%s: an upstream change was reported as %s", code, kind)
			}
		}
	}
}
