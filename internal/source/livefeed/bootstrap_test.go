package livefeed_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/archive"
	"github.com/blackout-bgp/blackout/internal/source/archive/archivetest"
	"github.com/blackout-bgp/blackout/internal/source/livefeed"
	"github.com/blackout-bgp/blackout/internal/source/rislive"
	"github.com/blackout-bgp/blackout/internal/source/rislive/ristest"
)

// replay returns the events of the mirror's rrc00 files from the bview
// at or before from up to until (exclusive), as a replay reads them.
func replay(t *testing.T, bases archive.Bases, from, until time.Time) []bgp.Event {
	return replayOf(t, archivetest.RIS, bases, from, until)
}

// replayOf returns the events of collector c's files of the mirror from
// the RIB at or before from up to until (exclusive), as a replay reads
// them.
func replayOf(t *testing.T, c archive.Collector, bases archive.Bases, from, until time.Time) []bgp.Event {
	t.Helper()
	files, err := archive.Plan(from, until, []archive.Collector{c}, bases)
	if err != nil {
		t.Fatal(err)
	}
	f := &archive.Fetcher{Dir: t.TempDir()}
	streams := archive.NewSources(context.Background(), f.Fetch(context.Background(), files), nil)
	srcs := make([]source.Source, len(streams))
	for i, s := range streams {
		srcs[i] = s
	}
	m := source.Merge(srcs)
	var out []bgp.Event
	for {
		ev, err := m.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Time.Before(until) {
			out = append(out, ev.Clone())
		}
	}
}

// key is what a route event says, as RIS Live can carry it.
func key(ev bgp.Event) string {
	switch ev.Kind {
	case bgp.PeerState:
		return fmt.Sprintf("%s %s state up=%v", ev.Time.UTC().Format(time.RFC3339Nano), ev.Peer, ev.NewState == bgp.StateEstablished)
	case bgp.Announce:
		return fmt.Sprintf("%s %s announce %s [%s] rib=%v", ev.Time.UTC().Format(time.RFC3339Nano), ev.Peer, ev.Prefix, ev.Attrs.Path, ev.RIB)
	}
	return fmt.Sprintf("%s %s %s %s rib=%v", ev.Time.UTC().Format(time.RFC3339Nano), ev.Peer, ev.Kind, ev.Prefix, ev.RIB)
}

// TestBootstrapJoin is issue 12's must-show for RIS Live with a starting
// table, on a scripted timeline: a RIS-layout mirror on loopback HTTP
// holds rrc00's bviews and update files; the local RIS Live server streams
// the same collector's events from 22:07:30, in the middle of an update
// file, to 02:00 (North Korea's outage of 22:15 is in it). The bootstrap's
// events (the archive's before the join, the live stream's after it)
// equal those of replaying the files from the 16:00 bview to the live
// stream's end: no gap, no double count.
func TestBootstrapJoin(t *testing.T) {
	mirror := archivetest.Run(t)
	bases := mirror.Bases()
	liveFrom := time.Date(2014, 12, 31, 22, 7, 30, 0, time.UTC)
	liveTo := time.Date(2015, 1, 1, 2, 0, 0, 0, time.UTC)
	want := replay(t, bases, liveFrom, liveTo)
	var live []bgp.Event
	for _, ev := range want {
		if !ev.Time.Before(liveFrom) && !ev.RIB {
			live = append(live, ev)
		}
	}
	if len(live) < 50 || len(want) < len(live)+200 {
		t.Fatalf("timeline of %d events, %d live: too small to test", len(want), len(live))
	}
	srv := ristest.New(ristest.Messages(live))
	defer srv.Close()

	var logs []string
	b := &livefeed.Bootstrap{
		Live:       rislive.New(rislive.Config{URL: srv.URL, Filters: []rislive.Filter{{Host: "rrc00"}}}),
		Collectors: []archive.Collector{archivetest.RIS}, Bases: bases, Fetcher: &archive.Fetcher{Dir: t.TempDir()},
		Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan bgp.Event, 1024)
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, out) }()
	var got []bgp.Event
	timeout := time.After(60 * time.Second)
	for len(got) < len(want) {
		select {
		case ev := <-out:
			got = append(got, ev)
		case <-timeout:
			t.Fatalf("%d events of %d after 60 s\n%s", len(got), len(want), strings.Join(logs, "\n"))
		}
	}
	select {
	case ev := <-out:
		t.Errorf("an event more than the replay: %s", key(ev))
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	<-done
	for i := range want {
		if key(got[i]) != key(want[i]) {
			t.Fatalf("event %d:\n got %s\nwant %s\n%s", i, key(got[i]), key(want[i]), strings.Join(logs, "\n"))
		}
	}
	t.Logf("%d events (%d live), equal to the replay; %s", len(got), len(live), logs[len(logs)-1])
}
