package detect

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/view"
)

// What routing data cannot see, said with every event's causes.
const unseen = "BGP routing data shows which routes were announced and withdrawn, not traffic, power or a DDoS's packets: " +
	"a network can be unreachable with its routes up (an attack, a power cut behind the routers), and a shutdown, " +
	"an attack that took the routers down and a cut cable can all withdraw the same routes."

// Bounds and windows of the evidence.
const (
	// settle is how long after a fall its upstreams' other routes are
	// still followed (an upstream's own failure takes its customers'
	// routes down within moments, not hours later).
	settle = 15 * time.Minute
	// abruptSpread: withdrawals at every vantage point within this time,
	// with no path hunting, are an announcement that stopped.
	abruptSpread = 60 * time.Second
	// keptShare: an upstream that kept at least this share of its other
	// routes was well; one that kept less than failShare failed with it.
	keptShare = 0.9
	failShare = 0.8
	// minOther: an upstream with fewer other routes than this cannot tell
	// where the loss sits.
	minOther = 5
	// recurWindow: an earlier fall within this time of day on an earlier
	// day (up to recurDays before) recurs.
	recurWindow = 30 * time.Minute
	recurDays   = 15
	maxPast     = 64
	// otherBefore: another origin's route inside the entity's space that
	// appeared this long before the fall, or after it, is around the fall.
	otherBefore = time.Hour
	// maxOtherChecked bounds the lost prefixes searched for other origins.
	maxOtherChecked = 512
	// upChangeBefore: an upstream change this long before a fall led to it.
	upChangeBefore = time.Hour
)

// recordPast remembers an outage's start for recurrence (all-family
// track), bounded.
func (a *track) recordPast(start time.Time) {
	if n := len(a.c.past); n > 0 && !a.c.past[n-1].Before(start) {
		return
	}
	if len(a.c.past) >= maxPast {
		a.w().past = append(a.c.past[:0], a.c.past[1:]...)
	}
	a.w().past = append(a.c.past, start)
}

// forgetPast forgets a retracted outage's start.
func (a *track) forgetPast(start time.Time) {
	if i := slices.Index(a.c.past, start); i >= 0 {
		a.w().past = slices.Delete(a.c.past, i, i+1)
	}
}

