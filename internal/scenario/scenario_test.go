package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt"
)

var (
	dbOnce sync.Once
	testDB *geo.DB
	dbErr  error
)

// snapshotDB is the embedded snapshot alone, so that the tests do not
// depend on the files `geo update` cached on this machine.
func snapshotDB(t testing.TB) *geo.DB {
	dbOnce.Do(func() { testDB, dbErr = geo.Open(nil, geo.WithoutCache()) })
	if dbErr != nil {
		t.Fatal(dbErr)
	}
	return testDB
}

var (
	genMu    sync.Mutex
	genCache = map[string]*Generated{}
)

func generate(t testing.TB, cfg Config) *Generated {
	t.Helper()
	genMu.Lock()
	defer genMu.Unlock()
	key := fmt.Sprint(cfg.Name, cfg.Seed)
	if g := genCache[key]; g != nil {
		return g
	}
	g, err := GenerateInMemory(context.Background(), cfg, snapshotDB(t))
	if err != nil {
		t.Fatalf("%s: %v", cfg.Name, err)
	}
	genCache[key] = g
	return g
}

func allConfigs() []Config {
	var out []Config
	for _, c := range Suite(1) {
		out = append(out, c.Config)
	}
	return append(out, NorthKorea2014())
}

func TestSuiteShape(t *testing.T) {
	cases := Suite(7)
	per := map[string]int{}
	names := map[string]bool{}
	for _, c := range cases {
		per[c.Kind]++
		if names[c.Name] {
			t.Errorf("duplicate case name %s", c.Name)
		}
		names[c.Name] = true
	}
	for _, k := range Kinds {
		if per[k] < 3 {
			t.Errorf("kind %s: %d cases, want 3 or more", k, per[k])
		}
	}
	if per["combined"] < 3 {
		t.Errorf("%d combined cases", per["combined"])
	}
}

func TestDeterministic(t *testing.T) {
	db := snapshotDB(t)
	for _, cfg := range []Config{Suite(3)[9].Config, Suite(3)[len(Suite(3))-1].Config} {
		var gs [2]*Generated
		for i := range gs {
			g, err := GenerateInMemory(context.Background(), cfg, db)
			if err != nil {
				t.Fatal(err)
			}
			gs[i] = g
		}
		if len(gs[0].Files) != len(gs[1].Files) {
			t.Fatalf("%s: %d vs %d files", cfg.Name, len(gs[0].Files), len(gs[1].Files))
		}
		for i := range gs[0].Files {
			if !bytes.Equal(gs[0].Files[i].Data, gs[1].Files[i].Data) {
				t.Errorf("%s: %s differs between two generations", cfg.Name, gs[0].Files[i].Name)
			}
		}
		var a, b bytes.Buffer
		WriteTruth(&a, gs[0].Truth)
		WriteTruth(&b, gs[1].Truth)
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: truth differs", cfg.Name)
		}
	}
	// Another seed gives another world.
	c1, c2 := Suite(1)[0].Config, Suite(2)[0].Config
	g1, g2 := generate(t, c1), generate(t, c2)
	if bytes.Equal(g1.Files[0].Data, g2.Files[0].Data) {
		t.Error("seeds 1 and 2 give the same RIB")
	}
}

