package record

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/report"
	"github.com/blackout-bgp/blackout/internal/scenario"
	"github.com/blackout-bgp/blackout/internal/source"
)

// generate writes a scenario with an outage and a peer reset into
// dir/rrc00 and returns its files in order (RIB first).
func generate(t *testing.T, db *geo.DB) []string {
	t.Helper()
	cfg := scenario.Config{Name: "record", Seed: 7, Duration: 5 * time.Hour, Peers: 8, Countries: 5, Collector: "rrc00",
		Events: []scenario.EventSpec{
			{Kind: scenario.CaseOutage, At: 2 * time.Hour, For: 40 * time.Minute},
			{Kind: scenario.CasePeerReset, At: 3*time.Hour + 30*time.Minute, For: 10 * time.Minute},
		}}
	g, err := scenario.Generate(context.Background(), cfg, db, filepath.Join(t.TempDir(), "rrc00"))
	if err != nil {
		t.Fatal(err)
	}
	return g.Paths()
}

// readEvents reads the files one after the other (they are in time order)
// and returns their events, cloned.
func readEvents(t *testing.T, files []string) []bgp.Event {
	t.Helper()
	var out []bgp.Event
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		rr := mrt.NewRouteReader(f, name, source.CollectorOf(name))
		for {
			ev, err := rr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out = append(out, ev.Clone())
		}
		f.Close()
	}
	return out
}

