package scenario

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/mrt"
)

func realisticCase(t *testing.T, name string) Case {
	t.Helper()
	for _, c := range RealisticSuite(1) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no case %s", name)
	return Case{}
}

func TestRealisticSuiteShape(t *testing.T) {
	cases := RealisticSuite(1)
	if !reflect.DeepEqual(cases, RealisticSuite(1)) {
		t.Fatal("RealisticSuite(1) differs between two calls")
	}
	per := map[string]int{}
	names := map[string]bool{}
	for _, c := range cases {
		per[c.Kind]++
		if names[c.Name] {
			t.Errorf("duplicate case name %s", c.Name)
		}
		names[c.Name] = true
		if c.Config.Background == nil {
			t.Errorf("%s: no realistic background", c.Name)
		}
	}
	for _, k := range RealisticKinds {
		if per[k] == 0 {
			t.Errorf("no %s case", k)
		}
	}
	db := snapshotDB(t)
	for _, c := range cases {
		cfg := c.Config.withDefaults()
		if c.Kind == RealCombined && (cfg.Duration < 30*time.Hour || cfg.Duration > 100*time.Hour) {
			t.Errorf("%s: %v of data, want 30-100 h", c.Name, cfg.Duration)
		}
		if c.Kind == RealNightly && (cfg.Events[0].Repeat < 3 || cfg.Events[0].At < 24*time.Hour) {
			t.Errorf("%s: %d nights from %v", c.Name, cfg.Events[0].Repeat+1, cfg.Events[0].At)
		}
		if c.Kind == RealFewPeers && (cfg.Peers < 3 || cfg.Peers > 5) {
			t.Errorf("%s: %d peers", c.Name, cfg.Peers)
		}
		if c.Kind != RealCombined && c.Kind != RealNightly && c.Kind != RealGradual {
			continue
		}
		// The world alone: its size and its big countries.
		w, err := buildWorld(&cfg, db, rngFor(cfg))
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		var n4, n6, big int
		for _, wp := range w.prefixes {
			if wp.v6 {
				n6++
			} else {
				n4++
			}
		}
		pl := newPlanner(&cfg, w, rngFor(cfg))
		for _, cc := range w.countries {
			if !cc.big {
				continue
			}
			big++
			if len(cc.prefixesOf()) < 300 {
				t.Errorf("%s: big country %s has %d prefixes", c.Name, cc.cc, len(cc.prefixesOf()))
			}
			if n := len(pl.flapCandidates(cc)); n < 10 {
				t.Errorf("%s: big country %s: %d prefixes can flap", c.Name, cc.cc, n)
			}
			small := 0
			for _, a := range cc.ases {
				if pl.picks(PickSmallAS, entity{typ: event.OriginAS, as: a}) {
					small++
				}
			}
			if small < 2 {
				t.Errorf("%s: big country %s: %d ASes of 1-2 %% of its space", c.Name, cc.cc, small)
			}
		}
		t.Logf("%s: %d countries (%d big), %d IPv4 and %d IPv6 prefixes, %d peers, %v", c.Name, len(w.countries), big, n4, n6, len(w.peers), cfg.Duration)
		if len(w.countries) != 30 || big != 9 || n4 < 5000 || n4 > 7500 || n6 < 600 || n6 > 1100 || len(w.peers) != 20 {
			t.Errorf("%s: %d countries (%d big), %d IPv4 and %d IPv6 prefixes, %d peers: want 30 (9), ~6,000, ~850, 20",
				c.Name, len(w.countries), big, n4, n6, len(w.peers))
		}
	}
}

// rngFor is the generator's random source of cfg.
func rngFor(cfg Config) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15))
}

func (c *wCountry) prefixesOf() []int32 { return entity{cc: c}.prefixes() }