func TestGenerateDir(t *testing.T) {
	dir := t.TempDir()
	cfg := Suite(1)[0].Config
	cfg.Gzip = true
	g, err := Generate(context.Background(), cfg, snapshotDB(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Files) != 1+12 {
		t.Errorf("%d files, want a RIB and 12 hourly updates files", len(g.Files))
	}
	if g.Files[0].Name != "bview.20240301.0000.gz" || g.Files[1].Name != "updates.20240301.0000.gz" {
		t.Errorf("names %s %s", g.Files[0].Name, g.Files[1].Name)
	}
	f, err := os.Open(filepath.Join(dir, TruthFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	truth, err := ReadTruth(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(truth) != len(g.Truth) || len(truth) == 0 {
		t.Fatalf("truth.json has %d events, generated %d", len(truth), len(g.Truth))
	}
	for i := range truth {
		if !truth[i].Start.Equal(g.Truth[i].Start) || truth[i].EntityCode != g.Truth[i].EntityCode {
			t.Errorf("truth %d: %v vs %v", i, truth[i], g.Truth[i])
		}
	}
	for _, fl := range g.Files {
		st, err := os.Stat(fl.Path)
		if err != nil || st.Size() != fl.Size {
			t.Errorf("%s: %v, size %d vs %d", fl.Path, err, st.Size(), fl.Size)
		}
	}
}

func TestGeoConsistency(t *testing.T) {
	db := snapshotDB(t)
	for _, cfg := range allConfigs() {
		g := generate(t, cfg)
		seen := map[netip.Prefix]bool{}
		for _, c := range g.World.Countries {
			cc := geo.MustCountry(c.Country)
			for _, a := range c.ASes {
				if info, _ := db.ASN(a.ASN); info.Country != cc {
					t.Errorf("%s: AS%d of %s is registered in %s", cfg.Name, a.ASN, cc, info.Country)
				}
				for _, u := range a.Upstreams {
					if info, _ := db.ASN(u); info.Country == cc {
						t.Errorf("%s: upstream AS%d of AS%d is registered in %s, its own country", cfg.Name, u, a.ASN, cc)
					}
				}
				for _, p := range a.Prefixes {
					sh := db.PrefixCountries(p, nil)
					if len(sh) != 1 || sh[0].Country != cc || sh[0].Frac != 1 {
						t.Errorf("%s: %s of AS%d (%s): %v", cfg.Name, p, a.ASN, cc, sh)
					}
					for q := range seen {
						if q.Overlaps(p) {
							t.Errorf("%s: %s overlaps %s", cfg.Name, p, q)
						}
					}
					seen[p] = true
				}
			}
		}
	}
}

// replay reads the files of g in order and calls check at each of the
// times in at (sorted), with the routing state just before that time.
type replayState struct {
	routes map[netip.Addr]map[netip.Prefix][]bgp.ASN // peer -> prefix -> flat path
	up     map[netip.Addr]bool
	peers  []netip.Addr
}

func (s *replayState) visible(p netip.Prefix) int {
	n := 0
	for _, pr := range s.peers {
		if _, ok := s.routes[pr][p]; ok {
			n++
		}
	}
	return n
}

func replay(t *testing.T, g *Generated, at []time.Time, check func(time.Time, *replayState)) {
	t.Helper()
	st := &replayState{routes: map[netip.Addr]map[netip.Prefix][]bgp.ASN{}, up: map[netip.Addr]bool{}}
	for _, p := range g.World.Peers {
		st.peers = append(st.peers, p.Addr)
		st.routes[p.Addr] = map[netip.Prefix][]bgp.ASN{}
		st.up[p.Addr] = true
	}
	next := 0
	var last time.Time
	for _, f := range g.Files {
		rr := mrt.NewRouteReader(bytes.NewReader(f.Data), f.Name, g.Config.Collector)
		for {
			ev, err := rr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			if ev.Time.Before(last) {
				t.Fatalf("%s: event at %v before %v", f.Name, ev.Time, last)
			}
			last = ev.Time
			if ev.Time.Before(f.Start) || (f.Kind == "updates" && !ev.Time.Before(f.End)) {
				t.Fatalf("%s: event at %v outside the file's span", f.Name, ev.Time)
			}
			for next < len(at) && at[next].Before(ev.Time) {
				check(at[next], st)
				next++
			}
			m := st.routes[ev.Peer.Addr]
			if m == nil {
				t.Fatalf("%s: event of unknown peer %v", f.Name, ev.Peer)
			}
			switch ev.Kind {
			case bgp.Announce:
				m[ev.Prefix] = ev.Attrs.Path.AppendFlat(nil)
			case bgp.Withdraw:
				delete(m, ev.Prefix)
			case bgp.PeerState:
				if ev.OldState == bgp.StateEstablished {
					clear(m)
				}
				st.up[ev.Peer.Addr] = ev.NewState == bgp.StateEstablished
			}
		}
		if rr.Stats().Errors != 0 {
			t.Errorf("%s: %d record errors", f.Name, rr.Stats().Errors)
		}
	}
	for ; next < len(at); next++ {
		check(at[next], st)
	}
}

// TestTruthConsistent replays every case of a suite and of the demo through
// mrt.RouteReader and checks the truth against the routes: outages and
// partial outages lose exactly their fraction a minute after they start and
// get it all back a minute after they end; peer events empty and refill the
// peer's table; upstream changes change the upstreams; and outside the
// truth's windows every prefix is visible to the majority of the peers.
func TestTruthConsistent(t *testing.T) {
	for _, cfg := range allConfigs() {
		t.Run(cfg.Name, func(t *testing.T) {
			g := generate(t, cfg)
			checkTruth(t, g)
		})
	}
}

func checkTruth(t *testing.T, g *Generated) {
	type entKey struct {
		typ  event.EntityType
		code string
	}
	pfx := map[entKey][]netip.Prefix{}
	owner := map[netip.Prefix][]entKey{}
	ups := map[entKey][]uint32{}
	for _, c := range g.World.Countries {
		for _, a := range c.ASes {
			for _, k := range []entKey{{event.Country, c.Country}, {event.OriginAS, asnString(a.ASN)}} {
				pfx[k] = append(pfx[k], a.Prefixes...)
				for _, p := range a.Prefixes {
					owner[p] = append(owner[p], k)
				}
				ups[k] = append(ups[k], a.Upstreams...)
			}
		}
	}
	npeers := len(g.World.Peers)
	start, end := g.Config.Start, g.Config.Start.Add(g.Config.Duration)
	familyOK := func(p netip.Prefix, fam bgp.Family) bool {
		return fam == bgp.AllFamilies || (fam == bgp.IPv4) == p.Addr().Is4()
	}
	type probe struct {
		at    time.Time
		check func(*replayState)
	}
	var probes []probe
	share := func(s *replayState, k entKey, fam bgp.Family) float64 {
		var vis, tot float64
		for _, p := range pfx[k] {
			if !familyOK(p, fam) {
				continue
			}
			u := float64(units(p))
			tot += u
			if s.visible(p)*2 > npeers {
				vis += u
			}
		}
		return vis / tot
	}
	upstreams := func(s *replayState, k entKey) []bgp.ASN {
		var out []bgp.ASN
		for _, pr := range s.peers {
			for _, p := range pfx[k] {
				if path := s.routes[pr][p]; len(path) >= 2 {
					u := path[len(path)-2]
					if !slices.Contains(out, u) {
						out = append(out, u)
					}
				}
			}
		}
		slices.Sort(out)
		return out
	}
	type window struct {
		from, to time.Time
	}
	excused := map[entKey][]window{}
	for _, ev := range g.Truth {
		ev := ev
		k := entKey{ev.EntityType, ev.EntityCode}
		evEnd := end
		if ev.End != nil {
			evEnd = *ev.End
		}
		switch ev.Kind {
		case event.Outage, event.PartialOutage:
			excused[k] = append(excused[k], window{ev.Start, evEnd.Add(time.Minute)})
			if ev.Optional {
				continue
			}
			probes = append(probes, probe{ev.Start.Add(time.Minute), func(s *replayState) {
				if got := 1 - share(s, k, ev.Family); abs(got-ev.Fraction) > 0.001 {
					t.Errorf("%v: at start+1m lost %.4f, truth %.4f", ev, got, ev.Fraction)
				}
			}})
			if ev.End != nil {
				probes = append(probes, probe{ev.End.Add(time.Minute), func(s *replayState) {
					if got := share(s, k, ev.Family); got != 1 {
						t.Errorf("%v: at end+1m %.4f visible", ev, got)
					}
				}})
			}
		case event.Instability:
			excused[k] = append(excused[k], window{ev.Start, evEnd.Add(time.Minute)})
			if ev.Optional {
				continue
			}
			// Visibility comes back: sample every minute; never all gone,
			// and some of them gone at some point.
			var minShare float64 = 1
			for tm := ev.Start; !tm.After(evEnd); tm = tm.Add(time.Minute) {
				last := tm.Add(time.Minute).After(evEnd)
				probes = append(probes, probe{tm.Add(20 * time.Second), func(s *replayState) {
					sh := share(s, k, ev.Family)
					if sh == 0 && len(pfx[k]) > 1 {
						t.Errorf("%v: all prefixes gone at %v", ev, tm)
					}
					minShare = min(minShare, sh)
					if last && minShare == 1 {
						t.Errorf("%v: no prefix was ever gone", ev)
					}
				}})
			}
		case event.UpstreamChange:
			var before []bgp.ASN
			probes = append(probes, probe{ev.Start.Add(-time.Minute), func(s *replayState) { before = upstreams(s, k) }})
			probes = append(probes, probe{ev.Start.Add(time.Minute), func(s *replayState) {
				if after := upstreams(s, k); slices.Equal(before, after) {
					t.Errorf("%v: upstreams unchanged: %v", ev, after)
				}
			}})
		case event.PeerEvent:
			addr := netip.MustParseAddr(ev.EntityCode)
			probes = append(probes, probe{ev.Start.Add(time.Minute), func(s *replayState) {
				if n := len(s.routes[addr]); n != 0 {
					t.Errorf("%v: peer still has %d routes", ev, n)
				}
			}})
			if ev.End != nil {
				probes = append(probes, probe{ev.End.Add(time.Minute), func(s *replayState) {
					if n, want := len(s.routes[addr]), len(owner); n < want*9/10 {
						t.Errorf("%v: peer has %d routes a minute after, want about %d", ev, n, want)
					}
				}})
			}
		}
	}
	// Outside the truth windows every prefix is visible to the majority.
	for tm := start.Add(5 * time.Minute); tm.Before(end); tm = tm.Add(5 * time.Minute) {
		probes = append(probes, probe{tm, func(s *replayState) {
			for p, ks := range owner {
				if s.visible(p)*2 > npeers {
					continue
				}
				ok := false
				for _, k := range ks {
					for _, w := range excused[k] {
						ok = ok || (!tm.Before(w.from) && tm.Before(w.to))
					}
				}
				if !ok {
					t.Errorf("%v: %s seen by %d of %d peers, no truth event", tm, p, s.visible(p), npeers)
				}
			}
		}})
	}
	sort.SliceStable(probes, func(i, j int) bool { return probes[i].at.Before(probes[j].at) })
	at := make([]time.Time, len(probes))
	for i, p := range probes {
		at[i] = p.at
	}
	idx := 0
	replay(t, g, at, func(_ time.Time, s *replayState) {
		probes[idx].check(s)
		idx++
	})
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestNorthKorea2014(t *testing.T) {
	start := time.Now()
	cfg := NorthKorea2014()
	g, err := GenerateInMemory(context.Background(), cfg, snapshotDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated in %v", time.Since(start))
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	want := []struct {
		kind       event.Kind
		start, end string
	}{
		{event.Instability, "2014-12-20T06:00:00Z", ""},
		{event.Outage, "2014-12-22T16:15:00Z", "2014-12-23T01:46:00Z"},
		{event.Outage, "2014-12-23T15:41:00Z", "2014-12-23T16:41:00Z"},
	}
	for _, code := range []string{"KP", "131279"} {
		for _, w := range want {
			found := false
			for _, e := range g.Truth {
				if e.EntityCode == code && e.Kind == w.kind && e.Start.Equal(ts(w.start)) && !e.Optional &&
					(w.end == "" || (e.End != nil && e.End.Equal(ts(w.end)))) && e.Family == bgp.AllFamilies {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s %s from %s in the truth", code, w.kind, w.start)
			}
		}
	}
	if len(g.Truth) != 6 {
		t.Errorf("%d truth events, want 6: %v", len(g.Truth), g.Truth)
	}
	var size int
	for _, f := range g.Files {
		size += len(f.Data)
		t.Logf("%s %d bytes", f.Name, len(f.Data))
	}
	if size > 8<<20 {
		t.Errorf("%d bytes of MRT", size)
	}
	// AS131279 reached only through AS4837 in the RIB.
	rr := mrt.NewRouteReader(bytes.NewReader(g.Files[0].Data), "rib", "rrc00")
	n := 0
	for {
		ev, err := rr.Next()
		if err != nil {
			break
		}
		if netip.MustParsePrefix("175.45.176.0/22").Contains(ev.Prefix.Addr()) {
			n++
			flat := ev.Attrs.Path.AppendFlat(nil)
			if len(flat) < 2 || flat[len(flat)-1] != 131279 || flat[len(flat)-2] != 4837 {
				t.Errorf("path %v", flat)
			}
		}
	}
	if n != 4*30 {
		t.Errorf("%d RIB entries of the KP prefixes, want 120", n)
	}
}
