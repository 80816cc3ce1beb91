package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/source/archive"
	"github.com/blackout-bgp/blackout/internal/source/archive/archivetest"
	"github.com/blackout-bgp/blackout/internal/source/rislive/ristest"
)

// TestWatchRISBootstrap: `watch --ris-live --ris-filter host=rrc00
// --ris-bootstrap` over a local RIS-layout mirror and the local RIS Live
// server: rrc00's table comes from the mirror's bview and update files,
// the live stream (from 22:07:30) joins it, and North Korea's outage of
// 22:15, on the live stream, is an outage event judged from the bview (no
// hour of warm-up).
func TestWatchRISBootstrap(t *testing.T) {
	mirror := archivetest.Run(t)
	bases := mirror.Bases()
	liveFrom := time.Date(2014, 12, 31, 22, 7, 30, 0, time.UTC)
	files, err := archive.Plan(liveFrom, liveFrom.Add(time.Hour), []archive.Collector{archivetest.RIS}, bases)
	if err != nil {
		t.Fatal(err)
	}
	f := &archive.Fetcher{Dir: t.TempDir()}
	streams := archive.NewSources(context.Background(), f.Fetch(context.Background(), files), nil)
	var live []bgp.Event
	for {
		ev, err := streams[0].Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !ev.RIB && !ev.Time.Before(liveFrom) {
			live = append(live, ev.Clone())
		}
	}
	srv := ristest.New(ristest.Messages(live))
	defer srv.Close()
	code, out, errs := runWatchUntil(t, []string{"--ris-live=" + srv.URL, "--ris-filter", "host=rrc00", "--ris-bootstrap",
		"--ris-base", bases.RIS, "--cache", t.TempDir(), "--json", "--country", "KP"},
		func(out string) bool {
			return strings.Contains(out, `"entity_code":"KP"`) && strings.Contains(out, `"kind":"outage"`)
		})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var kp *event.Event
	for _, ev := range jsonEvents(t, out) {
		if ev.EntityCode == "KP" && ev.Kind == event.Outage {
			kp = &ev
			break
		}
	}
	if kp == nil || kp.Start.Sub(archivetest.OutageStart).Abs() > time.Minute {
		t.Errorf("KP outage %+v, want one starting at %s", kp, archivetest.OutageStart)
	}
	for _, want := range []string{"ris-live bootstrap: joined at 2014-12-31T22:", "IPv4: judged from 2014-12-31 16:"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}