func TestRealisticDeterministic(t *testing.T) {
	db := snapshotDB(t)
	names := []string{"few_peers-3", "gradual-2"}
	if testing.Short() {
		names = names[:1]
	}
	for _, name := range names {
		cfg := realisticCase(t, name).Config
		var gs [2]*Generated
		for i := range gs {
			g, err := GenerateInMemory(context.Background(), cfg, db)
			if err != nil {
				t.Fatal(err)
			}
			gs[i] = g
		}
		if len(gs[0].Files) != len(gs[1].Files) {
			t.Fatalf("%s: %d vs %d files", name, len(gs[0].Files), len(gs[1].Files))
		}
		for i := range gs[0].Files {
			if !bytes.Equal(gs[0].Files[i].Data, gs[1].Files[i].Data) {
				t.Errorf("%s: %s differs between two generations", name, gs[0].Files[i].Name)
			}
		}
		if !reflect.DeepEqual(gs[0].Truth, gs[1].Truth) {
			t.Errorf("%s: truth differs", name)
		}
	}
}

// TestRealisticTruth generates cases of RealisticSuite and replays their
// files: see checkRealistic. All of them unless -short.
func TestRealisticTruth(t *testing.T) {
	names := []string{"gradual-1", "small_as-1", "few_peers-2"}
	if !testing.Short() {
		names = nil
		for _, c := range RealisticSuite(1) {
			names = append(names, c.Name)
		}
	}
	db := snapshotDB(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			c := realisticCase(t, name)
			start := time.Now()
			g, err := GenerateInMemory(context.Background(), c.Config, db)
			if err != nil {
				t.Fatal(err)
			}
			gen := time.Since(start)
			st := checkRealistic(t, g)
			t.Logf("generated in %v, checked in %v: %d truth events, %d background flaps (%.2f per big country per hour), %d duplicate announcements, %d path changes at all peers",
				gen.Round(time.Millisecond), (time.Since(start) - gen).Round(time.Millisecond), len(g.Truth), st.flaps,
				float64(st.flaps)/float64(st.bigCountries)/g.Config.Duration.Hours(), st.dups, st.allPeerChanges)
			switch c.Kind {
			case RealQuietWeek:
				if len(g.Truth) != 0 {
					t.Errorf("quiet week with %d truth events", len(g.Truth))
				}
			case RealSmallAS:
				if len(g.Truth) != 1 || g.Truth[0].EntityType != event.OriginAS || g.Truth[0].Kind != event.Outage {
					t.Errorf("truth %v: want one AS outage", g.Truth)
				}
			case RealGradual:
				main := 0
				for _, e := range g.Truth {
					if !e.Optional {
						main++
						if e.Kind != event.PartialOutage || e.EntityType != event.Country || abs(e.Fraction-0.4) > 0.02 || e.Bottom == nil || e.Recovered == nil {
							t.Errorf("%v: want the country's 40 %% gradual partial outage", e)
						}
					}
				}
				if main != 1 {
					t.Errorf("%d mandatory events, want 1", main)
				}
			case RealNightly:
				nights := map[time.Time]bool{}
				for _, e := range g.Truth {
					if e.EntityType == event.Country {
						nights[e.Start] = true
					}
				}
				if want := c.Config.Events[0].Repeat + 1; len(nights) != want {
					t.Errorf("%d country outages, want %d", len(nights), want)
				}
			}
			if st.flaps < st.bigCountries*int(g.Config.Duration.Hours())/2 {
				t.Errorf("%d background flaps in %d big countries over %v", st.flaps, st.bigCountries, g.Config.Duration)
			}
		})
	}
}

type realStats struct {
	flaps, bigCountries, dups, allPeerChanges int
}

