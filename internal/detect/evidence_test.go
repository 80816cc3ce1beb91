package detect

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/view"
)

// fakeEvidence is a routing view and a tracker made by hand: the detector
// is tested alone, with no view, tracker or pipeline.
type fakeEvidence struct {
	prefixes []netip.Prefix // by PrefixID
	origin   bgp.ASN
	peers    int
	first    time.Time
	wd       map[view.PrefixID][2]time.Time
	binStart time.Time
}

func (f *fakeEvidence) Prefix(id view.PrefixID) netip.Prefix { return f.prefixes[id] }
func (f *fakeEvidence) Origin(view.PrefixID) bgp.ASN         { return f.origin }
func (f *fakeEvidence) LastWithdrawnPath(view.PrefixID) []bgp.ASN {
	return []bgp.ASN{64500, 4837, f.origin}
}
func (f *fakeEvidence) FullFeed() (int, int) { return f.peers, f.peers }
func (f *fakeEvidence) FamilyState(bgp.Family) (time.Time, time.Time, int) {
	return f.first, f.first, f.peers
}
func (f *fakeEvidence) Withdrawals(id view.PrefixID) (time.Time, time.Time, int) {
	w, ok := f.wd[id]
	if !ok {
		return time.Time{}, time.Time{}, 0
	}
	return w[0], w[1], f.peers
}
func (f *fakeEvidence) State(signal.Entity, bgp.Family) *signal.State { return nil }
func (f *fakeEvidence) BinStart() time.Time                           { return f.binStart }
func (f *fakeEvidence) BinWidth() time.Duration                       { return 5 * time.Minute }
func (f *fakeEvidence) Transit(bgp.ASN, bgp.Family, geo.Country, time.Time) (int32, int32) {
	return 0, 0
}
func (f *fakeEvidence) PathHunting(view.PrefixID) int                                    { return 0 }
func (f *fakeEvidence) OtherRoutes(netip.Prefix, func(netip.Prefix, bgp.ASN, time.Time)) {}

// recorder keeps the notices, with the event as it was at each.
type recorder struct {
	notices []event.Notice
	seen    []event.Event
}

func (r *recorder) Notify(n event.Notice) {
	r.notices = append(r.notices, n)
	r.seen = append(r.seen, *n.Event.Clone())
}

// dualStack is an AS with one IPv4 and one IPv6 prefix, watched by a
// detector over fake evidence, with a day of normal bins behind it.
type dualStack struct {
	t   *testing.T
	d   *Detector
	ev  *fakeEvidence
	rec *recorder
	as  signal.Entity
	now time.Time
}

func newDualStack(t *testing.T) *dualStack {
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2014, 12, 22, 0, 0, 0, 0, time.UTC)
	ev := &fakeEvidence{prefixes: []netip.Prefix{netip.MustParsePrefix("175.45.176.0/24"), netip.MustParsePrefix("2001:db8::/48")},
		origin: 131279, peers: 10, first: t0, wd: map[view.PrefixID][2]time.Time{}}
	ds := &dualStack{t: t, ev: ev, rec: &recorder{}, as: signal.ASEntity(131279), now: t0}
	ds.d = New(DefaultConfig(), db, ev, ds.rec)
	// The detector is warm (a RIB dump, full-feed peers) from the first
	// tick; then a day of bins at 1 unit per family.
	ds.d.Tick(t0)
	for i := 0; i < 24*12; i++ {
		b := t0.Add(time.Duration(i) * 5 * time.Minute)
		ev.binStart = b.Add(5 * time.Minute)
		ds.d.Tick(b)
		for _, f := range []bgp.Family{bgp.IPv4, bgp.IPv6} {
			ds.d.BinClosed(ds.as, f, signal.Bin{Start: b, Space: 1, MinSpace: 1, Prefixes: 1}, &signal.State{Prefixes: 1, Space: 1})
		}
	}
	ds.now = t0.Add(24 * time.Hour)
	ds.d.Tick(ds.now)
	return ds
}

// fall withdraws the family's prefix at every peer at t.
func (ds *dualStack) fall(f bgp.Family, t time.Time) {
	id := view.PrefixID(f)
	ds.ev.wd[id] = [2]time.Time{t.Add(-2 * time.Second), t}
	ds.d.Tick(t)
	ds.d.PrefixVisibility(t, ds.as, f, id, false)
	ds.d.Changed(t, ds.as, f, &signal.State{Space: 0})
}

// rise brings the family's prefix back at t.
func (ds *dualStack) rise(f bgp.Family, t time.Time) {
	id := view.PrefixID(f)
	delete(ds.ev.wd, id)
	ds.d.Tick(t)
	ds.d.PrefixVisibility(t, ds.as, f, id, true)
	ds.d.Changed(t, ds.as, f, &signal.State{Prefixes: 1, Space: 1})
}

