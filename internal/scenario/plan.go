package scenario

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
)

type opKind uint8

const (
	opWithdraw   opKind = iota + 1 // want=false for pfx
	opAnnounce                     // want=true for pfx
	opVariant                      // path variant of pfx = arg
	opUpstream                     // upstream of pfx = arg
	opState                        // state change arg>>8 -> arg&0xff; Idle takes the session down
	opTable                        // session up: announce every wanted prefix
	opFlushStart                   // withdraw every route, hold them back
	opFlushEnd                     // announce every wanted prefix again
	opDuplicate                    // announce pfx again with the same path, where present
)

type op struct {
	t    time.Time
	seq  int32
	peer int32
	kind opKind
	arg  uint32
	pfx  []int32
}

type interval struct{ from, to time.Time }

func (iv interval) overlaps(o interval) bool { return iv.from.Before(o.to) && o.from.Before(iv.to) }

// planner builds the ops and the truth of one scenario.
type planner struct {
	cfg   *Config
	db    *geo.DB
	w     *world
	rng   *rand.Rand
	end   time.Time
	ops   []op
	truth []TruthEvent

	busyPfx  [][]interval // per prefix: windows of injected events (no churn)
	busyPeer [][]interval // per peer
	churn    [][]interval // per prefix: churn flaps
	churnPP  map[[2]int32][]interval

	usedCC   map[*wCountry]bool
	usedAS   map[*wAS]bool
	usedPeer map[int]bool
	initUp   []bgp.ASN // per (peer, prefix): the upstream at the start
	curUp    []bgp.ASN // per (peer, prefix): after the planned upstream changes
}

func newPlanner(cfg *Config, w *world, rng *rand.Rand) *planner {
	pl := &planner{cfg: cfg, w: w, rng: rng, end: cfg.Start.Add(cfg.Duration),
		busyPfx: make([][]interval, len(w.prefixes)), busyPeer: make([][]interval, len(w.peers)),
		churn: make([][]interval, len(w.prefixes)), churnPP: map[[2]int32][]interval{},
		usedCC: map[*wCountry]bool{}, usedAS: map[*wAS]bool{}, usedPeer: map[int]bool{}}
	np := len(w.prefixes)
	pl.initUp = make([]bgp.ASN, len(w.peers)*np)
	for p := range w.peers {
		for x, wp := range w.prefixes {
			ups := wp.as.ups
			pl.initUp[p*np+x] = ups[(p*31+x*17+x/7)%len(ups)]
		}
	}
	pl.curUp = slices.Clone(pl.initUp)
	return pl
}

func (pl *planner) add(t time.Time, peer int, k opKind, arg uint32, pfx []int32) {
	pl.ops = append(pl.ops, op{t: t, seq: int32(len(pl.ops)), peer: int32(peer), kind: k, arg: arg, pfx: pfx})
}

// spread returns per-peer delays: a random order of the peers, the first at
// 0, the others over up to max, with microseconds.
func (pl *planner) spread(max time.Duration) []time.Duration {
	n := len(pl.w.peers)
	order := pl.rng.Perm(n)
	d := make([]time.Duration, n)
	for k, p := range order {
		if k == 0 {
			continue
		}
		step := max / time.Duration(n)
		d[p] = time.Duration(k)*step + time.Duration(pl.rng.Int64N(int64(step/time.Microsecond)+1))*time.Microsecond
	}
	return d
}

func (pl *planner) spreadMax() time.Duration { return time.Duration(3+pl.rng.IntN(10)) * time.Second }

// allPeers schedules k for pfx on every peer at t plus its delay.
func (pl *planner) allPeers(t time.Time, k opKind, arg uint32, pfx []int32) time.Time {
	d := pl.spread(pl.spreadMax())
	last := t
	for p := range pl.w.peers {
		at := t.Add(d[p])
		pl.add(at, p, k, arg, pfx)
		if at.After(last) {
			last = at
		}
	}
	return last
}

func (pl *planner) busy(pfx []int32, from, to time.Time) {
	for _, x := range pfx {
		pl.busyPfx[x] = append(pl.busyPfx[x], interval{from.Add(-caseMargin), to.Add(caseMargin)})
	}
}

// entity is the target of an event.
type entity struct {
	typ  event.EntityType
	code string
	cc   *wCountry
	as   *wAS
}

func (e entity) prefixes() []int32 {
	var out []int32
	ases := []*wAS{e.as}
	if e.cc != nil {
		ases = e.cc.ases
	}
	for _, a := range ases {
		for _, i := range a.prefix {
			out = append(out, int32(i))
		}
	}
	return out
}