// checkRealistic replays the files of g (mrt.RouteReader) and checks the
// truth against the routes: a prefix counts as lost while the majority of
// the live peers (those in no truth peer event) do not see it; every loss
// must be covered by a truth event of one of its entities (from its start
// to a minute after its end, or after Recovered) or be a background flap:
// a prefix of a big country, 0.05-0.7 % of the country's space of its
// family, seen by no peer at some point (withdrawn at all peers), lost for
// 1-3 minutes (give or take the spread over the peers), one at a time per
// country. Mandatory outages lose their fraction (at Bottom for a gradual
// one) and get it all back; a country whose small AS is dark loses less
// than Background.ImpliedMin.
func checkRealistic(t *testing.T, g *Generated) realStats {
	t.Helper()
	cfg := g.Config
	bg := cfg.Background
	type ent struct {
		typ  event.EntityType
		code string
	}
	type pinfo struct {
		idx   int
		cc    string
		big   bool
		share float64 // of its country's space of its family
		ents  []ent
	}
	info := map[netip.Prefix]*pinfo{}
	var pfxs []netip.Prefix
	entPfx := map[ent][]int{}
	var st realStats
	db := snapshotDB(t)
	ups := map[string][]uint32{}
	for _, c := range g.World.Countries {
		var tot [2]float64
		for _, a := range c.ASes {
			ups[asnString(a.ASN)] = a.Upstreams
			for _, p := range a.Prefixes {
				tot[b2i(p.Addr().Is6())] += float64(units(p))
			}
		}
		if c.Big {
			st.bigCountries++
		}
		for _, a := range c.ASes {
			for _, p := range a.Prefixes {
				pi := &pinfo{idx: len(pfxs), cc: c.Country, big: c.Big, share: float64(units(p)) / tot[b2i(p.Addr().Is6())],
					ents: []ent{{event.Country, c.Country}, {event.OriginAS, asnString(a.ASN)}}}
				info[p] = pi
				for _, e := range pi.ents {
					entPfx[e] = append(entPfx[e], pi.idx)
				}
				pfxs = append(pfxs, p)
			}
		}
	}
	end := cfg.Start.Add(cfg.Duration)
	type window struct{ from, to time.Time }
	excused := map[ent][]window{}
	peerOut := map[netip.Addr][]window{}
	for _, e := range g.Truth {
		to := end
		if e.End != nil {
			to = e.End.Add(time.Minute)
		}
		if e.Recovered != nil {
			to = e.Recovered.Add(time.Minute)
		}
		if e.Kind == event.PeerEvent {
			peerOut[netip.MustParseAddr(e.EntityCode)] = append(peerOut[netip.MustParseAddr(e.EntityCode)], window{e.Start.Add(-time.Second), to})
			continue
		}
		excused[ent{e.EntityType, e.EntityCode}] = append(excused[ent{e.EntityType, e.EntityCode}], window{e.Start.Add(-time.Second), to})
	}
	in := func(ws []window, a, b time.Time) bool {
		for _, w := range ws {
			if !a.Before(w.from) && !b.After(w.to) {
				return true
			}
		}
		return false
	}
	peers := g.World.Peers
	pidx := map[netip.Addr]int{}
	for i, p := range peers {
		pidx[p.Addr] = i
	}
	np := len(pfxs)
	has := make([]bool, len(peers)*np)
	for i := range has {
		has[i] = true
	}
	// Routing state, per prefix: peers that see it (among the live ones).
	out := make([]bool, len(peers)) // in a truth peer event now
	vis := make([]int, np)
	live := len(peers)
	for i := range vis {
		vis[i] = len(peers)
	}
	lostAt := make([]time.Time, np)
	minVis := make([]int, np)
	lost := make([]bool, np)
	flapping := map[string]int{} // big country -> prefix lost as a flap now (-1 none)
	var now time.Time
	isLost := func(x int) bool { return vis[x]*2 <= live }
	closeLoss := func(x int, at time.Time) {
		p := pfxs[x]
		pi := info[p]
		lost[x] = false
		if flapping[pi.cc] == x+1 {
			flapping[pi.cc] = 0
		}
		for _, e := range pi.ents {
			if in(excused[e], lostAt[x], at) {
				return
			}
		}
		d := at.Sub(lostAt[x])
		switch {
		case !pi.big:
			t.Errorf("%s lost %v..%v (%v, seen by %d of %d at least), no truth event, not in a big country", p, lostAt[x], at, d, minVis[x], live)
		case pi.share < bg.FlapShare[0]-1e-9 || pi.share > bg.FlapShare[1]+1e-9:
			t.Errorf("%s (%s) lost %v..%v: a flap of %.4f%% of the country's space", p, pi.cc, lostAt[x], at, 100*pi.share)
		case d < bg.FlapDown[0]-15*time.Second || d > bg.FlapDown[1]+15*time.Second:
			t.Errorf("%s (%s) lost %v..%v: a flap of %v", p, pi.cc, lostAt[x], at, d)
		case minVis[x] != 0:
			t.Errorf("%s (%s) lost %v..%v: still seen by %d peers, not a flap at all peers", p, pi.cc, lostAt[x], at, minVis[x])
		default:
			st.flaps++
		}
	}
	update := func(x int) {
		switch l := isLost(x); {
		case l && !lost[x]:
			lost[x], lostAt[x], minVis[x] = true, now, vis[x]
			pi := info[pfxs[x]]
			excusedNow := false
			for _, e := range pi.ents {
				excusedNow = excusedNow || in(excused[e], now, now)
			}
			if pi.big && !excusedNow {
				if f := flapping[pi.cc]; f != 0 {
					t.Errorf("%v: %s lost while %s flaps in %s", now, pfxs[x], pfxs[f-1], pi.cc)
				}
				flapping[pi.cc] = x + 1
			}
		case l:
			minVis[x] = min(minVis[x], vis[x])
		case lost[x]:
			closeLoss(x, now)
		}
	}
	// Probes of the truth's fractions.
	type probe struct {
		at    time.Time
		check func()
	}
	var probes []probe
	share := func(e ent, fam bgp.Family) float64 {
		var v, tot float64
		for _, x := range entPfx[e] {
			p := pfxs[x]
			if fam != bgp.AllFamilies && (fam == bgp.IPv6) != p.Addr().Is6() {
				continue
			}
			tot += float64(units(p))
			if !isLost(x) || flapping[info[p].cc] == x+1 {
				v += float64(units(p))
			}
		}
		return v / tot
	}
	for _, e := range g.Truth {
		if e.Optional || (e.Kind != event.Outage && e.Kind != event.PartialOutage) {
			continue
		}
		k := ent{e.EntityType, e.EntityCode}
		at := e.Start.Add(time.Minute)
		if e.Bottom != nil {
			at = e.Bottom.Add(time.Second)
		}
		probes = append(probes, probe{at, func() {
			if got := 1 - share(k, e.Family); abs(got-e.Fraction) > 0.001 {
				t.Errorf("%v: at %v lost %.4f, truth %.4f", e, at, got, e.Fraction)
			}
			if e.EntityType == event.OriginAS && bg != nil {
				// Its country, if it has no event, loses less than ImpliedMin.
				cc := info[pfxs[entPfx[k][0]]].cc
				if len(excused[ent{event.Country, cc}]) == 0 {
					if got := 1 - share(ent{event.Country, cc}, bgp.IPv4); got >= bg.ImpliedMin {
						t.Errorf("%v: country %s lost %.4f of its IPv4 space and has no event", e, cc, got)
					}
				}
			}
		}})
		if e.End != nil {
			back := e.End.Add(time.Minute)
			if e.Recovered != nil {
				back = e.Recovered.Add(time.Second)
			}
			probes = append(probes, probe{back, func() {
				if got := share(k, e.Family); got != 1 {
					t.Errorf("%v: at %v %.4f visible", e, back, got)
				}
			}})
		}
	}
	slices.SortStableFunc(probes, func(a, b probe) int { return a.at.Compare(b.at) })
	// Peers leave and rejoin the live set at their truth windows.
	setOut := func(i int, o bool) {
		if out[i] == o {
			return
		}
		out[i] = o
		d := 1
		if o {
			d = -1
		}
		live += d
		for x := range np {
			if has[i*np+x] {
				vis[x] += d
			}
		}
		for x := range np {
			update(x)
		}
	}
	lastPath := map[[2]int][]bgp.ASN{}
	changeAt := map[int]map[int]bool{} // prefix -> peers that changed its path in the last few seconds
	changeT := map[int]time.Time{}
	for fi, f := range g.Files {
		rr := mrt.NewRouteReader(bytes.NewReader(f.Data), f.Name, cfg.Collector)
		for {
			ev, err := rr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			for len(probes) > 0 && probes[0].at.Before(ev.Time) {
				probes[0].check()
				probes = probes[1:]
			}
			now = ev.Time
			i, ok := pidx[ev.Peer.Addr]
			if !ok {
				t.Fatalf("%s: unknown peer %v", f.Name, ev.Peer)
			}
			setOut(i, in(peerOut[ev.Peer.Addr], now, now))
			switch ev.Kind {
			case bgp.Announce, bgp.Withdraw:
				pi := info[ev.Prefix]
				if pi == nil {
					t.Fatalf("%s: unknown prefix %s", f.Name, ev.Prefix)
				}
				x, k := pi.idx, i*np+pi.idx
				if ev.Kind == bgp.Announce {
					path := ev.Attrs.Path.AppendFlat(nil)
					if fi == 0 {
						lastPath[[2]int{i, x}] = path
						// The country's upstream (the first AS from the
						// origin not registered in it) is the AS's upstream.
						var up bgp.ASN
						for j := len(path) - 1; j >= 0; j-- {
							if c, _ := db.ASN(uint32(path[j])); c.Country.String() != pi.cc {
								up = path[j]
								break
							}
						}
						if !slices.Contains(ups[pi.ents[1].code], uint32(up)) {
							t.Errorf("%s: %s (%s) path %v: country upstream AS%d is not one of AS%s's upstreams %v", f.Name, ev.Prefix, pi.cc, path, up, pi.ents[1].code, ups[pi.ents[1].code])
						}
						continue
					}
					if has[k] {
						if old := lastPath[[2]int{i, x}]; slices.Equal(old, path) {
							st.dups++
						} else {
							if !changeT[x].Add(15 * time.Second).After(now) {
								changeAt[x], changeT[x] = map[int]bool{}, now
							}
							changeAt[x][i] = true
							if len(changeAt[x]) == len(peers) {
								st.allPeerChanges++
							}
						}
					}
					lastPath[[2]int{i, x}] = path
					if !has[k] {
						has[k] = true
						if !out[i] {
							vis[x]++
						}
					}
				} else if has[k] {
					has[k] = false
					if !out[i] {
						vis[x]--
					}
				}
				update(x)
			case bgp.PeerState:
				if ev.OldState == bgp.StateEstablished {
					for x := range np {
						if has[i*np+x] {
							has[i*np+x] = false
							if !out[i] {
								vis[x]--
							}
						}
					}
					for x := range np {
						update(x)
					}
				}
			}
		}
		if rr.Stats().Errors != 0 {
			t.Errorf("%s: %d record errors", f.Name, rr.Stats().Errors)
		}
	}
	for _, p := range probes {
		p.check()
	}
	now = end
	for x := range np {
		if lost[x] {
			closeLoss(x, end)
		}
	}
	return st
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRealisticGeo checks a realistic world against the geo DB: every
// prefix maps wholly to its country, none overlaps another, every AS is
// registered in its country and none of its upstreams is.
func TestRealisticGeo(t *testing.T) {
	db := snapshotDB(t)
	cfg := realisticCase(t, "gradual-1").Config.withDefaults()
	w, err := buildWorld(&cfg, db, rngFor(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var all []netip.Prefix
	for _, c := range w.info().Countries {
		cc := c.Country
		for _, a := range c.ASes {
			if info, _ := db.ASN(a.ASN); info.Country.String() != cc {
				t.Errorf("AS%d of %s is registered in %s", a.ASN, cc, info.Country)
			}
			for _, u := range a.Upstreams {
				if info, _ := db.ASN(u); info.Country.String() == cc {
					t.Errorf("upstream AS%d of AS%d is registered in %s, its own country", u, a.ASN, cc)
				}
			}
			for _, p := range a.Prefixes {
				sh := db.PrefixCountries(p, nil)
				if len(sh) != 1 || sh[0].Country.String() != cc || sh[0].Frac != 1 {
					t.Errorf("%s of AS%d (%s): %v", p, a.ASN, cc, sh)
				}
				all = append(all, p)
			}
		}
	}
	slices.SortFunc(all, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	for i := 1; i < len(all); i++ {
		if all[i-1].Overlaps(all[i]) {
			t.Errorf("%s overlaps %s", all[i-1], all[i])
		}
	}
}