// replay runs the pipeline over files and returns replay's JSON and the
// number of route events.
func replay(t *testing.T, db *geo.DB, files []string) (string, int64) {
	t.Helper()
	srcs, err := source.OpenFiles(context.Background(), files)
	if err != nil {
		t.Fatal(err)
	}
	es := make([]source.Source, len(srcs))
	for i, s := range srcs {
		es[i] = s
		defer s.Close()
	}
	res, err := pipeline.Run(context.Background(), source.Merge(es), pipeline.Options{Config: pipeline.DefaultConfig(db)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		t.Fatalf("%d input errors replaying %v", res.Errors, files)
	}
	var b bytes.Buffer
	if err := report.WriteJSON(&b, res.Events); err != nil {
		t.Fatal(err)
	}
	return b.String(), res.RouteEvents
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

// TestRecordReplaysTheSame records a generated stream (RIB, updates with
// an outage and a peer reset) through Tee and checks that replaying the
// recorded files gives the same events as replaying the original, that
// every bview holds the table at its time, and that no temporary file is
// left.
func TestRecordReplaysTheSame(t *testing.T) {
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	orig := generate(t, db)
	events := readEvents(t, orig)
	out := t.TempDir()
	var recErrs []error
	r, err := New(Config{Dir: out, Every: time.Hour, OnError: func(err error) { recErrs = append(recErrs, err) }})
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan bgp.Event, 64)
	go func() {
		for _, ev := range events {
			in <- ev
		}
		close(in)
	}()
	passed, wait := Tee(context.Background(), in, r, 256)
	n := 0
	for range passed {
		n++
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if n != len(events) || len(recErrs) > 0 {
		t.Fatalf("%d of %d events passed; errors %v", n, len(events), recErrs)
	}

	dir := filepath.Join(out, "rrc00")
	updates := glob(t, filepath.Join(dir, "updates.*"))
	bviews := glob(t, filepath.Join(dir, "bview.*"))
	if len(updates) != 5 || len(bviews) != 5 {
		t.Fatalf("updates %v, bviews %v: want 5 of each (hours 00 to 04; the RIB at 00:00, then a bview each hour)", updates, bviews)
	}
	for _, f := range append(updates, bviews...) {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: not 0644 (%v)", f, err)
		}
	}
	if tmp := glob(t, filepath.Join(dir, ".*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	wantJSON, wantN := replay(t, db, orig)
	gotJSON, gotN := replay(t, db, append([]string{bviews[0]}, updates...))
	if gotJSON != wantJSON || gotN != wantN {
		t.Errorf("replay of the recording differs (%d route events, want %d):\n got %s\nwant %s", gotN, wantN, gotJSON, wantJSON)
	}
	if !strings.Contains(wantJSON, `"kind":"outage"`) || !strings.Contains(wantJSON, `"kind":"peer_event"`) {
		t.Errorf("the scenario should give an outage and a peer event: %s", wantJSON)
	}

	// Each bview is the table at its time.
	for _, b := range bviews {
		at, err := time.Parse("20060102.1504", strings.TrimPrefix(filepath.Base(b), "bview."))
		if err != nil {
			t.Fatal(err)
		}
		want := tableAt(events, at)
		got := map[string]string{}
		for _, ev := range readEvents(t, []string{b}) {
			got[ev.Peer.Addr.String()+" "+ev.Prefix.String()] = ev.Attrs.Path.String()
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d routes, want %d", b, len(got), len(want))
			continue
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s: path %q, want %q", b, k, got[k], v)
				break
			}
		}
	}
}

// tableAt replays events before at into per-peer tables (a session that
// goes down loses its routes) and returns "peer prefix" -> path.
func tableAt(events []bgp.Event, at time.Time) map[string]string {
	tab := map[string]string{}
	for _, ev := range events {
		if !ev.Time.Before(at) && !ev.RIB {
			break
		}
		k := ev.Peer.Addr.String() + " " + ev.Prefix.String()
		switch ev.Kind {
		case bgp.Announce:
			tab[k] = ev.Attrs.Path.String()
		case bgp.Withdraw:
			delete(tab, k)
		case bgp.PeerState:
			if ev.NewState != bgp.StateEstablished {
				for key := range tab {
					if strings.HasPrefix(key, ev.Peer.Addr.String()+" ") {
						delete(tab, key)
					}
				}
			}
		}
	}
	return tab
}

// TestGroupsUpdates checks that events of one peer, time and attributes
// share one UPDATE, that a withdrawal after announcements starts a new one,
// and that collectors get their own directories.
func TestGroupsUpdates(t *testing.T) {
	out := t.TempDir()
	r, err := New(Config{Dir: out})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 3, 1, 10, 7, 0, 123456000, time.UTC)
	peer := bgp.Peer{Collector: "rrc21", Addr: netip.MustParseAddr("192.0.2.1"), AS: 64500}
	attrs := &bgp.Attrs{NextHop: peer.Addr}
	attrs.Set(bgp.AttrOrigin)
	attrs.Set(bgp.AttrASPath)
	attrs.Set(bgp.AttrNextHop)
	attrs.Path = bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: []bgp.ASN{64500, 131279}}}}
	evs := []bgp.Event{
		{Time: t0, Kind: bgp.Withdraw, Peer: peer, Prefix: netip.MustParsePrefix("10.0.0.0/8")},
		{Time: t0, Kind: bgp.Announce, Peer: peer, Prefix: netip.MustParsePrefix("175.45.176.0/24"), Attrs: attrs},
		{Time: t0, Kind: bgp.Announce, Peer: peer, Prefix: netip.MustParsePrefix("175.45.177.0/24"), Attrs: attrs},
		{Time: t0, Kind: bgp.Withdraw, Peer: peer, Prefix: netip.MustParsePrefix("175.45.176.0/24")},
		{Time: t0, Kind: bgp.PeerState, Peer: peer, OldState: bgp.StateEstablished, NewState: bgp.StateIdle},
		{Time: t0, Kind: bgp.Announce, Peer: bgp.Peer{Addr: netip.MustParseAddr("2001:db8::1"), AS: 64501},
			Prefix: netip.MustParsePrefix("2001:db8::/32"), Attrs: &bgp.Attrs{NextHop: netip.MustParseAddr("2001:db8::1")}},
	}
	for i := range evs {
		if err := r.Write(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Write(&evs[0]); err == nil {
		t.Error("write after Close accepted")
	}
	name := filepath.Join(out, "rrc21", "updates.20240301.1000")
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := mrt.NewReader(f, name)
	var recs int
	var rec mrt.Record
	for {
		if err := rd.Next(&rec); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		recs++
	}
	if recs != 3 { // W+A+A, then W, then the state change
		t.Errorf("%d records, want 3", recs)
	}
	got := readEvents(t, []string{name})
	if len(got) != 5 || !got[0].Time.Equal(t0) || got[1].Attrs.Path.String() != "64500 131279" || got[4].NewState != bgp.StateIdle {
		t.Errorf("read back %+v", got)
	}
	if _, err := os.Stat(filepath.Join(out, "updates.20240301.1000")); err != nil {
		t.Errorf("no collector: %v", err)
	}
}