// pickEntity finds the entity of spec: the named one, or a seeded choice
// among those not yet used that pass ok.
func (pl *planner) pickEntity(spec EventSpec, ok func(entity) bool) (entity, error) {
	typ := spec.Entity
	if typ == 0 {
		typ = event.Country
	}
	var cands []entity
	for _, c := range pl.w.countries {
		if typ == event.Country {
			cands = append(cands, entity{typ: typ, code: c.cc.String(), cc: c})
			continue
		}
		for _, a := range c.ases {
			cands = append(cands, entity{typ: typ, code: a.asn.String(), as: a})
		}
	}
	if spec.Pick != "" {
		inner := ok
		ok = func(e entity) bool { return pl.picks(spec.Pick, e) && inner(e) }
	}
	if spec.Code != "" {
		for _, e := range cands {
			if e.code == spec.Code {
				if !ok(e) {
					return e, fmt.Errorf("scenario: %s %s %s does not fit a %s event", spec.Kind, typ, spec.Code, spec.Kind)
				}
				pl.use(e)
				return e, nil
			}
		}
		return entity{}, fmt.Errorf("scenario: %s: no %s %q in the world", spec.Kind, typ, spec.Code)
	}
	pl.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	for _, e := range cands {
		if pl.isUsed(e) || !ok(e) {
			continue
		}
		pl.use(e)
		return e, nil
	}
	return entity{}, fmt.Errorf("scenario: no free %s fits a %s event; use more countries", typ, spec.Kind)
}

// picks reports whether e is of the kind that EventSpec.Pick asks for.
func (pl *planner) picks(pick string, e entity) bool {
	c := e.cc
	if c == nil {
		c = e.as.cc
	}
	switch pick {
	case PickSharedUpstream:
		return e.as != nil && pl.sharedUpstreams(e.as)
	case PickBig:
		return c.big
	case PickOther:
		return !c.big
	case PickSmallAS:
		if e.as == nil || !c.big {
			return false
		}
		var mine, all []int32
		for _, x := range e.as.prefix {
			mine = append(mine, int32(x))
		}
		all = entity{cc: c}.prefixes()
		f := float64(pl.familySize(mine, false)) / float64(pl.familySize(all, false))
		return f >= 0.01 && f <= 0.02
	}
	return true
}

func (pl *planner) isUsed(e entity) bool {
	if e.cc != nil {
		if pl.usedCC[e.cc] {
			return true
		}
		for _, a := range e.cc.ases {
			if pl.usedAS[a] {
				return true
			}
		}
		return false
	}
	return pl.usedAS[e.as] || pl.usedCC[e.as.cc]
}

func (pl *planner) use(e entity) {
	if e.cc != nil {
		pl.usedCC[e.cc] = true
		return
	}
	pl.usedAS[e.as] = true
	pl.usedCC[e.as.cc] = true // its country's events would not be unambiguous
}

func (pl *planner) pickPeer(spec EventSpec) (int, error) {
	if spec.Code != "" {
		for i, p := range pl.w.peers {
			if p.Addr.String() == spec.Code {
				pl.usedPeer[i] = true
				return i, nil
			}
		}
		return 0, fmt.Errorf("scenario: %s: no peer %s", spec.Kind, spec.Code)
	}
	for _, i := range pl.rng.Perm(len(pl.w.peers)) {
		if !pl.usedPeer[i] {
			pl.usedPeer[i] = true
			return i, nil
		}
	}
	return 0, fmt.Errorf("scenario: %s: no free peer", spec.Kind)
}

