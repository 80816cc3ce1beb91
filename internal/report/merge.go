// Package report renders what the pipeline found for people and programs:
// a readable report, one JSON object per event, and an SVG chart of an
// entity's visible address space with its baseline and events.
package report

import (
	"slices"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// mergeWindow is how close the IPv4 and IPv6 events of one entity must
// start and end to be reported as one event of family "all".
const mergeWindow = 60 * time.Second

// MergeFamilies returns events where the IPv4 and IPv6 events of the same
// entity and kind that start and end together (within a minute) are joined
// into one event of family "all". Events are returned sorted by start.
func MergeFamilies(events []*event.Event) []*event.Event {
	out := make([]*event.Event, 0, len(events))
	used := make([]bool, len(events))
	for i, a := range events {
		if used[i] {
			continue
		}
		// Whole-entity outages join; partial outages stay per family (a
		// share lost of IPv4 space and one of IPv6 space are two facts).
		if (a.Family == bgp.IPv4 || a.Family == bgp.IPv6) && (a.Kind == event.Outage || a.Kind == event.UpstreamChange) {
			for j := i + 1; j < len(events); j++ {
				b := events[j]
				if used[j] || b.Family == a.Family || (b.Family != bgp.IPv4 && b.Family != bgp.IPv6) ||
					b.EntityType != a.EntityType || b.EntityCode != a.EntityCode || b.Kind != a.Kind ||
					!near(a.Start, b.Start) || !nearEnd(a.End, b.End) {
					continue
				}
				used[j] = true
				a = joined(a, b)
				break
			}
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(x, y *event.Event) int { return x.Start.Compare(y.Start) })
	return out
}

func near(a, b time.Time) bool {
	d := a.Sub(b)
	return d <= mergeWindow && d >= -mergeWindow
}

func nearEnd(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return near(*a, *b)
}

// joined returns a new event of family "all" made of an IPv4 and an IPv6 event.
func joined(a, b *event.Event) *event.Event {
	if a.Family == bgp.IPv6 {
		a, b = b, a
	}
	j := *a
	j.Family = bgp.AllFamilies
	if b.Start.Before(j.Start) {
		j.Start = b.Start
	}
	if j.End != nil && b.End != nil && b.End.After(*j.End) {
		e := *b.End
		j.End = &e
	}
	j.FractionLost = max(a.FractionLost, b.FractionLost)
	if b.Severity == event.Critical {
		j.Severity = event.Critical
	}
	if b.Kind == event.Outage {
		j.Kind = event.Outage
	}
	j.AffectedPrefixes = a.AffectedPrefixes + b.AffectedPrefixes
	j.Prefixes = append(slices.Clone(a.Prefixes), b.Prefixes...)
	j.Origins = unionSorted(a.Origins, b.Origins)
	j.UpstreamsBefore = unionKeepOrder(a.UpstreamsBefore, b.UpstreamsBefore)
	j.OriginASes = append(slices.Clone(a.OriginASes), b.OriginASes...)
	j.PathsBefore = append(slices.Clone(a.PathsBefore), b.PathsBefore...)
	j.Explanation = a.Explanation + " " + b.Explanation
	j.Baseline, j.Lowest, j.Unit = 0, 0, ""
	return &j
}

func unionSorted(a, b []uint32) []uint32 {
	u := append(slices.Clone(a), b...)
	slices.Sort(u)
	return slices.Compact(u)
}

func unionKeepOrder(a, b []uint32) []uint32 {
	u := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(u, x) {
			u = append(u, x)
		}
	}
	return u
}
