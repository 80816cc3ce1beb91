package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/scenario"
)

// kindTally is one row of the confusion table: per kind, the truth events,
// those found, missed, and the detected events that match no truth.
type kindTally struct{ truth, found, missed, false_ int }

// suiteScore scores every case of a suite and tallies per kind.
type suiteScore struct {
	truth, got []scenario.TruthEvent
	kinds      map[string]*kindTally
	perCase    []string
}

func (s *suiteScore) add(c scenario.Case, g *scenario.Generated, det []scenario.TruthEvent) {
	tag := func(evs []scenario.TruthEvent) []scenario.TruthEvent {
		out := append([]scenario.TruthEvent(nil), evs...)
		for i := range out {
			out[i].EntityCode = c.Name + "/" + out[i].EntityCode
		}
		return out
	}
	r := scenario.Score(g.Truth, det, time.Minute)
	if s.kinds == nil {
		s.kinds = map[string]*kindTally{}
	}
	row := func(k fmt.Stringer) *kindTally {
		x := s.kinds[k.String()]
		if x == nil {
			x = &kindTally{}
			s.kinds[k.String()] = x
		}
		return x
	}
	for _, t := range g.Truth {
		if !t.Optional {
			row(kindOf(t)).truth++
		}
	}
	for _, m := range r.Matched {
		if !m.Truth.Optional {
			row(kindOf(m.Truth)).found++
		}
	}
	for _, m := range r.Missed {
		row(kindOf(m)).missed++
	}
	for _, f := range r.False {
		row(kindOf(f)).false_++
	}
	line := fmt.Sprintf("%-16s %s", c.Name, r)
	for _, m := range r.Missed {
		line += "\n      missed " + m.String()
	}
	for _, f := range r.False {
		line += "\n      false  " + f.String()
	}
	s.perCase = append(s.perCase, line)
	s.truth = append(s.truth, tag(g.Truth)...)
	s.got = append(s.got, tag(det)...)
}

type stringer string

func (s stringer) String() string { return string(s) }

func kindOf(t scenario.TruthEvent) fmt.Stringer { return stringer(fmt.Sprint(t.Kind)) }

func (s *suiteScore) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %6s %6s %6s %6s\n", "kind", "truth", "found", "missed", "false")
	var names []string
	for k := range s.kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		x := s.kinds[k]
		fmt.Fprintf(&b, "%-16s %6d %6d %6d %6d\n", k, x.truth, x.found, x.missed, x.false_)
	}
	return b.String()
}

// seeds returns the seeds of BLACKOUT_SEEDS ("1,2,3" or "1-5"), default 1.
func seeds(t *testing.T) []int64 {
	v := os.Getenv("BLACKOUT_SEEDS")
	if v == "" {
		return []int64{1}
	}
	var out []int64
	for _, part := range strings.Split(v, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil {
			t.Fatalf("BLACKOUT_SEEDS=%q: %v", v, err)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil {
				t.Fatalf("BLACKOUT_SEEDS=%q: %v", v, err)
			}
		}
		for s := a; s <= b; s++ {
			out = append(out, s)
		}
	}
	return out
}

// TestRealisticSuite runs the detector over the realistic suite (worlds of
// 20 peers, 30 countries of which 9 big, thousands of prefixes, normal churn
// at all peers: single-prefix flaps, path changes, duplicates) for the seeds
// of BLACKOUT_SEEDS (default 1) and asserts precision and recall of at
// least 0.99 over all of them, with starts and ends within 60 s. It prints
// the confusion table per kind. -short runs three cases of seed 1.
func TestRealisticSuite(t *testing.T) {
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	var s suiteScore
	for _, seed := range seeds(t) {
		cases := scenario.RealisticSuite(seed)
		if testing.Short() {
			cases = cases[:3]
		}
		for _, c := range cases {
			g, err := scenario.GenerateInMemory(context.Background(), c.Config, db)
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			c.Name = fmt.Sprintf("s%d/%s", seed, c.Name)
			s.add(c, g, asTruth(replayGenerated(t, g, db)))
		}
	}
	r := scenario.Score(s.truth, s.got, time.Minute)
	t.Logf("realistic suite, seeds %v: %s\n%s", seeds(t), r, s.table())
	for _, l := range s.perCase {
		if testing.Verbose() || !strings.Contains(l, "precision 1.000 recall 1.000") {
			t.Log(l)
		}
	}
	fmt.Printf("realistic suite: precision %.3f, recall %.3f (%d truth events, %d detected)\n", r.Precision, r.Recall, r.Truth, len(s.got))
	if r.Precision < 0.99 || r.Recall < 0.99 {
		t.Errorf("precision %.3f, recall %.3f: want both >= 0.99", r.Precision, r.Recall)
	}
}