// gatherEvidence fills ev.Evidence and ev.Causes of an outage or partial
// outage from the lost prefixes ids. It is called whenever the event is
// explained; what describes the moment of the fall is computed once and
// kept (what came before, the upstreams' counts before), what follows
// the fall is followed for settle after it.
func (d *Detector) gatherEvidence(t *track, ev *event.Event, ids []view.PrefixID) {
	x := ev.Evidence
	if x == nil {
		x = &event.Evidence{Unseen: unseen}
		ev.Evidence = x
	}
	origins := map[uint32]bool{}
	for _, o := range ev.Origins {
		origins[o] = true
	}
	if t.key.e.Type == event.OriginAS {
		origins[t.key.e.Code] = true
	}
	// Where the loss sits: the upstreams' other routes.
	cc := d.entityCountry(t.key.e)
	if x.Upstreams == nil || d.now.Sub(ev.Start) <= settle {
		var ups []event.UpstreamHealth
		for _, u := range ev.UpstreamASes[:min(4, len(ev.UpstreamASes))] {
			h := d.upstreamHealth(t, origins, bgp.ASN(u.ASN), cc, ev.Start)
			if i := slices.IndexFunc(x.Upstreams, func(o event.UpstreamHealth) bool { return o.ASN == u.ASN }); i >= 0 {
				// The counts before are the fall's; after, the worst seen.
				o := x.Upstreams[i]
				h.Before, h.OutsideBefore = o.Before, o.OutsideBefore
				h.After, h.OutsideAfter = min(h.After, o.After), min(h.OutsideAfter, o.OutsideAfter)
			}
			ups = append(ups, h)
		}
		x.Upstreams = ups
	}
	// How it went.
	if w := ev.Withdrawal; w != nil {
		hunt := 0
		for _, id := range ids {
			hunt += d.evidence.PathHunting(id)
		}
		spread := w.Last.Sub(w.First)
		x.Convergence = &event.Convergence{Spread: spread, Peers: w.Peers, PathChanges: hunt,
			Abrupt: spread <= abruptSpread && hunt <= len(ids)}
	}
	// What came before (computed once, at the fall).
	if x.Before == nil {
		b := &event.Before{}
		a := t.all
		if li := a.c.lastInst; ev.PrecededBy != nil && li != nil && li.End != nil {
			b.Instability, b.Flaps = li.End.Sub(li.Start), li.Flaps
			e := *li.End
			b.InstabilityEnd = &e
		}
		if u := a.c.upChangedAt; !u.IsZero() && u.Before(ev.Start) && ev.Start.Sub(u) <= 24*time.Hour {
			c := u
			b.UpstreamChange = &c
		}
		b.Updates = int(t.recentChurn())
		if ch := t.hr().churnH; len(ch) > 0 {
			b.NormalUpdates = int(median(ch) + 0.5)
		}
		x.Before = b
	}
	// Recurrence: earlier falls at the same time of day.
	x.Recurrences = x.Recurrences[:0]
	for _, p := range t.all.c.past {
		if d := ev.Start.Sub(p); d >= 20*time.Hour && d <= recurDays*24*time.Hour && timeOfDayDiff(p, ev.Start) <= recurWindow {
			x.Recurrences = append(x.Recurrences, p)
		}
	}
	if len(x.Recurrences) == 0 {
		x.Recurrences = nil
	}
	// Other origins over the entity's space around the fall.
	x.OtherOrigins = x.OtherOrigins[:0]
	for _, id := range ids[:min(len(ids), maxOtherChecked)] {
		p := d.evidence.Prefix(id)
		d.evidence.OtherRoutes(p, func(q netip.Prefix, o bgp.ASN, since time.Time) {
			if o == 0 || origins[uint32(o)] || len(x.OtherOrigins) >= maxListed || since.Before(ev.Start.Add(-otherBefore)) {
				return
			}
			x.OtherOrigins = append(x.OtherOrigins, event.OtherOriginRoute{ASN: uint32(o), Prefix: q.String(), Covers: p.String(), Seen: since})
		})
	}
	if len(x.OtherOrigins) == 0 {
		x.OtherOrigins = nil
	}
	x.Scope = d.scope(t, ev)
	ev.Causes = d.causes(ev, x)
}

// entityCountry returns the country of an entity: its own, or an AS's
// registered one (zero if unknown).
func (d *Detector) entityCountry(e signal.Entity) geo.Country {
	if e.Type == event.Country {
		return e.Country()
	}
	info, _ := d.db.ASN(e.Code)
	return info.Country
}

// upstreamHealth counts upstream u's other routes (not the entity's
// origins') before the fall at start and now: in all, and outside country
// cc unless u is registered there (a domestic upstream's other routes are
// the country's own).
func (d *Detector) upstreamHealth(t *track, origins map[uint32]bool, u bgp.ASN, cc geo.Country, start time.Time) event.UpstreamHealth {
	f := t.key.f
	then, now := d.evidence.Transit(u, f, geo.Country{}, start)
	ownThen, ownNow := d.ownVia(t, origins, u)
	info, _ := d.db.ASN(uint32(u))
	h := event.UpstreamHealth{ASN: uint32(u), Name: info.Name, Before: max(0, int(then)-ownThen), After: max(0, int(now)-ownNow)}
	if !cc.IsZero() && info.Country != cc {
		inThen, inNow := d.evidence.Transit(u, f, cc, start)
		h.Country = cc.String()
		h.OutsideBefore, h.OutsideAfter = max(0, int(then-inThen)), max(0, int(now-inNow))
	}
	return h
}

// ownVia returns the entity's own full-feed routes whose origin's
// neighbour is u, before the fall and now.
func (d *Detector) ownVia(t *track, origins map[uint32]bool, u bgp.ASN) (then, now int) {
	f := t.key.f
	for o := range origins {
		e := signal.ASEntity(bgp.ASN(o))
		if at := d.tracks[efKey{e, f}]; at != nil && at.upSnap != nil {
			then += int(at.upShare(u)*float64(at.upRoutes) + 0.5)
		}
		if s := d.evidence.State(e, f); s != nil {
			now += int(s.UpstreamRoutes(u))
		}
	}
	return then, now
}

