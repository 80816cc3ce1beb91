package pipeline_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/scenario"
)

// TestCauses runs scenario.CauseSuite for the seeds of BLACKOUT_SEEDS
// (default 1): one world per cause code, each with an event of a known
// mechanism. The detected event of each main truth event must lead with
// that cause, and carry its evidence and what routing data cannot see.
func TestCauses(t *testing.T) {
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range seeds(t) {
		for _, c := range scenario.CauseSuite(seed) {
			t.Run(c.Name, func(t *testing.T) {
				g, err := scenario.GenerateInMemory(context.Background(), c.Config, db)
				if err != nil {
					t.Fatal(err)
				}
				events := replayGenerated(t, g, db)
				mains := c.Mains(g.Truth)
				if len(mains) == 0 {
					t.Fatalf("no main truth event (%s, %q) in %v", c.EventKind, c.Note, g.Truth)
				}
				for _, tr := range mains {
					ev := findEvent(events, tr)
					if ev == nil {
						t.Errorf("seed %d: %s: not detected", seed, tr)
						continue
					}
					var codes []string
					for _, x := range ev.Causes {
						codes = append(codes, string(x.Cause))
					}
					if len(ev.Causes) == 0 || ev.Causes[0].Cause != c.Cause {
						t.Errorf("seed %d: %s: causes %v, want %s first", seed, tr, ev.Causes, c.Cause)
						continue
					}
					t.Logf("seed %d: %s: %s (%s)", seed, tr, strings.Join(codes, ", "), ev.Causes[0].Evidence)
					if ev.Evidence == nil || ev.Evidence.Unseen == "" {
						t.Errorf("seed %d: %s: no evidence or no word on what routing data cannot see", seed, tr)
					}
				}
			})
		}
	}
}

// findEvent returns the detected event of the truth event's entity and
// kind that starts within a minute of it.
func findEvent(events []*event.Event, tr scenario.TruthEvent) *event.Event {
	for _, ev := range events {
		d := ev.Start.Sub(tr.Start)
		if ev.EntityType == tr.EntityType && ev.EntityCode == tr.EntityCode && ev.Kind == tr.Kind && d < time.Minute && d > -time.Minute {
			return ev
		}
	}
	return nil
}
