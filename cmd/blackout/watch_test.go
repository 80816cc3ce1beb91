package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/scenario"
	"github.com/blackout-bgp/blackout/internal/source/rislive/ristest"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runWatchUntil runs `blackout watch args...` until done(stdout) holds (or
// a generous deadline passes), then stops it as SIGINT would, and returns
// its exit status and output.
func runWatchUntil(t *testing.T, args []string, done func(out string) bool) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, &cmdEnv{stdout: &out, stderr: &errb}, append([]string{"watch"}, args...)) }()
	deadline := time.After(2 * time.Minute)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !done(out.String()) {
		select {
		case c := <-code:
			t.Fatalf("watch stopped by itself (exit %d): %s\nstdout: %s", c, errb.String(), out.String())
		case <-deadline:
			cancel()
			<-code
			t.Fatalf("watch did not print what was expected\nstdout: %s\nstderr: %s", out.String(), errb.String())
		case <-tick.C:
		}
	}
	cancel()
	return <-code, out.String(), errb.String()
}

func jsonEvents(t *testing.T, s string) []event.Event {
	t.Helper()
	var out []event.Event
	dec := json.NewDecoder(strings.NewReader(s))
	for dec.More() {
		var ev event.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%v in %s", err, s)
		}
		out = append(out, ev)
	}
	return out
}

// TestWatchRISLivePeerEvents plays the real RIS Live capture to watch: the
// peer that RIS reports down is printed as a peer event, in replay's JSON
// form, and --record leaves MRT files of the collectors.
func TestWatchRISLivePeerEvents(t *testing.T) {
	lines := ristest.CorpusLines(t, "ris-live-stream.json")
	srv := ristest.New(lines)
	defer srv.Close()
	rec := t.TempDir()
	code, out, errs := runWatchUntil(t, []string{"--ris-live=" + srv.URL, "--ris-filter", "host=rrc01", "--json", "--record", rec},
		func(out string) bool { return strings.Contains(out, `"entity_code":"195.66.224.59"`) })
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	evs := jsonEvents(t, out)
	if len(evs) != 1 || evs[0].Kind != event.PeerEvent || evs[0].PeerCollector != "rrc01" || evs[0].PeerAS != 24931 || evs[0].Cause != "session_down" {
		t.Errorf("events %+v", evs)
	}
	// The capture's state message (18:31:21.88) comes after an UPDATE
	// stamped 19:19:47.89; the view's clock never goes back.
	if !evs[0].Start.Equal(time.Date(2019, 3, 26, 19, 19, 47, 890000000, time.UTC)) {
		t.Errorf("start %s: want the data clock, 19:19:47.89", evs[0].Start)
	}
	if subs := srv.Subscriptions(); len(subs) != 1 || !strings.Contains(string(subs[0]), `"host":"rrc01"`) {
		t.Errorf("subscriptions %q", subs)
	}
	for _, want := range []string{"ris-live: subscribed to " + srv.URL, "server error: this is a test error message", "ris-live: message 7: invalid JSON"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	// The recording: the UPDATE of rrc00 and the state change of rrc01.
	for _, c := range []string{"rrc00", "rrc01"} {
		m, _ := filepath.Glob(filepath.Join(rec, c, "updates.*"))
		if len(m) != 1 {
			t.Errorf("%s: recorded %v", c, m)
		}
	}
}

// TestWatchNeedsASource checks the usage errors.
func TestWatchNeedsASource(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), &cmdEnv{stdout: &out, stderr: &errb}, []string{"watch"}); code != 2 || !strings.Contains(errb.String(), "no live source") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), &cmdEnv{stdout: &out, stderr: &errb}, []string{"watch", "--ris-live=http://x"}); code != 2 {
		t.Errorf("http URL: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), &cmdEnv{stdout: &out, stderr: &errb}, []string{"watch", "--ris-filter", "colour=red"}); code != 2 || !strings.Contains(errb.String(), "unknown key") {
		t.Errorf("bad filter: exit %d: %s", code, errb.String())
	}
}

// TestWatchCountryOutage is the end-to-end check: a generated world goes
// through a fake RIS Live (a RIB phase of announcements, then updates), the
// connection drops once on the way, and the withdrawal of a small
// country's prefixes by all peers comes out of watch as an outage event
// of that country, at the time of the withdrawals.
func TestWatchCountryOutage(t *testing.T) {
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	cfg := scenario.Config{Name: "watch", Seed: 3, Duration: 3 * time.Hour, Peers: 6, Countries: 4, Collector: "rrc00", ChurnRate: 0.05,
		Events: []scenario.EventSpec{{Kind: scenario.CaseOutage, At: 2 * time.Hour, For: 30 * time.Minute}}}
	g, err := scenario.GenerateInMemory(context.Background(), cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	var truth *scenario.TruthEvent
	for i, e := range g.Truth {
		if e.Kind == event.Outage && e.EntityType == event.Country {
			truth = &g.Truth[i]
		}
	}
	if truth == nil {
		t.Fatalf("no country outage in the truth: %+v", g.Truth)
	}
	var events []bgp.Event
	for _, f := range g.Files {
		rr := mrt.NewRouteReader(bytes.NewReader(f.Data), f.Name, "rrc00")
		for {
			ev, err := rr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			events = append(events, ev.Clone())
		}
	}
	msgs := ristest.Messages(events)
	half := len(msgs) / 2
	srv := ristest.New(msgs[:half], msgs[half:])
	defer srv.Close()
	t.Logf("%d route events as %d RIS Live messages; truth: %s %s outage at %s", len(events), len(msgs), truth.EntityType, truth.EntityCode, truth.Start)

	want := `"entity_type":"country","entity_code":"` + truth.EntityCode + `"`
	code, out, errs := runWatchUntil(t, []string{"--ris-live=" + srv.URL, "--json", "--country", truth.EntityCode},
		func(out string) bool {
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, want) && strings.Contains(l, `"kind":"outage"`) && !strings.Contains(l, `"end":null`) {
					return true
				}
			}
			return false
		})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var start, end *event.Event
	for _, ev := range jsonEvents(t, out) {
		if ev.EntityType == event.Country && ev.Kind == event.Outage {
			if ev.End == nil && start == nil {
				start = &ev
			} else if ev.End != nil {
				end = &ev
			}
		}
	}
	if start == nil || end == nil {
		t.Fatalf("no outage start and end printed:\n%s", out)
	}
	if d := start.Start.Sub(truth.Start); d < -time.Minute || d > time.Minute {
		t.Errorf("outage start %s, truth %s", start.Start, truth.Start)
	}
	if truth.End != nil {
		if d := end.End.Sub(*truth.End); d < -time.Minute || d > time.Minute {
			t.Errorf("outage end %s, truth %s", end.End, truth.End)
		}
	}
	if !strings.Contains(errs, "ris-live: blind for ") {
		t.Errorf("no blind report after the drop:\n%s", errs)
	}
}
