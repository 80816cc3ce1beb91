package signal_test

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/view"
)

type binCall struct {
	e signal.Entity
	f bgp.Family
	b signal.Bin
}

type upCall struct {
	e       signal.Entity
	asn     bgp.ASN
	present bool
}

type sink struct {
	bins []binCall
	ups  []upCall
	vis  int
}

func (s *sink) Changed(time.Time, signal.Entity, bgp.Family, *signal.State) {}
func (s *sink) Peer(view.PeerEvent)                                         {}
func (s *sink) PrefixVisibility(time.Time, signal.Entity, bgp.Family, view.PrefixID, bool) {
	s.vis++
}
func (s *sink) Upstream(_ time.Time, e signal.Entity, _ bgp.Family, asn bgp.ASN, present bool) {
	s.ups = append(s.ups, upCall{e, asn, present})
}
func (s *sink) BinClosed(e signal.Entity, f bgp.Family, b signal.Bin, _ *signal.State) {
	s.bins = append(s.bins, binCall{e, f, b})
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

type harness struct {
	t     *testing.T
	db    *geo.DB
	v     *view.View
	tr    *signal.Tracker
	sink  *sink
	peers []bgp.Peer
	now   time.Time
}

func newHarness(t *testing.T, nPeers int) *harness {
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, sink: &sink{}, now: t0}
	cfg := view.DefaultConfig()
	cfg.RefreshEvery = time.Hour
	cfg.Paths = view.NewPaths()
	h.tr = signal.New(db, 5*time.Minute, cfg.Paths, h.sink)
	h.v = view.New(cfg, h.tr)
	for i := range nPeers {
		h.peers = append(h.peers, bgp.Peer{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)}), AS: bgp.ASN(64500 + i)})
	}
	return h
}

func (h *harness) apply(ev *bgp.Event) {
	ev.Time = h.now
	h.tr.Advance(h.now)
	h.v.Apply(ev)
}

// announce has every peer announce p with "peerAS path"; rib marks a RIB dump.
func (h *harness) announce(p string, path string, rib bool) {
	for _, peer := range h.peers {
		pp, err := bgp.ParsePath(fmt.Sprintf("%d %s", peer.AS, path))
		if err != nil {
			h.t.Fatal(err)
		}
		h.apply(&bgp.Event{Kind: bgp.Announce, Peer: peer, Prefix: netip.MustParsePrefix(p), Attrs: &bgp.Attrs{Path: pp}, RIB: rib})
	}
}

func (h *harness) withdraw(p string) {
	for _, peer := range h.peers {
		h.apply(&bgp.Event{Kind: bgp.Withdraw, Peer: peer, Prefix: netip.MustParsePrefix(p)})
	}
}

// settle ends the RIB dump: the full-feed set is chosen.
func (h *harness) settle() {
	h.v.Refresh()
	if v4, _ := h.v.FullFeed(); v4 != len(h.peers) {
		h.t.Fatalf("%d full-feed peers, want %d", v4, len(h.peers))
	}
}

func (h *harness) space(e signal.Entity) float64 {
	s := h.tr.State(e, bgp.IPv4)
	if s == nil {
		return 0
	}
	return s.Space
}

func (h *harness) prefixes(e signal.Entity) int32 {
	if s := h.tr.State(e, bgp.IPv4); s != nil {
		return s.Prefixes
	}
	return 0
}

