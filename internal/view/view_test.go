package view_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/view"
)

type visCall struct {
	p       netip.Prefix
	origin  bgp.ASN
	visible bool
}

type routeCall struct {
	p        netip.Prefix
	peer     int
	old, new view.PathID
}

// recorder is a view.Observer that records every call.
type recorder struct {
	vis    []visCall
	routes []routeCall
	peers  []view.PeerEvent
}

func (r *recorder) Visibility(_ time.Time, _ view.PrefixID, p netip.Prefix, origin bgp.ASN, visible bool) {
	r.vis = append(r.vis, visCall{p, origin, visible})
}

func (r *recorder) Route(_ time.Time, _ view.PrefixID, p netip.Prefix, peer int, old, new view.PathID) {
	r.routes = append(r.routes, routeCall{p, peer, old, new})
}

func (r *recorder) Peer(ev view.PeerEvent) { r.peers = append(r.peers, ev) }

// Membership records a peer's route that joins or leaves the counts as a
// route from or to nothing.
func (r *recorder) Membership(_ time.Time, _ view.PrefixID, p netip.Prefix, peer int, path view.PathID, joined bool) {
	if joined {
		r.routes = append(r.routes, routeCall{p, peer, 0, path})
	} else {
		r.routes = append(r.routes, routeCall{p, peer, path, 0})
	}
}

func (r *recorder) reset() { r.vis, r.routes, r.peers = nil, nil, nil }

func (r *recorder) peerKinds() []view.PeerEventKind {
	var ks []view.PeerEventKind
	for _, p := range r.peers {
		ks = append(ks, p.Kind)
	}
	return ks
}

func (r *recorder) lost() []netip.Prefix {
	var out []netip.Prefix
	for _, c := range r.vis {
		if !c.visible {
			out = append(out, c.p)
		}
	}
	return out
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// harness drives a view with hand-made events.
type harness struct {
	t     *testing.T
	v     *view.View
	rec   *recorder
	peers []bgp.Peer
	now   time.Time
}

func newHarness(t *testing.T, cfg view.Config, nPeers int) *harness {
	h := &harness{t: t, rec: &recorder{}, now: t0}
	h.v = view.New(cfg, h.rec)
	for i := range nPeers {
		h.peers = append(h.peers, bgp.Peer{Collector: "rrc00", Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)}), AS: bgp.ASN(64500 + i)})
	}
	return h
}

