package signal

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/view"
)

// QuietSink is a Sink that can say that it ignores Upstream calls for a
// family now and would ignore the end of peer events (the detector before
// it judges the family, with no peer event open). The Tracker then takes
// the routes of peers that join the full-feed set together, prefix by
// prefix (view.JoinObserver), which gives the same state as taking them
// peer by peer but calls Upstream in another order.
type QuietSink interface {
	Sink
	QuietUpstreams(f bgp.Family) bool
}

// joinBatch is the state of a batch of joins (BeginJoins to EndJoins).
type joinBatch struct {
	on   bool
	n0   int     // states before the batch: those at or after are new
	keys []int64 // per new state: the first (peer rank, prefix) that used it
	cnt  []upCount
	// The prefix being joined.
	now    time.Time
	prefix netip.Prefix
}

// upCount is one prefix's count of joining routes of state s through
// upstream a.
type upCount struct {
	s *State
	a bgp.ASN
	n int32
}

// BeginJoins implements view.JoinObserver: it takes the joins when the
// sink is quiet for the family.
func (t *Tracker) BeginJoins(_ time.Time, f bgp.Family, _ []int) bool {
	q, ok := t.sink.(QuietSink)
	if !ok || !q.QuietUpstreams(f) {
		return false
	}
	t.join = joinBatch{on: true, n0: len(t.order), keys: t.join.keys[:0], cnt: t.join.cnt[:0]}
	return true
}

// joinKey orders the uses of a state as the peer-by-peer order meets
// them: by the joining peer's rank, then by prefix, then the country's
// state before the origin's (a route meets them in that order).
func joinKey(rank int, id view.PrefixID, origin bool) int64 {
	k := int64(rank)<<33 | int64(id)<<1
	if origin {
		k |= 1
	}
	return k
}

// noteUse records that the route of the rank-th joiner to prefix id uses
// s (the origin's state, or the country's).
func (t *Tracker) noteUse(s *State, rank int, id view.PrefixID, origin bool) {
	if i := s.idx - t.join.n0; i >= 0 {
		for len(t.join.keys) <= i {
			t.join.keys = append(t.join.keys, 1<<62)
		}
		t.join.keys[i] = min(t.join.keys[i], joinKey(rank, id, origin))
	}
}

// count adds n routes of s through upstream a to the prefix's counts.
func (t *Tracker) count(s *State, a bgp.ASN) {
	for i := range t.join.cnt {
		if c := &t.join.cnt[i]; c.s == s && c.a == a {
			c.n++
			return
		}
	}
	if len(t.join.cnt) >= maxJoinCounts {
		t.upstream(t.join.now, s.k.e, family(t.join.prefix), s, a, 1)
		return
	}
	t.join.cnt = append(t.join.cnt, upCount{s, a, 1})
}

// maxJoinCounts bounds the distinct (state, upstream) pairs of a prefix
// counted together; more go one by one.
const maxJoinCounts = 64

// JoinPrefix implements view.JoinObserver: what Membership(joined) does
// for each route of the prefix, with the upstream counts added once per
// state and upstream.
func (t *Tracker) JoinPrefix(now time.Time, id view.PrefixID, p netip.Prefix, routes []view.JoinedRoute) {
	f := family(p)
	first := slices.IndexFunc(routes, func(r view.JoinedRoute) bool { return r.Path != 0 })
	if first < 0 {
		return
	}
	cs, cc := t.countryState(id, p)
	if cs != nil {
		t.touch(cs)
		t.noteUse(cs, first, id, false)
	}
	t.routeCC = cc
	t.join.cnt = t.join.cnt[:0]
	t.join.now, t.join.prefix = now, p
	for k, r := range routes {
		if r.Path == 0 {
			continue
		}
		as := t.originState(r.Origin, f)
		nb := r.Neighbour()
		if as != nil {
			t.touch(as)
			t.noteUse(as, k, id, true)
		}
		if cs != nil {
			if up := t.joinedUpstream(&r, cc); up != 0 {
				t.count(cs, up)
			}
		}
		if as != nil && nb != 0 {
			t.count(as, nb)
		}
	}
	for _, c := range t.join.cnt {
		t.upstream(now, c.s.k.e, f, c.s, c.a, c.n)
	}
	clear(t.join.cnt)
}

// joinedUpstream is countryUpstream of r's path, from the steps read
// ahead first.
func (t *Tracker) joinedUpstream(r *view.JoinedRoute, cc geo.Country) bgp.ASN {
	for _, a := range r.Steps[:r.NSteps] {
		if a != 0 && t.asCountry(a) != cc {
			return a
		}
	}
	if r.Rest == 0 {
		return 0
	}
	return t.countryUpstream(r.Rest, cc)
}

// EndJoins implements view.JoinObserver: the states the batch created are
// put in the order the peer-by-peer joins would have created them.
func (t *Tracker) EndJoins(time.Time) {
	n0 := t.join.n0
	if news := t.order[n0:]; len(news) > 1 {
		type created struct {
			key int64
			s   *State
		}
		cs := make([]created, len(news))
		for i, k := range news {
			cs[i] = created{t.join.keys[i], t.states[k.pack()]}
		}
		slices.SortStableFunc(cs, func(a, b created) int { return cmp.Compare(a.key, b.key) })
		for i, c := range cs {
			c.s.idx = n0 + i
			t.order[n0+i] = c.s.k
		}
	}
	t.join = joinBatch{keys: t.join.keys[:0], cnt: t.join.cnt[:0]}
}