// scope says how much of its country the event involves.
func (d *Detector) scope(t *track, ev *event.Event) *event.Scope {
	sc := &event.Scope{Origins: len(ev.Origins)}
	var cc signal.Entity
	switch t.key.e.Type {
	case event.Country:
		cc = t.key.e
	case event.OriginAS:
		info, _ := d.db.ASN(t.key.e.Code)
		if info.Country.IsZero() {
			return nil
		}
		cc = signal.CountryEntity(info.Country)
		sc.Origins = 1
	default:
		return nil
	}
	sc.Country = cc.CodeString()
	seen := map[uint32]bool{}
	for _, o := range ev.Origins {
		seen[o] = true
	}
	if t.key.e.Type == event.OriginAS {
		seen[t.key.e.Code] = true
	}
	for _, f := range []bgp.Family{bgp.IPv4, bgp.IPv6} {
		if s := d.evidence.State(cc, f); s != nil {
			s.OriginList(func(a bgp.ASN, _ int32) { seen[uint32(a)] = true })
		}
		if ev.Family == f || ev.Family == bgp.AllFamilies {
			if ft := d.tracks[efKey{t.key.e, f}]; ft != nil && (ev.Family == f || ft.baseline() > 0) {
				sc.Families = append(sc.Families, f)
			}
		}
	}
	sc.CountryOrigins = len(seen)
	return sc
}

func timeOfDayDiff(a, b time.Time) time.Duration {
	day := 24 * time.Hour
	x := (a.Sub(a.Truncate(day)) - b.Sub(b.Truncate(day)) + day) % day
	return min(x, day-x)
}

// scoredCause is a cause with how well the evidence fits it.
type scoredCause struct {
	event.Cause
	fit int
}

