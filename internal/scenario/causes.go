package scenario

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
)

// The case kinds of known causes (not in Suite): an upstream failing with
// all of its customers, and a second origin announcing more-specifics of
// an AS's space before the AS goes dark. With outage (an origin
// withdrawing everything), upstream_change (routes moving off one
// upstream), instability (flapping, then dark) and a repeated outage (the
// same hours night after night), they give each cause code a mechanism.
const (
	CaseUpstreamFailure = "upstream_failure" // an upstream fails: its single-homed customers go dark, the others move off it
	CaseOtherOrigin     = "other_origin"     // another AS announces more-specifics of an AS's prefix, then the AS goes dark
)

// otherOriginAS is the AS that announces the more-specifics of an
// other_origin case (a documentation ASN, registered nowhere).
const otherOriginAS = bgp.ASN(64511)

// otherOriginLead is how long before the fall the more-specifics come.
const otherOriginLead = 10 * time.Minute

// addOtherOrigins prepares the world for the other_origin events of cfg:
// for each, it chooses the target AS (unless named), one of its IPv4
// prefixes of /23 or shorter, and adds the halves of that prefix,
// originated by otherOriginAS and announced by nobody yet. It names the
// target in the event (Code) so that planning picks it. It draws from its
// own generator, so the rest of the world is as without such events.
func addOtherOrigins(cfg *Config, w *world) error {
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x07e7))
	hijacker := &wAS{asn: otherOriginAS, name: "Other origin (documentation AS)", ups: []bgp.ASN{upstreamPool[0]}}
	hijacker.cc = &wCountry{cc: geo.Country{'Z', 'Z'}, ases: []*wAS{hijacker}}
	used := map[string]bool{}
	for i := range cfg.Events {
		spec := &cfg.Events[i]
		if spec.Kind != CaseOtherOrigin {
			continue
		}
		var cands []*wAS
		for _, c := range w.countries {
			for _, a := range c.ases {
				if (spec.Code == "" || spec.Code == a.asn.String()) && !used[a.asn.String()] && splittable(w, a) >= 0 {
					cands = append(cands, a)
				}
			}
		}
		if len(cands) == 0 {
			return fmt.Errorf("scenario: event %d (%s): no AS with an IPv4 prefix of /23 or shorter", i, spec.Kind)
		}
		a := cands[rng.IntN(len(cands))]
		used[a.asn.String()] = true
		spec.Entity, spec.Code = event.OriginAS, a.asn.String()
		p := w.prefixes[splittable(w, a)].p
		lo := netip.PrefixFrom(p.Addr(), p.Bits()+1)
		hi := netip.PrefixFrom(lastHalf(p), p.Bits()+1)
		for _, q := range []netip.Prefix{lo, hi} {
			hijacker.prefix = append(hijacker.prefix, len(w.prefixes))
			w.prefixes = append(w.prefixes, &wPrefix{p: q, as: hijacker, size: units(q), late: true})
		}
	}
	return nil
}

// splittable returns the index of a's first IPv4 prefix of /23 or
// shorter (-1: none).
func splittable(w *world, a *wAS) int {
	for _, x := range a.prefix {
		if p := w.prefixes[x]; !p.v6 && p.p.Bits() <= 23 {
			return x
		}
	}
	return -1
}

// lastHalf returns the first address of the upper half of p.
func lastHalf(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	bit := p.Bits() // the bit that selects the half, from the top
	b[bit/8] |= 0x80 >> (bit % 8)
	return netip.AddrFrom4(b)
}