func (pl *planner) plan(spec EventSpec) error {
	t0 := pl.cfg.Start.Add(spec.At).Truncate(time.Second)
	var t1 time.Time
	if spec.For > 0 {
		t1 = t0.Add(spec.For)
		if !t1.Before(pl.end.Add(-time.Minute)) {
			t1 = time.Time{}
		}
	}
	hasV4 := func(e entity) bool { return pl.familySize(e.prefixes(), false) > 0 }
	hasV6 := func(e entity) bool { return pl.familySize(e.prefixes(), true) > 0 }
	switch spec.Kind {
	case CaseQuiet:
		return nil
	case CaseOutage:
		e, err := pl.pickEntity(spec, hasV4)
		if err != nil {
			return err
		}
		how := "withdrawn by all peers"
		if spec.Ramp > 0 {
			how = "withdrawn one after another by all peers over " + spec.Ramp.String()
		}
		pl.repeated(spec, e, e.prefixes(), t0, t1, "all prefixes of "+e.typ.String()+" "+e.code+" "+how)
	case CaseIPv6Outage:
		e, err := pl.pickEntity(spec, func(e entity) bool { return hasV4(e) && hasV6(e) })
		if err != nil {
			return err
		}
		var s []int32
		for _, x := range e.prefixes() {
			if pl.w.prefixes[x].v6 {
				s = append(s, x)
			}
		}
		pl.repeated(spec, e, s, t0, t1, "the IPv6 prefixes of "+e.typ.String()+" "+e.code+" withdrawn by all peers")
	case CasePartialOutage:
		want := spec.Fraction
		if want <= 0 {
			want = 0.3 + 0.4*pl.rng.Float64()
		}
		var sub []int32
		e, err := pl.pickEntity(spec, func(e entity) bool {
			if spec.Ramp > 0 {
				sub = pl.subsetNearKeep(e.prefixes(), want)
			} else {
				sub = pl.subsetNear(e.prefixes(), want)
			}
			return sub != nil
		})
		if err != nil {
			return err
		}
		how := "withdrawn by all peers"
		if spec.Ramp > 0 {
			how = "withdrawn one after another by all peers over " + spec.Ramp.String() + " (no AS loses all of its prefixes)"
		}
		pl.repeated(spec, e, sub, t0, t1, fmt.Sprintf("%d of the IPv4 prefixes of %s %s %s", len(sub), e.typ, e.code, how))
	case CaseInstability:
		e, err := pl.pickEntity(spec, hasV4)
		if err != nil {
			return err
		}
		pl.instability(e, spec, t0)
		pl.outage(e, e.prefixes(), t0, t1, "all prefixes of "+e.typ.String()+" "+e.code+" withdrawn after the instability")
	case CaseUpstreamChange:
		var x, y bgp.ASN
		e, err := pl.pickEntity(spec, func(e entity) bool {
			x, y = pl.pickUpstreams(e)
			return x != 0
		})
		if err != nil {
			return err
		}
		pl.upstreamChange(e, x, y, t0)
	case CaseUpstreamFailure:
		spec.Entity = event.OriginAS
		e, err := pl.pickEntity(spec, func(e entity) bool { return hasV4(e) && pl.singleHomed(e) })
		if err != nil {
			return err
		}
		pl.upstreamFailure(e, e.as.ups[0], t0, t1)
	case CaseOtherOrigin:
		e, err := pl.pickEntity(spec, hasV4)
		if err != nil {
			return err
		}
		pl.otherOrigin(e, t0, t1)
	case CasePeerReset, CasePeerFlush:
		p, err := pl.pickPeer(spec)
		if err != nil {
			return err
		}
		pl.peerEvent(spec.Kind, p, t0, t1)
	}
	return nil
}

func (pl *planner) familySize(pfx []int32, v6 bool) uint64 {
	var n uint64
	for _, x := range pfx {
		if wp := pl.w.prefixes[x]; wp.v6 == v6 {
			n += wp.size
		}
	}
	return n
}

// v4Of returns the IPv4 prefixes of pfx.
func (pl *planner) v4Of(pfx []int32) []int32 {
	var v4 []int32
	for _, x := range pfx {
		if !pl.w.prefixes[x].v6 {
			v4 = append(v4, x)
		}
	}
	return v4
}

// subsetNear returns IPv4 prefixes of pfx holding a share of its IPv4 space
// as close to want as found, within 0.3..0.7, or nil.
func (pl *planner) subsetNear(pfx []int32, want float64) []int32 {
	v4 := pl.v4Of(pfx)
	if len(v4) < 2 {
		return nil
	}
	total := float64(pl.familySize(v4, false))
	var best []int32
	bestD := math.Inf(1)
	for range 64 {
		perm := pl.rng.Perm(len(v4))
		var sub []int32
		var got float64
		for _, i := range perm {
			s := float64(pl.w.prefixes[v4[i]].size)
			if got+s > total*0.7 {
				continue
			}
			sub = append(sub, v4[i])
			got += s
			if got >= want*total {
				break
			}
		}
		f := got / total
		if f >= 0.3 && f <= 0.7 && math.Abs(f-want) < bestD {
			best, bestD = sub, math.Abs(f-want)
		}
	}
	slices.Sort(best)
	return best
}

