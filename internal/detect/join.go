package detect

import (
	"slices"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// joinWindow is how close the IPv4 and IPv6 outages of one entity must
// start to be reported as one event of family "all".
const joinWindow = 60 * time.Second

// joiner sits between the detector's per-family judgement and the sinks:
// the IPv4 and IPv6 outages of one entity that start within joinWindow of
// each other are one event of family "all", as they happen. The first to
// start is reported at once, in its family, as an event of the joiner's
// own (a copy kept up to date); when the other family falls within the
// window, that event escalates to family "all" (one event, one id); it
// ends when both families are back. Every other notice passes through.
// So replay, watch, serve, the API and the alerts see the same events.
type joiner struct {
	out    event.Sink
	recent []*joined                // per-family outages that may still be joined
	byPart map[*event.Event]*joined // the detector's per-family outages, open
}

// joined is one event made of an IPv4 and an IPv6 outage.
type joined struct {
	out   *event.Event    // what the sinks see
	parts [2]*event.Event // by family
	done  [2]bool         // ended (or retracted)
	gone  [2]bool         // retracted
}

func newJoiner(out event.Sink) *joiner {
	return &joiner{out: out, byPart: map[*event.Event]*joined{}}
}

// Notify implements event.Sink.
func (j *joiner) Notify(n event.Notice) {
	ev := n.Event
	if jd := j.byPart[ev]; jd != nil {
		j.part(jd, n)
		return
	}
	if n.Type == event.Start && ev.Kind == event.Outage && (ev.Family == bgp.IPv4 || ev.Family == bgp.IPv6) {
		j.prune(ev.Start)
		for _, c := range j.recent {
			a := c.parts[1-ev.Family]
			if c.parts[ev.Family] != nil || a == nil || a.EntityType != ev.EntityType || a.EntityCode != ev.EntityCode ||
				c.done[1-ev.Family] || !near(a.Start, ev.Start) {
				continue
			}
			c.done[ev.Family], c.gone[ev.Family] = false, false
			// The other family fell with it: one event of family all.
			c.parts[ev.Family] = ev
			j.byPart[ev] = c
			c.recompute()
			j.out.Notify(event.Notice{Type: event.Escalate, Event: c.out, Time: n.Time})
			return
		}
		c := &joined{out: ev.Clone()}
		c.parts[ev.Family] = ev
		c.done[1-ev.Family], c.gone[1-ev.Family] = true, true // until the other family falls
		j.recent = append(j.recent, c)
		j.byPart[ev] = c
		n.Event = c.out
	}
	j.out.Notify(n)
}

// prune forgets the outages that started too long before t to be joined.
func (j *joiner) prune(t time.Time) {
	keep := j.recent[:0]
	for _, c := range j.recent {
		for _, p := range c.parts {
			if p != nil && p.End == nil && t.Sub(p.Start) <= joinWindow && !c.byBoth() {
				keep = append(keep, c)
				break
			}
		}
	}
	clear(j.recent[len(keep):])
	j.recent = keep
}

func (c *joined) byBoth() bool { return c.parts[0] != nil && c.parts[1] != nil }

// part handles a notice of one family's event of a joined event.
func (j *joiner) part(c *joined, n event.Notice) {
	f := n.Event.Family
	kind, sev := c.out.Kind, c.out.Severity
	switch n.Type {
	case event.End:
		c.done[f] = true
	case event.Retract:
		c.done[f], c.gone[f] = true, true
	}
	c.recompute()
	switch {
	case c.done[0] && c.done[1]:
		for _, p := range c.parts {
			if p != nil {
				delete(j.byPart, p)
			}
		}
		typ := event.End
		if c.gone[0] && c.gone[1] {
			typ = event.Retract
		}
		j.out.Notify(event.Notice{Type: typ, Event: c.out, Time: n.Time})
	case n.Type == event.Escalate || c.out.Kind != kind || c.out.Severity != sev:
		// A per-family escalation is the joined event's only when it
		// changes what the joined event says.
		if c.out.Kind != kind || c.out.Severity != sev {
			j.out.Notify(event.Notice{Type: event.Escalate, Event: c.out, Time: n.Time})
		}
	}
}

// changed refreshes the joined event that ev is a part of (after the
// detector updated ev without a notice).
func (j *joiner) changed(ev *event.Event) {
	if c := j.byPart[ev]; c != nil {
		c.recompute()
	}
}

// recompute sets out from the parts that were not retracted, keeping its id.
func (c *joined) recompute() {
	var live []*event.Event
	for f, p := range c.parts {
		if p != nil && !c.gone[f] {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return
	}
	id := c.out.ID
	var x *event.Event
	if len(live) == 1 {
		x = live[0].Clone()
	} else {
		x = joinEvents(live[0], live[1])
	}
	x.ID = id
	*c.out = *x
}

func near(a, b time.Time) bool {
	d := a.Sub(b)
	return d <= joinWindow && d >= -joinWindow
}

// joinEvents returns one event of family all made of an IPv4 and an IPv6
// event: the earlier start, the later end (while both have ended; open
// while either is), the larger loss, both families' prefixes, origins,
// upstreams, paths and explanations.
func joinEvents(a, b *event.Event) *event.Event {
	if a.Family == bgp.IPv6 {
		a, b = b, a
	}
	j := a.Clone()
	j.Family = bgp.AllFamilies
	if b.Start.Before(j.Start) {
		j.Start = b.Start
	}
	switch {
	case a.End == nil || b.End == nil:
		j.End = nil
	case b.End.After(*a.End):
		e := *b.End
		j.End = &e
	}
	switch {
	case a.Recovered == nil || b.Recovered == nil:
		j.Recovered = nil
	case b.Recovered.After(*a.Recovered):
		r := *b.Recovered
		j.Recovered = &r
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
	j.Causes, j.Evidence = joinCauses(a, b)
	j.Baseline, j.Lowest, j.Unit = 0, 0, ""
	return j
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

// joinCauses returns the causes and evidence of a joined event: the IPv4
// part's, with the IPv6 part's causes it lacks after them and both
// families' upstreams and other origins.
func joinCauses(a, b *event.Event) ([]event.Cause, *event.Evidence) {
	cs := slices.Clone(a.Causes)
	for _, c := range b.Causes {
		if !slices.ContainsFunc(cs, func(x event.Cause) bool { return x.Cause == c.Cause }) {
			cs = append(cs, c)
		}
	}
	if len(cs) > 1 {
		cs = slices.DeleteFunc(cs, func(x event.Cause) bool { return x.Cause == event.UnknownCause })
	}
	x := a.Evidence.Clone()
	if x == nil {
		return cs, b.Evidence.Clone()
	}
	if y := b.Evidence; y != nil {
		x.Upstreams = append(x.Upstreams, y.Upstreams...)
		x.OtherOrigins = append(x.OtherOrigins, y.OtherOrigins...)
		if x.Scope != nil && y.Scope != nil {
			for _, f := range y.Scope.Families {
				if !slices.Contains(x.Scope.Families, f) {
					x.Scope.Families = append(x.Scope.Families, f)
				}
			}
		}
	}
	return cs, x
}