// otherOrigin plans an other_origin event: otherOriginLead before t0 the
// more-specifics of e's prefix are announced by every peer through
// otherOriginAS, and from t0 all of e's prefixes are withdrawn (back at
// t1). The truth is e's outage only: the more-specifics keep the space
// of its country visible, so the country loses little or nothing.
func (pl *planner) otherOrigin(e entity, t0, t1 time.Time) {
	var ms []int32
	for x, wp := range pl.w.prefixes {
		if wp.late && wp.as.asn == otherOriginAS && slices.ContainsFunc(e.as.prefix, func(y int) bool {
			return pl.w.prefixes[y].p.Contains(wp.p.Addr())
		}) {
			ms = append(ms, int32(x))
		}
	}
	pl.allPeers(t0.Add(-otherOriginLead), opAnnounce, 0, ms)
	pl.busy(ms, pl.cfg.Start, pl.end) // no churn on them, ever
	s := e.prefixes()
	pl.allPeers(t0, opWithdraw, 0, s)
	end := pl.end
	var endp *time.Time
	if !t1.IsZero() {
		end = pl.allPeers(t1, opAnnounce, 0, s)
		endp = &t1
	}
	pl.busy(s, t0, end)
	pl.truth = append(pl.truth, TruthEvent{EntityType: event.OriginAS, EntityCode: e.code, Kind: event.Outage, Family: pl.familyOf(s), Start: t0, End: endp, Fraction: 1,
		Note: fmt.Sprintf("AS%d announced more-specifics of AS%s's space %v before AS%s withdrew all its prefixes", otherOriginAS, e.code, otherOriginLead, e.code)})
}

// familyOf returns the family of an event on prefixes s: all when they
// hold both families, else the one they hold.
func (pl *planner) familyOf(s []int32) bgp.Family {
	v4, v6 := pl.familySize(s, false) > 0, pl.familySize(s, true) > 0
	switch {
	case v4 && v6:
		return bgp.AllFamilies
	case v6:
		return bgp.IPv6
	}
	return bgp.IPv4
}

// upstreamFailure plans an upstream_failure event: upstream u of e fails
// at t0 (and is back at t1): every AS whose only upstream is u is
// withdrawn by all peers (e among them), every other AS's routes through
// u move to another of its upstreams. The truth: an outage of each
// single-homed AS (with what it implies for its country); the others'
// upstream changes are optional.
func (pl *planner) upstreamFailure(e entity, u bgp.ASN, t0, t1 time.Time) {
	np := len(pl.w.prefixes)
	var single []*wAS
	d := pl.spread(pl.spreadMax())
	for _, c := range pl.w.countries {
		for _, a := range c.ases {
			if !slices.Contains(a.ups, u) {
				continue
			}
			if len(a.ups) == 1 {
				single = append(single, a)
				continue
			}
			other := a.ups[0]
			if other == u {
				other = a.ups[1]
			}
			var moved []int32
			for p := range pl.w.peers {
				var pf []int32
				for _, x := range a.prefix {
					if pl.curUp[p*np+x] == u {
						pl.curUp[p*np+x] = other
						pf = append(pf, int32(x))
					}
				}
				if len(pf) > 0 {
					pl.add(t0.Add(d[p]), p, opUpstream, uint32(other), pf)
					moved = append(moved, pf...)
				}
			}
			slices.Sort(moved)
			moved = slices.Compact(moved)
			pl.busy(moved, t0, pl.end)
			pl.truth = append(pl.truth, TruthEvent{EntityType: event.OriginAS, EntityCode: a.asn.String(), Kind: event.UpstreamChange, Family: bgp.AllFamilies, Start: t0, Optional: true,
				Note: fmt.Sprintf("its routes through AS%d moved to AS%d when AS%d failed", u, other, u)})
		}
	}
	for _, a := range single {
		s := entity{typ: event.OriginAS, code: a.asn.String(), as: a}.prefixes()
		note := fmt.Sprintf("AS%d, the only upstream of AS%s, failed: all its prefixes withdrawn by all peers", u, a.asn)
		if a == e.as {
			note += " (the case's entity)"
		}
		pl.outage(entity{typ: event.OriginAS, code: a.asn.String(), as: a}, s, t0, t1, note)
	}
}

// sharedUpstreams reports whether each upstream of a carries another AS
// of the world too.
func (pl *planner) sharedUpstreams(a *wAS) bool {
	for _, u := range a.ups {
		shared := false
		for _, c := range pl.w.countries {
			for _, b := range c.ases {
				shared = shared || (b != a && slices.Contains(b.ups, u))
			}
		}
		if !shared {
			return false
		}
	}
	return true
}

