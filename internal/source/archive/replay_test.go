package archive_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/archive"
	"github.com/blackout-bgp/blackout/internal/source/archive/archivetest"
)

// mirror builds the test mirror or skips.
func mirror(t *testing.T) *archivetest.Server { return archivetest.Run(t) }

func testCtx(t *testing.T) context.Context {
	// A safety net only: nothing here should take more than seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var (
	testFrom  = time.Date(2014, 12, 31, 19, 0, 0, 0, time.UTC)
	testUntil = time.Date(2015, 1, 1, 3, 0, 0, 0, time.UTC)
	bothCols  = []archive.Collector{archivetest.RIS, archivetest.RouteViews}
)

type replayResult struct {
	res    *pipeline.Result
	errs   []error
	stats  *archive.ParseStats
	fetch  *archive.Fetcher
	events []*event.Event
}

// replay plans, fetches and replays the range from the server into dir.
func replay(t *testing.T, s *archivetest.Server, dir string, from, until time.Time) replayResult {
	t.Helper()
	return replayWith(t, s, dir, from, until, nil)
}

// replayWith is replay with the pipeline's configuration adjusted by edit.
func replayWith(t *testing.T, s *archivetest.Server, dir string, from, until time.Time, edit func(*pipeline.Options)) replayResult {
	t.Helper()
	ctx := testCtx(t)
	files, err := archive.Plan(from, until, bothCols, s.Bases())
	if err != nil {
		t.Fatal(err)
	}
	f := &archive.Fetcher{Dir: dir, Backoff: time.Millisecond}
	ds := f.Start(ctx, files)
	stats := &archive.ParseStats{}
	srcs := archive.NewSources(ctx, ds, stats)
	es := make([]source.Source, len(srcs))
	for i, s := range srcs {
		es[i] = s
		defer s.Close()
	}
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	var rr replayResult
	opts := pipeline.Options{Config: pipeline.DefaultConfig(db), OnError: func(err error) { rr.errs = append(rr.errs, err) }}
	if edit != nil {
		edit(&opts)
	}
	res, err := pipeline.Run(ctx, source.Merge(es), opts)
	if err != nil {
		t.Fatal(err)
	}
	rr.res, rr.stats, rr.fetch, rr.events = res, stats, f, res.Events
	return rr
}

// kpOutage returns the country outage of KP, or nil.
func kpOutage(evs []*event.Event) *event.Event {
	for _, ev := range evs {
		if ev.EntityType == event.Country && ev.EntityCode == "KP" && ev.Kind == "outage" {
			return ev
		}
	}
	return nil
}

func near(a, b time.Time) bool { return a.Sub(b).Abs() <= time.Minute }

// TestReplayTwoCollectors replays a range that spans several RIB and
// update files of both layouts, across a month boundary, and finds the
// outage with its times; the RIBs fetched are the latest at or before the
// start.
func TestReplayTwoCollectors(t *testing.T) {
	s := mirror(t)
	rr := replay(t, s, t.TempDir(), testFrom, testUntil)
	for _, err := range rr.errs {
		t.Errorf("input error: %v", err)
	}
	ev := kpOutage(rr.events)
	if ev == nil {
		for _, e := range rr.events {
			t.Logf("event: %s %s %s %s %v", e.EntityType, e.EntityCode, e.Kind, e.Start, e.End)
		}
		t.Fatal("no outage of KP found")
	}
	if !near(ev.Start, archivetest.OutageStart) || ev.End == nil || !near(*ev.End, archivetest.OutageEnd) {
		t.Errorf("KP outage %s - %v, want %s - %s", ev.Start, ev.End, archivetest.OutageStart, archivetest.OutageEnd)
	}
	if ev.Withdrawal == nil || ev.Withdrawal.Full != 20 {
		t.Errorf("withdrawal %+v: want 20 full-feed peers (10 per collector, two collectors)", ev.Withdrawal)
	}
	var ribs []string
	months := map[string]bool{}
	for _, r := range s.Requests() {
		if strings.Contains(r.Path, "bview.") || strings.Contains(r.Path, "/rib.") {
			ribs = append(ribs, r.Path)
		}
		if strings.Contains(r.Path, "/2014.12/") {
			months["2014.12"] = true
		}
		if strings.Contains(r.Path, "/2015.01/") {
			months["2015.01"] = true
		}
	}
	want := []string{"/ris/rrc00/2014.12/bview.20141231.1600.gz", "/routeviews/bgpdata/2014.12/RIBS/rib.20141231.1800.bz2"}
	slices.Sort(ribs) // fetched concurrently: any order
	if strings.Join(ribs, " ") != strings.Join(want, " ") {
		t.Errorf("RIBs fetched %v, want %v", ribs, want)
	}
	if len(months) != 2 {
		t.Errorf("months fetched %v, want both sides of the new year", months)
	}
	// 16:00-03:00 of RIS updates (132 files) and 18:00-03:00 of RouteViews (36), 2 RIBs.
	if got := rr.fetch.Stats.FilesDone.Load(); got != 132+36+2 {
		t.Errorf("%d files fetched, want %d", got, 132+36+2)
	}
	if rr.res.First.Before(time.Date(2014, 12, 31, 16, 0, 0, 0, time.UTC)) || rr.res.Last.After(testUntil) {
		t.Errorf("data from %s to %s, outside the planned files", rr.res.First, rr.res.Last)
	}
	t.Logf("%d route events, %d peers, %d requests, %d bytes", rr.res.RouteEvents, rr.res.Peers, len(s.Requests()), rr.fetch.Stats.Bytes.Load())
}

// TestStreaming: parsing goes on while files download, and the collectors
// are merged as their files arrive. The server holds the last update file
// of each collector until the detector has reported the outage's start
// from the earlier files; were the replay to wait for every file, it
// would never get there (the safety timeout would fail the test).
func TestStreaming(t *testing.T) {
	s := mirror(t)
	last := map[string]bool{
		archivetest.RISPrefix + "/rrc00/2015.01/updates.20150101.0255.gz":                   true,
		archivetest.RouteViewsPrefix + "/bgpdata/2015.01/UPDATES/updates.20150101.0245.bz2": true,
	}
	release := make(chan struct{})
	var once sync.Once
	var held atomic.Int32
	s.Hook = func(r *http.Request) {
		if last[r.URL.Path] {
			held.Add(1)
			select {
			case <-release:
			case <-time.After(time.Minute): // safety net only
				t.Error("the last files were held until the safety timeout: no streaming")
			}
		}
	}
	var seenWhileHeld bool
	rr := replayWith(t, s, t.TempDir(), testFrom, testUntil, func(opts *pipeline.Options) {
		opts.Sinks = append(opts.Sinks, event.SinkFunc(func(n event.Notice) {
			if n.Type == "start" && n.Event.EntityCode == "KP" && n.Event.Kind == "outage" {
				once.Do(func() {
					seenWhileHeld = true
					close(release)
				})
			}
		}))
	})
	if !seenWhileHeld {
		t.Fatal("the outage was not reported before the last files were served")
	}
	if held.Load() != 2 {
		t.Errorf("%d held requests, want 2", held.Load())
	}
	if ev := kpOutage(rr.events); ev == nil || ev.End == nil || !near(*ev.End, archivetest.OutageEnd) {
		t.Errorf("outage %+v", ev)
	}
}