// repeated plans the outage of s (EventSpec.Ramp: gradual) at t0..t1 and
// its EventSpec.Repeat repetitions.
func (pl *planner) repeated(spec EventSpec, e entity, s []int32, t0, t1 time.Time, note string) {
	if spec.Repeat == 0 {
		pl.outageRamp(e, s, t0, t1, spec.Ramp, note)
		return
	}
	for k := 0; k <= spec.Repeat; k++ {
		off := time.Duration(k) * spec.Every
		a, b := t0.Add(off), t1
		if !b.IsZero() {
			b = b.Add(off)
		}
		pl.outageRamp(e, s, a, b, spec.Ramp, fmt.Sprintf("%s (%d of %d, every %v)", note, k+1, spec.Repeat+1, spec.Every))
	}
}

// impliedMin is the smallest share an implied partial outage must have to
// be written: 0 in classic worlds, Background.ImpliedMin in realistic ones.
func (pl *planner) impliedMin() float64 {
	if pl.cfg.Background == nil {
		return 0
	}
	return pl.cfg.Background.ImpliedMin
}

// subsetNearKeep is subsetNear for a gradual partial outage: no AS loses
// all of its prefixes, so that the entity's loss is the only mandatory
// event.
func (pl *planner) subsetNearKeep(pfx []int32, want float64) []int32 {
	v4 := pl.v4Of(pfx)
	if len(v4) < 2 {
		return nil
	}
	total := float64(pl.familySize(v4, false))
	var best []int32
	bestD := math.Inf(1)
	for range 16 {
		taken := map[*wAS]int{}
		var sub []int32
		var got float64
		for _, i := range pl.rng.Perm(len(v4)) {
			wp := pl.w.prefixes[v4[i]]
			s := float64(wp.size)
			if got+s > total*0.7 || taken[wp.as]+1 >= len(wp.as.prefix) {
				continue
			}
			taken[wp.as]++
			sub = append(sub, v4[i])
			got += s
			if got >= want*total {
				break
			}
		}
		f := got / total
		if f >= 0.3 && f <= 0.7 && math.Abs(f-want) < bestD {
			best, bestD = sub, math.Abs(f-want)
		}
	}
	slices.Sort(best)
	return best
}

func (pl *planner) outage(e entity, s []int32, t0, t1 time.Time, note string) {
	pl.allPeers(t0, opWithdraw, 0, s)
	end := pl.end
	var endp *time.Time
	if !t1.IsZero() {
		last := pl.allPeers(t1, opAnnounce, 0, s)
		end = last
		endp = &t1
	}
	pl.busy(s, t0, end)
	pl.derive(e, s, event.Outage, t0, endp, note, nil)
}

// rampTimes are the times of one prefix of a gradual event: its first and
// last withdrawal (over the peers), its first and last re-announcement.
type rampTimes struct{ down, downLast, up, upLast time.Time }

// outageRamp is outage with a gradual fall and recovery over ramp (0: at
// once): the prefixes go one after another, in a random order, each by all
// peers, from t0; they come back one after another, in another order, from
// t1.
func (pl *planner) outageRamp(e entity, s []int32, t0, t1 time.Time, ramp time.Duration, note string) {
	if ramp <= 0 {
		pl.outage(e, s, t0, t1, note)
		return
	}
	n := time.Duration(len(s))
	times := make(map[int32]*rampTimes, len(s))
	end := pl.end
	for i, j := range pl.rng.Perm(len(s)) {
		t := t0
		if i > 0 {
			t = t0.Add(ramp * time.Duration(i) / n).Truncate(time.Second)
		}
		last := pl.allPeers(t, opWithdraw, 0, []int32{s[j]})
		times[s[j]] = &rampTimes{down: t, downLast: last}
	}
	var endp *time.Time
	if !t1.IsZero() {
		endp = &t1
		for i, j := range pl.rng.Perm(len(s)) {
			t := t1
			if i > 0 {
				t = t1.Add(ramp * time.Duration(i) / n).Truncate(time.Second)
			}
			last := pl.allPeers(t, opAnnounce, 0, []int32{s[j]})
			times[s[j]].up, times[s[j]].upLast = t, last
			if i == 0 || last.After(end) {
				end = last
			}
		}
	}
	pl.busy(s, t0, end)
	pl.derive(e, s, event.Outage, t0, endp, note, times)
}

// outageShare is the share of an entity's address space (of a family) whose
// loss is an outage rather than a partial outage, as the detector defines
// it (README "JSON events": at least 95 %).
const outageShare = 0.95

// entitiesOf returns every country and AS that prefixes of s belong to, in
// the order of s.
func (pl *planner) entitiesOf(s []int32) []entity {
	var ents []entity
	type key struct {
		typ  event.EntityType
		code string
	}
	seen := map[key]bool{}
	for _, x := range s {
		a := pl.w.prefixes[x].as
		for _, f := range []entity{{typ: event.Country, code: a.cc.cc.String(), cc: a.cc}, {typ: event.OriginAS, code: a.asn.String(), as: a}} {
			if k := (key{f.typ, f.code}); !seen[k] {
				seen[k] = true
				ents = append(ents, f)
			}
		}
	}
	return ents
}