// singleHomed reports whether e is an AS with one upstream that has other
// customers (so that its failure shows in their routes too).
func (pl *planner) singleHomed(e entity) bool {
	if e.as == nil || len(e.as.ups) != 1 {
		return false
	}
	u := e.as.ups[0]
	for _, c := range pl.w.countries {
		for _, a := range c.ases {
			if a != e.as && slices.Contains(a.ups, u) {
				return true
			}
		}
	}
	return false
}

// CauseCase is a case of CauseSuite: a world with one event of a known
// mechanism, so a known cause its entity's events should lead with.
type CauseCase struct {
	Case
	// Cause is the cause the main events should lead with.
	Cause event.CauseCode
	// Main picks the main truth events: of kind EventKind, of an origin
	// AS, whose Note contains Note (and is not implied); from the From-th
	// one (0-based) on (a repeated outage recurs from its third night).
	EventKind event.Kind
	Note      string
	From      int
}

// CauseSuite returns one case per cause code: an origin withdrawing
// everything (origin_side), its sole upstream failing with all of the
// upstream's customers (upstream_failure), routes moving off one upstream
// (upstream_cut), a flapping period then dark (after_instability), the
// same hours on four nights (recurring, from the third night), a second
// origin announcing more-specifics before the fall (other_origin).
func CauseSuite(seed int64) []CauseCase {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xca05e))
	start, _ := time.Parse(time.RFC3339, defaultStart)
	at := func(h int) time.Duration {
		return time.Duration(h)*time.Hour + time.Duration(rng.IntN(50))*time.Minute + time.Duration(rng.IntN(60))*time.Second
	}
	type def struct {
		cause event.CauseCode
		kind  event.Kind
		note  string
		from  int
		dur   time.Duration
		spec  EventSpec
	}
	defs := []def{
		{event.OriginSide, event.Outage, "all prefixes of", 0, 12 * time.Hour, EventSpec{Kind: CaseOutage, Entity: event.OriginAS, At: at(6), For: time.Hour, Pick: PickSharedUpstream}},
		{event.UpstreamFailure, event.Outage, "the case's entity", 0, 12 * time.Hour, EventSpec{Kind: CaseUpstreamFailure, At: at(6), For: time.Hour}},
		{event.UpstreamCut, event.UpstreamChange, "replaced by", 0, 12 * time.Hour, EventSpec{Kind: CaseUpstreamChange, Entity: event.OriginAS, At: at(6)}},
		{event.AfterInstability, event.Outage, "after the instability", 0, 12 * time.Hour, EventSpec{Kind: CaseInstability, Entity: event.OriginAS, At: at(8), For: time.Hour}},
		{event.Recurring, event.Outage, "every 24h", 2, 4*24*time.Hour + 6*time.Hour, EventSpec{Kind: CaseOutage, Entity: event.OriginAS, At: at(20), For: 2 * time.Hour, Repeat: 3, Every: 24 * time.Hour}},
		{event.OtherOrigin, event.Outage, "more-specifics", 0, 12 * time.Hour, EventSpec{Kind: CaseOtherOrigin, At: at(6), For: time.Hour}},
	}
	out := make([]CauseCase, 0, len(defs))
	for i, d := range defs {
		cfg := Config{Name: "cause-" + string(d.cause), Seed: seed*1000 + 700 + int64(i), Start: start.Add(time.Duration(i) * 7 * 24 * time.Hour),
			Duration: d.dur, Countries: 8, Peers: 12, V4PerAS: [2]int{2, 6}, V6PerAS: [2]int{0, 2}, Events: []EventSpec{d.spec}}
		out = append(out, CauseCase{Case: Case{Name: cfg.Name, Kind: "cause_" + string(d.cause), Config: cfg}, Cause: d.cause, EventKind: d.kind, Note: d.note, From: d.from})
	}
	return out
}

// Mains returns the main truth events of the case in g's truth (see
// CauseCase.EventKind).
func (c CauseCase) Mains(truth []TruthEvent) []TruthEvent {
	var out []TruthEvent
	for _, tr := range truth {
		if tr.Kind == c.EventKind && tr.EntityType == event.OriginAS && strings.Contains(tr.Note, c.Note) && !strings.HasPrefix(tr.Note, "implied by") {
			out = append(out, tr)
		}
	}
	if c.From >= len(out) {
		return nil
	}
	return out[c.From:]
}