func (ds *dualStack) types() []event.NoticeType {
	var out []event.NoticeType
	for _, n := range ds.rec.notices {
		out = append(out, n.Type)
	}
	return out
}

// TestJoinFamilies: IPv4 and IPv6 falling 30 s apart are one outage of
// family all, told as it happens: a start in IPv4 at once, an escalation
// to all when IPv6 follows, one end when both are back (the later time).
func TestJoinFamilies(t *testing.T) {
	ds := newDualStack(t)
	t4 := ds.now.Add(10 * time.Minute)
	ds.fall(bgp.IPv4, t4)
	ds.fall(bgp.IPv6, t4.Add(30*time.Second))
	ds.rise(bgp.IPv4, t4.Add(2*time.Hour))
	ds.rise(bgp.IPv6, t4.Add(2*time.Hour+20*time.Second))
	got := ds.types()
	want := []event.NoticeType{event.Start, event.Escalate, event.End}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("notices %v, want %v", got, want)
	}
	first, last := ds.rec.seen[0], ds.rec.seen[2]
	if first.Family != bgp.IPv4 || !first.Start.Equal(t4) {
		t.Errorf("start: %s at %v, want ipv4 at %v", first.Family, first.Start, t4)
	}
	if ds.rec.notices[0].Event != ds.rec.notices[2].Event || first.ID != last.ID {
		t.Error("the start and the end are not of one event")
	}
	if last.Family != bgp.AllFamilies || last.Kind != event.Outage || !last.Start.Equal(t4) ||
		last.End == nil || !last.End.Equal(t4.Add(2*time.Hour+20*time.Second)) || last.AffectedPrefixes != 2 {
		t.Errorf("joined event %s %s %v..%v, %d prefixes: want an outage of all from %v to %v with 2 prefixes",
			last.Kind, last.Family, last.Start, last.End, last.AffectedPrefixes, t4, t4.Add(2*time.Hour+20*time.Second))
	}
}

// TestFamiliesApart: IPv6 falling 5 minutes after IPv4 is another event:
// two starts, two ends, no escalation.
func TestFamiliesApart(t *testing.T) {
	ds := newDualStack(t)
	t4 := ds.now.Add(10 * time.Minute)
	ds.fall(bgp.IPv4, t4)
	ds.fall(bgp.IPv6, t4.Add(5*time.Minute))
	ds.rise(bgp.IPv4, t4.Add(time.Hour))
	ds.rise(bgp.IPv6, t4.Add(time.Hour))
	got := ds.types()
	if len(got) != 4 || got[0] != event.Start || got[1] != event.Start || got[2] != event.End || got[3] != event.End {
		t.Fatalf("notices %v, want start, start, end, end", got)
	}
	if ds.rec.seen[0].Family != bgp.IPv4 || ds.rec.seen[1].Family != bgp.IPv6 {
		t.Errorf("families %s, %s: want ipv4 then ipv6", ds.rec.seen[0].Family, ds.rec.seen[1].Family)
	}
}

// TestOutageExplainedFromEvidence: the event's lists come from the
// evidence the detector was given.
func TestOutageExplainedFromEvidence(t *testing.T) {
	ds := newDualStack(t)
	t4 := ds.now.Add(10 * time.Minute)
	ds.fall(bgp.IPv4, t4)
	if len(ds.rec.seen) != 1 {
		t.Fatalf("%d notices, want a start", len(ds.rec.seen))
	}
	ev := ds.rec.seen[0]
	if len(ev.Prefixes) != 1 || ev.Prefixes[0] != "175.45.176.0/24" || len(ev.Origins) != 1 || ev.Origins[0] != 131279 {
		t.Errorf("prefixes %v, origins %v", ev.Prefixes, ev.Origins)
	}
	if ev.Withdrawal == nil || ev.Withdrawal.Peers != 10 || !ev.Withdrawal.Last.Equal(t4) {
		t.Errorf("withdrawal %+v: want 10 peers, the last at %v", ev.Withdrawal, t4)
	}
	if len(ev.PathsBefore) == 0 || ev.PathsBefore[0] != "64500 4837 131279" {
		t.Errorf("paths before %v", ev.PathsBefore)
	}
}

// TestGapNotJudgedAcross: after three hours without any route event the
// detector judges nothing until it has warmed up again, and says why; a
// fall right after the gap is not an outage against the old baseline.
func TestGapNotJudgedAcross(t *testing.T) {
	ds := newDualStack(t)
	after := ds.now.Add(3 * time.Hour)
	ds.d.Tick(after)
	c := ds.d.Coverage()
	if c.Judged() || !strings.Contains(c.Families[0].NotJudged, "a gap in the data") {
		t.Fatalf("coverage after a gap: %v", c.Statements())
	}
	ds.fall(bgp.IPv4, after.Add(time.Minute))
	if len(ds.rec.notices) != 0 {
		t.Errorf("notices %v after a gap: nothing should be judged yet", ds.types())
	}
}