// derive adds the truth of an event on the prefixes s of main entity e to
// every entity the prefixes belong to (see README.md for the rule). times,
// for a gradual event, dates each prefix: then an entity's event starts at
// the first withdrawal and ends at the first re-announcement of its own
// lost prefixes (of the event's family).
func (pl *planner) derive(e entity, s []int32, kind event.Kind, t0 time.Time, t1 *time.Time, note string, times map[int32]*rampTimes) {
	in := map[int32]bool{}
	for _, x := range s {
		in[x] = true
	}
	for _, f := range pl.entitiesOf(s) {
		main := f.typ == e.typ && f.code == e.code
		var lost, tot [2]uint64
		for _, x := range f.prefixes() {
			wp := pl.w.prefixes[x]
			fi := 0
			if wp.v6 {
				fi = 1
			}
			tot[fi] += wp.size
			if in[x] {
				lost[fi] += wp.size
			}
		}
		ev := TruthEvent{EntityType: f.typ, EntityCode: f.code, Start: t0, End: t1, Note: note}
		if !main {
			ev.Note = "implied by: " + note
		}
		// dated sets the times of ev from the lost prefixes of f of family
		// fi (-1: both), for a gradual event.
		dated := func(fi int) {
			if times == nil {
				return
			}
			first := true
			for _, x := range f.prefixes() {
				rt := times[int32(x)]
				if rt == nil || (fi >= 0 && pl.w.prefixes[x].v6 != (fi == 1)) {
					continue
				}
				if first || rt.down.Before(ev.Start) {
					ev.Start = rt.down
				}
				if first || rt.downLast.After(*ev.Bottom) {
					ev.Bottom = &rt.downLast
				}
				if t1 != nil {
					if first || rt.up.Before(*ev.End) {
						ev.End = &rt.up
					}
					if first || rt.upLast.After(*ev.Recovered) {
						ev.Recovered = &rt.upLast
					}
				}
				first = false
			}
		}
		all := (tot[0] == 0 || lost[0] == tot[0]) && (tot[1] == 0 || lost[1] == tot[1])
		if all {
			ev.Kind, ev.Family, ev.Fraction = event.Outage, bgp.AllFamilies, 1
			dated(-1)
			pl.truth = append(pl.truth, ev)
			continue
		}
		for fi, fam := range []bgp.Family{bgp.IPv4, bgp.IPv6} {
			switch {
			case lost[fi] == 0:
			case lost[fi] == tot[fi]:
				ev.Kind, ev.Family, ev.Fraction, ev.Optional = event.Outage, fam, 1, false
				dated(fi)
				pl.truth = append(pl.truth, ev)
			default:
				ev.Kind, ev.Family, ev.Optional = event.PartialOutage, fam, !main
				ev.Fraction = math.Round(float64(lost[fi])/float64(tot[fi])*1e4) / 1e4
				if !main && ev.Fraction < pl.impliedMin() {
					continue // too small to be an event (realistic background only)
				}
				if float64(lost[fi]) >= outageShare*float64(tot[fi]) {
					// Near total: an outage by the detector's definition
					// (the entity's whole space when it has no other family).
					ev.Kind = event.Outage
					if tot[1-fi] == 0 {
						ev.Family = bgp.AllFamilies
					}
				}
				dated(fi)
				pl.truth = append(pl.truth, ev)
			}
		}
	}
}

