package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/scenario"
	"github.com/blackout-bgp/blackout/internal/source"
)

// replayGenerated runs the pipeline over a generated scenario, in memory.
func replayGenerated(t *testing.T, g *scenario.Generated, db *geo.DB) []*event.Event {
	t.Helper()
	var srcs []source.Source
	for _, f := range g.Files {
		rc, _, err := compress.NewReader(bytes.NewReader(f.Data))
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, source.NewFile(rc, f.Name, source.CollectorOf(f.Name)))
	}
	res, err := pipeline.Run(context.Background(), source.Merge(srcs), pipeline.Options{Config: pipeline.DefaultConfig(db)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		t.Fatalf("%d input errors", res.Errors)
	}
	return res.Events
}

// asTruth converts detected events to the scenario's truth form.
func asTruth(events []*event.Event) []scenario.TruthEvent {
	var out []scenario.TruthEvent
	for _, ev := range events {
		out = append(out, scenario.TruthEvent{EntityType: ev.EntityType, EntityCode: ev.EntityCode, Kind: ev.Kind,
			Family: ev.Family, Start: ev.Start, End: ev.End, Fraction: ev.FractionLost})
	}
	return out
}

// suiteCases returns the suite's cases for the seeds of BLACKOUT_SEEDS
// (default 1), named by seed when there are several.
func suiteCases(t *testing.T) []scenario.Case {
	var out []scenario.Case
	ss := seeds(t)
	for _, seed := range ss {
		for _, c := range scenario.Suite(seed) {
			if len(ss) > 1 {
				c.Name = fmt.Sprintf("s%d/%s", seed, c.Name)
			}
			out = append(out, c)
		}
	}
	return out
}

// TestScenarioSuite runs the detector over the generated suite (every kind
// of case: full, partial, IPv6-only, instability then outage, peer reset,
// peer flush, upstream change, quiet) for the seeds of BLACKOUT_SEEDS
// (default 1) and asserts precision and recall of at least 0.99, with
// starts and ends within 60 seconds. It prints the confusion table per kind.
func TestScenarioSuite(t *testing.T) {
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	var s suiteScore
	for _, c := range suiteCases(t) {
		g, err := scenario.GenerateInMemory(context.Background(), c.Config, db)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		s.add(c, g, asTruth(replayGenerated(t, g, db)))
	}
	r := scenario.Score(s.truth, s.got, time.Minute)
	t.Logf("generated suite, seeds %v: %s\n%s", seeds(t), r, s.table())
	for _, l := range s.perCase {
		if !strings.Contains(l, "precision 1.000 recall 1.000") {
			t.Log(l)
		}
	}
	fmt.Printf("scenario suite: precision %.3f, recall %.3f (%d truth events, %d detected)\n", r.Precision, r.Recall, r.Truth, len(s.got))
	if r.Precision < 0.99 || r.Recall < 0.99 {
		t.Errorf("precision %.3f, recall %.3f: want both >= 0.99\n%s", r.Precision, r.Recall, r)
	}
}