// causes returns the causes the evidence of an outage or partial outage
// is consistent with, best fit first.
func (d *Detector) causes(ev *event.Event, x *event.Evidence) []event.Cause {
	var cs []scoredCause
	add := func(c event.CauseCode, fit int, format string, args ...any) {
		cs = append(cs, scoredCause{event.Cause{Cause: c, Evidence: fmt.Sprintf(format, args...)}, fit})
	}
	if o := x.OtherOrigins; len(o) > 0 {
		add(event.OtherOrigin, 90, "%s announced %s (within %s%s) from %s, around the fall: consistent with a hijack or a route leak drawing the routes away rather than a shutdown; the origin's own statement or RPKI would tell them apart",
			d.asLabel(o[0].ASN), o[0].Prefix, o[0].Covers, plusMore(len(o)-1, "other route", "other routes"), fmtTime(o[0].Seen))
	}
	var failed, kept, measured, between []event.UpstreamHealth
	for _, u := range x.Upstreams {
		before, after, _ := u.Judged(minOther)
		if before < minOther {
			continue
		}
		measured = append(measured, u)
		switch k := float64(after) / float64(before); {
		case k < failShare:
			failed = append(failed, u)
		case k >= keptShare:
			kept = append(kept, u)
		default:
			between = append(between, u)
		}
	}
	if len(failed) > 0 {
		u := failed[0]
		before, after, outside := u.Judged(minOther)
		switch {
		case outside:
			add(event.UpstreamFailure, 80, "%s, its upstream, lost %s of the %s routes of other networks outside %s it carried at the same time: consistent with a failure of %s itself (or of its links), not of this network alone; the upstream's other customers falling with it is what tells this from an origin-side loss",
				d.asLabel(u.ASN), thousands(before-after), thousands(before), u.Country, asNum(u.ASN))
		case u.Country != "":
			// Its other routes were nearly all in the entity's country: a
			// failure of the upstream and a loss across the country look
			// the same.
			add(event.UpstreamFailure, 60, "%s, its upstream, lost %s of the %s routes of other networks it carried at the same time, nearly all of them in %s: consistent with a failure of %s, or with a loss across %s (a national shutdown); its routes elsewhere are too few to tell them apart",
				d.asLabel(u.ASN), thousands(before-after), thousands(before), u.Country, asNum(u.ASN), u.Country)
		default:
			add(event.UpstreamFailure, 80, "%s, its upstream, lost %s of the %s routes of other networks it carried at the same time: consistent with a failure of %s itself (or of its links), not of this network alone; the upstream's other customers falling with it is what tells this from an origin-side loss",
				d.asLabel(u.ASN), thousands(before-after), thousands(before), asNum(u.ASN))
		}
	}
	if len(kept) > 0 && len(kept) == len(measured) {
		parts := make([]string, 0, len(kept))
		across := ""
		for _, u := range kept[:min(3, len(kept))] {
			before, after, outside := u.Judged(minOther)
			if outside {
				parts = append(parts, fmt.Sprintf("%s kept %s of its %s other routes outside %s", asNum(u.ASN), thousands(after), thousands(before), u.Country))
				if in, inAfter := u.Before-u.OutsideBefore, u.After-u.OutsideAfter; in >= minOther && float64(inAfter) < keptShare*float64(in) && across == "" {
					across = fmt.Sprintf("; %s of its %s routes to other networks in %s fell at the same time: the loss spans the country (consistent with a national shutdown or a failure of the country's own infrastructure)", thousands(in-inAfter), thousands(in), u.Country)
				}
			} else {
				parts = append(parts, fmt.Sprintf("%s kept %s of its %s other routes", asNum(u.ASN), thousands(after), thousands(before)))
			}
		}
		fit, how := 50, ""
		if c := x.Convergence; c != nil && c.Abrupt {
			fit, how = 55, fmt.Sprintf("; the routes were withdrawn at every vantage point within %s with no path hunting, as when an announcement stops", fmtDuration(c.Spread))
		} else if c != nil && c.PathChanges > 0 {
			how = fmt.Sprintf("; the withdrawals were staggered over %s with %s (path hunting), as when a link fails and BGP converges", fmtDuration(c.Spread), plural(c.PathChanges, "path change", "path changes"))
		}
		add(event.OriginSide, fit, "%s: the loss sits at the network itself or at its link to the upstream (consistent with a shutdown, a failure at the origin or a cut of that link)%s%s", strings.Join(parts, ", "), across, how)
	}
	if r := x.Recurrences; len(r) > 0 {
		days := make([]string, 0, len(r))
		for _, t := range r[max(0, len(r)-5):] {
			days = append(days, t.UTC().Format("2006-01-02 15:04"))
		}
		fit := 45 // once before: worth saying, not enough to lead
		if len(r) >= 2 {
			fit = 60 + 5*min(len(r), 3)
		}
		add(event.Recurring, fit, "it fell at about the same time of day on %s before (%s UTC): consistent with a scheduled shutdown or a recurring fault",
			plural(len(r), "earlier day", "earlier days"), strings.Join(days, ", "))
	}
	if b := x.Before; b != nil && b.Instability > 0 && b.InstabilityEnd != nil {
		gap := ev.Start.Sub(*b.InstabilityEnd)
		fit := 40
		// Instability whose last flap came within the chain gap of the fall
		// (the look-back that dates a fall, an hour by default) led into
		// it; one quiet for longer came before it, and does not lead.
		if gap <= d.cfg.ChainGap {
			fit = 65
		}
		add(event.AfterInstability, fit, "it came after %s of instability (%s) that ended %s before the fall: consistent with a failing link or equipment, or with a network being taken down in steps",
			fmtDuration(b.Instability), plural(b.Flaps, "flap", "flaps"), fmtDuration(max(0, gap)))
	}
	if b := x.Before; b != nil && b.UpstreamChange != nil && ev.Start.Sub(*b.UpstreamChange) <= upChangeBefore {
		add(event.UpstreamCut, 58, "its upstreams changed at %s, %s before the fall: consistent with a cut or a de-peering of an upstream before the rest went",
			fmtTime(*b.UpstreamChange), fmtDuration(ev.Start.Sub(*b.UpstreamChange)))
	}
	if len(cs) == 0 {
		why := "its upstreams carried too few other routes to compare"
		switch {
		case len(x.Upstreams) == 0:
			why = "no upstream was known before the fall"
		case len(between) > 0:
			u := between[0]
			before, after, _ := u.Judged(minOther)
			why = fmt.Sprintf("%s lost %s of its %s other routes at the same time, too many to place the loss at the network alone and too few for the upstream's failure", asNum(u.ASN), thousands(before-after), thousands(before))
		}
		add(event.UnknownCause, 0, "the routing view cannot tell where the loss sits: %s, and no instability, upstream change, recurrence or other origin came with it", why)
	}
	return sortCauses(cs)
}