// instability schedules short down phases of subsets of e's prefixes, by
// all peers, during spec.Instability up to 20 minutes before t0.
func (pl *planner) instability(e entity, spec EventSpec, t0 time.Time) {
	length := spec.Instability
	if length <= 0 {
		length = 3 * time.Hour
	}
	gap := spec.FlapEvery
	if gap <= 0 {
		gap = 8 * time.Minute
	}
	s := e.prefixes()
	from := t0.Add(-length).Truncate(time.Second)
	until := t0.Add(-20 * time.Minute)
	if !from.After(pl.cfg.Start.Add(10 * time.Minute)) {
		from = pl.cfg.Start.Add(10 * time.Minute)
	}
	t := from
	var phases []downPhase
	episodes := 0
	for t.Before(until) {
		// A subset: never all of the prefixes at once (when there are two or more).
		k := 1
		if len(s) > 1 {
			k = 1 + pl.rng.IntN(max(1, (len(s)*2+2)/3))
			k = min(k, len(s)-1)
		}
		perm := pl.rng.Perm(len(s))[:k]
		sub := make([]int32, k)
		for i, j := range perm {
			sub[i] = s[j]
		}
		sub = pl.notWhole(sub)
		slices.Sort(sub)
		down := time.Duration(10+pl.rng.IntN(140)) * time.Second
		last := pl.allPeers(t, opWithdraw, 0, sub)
		up := t.Add(down)
		if !up.After(last) {
			up = last.Add(time.Second)
		}
		up = up.Truncate(time.Second)
		last = pl.allPeers(up, opAnnounce, 0, sub)
		phases = append(phases, downPhase{down: t, up: up, pfx: sub})
		episodes++
		pause := time.Duration(pl.rng.ExpFloat64() * float64(gap))
		pause = max(pause, 30*time.Second)
		t = last.Add(pause).Truncate(time.Second)
	}
	if episodes == 0 {
		return
	}
	pl.busy(s, from, until)
	note := fmt.Sprintf("%d short withdrawals of subsets of the prefixes of %s %s by all peers", episodes, e.typ, e.code)
	pl.deriveInstability(e, s, phases, note)
}

// downPhase is one down phase of an instability: the first withdrawal and
// the first re-announcement (over the peers) of its prefixes.
type downPhase struct {
	down, up time.Time
	pfx      []int32
}

// minFlaps is the number of down phases of its own below which an
// entity's instability is optional: a detector may or may not judge a
// few losses repeated.
const minFlaps = 4

// deriveInstability adds the truth of an instability of main entity e
// (prefixes s, down phases phases) to every entity the prefixes belong
// to, each dated by its own down phases: from the first withdrawal of the
// first phase that involves its prefixes to the re-announcement of the
// last one. It is optional for an entity not all of whose prefixes are
// in s (the country of an AS) or with fewer than minFlaps phases of its
// own; an entity none of whose prefixes went down has none.
func (pl *planner) deriveInstability(e entity, s []int32, phases []downPhase, note string) {
	in := map[int32]bool{}
	for _, x := range s {
		in[x] = true
	}
	for _, f := range pl.entitiesOf(s) {
		main := f.typ == e.typ && f.code == e.code
		mine := map[int32]bool{}
		all := true
		for _, x := range f.prefixes() {
			mine[x] = true
			all = all && in[x]
		}
		var n int
		var start, end time.Time
		for _, ph := range phases {
			if !slices.ContainsFunc(ph.pfx, func(x int32) bool { return mine[x] }) {
				continue
			}
			if n == 0 {
				start = ph.down
			}
			end = ph.up
			n++
		}
		if n == 0 {
			continue
		}
		ev := TruthEvent{EntityType: f.typ, EntityCode: f.code, Kind: event.Instability, Family: bgp.AllFamilies,
			Start: start, End: &end, Optional: !all || n < minFlaps, Note: note}
		if !main {
			ev.Note = "implied by: " + note
			if n < len(phases) {
				ev.Note += fmt.Sprintf(" (%d on its prefixes)", n)
			}
		}
		pl.truth = append(pl.truth, ev)
	}
}