func country(t *testing.T, h *harness, p string) signal.Entity {
	t.Helper()
	sh := h.db.PrefixCountries(netip.MustParsePrefix(p), nil)
	if len(sh) != 1 || sh[0].Country.IsZero() {
		t.Skipf("geo data: %s is not in one country (%v)", p, sh)
	}
	return signal.CountryEntity(sh[0].Country)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestNestedAddressSpace(t *testing.T) {
	h := newHarness(t, 3)
	de := country(t, h, "77.0.0.0/16")
	if country(t, h, "77.1.0.0/24") != de {
		t.Skip("geo data: 77.1.0.0/24 not in the country of 77.0.0.0/16")
	}
	as3320, other := signal.ASEntity(3320), signal.ASEntity(64999)
	// A /24 before its covering /16, a /24 after it, one of another
	// origin inside it, and one elsewhere in the same country.
	h.announce("77.0.1.0/24", "1299 3320", true)
	h.announce("77.0.0.0/16", "1299 3320", true)
	h.announce("77.0.3.0/24", "1299 3320", true)
	h.announce("77.0.2.0/24", "1299 64999", true)
	h.announce("77.1.0.0/24", "1299 3320", true)
	h.settle()
	if got := h.space(de); !near(got, 257) {
		t.Fatalf("country space %v, want 257 (/16 + a /24 outside; covered /24s not counted twice)", got)
	}
	if got := h.prefixes(de); got != 5 {
		t.Errorf("country prefixes %d, want 5", got)
	}
	// Per AS, the union is taken among the AS's own prefixes only.
	if got := h.space(as3320); !near(got, 257) {
		t.Errorf("AS3320 space %v, want 257", got)
	}
	if got := h.space(other); !near(got, 1) {
		t.Errorf("AS64999 space %v, want 1 (its /24 inside another origin's /16 counts)", got)
	}
	// Withdrawing a covered /24 does not lower the space.
	h.now = h.now.Add(time.Minute)
	h.withdraw("77.0.1.0/24")
	if got := h.space(de); !near(got, 257) {
		t.Errorf("after withdrawing a covered /24: country space %v, want 257", got)
	}
	if got := h.space(as3320); !near(got, 257) {
		t.Errorf("after withdrawing a covered /24: AS3320 space %v, want 257", got)
	}
	if got := h.prefixes(de); got != 4 {
		t.Errorf("country prefixes %d, want 4", got)
	}
	// Withdrawing the /16 lowers it by 256 minus the visible /24s inside.
	h.withdraw("77.0.0.0/16")
	if got := h.space(de); !near(got, 3) {
		t.Errorf("after withdrawing the /16: country space %v, want 3 (77.0.2/24, 77.0.3/24, 77.1.0/24)", got)
	}
	if got := h.space(as3320); !near(got, 2) {
		t.Errorf("after withdrawing the /16: AS3320 space %v, want 2", got)
	}
	if got := h.space(other); !near(got, 1) {
		t.Errorf("AS64999 space %v, want 1", got)
	}
	// And back: announcing the /16 over visible /24s adds 256 minus them.
	h.announce("77.0.0.0/16", "1299 3320", false)
	if got := h.space(de); !near(got, 257) {
		t.Errorf("the /16 back: country space %v, want 257", got)
	}
	if s := h.tr.State(de, bgp.IPv4); s.Origins() != 2 {
		t.Errorf("country origins %d, want 2", s.Origins())
	}
}

func TestPrefixInTwoCountries(t *testing.T) {
	h := newHarness(t, 3)
	var p netip.Prefix
	var sh []geo.Share
	for i := 0; i < 256 && !p.IsValid(); i += 4 {
		for _, base := range []string{"193.0.%d.0/22", "212.0.%d.0/22", "188.0.%d.0/22", "200.0.%d.0/22"} {
			q := netip.MustParsePrefix(fmt.Sprintf(base, i))
			s := h.db.PrefixCountries(q, nil)
			if len(s) == 2 && !s[0].Country.IsZero() && !s[1].Country.IsZero() && s[0].Country != s[1].Country {
				p, sh = q, s
				break
			}
		}
	}
	if !p.IsValid() {
		t.Skip("geo data: no /22 split between two countries found")
	}
	t.Logf("%v: %s %.3f, %s %.3f", p, sh[0].Country, sh[0].Frac, sh[1].Country, sh[1].Frac)
	h.announce(p.String(), "1299 64999", true)
	h.settle()
	for _, s := range sh {
		e := signal.CountryEntity(s.Country)
		if got, want := h.space(e), 4*s.Frac; !near(got, want) {
			t.Errorf("%s space %v, want %v (its share of the /22)", s.Country, got, want)
		}
		if got := h.prefixes(e); got != 1 {
			t.Errorf("%s prefixes %d, want 1", s.Country, got)
		}
	}
	if got := h.space(signal.ASEntity(64999)); !near(got, 4) {
		t.Errorf("AS space %v, want 4", got)
	}
	h.now = h.now.Add(time.Minute)
	h.withdraw(p.String())
	for _, s := range sh {
		if got := h.space(signal.CountryEntity(s.Country)); got != 0 {
			t.Errorf("%s space %v after the withdrawal, want 0", s.Country, got)
		}
	}
}

func upstreams(s *signal.State) []bgp.ASN {
	var out []bgp.ASN
	if s == nil {
		return out
	}
	s.Upstreams(func(a bgp.ASN, _ int32) { out = append(out, a) })
	slices.Sort(out)
	return out
}

func TestUpstreams(t *testing.T) {
	h := newHarness(t, 3)
	cn := country(t, h, "1.0.1.0/24")
	for _, a := range []bgp.ASN{4134, 4837} {
		if h.tr.ASCountry(a) != cn.Country() {
			t.Skipf("geo data: AS%d not registered in %s", a, cn.Country())
		}
	}
	if h.tr.ASCountry(1299) == cn.Country() {
		t.Skip("geo data: AS1299 in the prefix's country")
	}
	// Origin AS4134, reached through AS4837 (same country), then AS1299.
	h.announce("1.0.1.0/24", "2914 1299 4837 4134 4134", true)
	h.settle()
	cs := h.tr.State(cn, bgp.IPv4)
	if got := fmt.Sprint(upstreams(cs)); got != "[1299]" {
		t.Errorf("country upstreams %s, want [1299] (the first AS from the origin not registered in %s)", got, cn.Country())
	}
	as := h.tr.State(signal.ASEntity(4134), bgp.IPv4)
	if got := fmt.Sprint(upstreams(as)); got != "[4837]" {
		t.Errorf("AS upstreams %s, want [4837] (the origin's neighbour, prepending removed)", got)
	}
	if cs.Routes() != 3 || as.Routes() != 3 {
		t.Errorf("routes %d, %d; want 3 full-feed routes", cs.Routes(), as.Routes())
	}
	// One peer moves to another upstream: both sets gain it.
	h.sink.ups = nil
	h.now = h.now.Add(time.Minute)
	pp, _ := bgp.ParsePath("64500 3356 4134")
	h.apply(&bgp.Event{Kind: bgp.Announce, Peer: h.peers[0], Prefix: netip.MustParsePrefix("1.0.1.0/24"), Attrs: &bgp.Attrs{Path: pp}})
	if got := fmt.Sprint(upstreams(cs)); got != "[1299 3356]" {
		t.Errorf("country upstreams %s, want [1299 3356]", got)
	}
	if got := fmt.Sprint(upstreams(as)); got != "[3356 4837]" {
		t.Errorf("AS upstreams %s, want [3356 4837]", got)
	}
	want := []upCall{{cn, 3356, true}, {signal.ASEntity(4134), 3356, true}}
	if fmt.Sprint(h.sink.ups) != fmt.Sprint(want) {
		t.Errorf("upstream calls %v, want %v", h.sink.ups, want)
	}
	// All peers go through 3356: 1299 and 4837 are gone.
	h.sink.ups = nil
	for _, peer := range h.peers[1:] {
		pp, _ := bgp.ParsePath(fmt.Sprintf("%d 3356 4134", peer.AS))
		h.apply(&bgp.Event{Kind: bgp.Announce, Peer: peer, Prefix: netip.MustParsePrefix("1.0.1.0/24"), Attrs: &bgp.Attrs{Path: pp}})
	}
	if got := fmt.Sprint(upstreams(cs)); got != "[3356]" {
		t.Errorf("country upstreams %s, want [3356]", got)
	}
	var lost []bgp.ASN
	for _, u := range h.sink.ups {
		if !u.present {
			lost = append(lost, u.asn)
		}
	}
	if fmt.Sprint(lost) != "[1299 4837]" {
		t.Errorf("upstreams lost %v, want [1299 4837]", lost)
	}
}

func TestBins(t *testing.T) {
	h := newHarness(t, 3)
	kp := country(t, h, "175.45.176.0/24")
	us := country(t, h, "8.8.8.0/24")
	watched := signal.ASEntity(3333)
	h.tr.Watch(watched, bgp.IPv4)
	h.announce("175.45.176.0/24", "3356 4837 131279", true)
	h.announce("175.45.177.0/24", "3356 4837 131279", true)
	h.announce("8.8.8.0/24", "3356 15169", true)
	h.settle()
	// 00:02: KP loses one prefix; 00:11: a US route changes.
	h.now = t0.Add(2 * time.Minute)
	h.withdraw("175.45.177.0/24")
	h.now = t0.Add(11 * time.Minute)
	h.withdraw("8.8.8.0/24") // a dip inside the bin
	h.announce("8.8.8.0/24", "1299 15169", false)
	byStart := map[time.Time][]binCall{}
	for _, c := range h.sink.bins {
		byStart[c.b.Start] = append(byStart[c.b.Start], c)
	}
	// Bins close on data time: 00:00 and 00:05 are closed, 00:10 is open.
	if len(byStart) != 2 || byStart[t0] == nil || byStart[t0.Add(5*time.Minute)] == nil {
		t.Fatalf("closed bins %v, want 00:00 and 00:05", keys(byStart))
	}
	var kpBin *signal.Bin
	for _, c := range byStart[t0] {
		if c.e == kp {
			kpBin = &c.b
		}
	}
	if kpBin == nil {
		t.Fatal("KP changed in the first bin but was not reported")
	}
	// The bin started before the RIB made anything visible: its minimum is
	// 0. The RIB's routes came in as the peers joined the full-feed set:
	// counted for the upstreams, but not announcements (not churn).
	if kpBin.Prefixes != 1 || !near(kpBin.Space, 1) || kpBin.MinSpace != 0 || kpBin.Losses != 1 || kpBin.Withdrawals != 3 || kpBin.Announcements != 0 {
		t.Errorf("KP bin %+v: want 1 prefix, space 1, min 0, 1 loss, 3 withdrawals, 0 announcements", *kpBin)
	}
	// Nothing changed in 00:05: only the watched entity is reported.
	if got := byStart[t0.Add(5*time.Minute)]; len(got) != 1 || got[0].e != watched {
		t.Errorf("bin 00:05 reported %v, want only the watched %v", got, watched)
	}
	// The open bin closes at the end (Flush): US changed, KP did not.
	h.sink.bins = nil
	h.tr.Flush()
	var ents []signal.Entity
	for _, c := range h.sink.bins {
		ents = append(ents, c.e)
		if c.e == us && (c.b.MinSpace != 0 || !near(c.b.Space, 1) || c.b.Losses != 1) {
			t.Errorf("US bin %+v: want the dip to 0 as its minimum, space 1 at the end, 1 loss", c.b)
		}
	}
	if !slices.Contains(ents, us) || slices.Contains(ents, kp) || !slices.Contains(ents, watched) {
		t.Errorf("bin 00:10 reported %v: want %v and the watched one, not %v", ents, us, kp)
	}
}

func keys(m map[time.Time][]binCall) []string {
	var out []string
	for k := range m {
		out = append(out, k.Format("15:04"))
	}
	slices.Sort(out)
	return out
}

// TestAdvanceJump: a jump of the data clock to 1.1e12 seconds closes the
// open bin (reported once) and positions the next one at the new time at
// once: the empty bins in between are skipped, not closed one by one.
func TestAdvanceJump(t *testing.T) {
	h := newHarness(t, 3)
	h.announce("175.45.176.0/24", "4837 131279", true)
	h.settle()
	before := len(h.sink.bins)
	far := time.Unix(1.1e12, 0).UTC() // year 36827
	h.tr.Advance(far)
	if got, want := h.tr.BinStart(), far.Truncate(5*time.Minute); !got.Equal(want) {
		t.Errorf("bin start %v after the jump, want %v", got, want)
	}
	if n := len(h.sink.bins) - before; n == 0 || n > 4 {
		t.Errorf("%d bins reported for the jump, want the open bin's entities only", n)
	}
}
