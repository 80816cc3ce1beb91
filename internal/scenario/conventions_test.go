package scenario

import (
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// TestInstabilityOwnPhases: each entity's instability is dated by its own
// down phases, so an AS of an unstable country starts no earlier and ends
// no later than the country (Suite(1) instability-3: AS139798 flapped from
// 04:35:40 to 06:39:11 only, the country PH from 04:09:13 to 07:13:37).
func TestInstabilityOwnPhases(t *testing.T) {
	for _, c := range Suite(1) {
		if c.Kind != CaseInstability && c.Kind != "combined" {
			continue
		}
		g := generate(t, c.Config)
		var span []TruthEvent // the widest instability (the main entity's)
		for _, e := range g.Truth {
			if e.Kind == event.Instability && !e.Optional && (len(span) == 0 || e.End.Sub(e.Start) > span[0].End.Sub(span[0].Start)) {
				span = []TruthEvent{e}
			}
		}
		for _, e := range g.Truth {
			if e.Kind != event.Instability || len(span) == 0 {
				continue
			}
			if e.Start.Before(span[0].Start) || e.End.After(*span[0].End) {
				t.Errorf("%s: %v outside %v", c.Name, e, span[0])
			}
		}
	}
	g := generate(t, Suite(1)[9+2].Config) // instability-3
	if g.Config.Name != "instability-3" {
		t.Fatalf("case %s, want instability-3", g.Config.Name)
	}
	want := map[string][2]string{
		"PH":     {"04:09:13", "07:13:37"},
		"139798": {"04:35:40", "06:39:11"},
	}
	for _, e := range g.Truth {
		w, ok := want[e.EntityCode]
		if !ok || e.Kind != event.Instability {
			continue
		}
		if got := [2]string{e.Start.Format(time.TimeOnly), e.End.Format(time.TimeOnly)}; got != w || e.Optional {
			t.Errorf("%v: want %s..%s, mandatory", e, w[0], w[1])
		}
		delete(want, e.EntityCode)
	}
	if len(want) != 0 {
		t.Errorf("no instability for %v", want)
	}
}

// TestImpliedNearTotalIsOutage: an implied loss of at least 95 % is an
// outage, optional as the partial outage was (RealisticSuite(4) gradual-2:
// AS59535 loses 97 % of its IPv4 space).
func TestImpliedNearTotalIsOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a realistic world")
	}
	var cfg Config
	for _, c := range RealisticSuite(4) {
		if c.Name == "gradual-2" {
			cfg = c.Config
		}
	}
	g := generate(t, cfg)
	found := false
	for _, e := range g.Truth {
		if e.Kind == event.PartialOutage && e.Fraction >= outageShare {
			t.Errorf("%v: a near-total partial outage", e)
		}
		if e.EntityCode == "59535" {
			found = true
			if e.Kind != event.Outage || e.Family != bgp.IPv4 || !e.Optional || e.Fraction < 0.95 || e.Fraction >= 1 || e.Bottom == nil {
				t.Errorf("%v: want an optional gradual ipv4 outage of 95-100 %%", e)
			}
		}
	}
	if !found {
		t.Error("no event for AS59535")
	}
}
