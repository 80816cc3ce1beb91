package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// TestDemo runs the README's main command and checks that it finds what
// happened to North Korea: the instability, both outages with their times,
// the country and the AS, and the single upstream.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	chart := filepath.Join(dir, "kp.svg")
	var out, errb bytes.Buffer
	code := run(context.Background(), &cmdEnv{stdout: &out, stderr: &errb}, []string{"demo", "--json", "--chart", chart})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var events []event.Event
	dec := json.NewDecoder(&out)
	for dec.More() {
		var ev event.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	at := func(s string) time.Time { t0, _ := time.Parse(time.RFC3339, s); return t0 }
	want := []struct {
		entity, code, kind string
		start, end         time.Time
	}{
		{"country", "KP", "instability", at("2014-12-20T06:00:00Z"), time.Time{}},
		{"asn", "131279", "instability", at("2014-12-20T06:00:00Z"), time.Time{}},
		{"country", "KP", "outage", at("2014-12-22T16:15:00Z"), at("2014-12-23T01:46:00Z")},
		{"asn", "131279", "outage", at("2014-12-22T16:15:00Z"), at("2014-12-23T01:46:00Z")},
		{"country", "KP", "outage", at("2014-12-23T15:41:00Z"), at("2014-12-23T16:41:00Z")},
		{"asn", "131279", "outage", at("2014-12-23T15:41:00Z"), at("2014-12-23T16:41:00Z")},
	}
	near := func(a, b time.Time) bool { d := a.Sub(b); return d < time.Minute && d > -time.Minute }
	for _, w := range want {
		found := false
		for _, ev := range events {
			if ev.EntityType.String() != w.entity || ev.EntityCode != w.code || string(ev.Kind) != w.kind || !near(ev.Start, w.start) {
				continue
			}
			found = true
			if !w.end.IsZero() && (ev.End == nil || !near(*ev.End, w.end)) {
				t.Errorf("%s %s %s: end %v, want %v", w.entity, w.code, w.kind, ev.End, w.end)
			}
			if w.kind == "outage" {
				if len(ev.UpstreamsBefore) != 1 || ev.UpstreamsBefore[0] != 4837 {
					t.Errorf("%s %s outage: upstreams before %v, want only 4837", w.entity, w.code, ev.UpstreamsBefore)
				}
				if ev.AffectedPrefixes != 4 || ev.Severity != "critical" || ev.Family != bgp.AllFamilies {
					t.Errorf("%s %s outage: %d prefixes, %s, family %s", w.entity, w.code, ev.AffectedPrefixes, ev.Severity, ev.Family)
				}
				if !strings.Contains(ev.Explanation, "AS4837") || ev.PrecededBy == nil && w.start.Day() == 22 {
					t.Errorf("explanation lacks the upstream or the instability: %s", ev.Explanation)
				}
				if w.start.Day() == 22 {
					// Issue 18: origin side first (AS4837 kept its other
					// routes), after the instability, and what routing data
					// cannot tell.
					var codes []event.CauseCode
					for _, c := range ev.Causes {
						codes = append(codes, c.Cause)
					}
					if len(codes) == 0 || codes[0] != event.OriginSide || !slices.Contains(codes, event.AfterInstability) {
						t.Errorf("%s %s outage: causes %v, want origin_side first and after_instability", w.entity, w.code, codes)
					}
					x := ev.Evidence
					if x == nil || len(x.Upstreams) != 1 || x.Upstreams[0].ASN != 4837 || x.Upstreams[0].Before == 0 || x.Upstreams[0].After != x.Upstreams[0].Before || x.Unseen == "" {
						t.Errorf("%s %s outage: evidence %+v, want AS4837 keeping all its other routes and the unseen", w.entity, w.code, x)
					}
				}
			}
		}
		if !found {
			t.Errorf("no %s of %s %s starting near %v", w.kind, w.entity, w.code, w.start)
		}
	}
	if len(events) != len(want) {
		t.Errorf("%d events, want %d", len(events), len(want))
	}
	svg, err := os.ReadFile(chart)
	if err != nil || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("outage")) {
		t.Errorf("chart %s: %v", chart, err)
	}
	if st, err := os.Stat(chart); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o644 {
		t.Errorf("chart %s: mode %v, want 0644", chart, st.Mode().Perm())
	}
}