// testConfig is DefaultConfig with a full-feed threshold set by the
// relative rule (tables of tens of prefixes).
func testConfig() view.Config {
	cfg := view.DefaultConfig()
	cfg.RefreshEvery = time.Hour
	return cfg
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// base returns n prefixes 10.i.0.0/16 that every peer of a test has.
func base(n int) []netip.Prefix {
	var out []netip.Prefix
	for i := range n {
		out = append(out, pfx(fmt.Sprintf("10.%d.0.0/16", i)))
	}
	return out
}

func (h *harness) ev(kind bgp.EventKind, peer int, p netip.Prefix, path string, rib bool) *bgp.Event {
	ev := &bgp.Event{Time: h.now, Kind: kind, Peer: h.peers[peer], Prefix: p, RIB: rib}
	if kind == bgp.Announce {
		pp, err := bgp.ParsePath(fmt.Sprintf("%d %s", h.peers[peer].AS, path))
		if err != nil {
			h.t.Fatal(err)
		}
		ev.Attrs = &bgp.Attrs{Path: pp}
	}
	return ev
}

func (h *harness) rib(peer int, p netip.Prefix, path string) {
	h.v.Apply(h.ev(bgp.Announce, peer, p, path, true))
}

func (h *harness) announce(peer int, p netip.Prefix, path string) {
	h.v.Apply(h.ev(bgp.Announce, peer, p, path, false))
}

func (h *harness) withdraw(peer int, p netip.Prefix) {
	h.v.Apply(h.ev(bgp.Withdraw, peer, p, "", false))
}

func (h *harness) state(peer int, old, nw bgp.State) {
	h.v.Apply(&bgp.Event{Time: h.now, Kind: bgp.PeerState, Peer: h.peers[peer], OldState: old, NewState: nw})
}

func (h *harness) id(p netip.Prefix) view.PrefixID {
	id, ok := h.v.Lookup(p)
	if !ok {
		h.t.Fatalf("%v not in the view", p)
	}
	return id
}

func (h *harness) seen(p netip.Prefix) int {
	n, _ := h.v.Seen(h.id(p))
	return n
}

// world gives every peer the base prefixes in a RIB dump and the given
// prefix to the listed peers, then settles the full-feed set.
func (h *harness) world(nBase int, extra map[netip.Prefix][]int) {
	for _, p := range base(nBase) {
		for i := range h.peers {
			h.rib(i, p, "3356 65000")
		}
	}
	for p, ps := range extra {
		for _, i := range ps {
			h.rib(i, p, "3356 64999")
		}
	}
	h.v.Refresh()
	if v4, _ := h.v.FullFeed(); v4 != len(h.peers) {
		h.t.Fatalf("%d full-feed peers, want %d", v4, len(h.peers))
	}
}

func TestVisibilityThreshold(t *testing.T) {
	h := newHarness(t, testConfig(), 4)
	three, two := pfx("192.0.2.0/24"), pfx("198.51.100.0/24")
	h.world(10, map[netip.Prefix][]int{three: {0, 1, 2}, two: {0, 1}})
	// More than half of 4: 3 is visible, 2 is not.
	if !h.v.Visible(h.id(three)) || h.v.Visible(h.id(two)) {
		t.Fatalf("visible: 3 of 4 %v (want true), 2 of 4 %v (want false)", h.v.Visible(h.id(three)), h.v.Visible(h.id(two)))
	}
	if n, full := h.v.Seen(h.id(three)); n != 3 || full != 4 {
		t.Errorf("Seen = %d of %d, want 3 of 4", n, full)
	}
	h.rec.reset()
	h.now = h.now.Add(time.Minute)
	h.withdraw(2, three)
	if h.v.Visible(h.id(three)) {
		t.Error("2 of 4 peers: still visible")
	}
	if got := h.rec.lost(); len(got) != 1 || got[0] != three {
		t.Errorf("visibility losses %v, want [%v]", got, three)
	}
	h.announce(2, two, "3356 64999")
	if !h.v.Visible(h.id(two)) {
		t.Error("3 of 4 peers: not visible")
	}
	// A share of 0.7 needs 3 of 4 (2.8).
	cfg := testConfig()
	cfg.VisibleShare = 0.75
	h2 := newHarness(t, cfg, 4)
	h2.world(10, map[netip.Prefix][]int{three: {0, 1, 2}})
	if h2.v.Visible(h2.id(three)) {
		t.Error("VisibleShare 0.75: 3 of 4 is not more than 75%, but visible")
	}
}

func TestFullFeedSelection(t *testing.T) {
	sizes := []int{100, 90, 70, 10}
	build := func(cfg view.Config) *harness {
		h := newHarness(t, cfg, len(sizes))
		for i, n := range sizes {
			for _, p := range base(n) {
				h.rib(i, p, "3356 65000")
			}
		}
		h.v.Refresh()
		return h
	}
	full := func(h *harness) []bool {
		var out []bool
		for i := range sizes {
			out = append(out, h.v.IsFullFeed(i, pfx("10.0.0.0/16")))
		}
		return out
	}
	// Relative: at least 80% of the largest table (80 of 100).
	h := build(testConfig())
	if got, want := fmt.Sprint(full(h)), "[true true false false]"; got != want {
		t.Errorf("relative: full feed %s, want %s", got, want)
	}
	if v4, v6 := h.v.FullFeed(); v4 != 2 || v6 != 0 {
		t.Errorf("FullFeed = %d, %d; want 2, 0", v4, v6)
	}
	var joined int
	for _, pe := range h.rec.peers {
		if pe.Kind == view.PeerFullFeed {
			joined++
		}
	}
	if joined != 2 {
		t.Errorf("%d PeerFullFeed events, want 2", joined)
	}
	// Absolute: 50 prefixes is enough, below the relative 80.
	cfg := testConfig()
	cfg.FullFeedV4 = 50
	h = build(cfg)
	if got, want := fmt.Sprint(full(h)), "[true true true false]"; got != want {
		t.Errorf("absolute 50: full feed %s, want %s", got, want)
	}
	// A small table is never full-feed, and its routes do not count.
	id := h.id(pfx("10.5.0.0/16"))
	if n, f := h.v.Seen(id); n != 3 || f != 3 {
		t.Errorf("Seen(10.5/16) = %d of %d, want 3 of 3 (the small peer left out)", n, f)
	}
}

func TestSessionDownAndUp(t *testing.T) {
	h := newHarness(t, testConfig(), 4)
	with0, without0, pair := pfx("192.0.2.0/24"), pfx("198.51.100.0/24"), pfx("203.0.113.0/24")
	h.world(10, map[netip.Prefix][]int{with0: {0, 1, 2}, without0: {1, 2, 3}, pair: {0, 1}})
	h.rec.reset()
	h.now = h.now.Add(10 * time.Minute)
	h.state(0, bgp.StateEstablished, bgp.StateIdle)
	if ks := h.rec.peerKinds(); len(ks) != 1 || ks[0] != view.PeerDown {
		t.Fatalf("peer events %v, want [PeerDown]", ks)
	}
	if pe := h.rec.peers[0]; pe.Index != 0 || pe.Routes != 12 || pe.Peer != h.peers[0] || pe.NewState != bgp.StateIdle {
		t.Errorf("PeerDown %+v: want index 0, 12 routes, new state Idle", pe)
	}
	if v4, _ := h.v.FullFeed(); v4 != 3 {
		t.Errorf("%d full-feed peers after the session went down, want 3", v4)
	}
	// Its routes are unknown, not withdrawn: nothing becomes invisible.
	if lost := h.rec.lost(); len(lost) != 0 {
		t.Errorf("a session reset made %v invisible", lost)
	}
	if !h.v.Visible(h.id(with0)) || h.seen(with0) != 2 {
		t.Errorf("%v: visible %v seen %d, want visible, 2 of 3", with0, h.v.Visible(h.id(with0)), h.seen(with0))
	}
	if h.v.PeerRoute(0, h.id(with0)) != 0 {
		t.Error("the down peer still has a route")
	}
	removed := 0
	for _, r := range h.rec.routes {
		if r.peer == 0 && r.new == 0 && r.old != 0 {
			removed++
		}
	}
	if removed != 12 {
		t.Errorf("%d routes of the down peer left the counts, want 12", removed)
	}
	// A repeated non-established state change is not news.
	h.rec.reset()
	h.state(0, bgp.StateIdle, bgp.StateConnect)
	if len(h.rec.peers) != 0 {
		t.Errorf("Idle->Connect gave %v", h.rec.peerKinds())
	}
	// Back: PeerUp, then its routes; it rejoins the full-feed set.
	h.now = h.now.Add(5 * time.Minute)
	h.state(0, bgp.StateOpenConfirm, bgp.StateEstablished)
	if ks := h.rec.peerKinds(); len(ks) != 1 || ks[0] != view.PeerUp {
		t.Fatalf("peer events %v, want [PeerUp]", ks)
	}
	for _, p := range base(10) {
		h.announce(0, p, "3356 65000")
	}
	h.announce(0, with0, "3356 64999")
	h.v.Refresh()
	if v4, _ := h.v.FullFeed(); v4 != 4 || !h.v.IsFullFeed(0, with0) {
		t.Errorf("%d full-feed peers after the peer came back, want 4", v4)
	}
	if h.seen(with0) != 3 {
		t.Errorf("seen %d, want 3", h.seen(with0))
	}
}

func TestTableFlush(t *testing.T) {
	h := newHarness(t, testConfig(), 5)
	h.world(40, nil)
	h.rec.reset()
	h.now = h.now.Add(10 * time.Minute)
	ps := base(40)
	// Peer 0 withdraws 30 of its 40 routes within 30 s; the others keep them.
	for i, p := range ps[:30] {
		h.now = h.now.Add(time.Second)
		h.withdraw(0, p)
		_ = i
	}
	var flush *view.PeerEvent
	for i := range h.rec.peers {
		if h.rec.peers[i].Kind == view.PeerFlush {
			flush = &h.rec.peers[i]
		}
	}
	if flush == nil {
		t.Fatalf("no PeerFlush; peer events %v", h.rec.peerKinds())
	}
	if flush.Index != 0 || flush.Start.After(t0.Add(10*time.Minute+time.Second)) {
		t.Errorf("flush %+v: want peer 0, starting at the first withdrawal", flush)
	}
	if v4, _ := h.v.FullFeed(); v4 != 4 {
		t.Errorf("%d full-feed peers after the flush, want 4", v4)
	}
	if lost := h.rec.lost(); len(lost) != 0 {
		t.Errorf("a table flush made %v invisible", lost)
	}
	// The routes it kept left the counts too.
	if n, f := h.v.Seen(h.id(ps[35])); n != 4 || f != 4 {
		t.Errorf("a prefix the flushed peer kept: seen %d of %d, want 4 of 4", n, f)
	}
	// It re-announces: PeerUp, and it is full-feed again once refilled.
	h.rec.reset()
	for _, p := range ps[:30] {
		h.now = h.now.Add(100 * time.Millisecond)
		h.announce(0, p, "3356 65000")
	}
	if ks := h.rec.peerKinds(); len(ks) == 0 || ks[0] != view.PeerUp {
		t.Errorf("peer events on refill %v, want PeerUp first", ks)
	}
	h.v.Refresh()
	if v4, _ := h.v.FullFeed(); v4 != 5 {
		t.Errorf("%d full-feed peers after the refill, want 5", v4)
	}
	if n, f := h.v.Seen(h.id(ps[0])); n != 5 || f != 5 {
		t.Errorf("seen %d of %d after the refill, want 5 of 5", n, f)
	}
}

func TestNoFlushWhenTheWorldWithdraws(t *testing.T) {
	// Every peer withdraws the same prefixes: an outage, not a flush.
	h := newHarness(t, testConfig(), 5)
	h.world(40, nil)
	h.rec.reset()
	h.now = h.now.Add(10 * time.Minute)
	for _, p := range base(40)[:30] {
		for i := range h.peers {
			h.now = h.now.Add(100 * time.Millisecond)
			h.withdraw(i, p)
		}
	}
	for _, pe := range h.rec.peers {
		if pe.Kind == view.PeerFlush {
			t.Errorf("PeerFlush of peer %d when all peers withdrew", pe.Index)
		}
	}
	if n := len(h.rec.lost()); n != 30 {
		t.Errorf("%d prefixes became invisible, want 30", n)
	}
}

func TestAddPath(t *testing.T) {
	h := newHarness(t, testConfig(), 2)
	h.world(10, nil)
	p := pfx("192.0.2.0/24")
	ann := func(peer int, pathID uint32, path string) {
		ev := h.ev(bgp.Announce, peer, p, path, false)
		ev.PathID = pathID
		h.v.Apply(ev)
	}
	wd := func(peer int, pathID uint32) {
		ev := h.ev(bgp.Withdraw, peer, p, "", false)
		ev.PathID = pathID
		h.v.Apply(ev)
	}
	h.now = h.now.Add(time.Minute)
	ann(0, 1, "3356 64999")
	ann(0, 2, "1299 64999")
	ann(1, 1, "3356 64999")
	if !h.v.Visible(h.id(p)) || h.seen(p) != 2 {
		t.Fatalf("seen %d, want 2", h.seen(p))
	}
	wd(0, 1)
	if h.seen(p) != 2 || h.v.PeerRoute(0, h.id(p)) == 0 {
		t.Errorf("withdrawing one of two path ids removed the route (seen %d)", h.seen(p))
	}
	wd(0, 2)
	if h.seen(p) != 1 || h.v.PeerRoute(0, h.id(p)) != 0 {
		t.Errorf("both path ids withdrawn: seen %d, route %d; want 1 and none", h.seen(p), h.v.PeerRoute(0, h.id(p)))
	}
	// The route that stays is the one of the remaining path id.
	ann(0, 1, "3356 64999")
	ann(0, 2, "1299 64999")
	wd(0, 2)
	if got := h.v.Path(h.v.PeerRoute(0, h.id(p))); fmt.Sprint(got) != "[64500 3356 64999]" {
		t.Errorf("after withdrawing path id 2, the route is %v, want path id 1's [64500 3356 64999]", got)
	}
}

func TestWithdrawUnknown(t *testing.T) {
	h := newHarness(t, testConfig(), 3)
	h.world(10, map[netip.Prefix][]int{pfx("192.0.2.0/24"): {1, 2}})
	h.rec.reset()
	n := h.v.Prefixes()
	h.withdraw(0, pfx("203.0.113.0/24")) // never seen
	h.withdraw(0, pfx("192.0.2.0/24"))   // seen, but not from this peer
	if len(h.rec.vis)+len(h.rec.routes)+len(h.rec.peers) != 0 {
		t.Errorf("withdrawals of unknown routes gave calls: %+v", h.rec)
	}
	if h.v.Prefixes() != n {
		t.Errorf("prefixes %d, want %d", h.v.Prefixes(), n)
	}
	if h.seen(pfx("192.0.2.0/24")) != 2 {
		t.Errorf("seen %d, want 2", h.seen(pfx("192.0.2.0/24")))
	}
}

func TestOriginChange(t *testing.T) {
	h := newHarness(t, testConfig(), 3)
	p := pfx("192.0.2.0/24")
	h.world(10, map[netip.Prefix][]int{p: {0, 1, 2}})
	if o := h.v.Origin(h.id(p)); o != 64999 {
		t.Fatalf("origin %d, want 64999", o)
	}
	h.rec.reset()
	h.now = h.now.Add(time.Minute)
	h.announce(0, p, "3356 65111")
	// The prefix moves from the old origin to the new one: off, then on.
	want := []visCall{{p, 64999, false}, {p, 65111, true}}
	if fmt.Sprint(h.rec.vis) != fmt.Sprint(want) {
		t.Errorf("visibility calls %v, want %v", h.rec.vis, want)
	}
	if o := h.v.Origin(h.id(p)); o != 65111 {
		t.Errorf("origin %d, want 65111", o)
	}
	if !h.v.Visible(h.id(p)) || h.seen(p) != 3 {
		t.Errorf("visible %v, seen %d; want visible, 3", h.v.Visible(h.id(p)), h.seen(p))
	}
	// Route: the full-feed peer's path changed.
	if len(h.rec.routes) != 1 || h.rec.routes[0].old == 0 || h.rec.routes[0].new == 0 || h.v.PathOrigin(h.rec.routes[0].new) != 65111 {
		t.Errorf("route calls %+v", h.rec.routes)
	}
}

// TestPathsFollowRoutes checks that the view lets paths go with their
// routes: a peer's route changing through many distinct paths, ADD-PATH
// routes withdrawn, a session lost.
func TestPathsFollowRoutes(t *testing.T) {
	h := newHarness(t, testConfig(), 2)
	h.world(10, nil)
	start := h.v.Memory().DistinctPath
	p := pfx("192.0.2.0/24")
	for i := range 1000 {
		h.announce(0, p, fmt.Sprintf("%d 64999", 100+i))
	}
	if n := h.v.Memory().DistinctPath - start; n > 4 {
		t.Errorf("after 1,000 path changes of one route: %d more path nodes, want at most 4", n)
	}
	for i := range 50 {
		ev := h.ev(bgp.Announce, 1, p, fmt.Sprintf("%d 64999", 5000+i), false)
		ev.PathID = uint32(i + 1)
		h.v.Apply(ev)
	}
	for i := range 50 {
		ev := h.ev(bgp.Withdraw, 1, p, "", false)
		ev.PathID = uint32(i + 1)
		h.v.Apply(ev)
	}
	h.withdraw(0, p)
	// What is left: the world's paths, and the last path withdrawn by a
	// full-feed peer (kept for explanations).
	if n := h.v.Memory().DistinctPath - start; n > 2 {
		t.Errorf("after every route to %v went: %d more path nodes, want at most 2", p, n)
	}
	if got := fmt.Sprint(h.v.LastWithdrawnPath(h.id(p))); got != "[64500 1099 64999]" {
		t.Errorf("last withdrawn path %s, want [64500 1099 64999]", got)
	}
	h.state(0, bgp.StateEstablished, bgp.StateIdle)
	h.state(1, bgp.StateEstablished, bgp.StateIdle)
	if n := h.v.Memory().DistinctPath; n > 3 {
		t.Errorf("both sessions down: %d path nodes left, want at most 3 (the last withdrawn path)", n)
	}
}

// TestMaxPathLen checks that an announcement with a path over the limit
// is counted and treated as a withdrawal of the peer's route.
func TestMaxPathLen(t *testing.T) {
	cfg := testConfig()
	cfg.MaxPathLen = 8
	h := newHarness(t, cfg, 2)
	h.world(10, map[netip.Prefix][]int{pfx("192.0.2.0/24"): {0, 1}})
	p := pfx("192.0.2.0/24")
	h.announce(0, p, "1 2 3 4 5 6 64999") // 8 ASes with the peer's: accepted
	if h.v.LongPaths() != 0 || h.v.PeerRoute(0, h.id(p)) == 0 {
		t.Fatalf("a path of 8 ASes: %d dropped, route %d", h.v.LongPaths(), h.v.PeerRoute(0, h.id(p)))
	}
	h.announce(0, p, "1 2 3 4 5 6 7 64999")
	if h.v.LongPaths() != 1 || h.v.PeerRoute(0, h.id(p)) != 0 || h.seen(p) != 1 {
		t.Errorf("a path of 9 ASes: %d dropped, route %d, seen by %d; want 1 dropped, the route withdrawn, seen by 1",
			h.v.LongPaths(), h.v.PeerRoute(0, h.id(p)), h.seen(p))
	}
	h.announce(1, pfx("198.51.100.0/24"), "1 2 3 4 5 6 7 64999")
	if _, ok := h.v.Lookup(pfx("198.51.100.0/24")); ok || h.v.LongPaths() != 2 {
		t.Errorf("a new prefix with a long path entered the view (dropped %d)", h.v.LongPaths())
	}
}

// TestSparseTables checks that peers with few routes keep them (sparse
// tables) and that a growing peer goes dense with its routes intact.
func TestSparseTables(t *testing.T) {
	h := newHarness(t, testConfig(), 3)
	h.world(200, nil)
	// Peer 2 loses its session and comes back with a few routes, then all.
	h.state(2, bgp.StateEstablished, bgp.StateIdle)
	h.state(2, bgp.StateIdle, bgp.StateEstablished)
	ps := base(200)
	for i, p := range ps[:30] {
		h.announce(2, p, fmt.Sprintf("%d 65000", 100+i))
	}
	for i, p := range ps[:30] {
		if got := fmt.Sprint(h.v.Path(h.v.PeerRoute(2, h.id(p)))); got != fmt.Sprintf("[64502 %d 65000]", 100+i) {
			t.Fatalf("sparse table: route to %v is %s", p, got)
		}
	}
	h.withdraw(2, ps[0])
	for i, p := range ps[30:] {
		h.announce(2, p, fmt.Sprintf("%d 65000", 200+i))
	}
	if h.v.PeerRoute(2, h.id(ps[0])) != 0 {
		t.Errorf("a withdrawn route came back when the table went dense")
	}
	for i, p := range ps[1:30] {
		if got := fmt.Sprint(h.v.Path(h.v.PeerRoute(2, h.id(p)))); got != fmt.Sprintf("[64502 %d 65000]", 101+i) {
			t.Fatalf("dense table: route to %v is %s", p, got)
		}
	}
	h.v.Refresh()
	if v4, _ := h.v.FullFeed(); v4 != 3 {
		t.Errorf("%d full-feed peers after the refill, want 3", v4)
	}
}