// notWhole drops from sub one prefix of every AS with two or more prefixes
// that sub holds all of, so that no AS loses all its prefixes in one down
// phase of an instability (a single-prefix AS cannot avoid it).
func (pl *planner) notWhole(sub []int32) []int32 {
	count := map[*wAS]int{}
	for _, x := range sub {
		count[pl.w.prefixes[x].as]++
	}
	drop := map[int32]bool{}
	for _, x := range sub {
		a := pl.w.prefixes[x].as
		if n := len(a.prefix); n >= 2 && count[a] == n {
			drop[x] = true
			count[a]--
		}
	}
	if len(drop) == 0 {
		return sub
	}
	out := sub[:0:0]
	for _, x := range sub {
		if !drop[x] {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		out = append(out, sub[0])
		if a := pl.w.prefixes[sub[0]].as; len(a.prefix) >= 2 {
			out[0] = int32(a.prefix[0])
		}
	}
	return out
}

// pickUpstreams returns an upstream X all of e's prefixes can leave and a
// Y to move to, or zeros.
func (pl *planner) pickUpstreams(e entity) (x, y bgp.ASN) {
	ases := e.cc.ases2(e.as)
	used := map[bgp.ASN]bool{}
	for _, a := range ases {
		for _, u := range a.ups {
			used[u] = true
		}
	}
	var xs, ys []bgp.ASN
	for _, u := range upstreamPool {
		if used[u] {
			xs = append(xs, u)
		} else if pl.cfg.Background == nil || !pl.registeredIn(u, ases) {
			ys = append(ys, u)
		}
	}
	if len(xs) == 0 || len(ys) == 0 {
		return 0, 0
	}
	return xs[pl.rng.IntN(len(xs))], ys[pl.rng.IntN(len(ys))]
}

// registeredIn reports whether u is registered in the country of one of
// ases (a big country of a realistic world may be an upstream's own): an
// upstream there would not be the country's upstream.
func (pl *planner) registeredIn(u bgp.ASN, ases []*wAS) bool {
	info, _ := pl.db.ASN(uint32(u))
	for _, a := range ases {
		if a.cc.cc == info.Country {
			return true
		}
	}
	return false
}

// ases2 returns the ASes of a country, or just a when c is nil.
func (c *wCountry) ases2(a *wAS) []*wAS {
	if c != nil {
		return c.ases
	}
	return []*wAS{a}
}

func (pl *planner) upstreamChange(e entity, x, y bgp.ASN, t0 time.Time) {
	np := len(pl.w.prefixes)
	before := pl.upstreamSets()
	s := e.prefixes()
	d := pl.spread(pl.spreadMax())
	var moved []int32
	movedRoutes := map[string]int{} // by entity key, as upstreamSets
	for p := range pl.w.peers {
		var pf []int32
		for _, i := range s {
			if pl.curUp[p*np+int(i)] == x {
				pl.curUp[p*np+int(i)] = y
				pf = append(pf, i)
				wp := pl.w.prefixes[i]
				movedRoutes["c"+wp.as.cc.cc.String()]++
				movedRoutes["a"+wp.as.asn.String()]++
			}
		}
		if len(pf) > 0 {
			pl.add(t0.Add(d[p]), p, opUpstream, uint32(y), pf)
			moved = append(moved, pf...)
		}
	}
	slices.Sort(moved)
	moved = slices.Compact(moved)
	for _, a := range e.cc.ases2(e.as) {
		for i, u := range a.ups {
			if u == x {
				a.ups[i] = y
			}
		}
		a.ups = slices.Compact(a.ups)
	}
	pl.busy(moved, t0, t0.Add(time.Minute))
	after := pl.upstreamSets()
	keys := make([]string, 0, len(after))
	for k := range after {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if slices.Equal(before[k], after[k]) {
			continue
		}
		typ, code := event.Country, k[1:]
		if k[0] == 'a' {
			typ = event.OriginAS
		}
		// The routes that moved, as a share of the entity's routes: a
		// change of the transit of a small part of an entity (under
		// upstreamShare, the detector's threshold) may or may not be
		// reported as the entity's upstream change.
		share := float64(movedRoutes[k]) / float64(len(pl.w.peers)*pl.entityPrefixes(k))
		pl.truth = append(pl.truth, TruthEvent{EntityType: typ, EntityCode: code, Kind: event.UpstreamChange, Family: bgp.AllFamilies, Start: t0,
			Optional: share < upstreamShare,
			Note:     fmt.Sprintf("upstream AS%d replaced by AS%d on all peers: %v -> %v (%.0f%% of its routes moved)", x, y, before[k], after[k], share*100)})
	}
}

// upstreamShare is the share of an entity's routes whose upstream must
// change for the change to be the entity's (the detector's UpstreamShare).
const upstreamShare = 0.2

// entityPrefixes returns the number of prefixes of the entity keyed as in
// upstreamSets ("c"+country, "a"+asn).
func (pl *planner) entityPrefixes(k string) int {
	n := 0
	for _, wp := range pl.w.prefixes {
		if k == "c"+wp.as.cc.cc.String() || k == "a"+wp.as.asn.String() {
			n++
		}
	}
	return max(n, 1)
}

// upstreamSets returns, per entity ("c"+country, "a"+asn), the sorted set of
// upstreams its prefixes are reached through, by the planned state.
func (pl *planner) upstreamSets() map[string][]bgp.ASN {
	np := len(pl.w.prefixes)
	sets := map[string][]bgp.ASN{}
	for p := range pl.w.peers {
		for x, wp := range pl.w.prefixes {
			u := pl.curUp[p*np+x]
			for _, k := range []string{"c" + wp.as.cc.cc.String(), "a" + wp.as.asn.String()} {
				if !slices.Contains(sets[k], u) {
					sets[k] = append(sets[k], u)
				}
			}
		}
	}
	for _, v := range sets {
		slices.Sort(v)
	}
	return sets
}

func (pl *planner) peerEvent(kind string, p int, t0, t1 time.Time) {
	end := pl.end
	var endp *time.Time
	peer := pl.w.peers[p]
	ev := TruthEvent{EntityType: event.Peer, EntityCode: peer.Addr.String(), Kind: event.PeerEvent, Family: bgp.AllFamilies, Start: t0}
	if kind == CasePeerReset {
		pl.add(t0, p, opState, uint32(bgp.StateEstablished)<<8|uint32(bgp.StateIdle), nil)
		ev.Note = "session of peer " + peer.String() + " went down (Established -> Idle)"
		if !t1.IsZero() {
			steps := []bgp.State{bgp.StateIdle, bgp.StateConnect, bgp.StateOpenSent, bgp.StateOpenConfirm, bgp.StateEstablished}
			t := t1
			for i := 1; i < len(steps); i++ {
				pl.add(t, p, opState, uint32(steps[i-1])<<8|uint32(steps[i]), nil)
				if i < len(steps)-1 {
					t = t.Add(time.Duration(200+pl.rng.IntN(1500)) * time.Millisecond)
				}
			}
			pl.add(t.Add(time.Duration(500+pl.rng.IntN(1500))*time.Millisecond), p, opTable, 0, nil)
			end = t.Add(5 * time.Second)
			t1 = t.Truncate(time.Second)
			endp = &t1
			ev.Note += ", back at " + t1.Format(time.RFC3339) + " and re-announced its table"
		}
	} else {
		pl.add(t0, p, opFlushStart, 0, nil)
		ev.Note = "peer " + peer.String() + " withdrew its whole table without a session change"
		if !t1.IsZero() {
			pl.add(t1, p, opFlushEnd, 0, nil)
			end = t1.Add(5 * time.Second)
			endp = &t1
			ev.Note += ", re-announced it at " + t1.Format(time.RFC3339)
		}
	}
	ev.End = endp
	pl.busyPeer[p] = append(pl.busyPeer[p], interval{t0.Add(-caseMargin), end.Add(caseMargin)})
	pl.truth = append(pl.truth, ev)
}

// addChurn schedules the normal churn: single-peer withdraw/re-announce
// flaps and path changes at random, away from the injected events, and
// never more than a few peers down on one prefix at once.
func (pl *planner) addChurn() {
	if pl.cfg.ChurnRate < 0 || len(pl.w.prefixes) == 0 {
		return
	}
	hours := pl.cfg.Duration.Hours()
	n := int(pl.cfg.ChurnRate * float64(len(pl.w.prefixes)) * hours)
	from := pl.cfg.Start.Add(2 * time.Minute)
	span := pl.cfg.Duration - 5*time.Minute
	if span <= 0 {
		return
	}
	maxDown := max(1, len(pl.w.peers)/6)
	free := func(ivs []interval, iv interval) bool {
		for _, o := range ivs {
			if o.overlaps(iv) {
				return false
			}
		}
		return true
	}
	for range n {
		t := from.Add(time.Duration(pl.rng.Int64N(int64(span)))).Truncate(time.Microsecond)
		x := int32(pl.rng.IntN(len(pl.w.prefixes)))
		p := int32(pl.rng.IntN(len(pl.w.peers)))
		flap := pl.rng.IntN(10) < 7
		var down time.Duration
		if flap {
			// 5 s to 15 min, log-uniform.
			down = time.Duration(math.Exp(math.Log(5)+pl.rng.Float64()*math.Log(180))) * time.Second
		}
		iv := interval{t.Add(-time.Second), t.Add(down + time.Second)}
		if !iv.to.Before(pl.end.Add(-time.Minute)) || !free(pl.busyPfx[x], iv) || !free(pl.busyPeer[p], iv) || !free(pl.churnPP[[2]int32{p, x}], iv) {
			continue
		}
		if flap {
			n := 0
			for _, o := range pl.churn[x] {
				if o.overlaps(iv) {
					n++
				}
			}
			if n >= maxDown {
				continue
			}
			pl.churn[x] = append(pl.churn[x], iv)
			pl.add(t, int(p), opWithdraw, 0, []int32{x})
			pl.add(t.Add(down), int(p), opAnnounce, 0, []int32{x})
		} else {
			pl.add(t, int(p), opVariant, uint32(pl.rng.IntN(8)), []int32{x})
		}
		pl.churnPP[[2]int32{p, x}] = append(pl.churnPP[[2]int32{p, x}], iv)
	}
}

func asnString(a uint32) string { return strconv.FormatUint(uint64(a), 10) }