// upstreamCauses returns the causes an upstream change is consistent
// with: routes moved off an upstream that stayed well (a cut) or off one
// that failed for everyone.
func (d *Detector) upstreamCauses(t *track, ev *event.Event) {
	x := &event.Evidence{Unseen: unseen}
	var cs []scoredCause
	origins := map[uint32]bool{}
	if t.key.e.Type == event.OriginAS {
		origins[t.key.e.Code] = true
	}
	cc := d.entityCountry(t.key.e)
	for _, a := range ev.Lost {
		h := d.upstreamHealth(t, origins, bgp.ASN(a), cc, ev.Start)
		x.Upstreams = append(x.Upstreams, h)
		if before, after, _ := h.Judged(minOther); before >= minOther && float64(after) < failShare*float64(before) {
			cs = append(cs, scoredCause{event.Cause{Cause: event.UpstreamFailure, Evidence: fmt.Sprintf(
				"%s lost %s of the %s routes of other networks it carried at the same time: consistent with a failure of %s itself, which its customers routed around",
				d.asLabel(a), thousands(before-after), thousands(before), asNum(a))}, 88})
		}
	}
	var via []string
	for _, a := range ev.Gained {
		via = append(via, asNum(a))
	}
	if len(ev.Lost) > 0 {
		s := fmt.Sprintf("its routes moved off %s", asNum(ev.Lost[0]))
		if len(via) > 0 {
			s += " to " + strings.Join(via, ", ")
		}
		if len(x.Upstreams) > 0 {
			if before, after, _ := x.Upstreams[0].Judged(minOther); before >= minOther && float64(after) >= keptShare*float64(before) {
				s += fmt.Sprintf(" while %s kept %s of its %s other routes", asNum(ev.Lost[0]), thousands(after), thousands(before))
			}
		}
		cs = append(cs, scoredCause{event.Cause{Cause: event.UpstreamCut, Evidence: s + ", and it stayed reachable: consistent with a cut link, a de-peering or a change of transit"}, 85})
	} else {
		cs = append(cs, scoredCause{event.Cause{Cause: event.UpstreamCut, Evidence: fmt.Sprintf("it is now reached through %s too: a new upstream (a new transit contract or a repaired link)", strings.Join(via, ", "))}, 50})
	}
	x.Scope = d.scope(t, ev)
	ev.Evidence, ev.Causes = x, sortCauses(cs)
}

func sortCauses(cs []scoredCause) []event.Cause {
	slices.SortStableFunc(cs, func(a, b scoredCause) int {
		return cmp.Compare(b.fit, a.fit)
	})
	out := make([]event.Cause, len(cs))
	for i, c := range cs {
		out[i] = c.Cause
		if e := out[i].Evidence; e != "" && e[0] >= 'a' && e[0] <= 'z' {
			out[i].Evidence = string(e[0]-'a'+'A') + e[1:]
		}
	}
	return out
}

func asNum(a uint32) string { return fmt.Sprintf("AS%d", a) }

func plusMore(n int, one, many string) string {
	if n <= 0 {
		return ""
	}
	return ", and " + plural(n, one, many)
}

// thousands writes n with thousands separators: 9,816.
func thousands(n int) string { return event.Thousands(int64(n)) }

// recentChurn returns the track's route events in the last bins (about an
// hour).
func (t *track) recentChurn() int32 {
	var n int32
	for _, c := range t.churnRing {
		n += c
	}
	return n
}
