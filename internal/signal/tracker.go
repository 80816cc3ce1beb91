package signal

import (
	"net/netip"
	"slices"
	"time"

	"github.com/gaissmai/bart"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/view"
)

// Bin is one closed time bin of one entity and family.
type Bin struct {
	Start         time.Time
	Prefixes      int32   // visible prefixes at the end of the bin
	Space         float64 // visible address space at the end of the bin (/24 or /48 units)
	MinSpace      float64 // the lowest visible address space during the bin
	Origins       int32   // visible origin ASes at the end of the bin (countries)
	Announcements int32   // announcements by full-feed peers during the bin
	Withdrawals   int32   // withdrawals by full-feed peers during the bin
	Losses        int32   // prefixes that became invisible during the bin
	// Baseline is the detector's normal visible space after the bin. The
	// tracker leaves it 0; the detector sets it when it passes the bin on.
	Baseline float64
}

// Churn returns the bin's announcements and withdrawals together.
func (b Bin) Churn() int32 { return b.Announcements + b.Withdrawals }

// Series is the recorded bins of one entity and family (for charts).
type Series struct {
	Entity Entity
	Family bgp.Family
	Bins   []Bin
}

// State is the live state of one entity and family.
//
// There is one per entity and family (tens of thousands), so its fields
// are laid out to fit a 112-byte size class.
type State struct {
	Prefixes  int32
	routes    int32 // full-feed routes in all
	Space     float64
	origins   map[bgp.ASN]int32 // visible prefixes by origin (countries)
	upstreams upCounts          // full-feed routes by upstream AS
	cur       binAcc            // the open bin's accumulators
	idx       int               // creation order
	seq       int64             // the bin cur belongs to (Tracker.seq)
	k         key
	dirty     bool // changed in the open bin
	watched   bool // reported at every bin
}

// binAcc is what a State accumulates over the open bin: the Bin's fields
// that are not read off the State when the bin closes.
type binAcc struct {
	MinSpace                           float64
	Announcements, Withdrawals, Losses int32
}

// Origins returns the number of distinct visible origin ASes.
func (s *State) Origins() int { return len(s.origins) }

// OriginList calls fn for each visible origin AS with its visible prefixes.
func (s *State) OriginList(fn func(asn bgp.ASN, prefixes int32)) {
	for a, n := range s.origins {
		fn(a, n)
	}
}

// Upstreams calls fn for each upstream AS with the number of full-feed
// routes through it.
func (s *State) Upstreams(fn func(asn bgp.ASN, routes int32)) {
	s.upstreams.each(fn)
}

// Routes returns the number of full-feed routes to the entity's prefixes.
func (s *State) Routes() int32 { return s.routes }

// Sink receives what the Tracker measures.
type Sink interface {
	// Changed reports that the visible prefixes or space of e changed.
	Changed(t time.Time, e Entity, f bgp.Family, s *State)
	// PrefixVisibility reports that prefix id of e became visible or not.
	PrefixVisibility(t time.Time, e Entity, f bgp.Family, id view.PrefixID, visible bool)
	// Upstream reports that an upstream AS of e appeared or disappeared.
	Upstream(t time.Time, e Entity, f bgp.Family, asn bgp.ASN, present bool)
	// BinClosed reports a closed bin. It is called only for the entities
	// that changed during the bin (and the watched ones): a bin without a
	// call kept the values of the last one reported.
	BinClosed(e Entity, f bgp.Family, b Bin, s *State)
	// Peer passes the view's vantage-point events on, in order.
	Peer(ev view.PeerEvent)
}

type key struct {
	e Entity
	f bgp.Family
}

// pack returns the key as one number, a cheap map key.
func (k key) pack() uint64 { return uint64(k.e.Type)<<40 | uint64(k.e.Code)<<8 | uint64(k.f) }

// Tracker computes signals from the view's changes. It implements
// view.Observer; call Advance with the data time before each event so that
// bins close on time.
type Tracker struct {
	db       *geo.DB
	paths    *view.Paths
	visible  []bool // by prefix: visible, as the view last reported
	sink     Sink
	bin      time.Duration
	binStart time.Time
	binEnd   time.Time         // the open bin's end as Advance last saw it (never past it: the bins only move on)
	states   map[uint64]*State // by key.pack()
	order    []key             // states in creation order
	dirty    []*State          // states changed in the open bin
	vis      [2]*bart.Table[bgp.ASN]
	asCC     byASN[ccEntry]
	seq      int64 // number of the open bin
	// Per-route caches: the country state of a prefix, and per origin AS
	// its states (originIdx: an index in origins, +1). Nothing is cached
	// per path: a cache by PathID costs bytes per path, and there are
	// nearly as many paths as routes; the path trie answers the origin and
	// its neighbour at once.
	prefixState []*State
	origins     []originStates
	originIdx   byASN[uint32]
	shares      []geo.Share
	subShare    []geo.Share
	// Withdrawal spread per prefix, since it was last visible to all.
	firstW, lastW []int64
	wPeers        []uint16
	// Path hunting per prefix (see PathHunting): changes around its fall,
	// and the latest run of changes before it.
	hunt, chgN []uint16
	chgAt      []int64
	visSince   []int64 // by prefix: when it last became visible
	// Transit counts by AS (see Transit).
	transit map[uint64]*transitCount // by transitKey
	routeCC geo.Country              // the country of the route being counted
	join    joinBatch                // peers joining the full-feed set at once
}

// originStates are an origin AS's states, by family (nil until needed).
type originStates [2]*State

type ccEntry struct {
	cc geo.Country
	ok bool
}

// byASN maps AS numbers to small values: a slice for the numbers below
// 1<<19 (every AS allocated so far, 2- and 4-byte), grown as they come, a
// map for the rest (private and future numbers). It is cheaper than a map
// on the path of every route event.
type byASN[T any] struct {
	dense  []T
	sparse map[bgp.ASN]T
}

const denseASNs = 1 << 19

func (m *byASN[T]) get(a bgp.ASN) T {
	if a < denseASNs {
		if int(a) < len(m.dense) {
			return m.dense[a]
		}
		var zero T
		return zero
	}
	return m.sparse[a]
}

func (m *byASN[T]) set(a bgp.ASN, v T) {
	if a < denseASNs {
		if int(a) >= len(m.dense) {
			m.dense = append(m.dense, make([]T, min(denseASNs, int(a)+1+len(m.dense)/2)-len(m.dense))...)
		}
		m.dense[a] = v
		return
	}
	if m.sparse == nil {
		m.sparse = map[bgp.ASN]T{}
	}
	m.sparse[a] = v
}

// New returns a Tracker with bins of the given width reporting to sink. It
// reads AS paths from paths, the table the view interns them into.
func New(db *geo.DB, bin time.Duration, paths *view.Paths, sink Sink) *Tracker {
	return &Tracker{db: db, paths: paths, sink: sink, bin: bin, states: map[uint64]*State{},
		vis: [2]*bart.Table[bgp.ASN]{new(bart.Table[bgp.ASN]), new(bart.Table[bgp.ASN])}}
}

// BinWidth returns the bin width.
func (t *Tracker) BinWidth() time.Duration { return t.bin }

// State returns the live state of e and f, or nil if never seen.
func (t *Tracker) State(e Entity, f bgp.Family) *State { return t.states[key{e, f}.pack()] }

// Each calls fn for every entity and family with state, in first-seen order.
func (t *Tracker) Each(fn func(e Entity, f bgp.Family, s *State)) {
	for _, k := range t.order {
		fn(k.e, k.f, t.states[k.pack()])
	}
}

func (t *Tracker) state(e Entity, f bgp.Family) *State {
	k := key{e, f}
	s := t.states[k.pack()]
	if s == nil {
		s = &State{idx: len(t.order), k: k, seq: -1}
		if e.Type == event.Country {
			s.origins = map[bgp.ASN]int32{}
		}
		t.states[k.pack()] = s
		t.order = append(t.order, k)
	}
	return s
}

// Advance closes every bin that ends at or before now.
func (t *Tracker) Advance(now time.Time) {
	if t.binStart.IsZero() {
		t.binStart = now.Truncate(t.bin)
		return
	}
	// The usual case, on every route event: the open bin goes on (binEnd
	// is never past the open bin's end: the bins only move on).
	if now.Before(t.binEnd) {
		return
	}
	for !now.Before(t.binStart.Add(t.bin)) {
		t.closeBin()
		if len(t.dirty) == 0 {
			// Nothing changed or is watched: the bins up to now are
			// empty, skip them at once (O(1) after a jump in time).
			if n := now.Sub(t.binStart) / t.bin; n > 0 {
				t.binStart = t.binStart.Add(n * t.bin)
				t.seq += int64(n)
			}
		}
	}
	t.binEnd = t.binStart.Add(t.bin)
}

// Flush closes the open bin (at the end of the input).
func (t *Tracker) Flush() {
	if !t.binStart.IsZero() {
		t.closeBin()
	}
}

// Watch makes e and f reported at every bin, changed or not (for series
// that are drawn).
func (t *Tracker) Watch(e Entity, f bgp.Family) {
	s := t.state(e, f)
	s.watched = true
	t.touch(s)
}

func (t *Tracker) closeBin() {
	slices.SortFunc(t.dirty, func(a, b *State) int { return a.idx - b.idx })
	next := t.dirty[:0]
	for _, s := range t.dirty {
		c := s.cur
		if s.seq != t.seq {
			c = binAcc{MinSpace: s.Space} // no change during the bin
		}
		b := Bin{Start: t.binStart, Prefixes: s.Prefixes, Space: s.Space, Origins: int32(len(s.origins)),
			MinSpace: c.MinSpace, Announcements: c.Announcements, Withdrawals: c.Withdrawals, Losses: c.Losses}
		t.sink.BinClosed(s.k.e, s.k.f, b, s)
		s.cur = binAcc{MinSpace: s.Space}
		s.seq = t.seq + 1
		s.dirty = s.watched
		if s.watched {
			next = append(next, s)
		}
	}
	clear(t.dirty[len(next):])
	t.dirty = next
	t.binStart = t.binStart.Add(t.bin)
	t.seq++
}

// BinStart returns the start of the open bin.
func (t *Tracker) BinStart() time.Time { return t.binStart }

func (t *Tracker) touch(s *State) {
	if s.seq != t.seq {
		s.seq = t.seq
		s.cur = binAcc{MinSpace: s.Space}
	}
	if !s.dirty {
		s.dirty = true
		t.dirty = append(t.dirty, s)
	}
}

func family(p netip.Prefix) bgp.Family {
	if p.Addr().Is4() {
		return bgp.IPv4
	}
	return bgp.IPv6
}

// units returns the size of p in the family's unit (/24 or /48).
func units(p netip.Prefix) float64 {
	if p.Addr().Is4() {
		return pow2(24 - p.Bits())
	}
	return pow2(48 - p.Bits())
}

func pow2(n int) float64 {
	if n >= 0 {
		return float64(uint64(1) << uint(n))
	}
	return 1 / float64(uint64(1)<<uint(-n))
}

// majorityCountry returns the country holding most of p (zero if none).
func (t *Tracker) majorityCountry(p netip.Prefix) geo.Country {
	t.shares = t.db.PrefixCountries(p, t.shares[:0])
	var best geo.Country
	var bestN uint64
	for _, s := range t.shares {
		if !s.Country.IsZero() && s.Count > bestN {
			best, bestN = s.Country, s.Count
		}
	}
	return best
}

func (t *Tracker) asCountry(a bgp.ASN) geo.Country {
	if c := t.asCC.get(a); c.ok {
		return c.cc
	}
	info, _ := t.db.ASN(uint32(a))
	t.asCC.set(a, ccEntry{info.Country, true})
	return info.Country
}

// ASCountry returns the registered country of AS a (zero if unknown).
func (t *Tracker) ASCountry(a bgp.ASN) geo.Country { return t.asCountry(a) }

// countryUpstream returns the first AS on the path, from the origin
// towards the vantage point, that is not registered in cc.
func (t *Tracker) countryUpstream(path view.PathID, cc geo.Country) bgp.ASN {
	var up bgp.ASN
	for n := path; n != 0; {
		var a bgp.ASN
		a, n = t.paths.Step(n)
		if a != 0 && t.asCountry(a) != cc {
			up = a
			break
		}
	}
	return up
}

func (t *Tracker) upstream(now time.Time, e Entity, f bgp.Family, s *State, a bgp.ASN, d int32) {
	if a == 0 {
		return
	}
	n := s.upstreams.get(a) + d
	s.routes += d
	if e.Type == event.OriginAS {
		t.noteTransit(a, f, d)
	}
	switch {
	case n <= 0:
		s.upstreams.del(a)
		t.sink.Upstream(now, e, f, a, false)
	case n == d:
		s.upstreams.set(a, n)
		t.sink.Upstream(now, e, f, a, true)
	default:
		s.upstreams.set(a, n)
	}
}

// noCountry marks, in Tracker.prefixState, a prefix that no country holds.
var noCountry = &State{}

// countryState returns the state of the country holding most of prefix id
// (nil if none), cached per prefix.
func (t *Tracker) countryState(id view.PrefixID, p netip.Prefix) (*State, geo.Country) {
	if int(id) >= len(t.prefixState) {
		t.prefixState = growTo(t.prefixState, int(id)+1+len(t.prefixState)/4)
	}
	s := t.prefixState[id]
	if s == nil {
		s = noCountry
		if cc := t.majorityCountry(p); !cc.IsZero() {
			s = t.state(CountryEntity(cc), family(p))
		}
		t.prefixState[id] = s
	}
	if s == noCountry {
		return nil, geo.Country{}
	}
	return s, s.k.e.Country()
}

// path returns the cached facts of a path: its origin AS's state in family
// f (nil without an origin) and the origin's neighbour.
func (t *Tracker) path(id view.PathID, f bgp.Family) (*State, bgp.ASN) {
	return t.originState(t.paths.Origin(id), f), t.paths.Neighbour(id)
}

// originState returns the state of origin AS o for family f (nil if o is
// 0), made on first use.
func (t *Tracker) originState(o bgp.ASN, f bgp.Family) *State {
	if o == 0 {
		return nil
	}
	i := t.originIdx.get(o)
	if i == 0 {
		t.origins = append(t.origins, originStates{})
		i = uint32(len(t.origins))
		t.originIdx.set(o, i)
	}
	os := &t.origins[i-1]
	if os[f] == nil {
		os[f] = t.state(ASEntity(o), f)
	}
	return os[f]
}

// Route implements view.Observer.
func (t *Tracker) Route(now time.Time, id view.PrefixID, p netip.Prefix, peer int, old, new view.PathID) {
	t.route(now, id, p, old, new, true)
}

// Membership implements view.Observer: the route joins or leaves the
// upstream counts, without counting as an announcement or a withdrawal.
func (t *Tracker) Membership(now time.Time, id view.PrefixID, p netip.Prefix, peer int, path view.PathID, joined bool) {
	if joined {
		t.route(now, id, p, 0, path, false)
	} else {
		t.route(now, id, p, path, 0, false)
	}
}

// route moves one full-feed route from path old to path new; update says
// whether it was a route event (counted as churn) or a change of the
// full-feed set.
func (t *Tracker) route(now time.Time, id view.PrefixID, p netip.Prefix, old, new view.PathID, update bool) {
	f := family(p)
	cs, cc := t.countryState(id, p)
	if cs != nil {
		t.touch(cs)
	}
	t.routeCC = cc
	path := new
	if path == 0 {
		path = old
	}
	as, _ := t.path(path, f)
	if as != nil {
		t.touch(as)
	}
	switch {
	case !update:
	case new != 0 && old != 0:
		if old != new {
			t.notePathChange(now, id)
		}
		if cs != nil {
			cs.cur.Announcements++
		}
		if as != nil {
			as.cur.Announcements++
		}
	case new != 0:
		if old == 0 && int(id) < len(t.firstW) && int(id) < len(t.visible) && t.visible[id] {
			// Back with this peer while visible: a fall, if one comes, starts anew.
			t.firstW[id], t.lastW[id], t.wPeers[id], t.hunt[id] = 0, 0, 0, 0
		}
		if cs != nil {
			cs.cur.Announcements++
		}
		if as != nil {
			as.cur.Announcements++
		}
	default:
		if cs != nil {
			cs.cur.Withdrawals++
		}
		if as != nil {
			as.cur.Withdrawals++
		}
		t.noteWithdrawal(now, id)
	}
	// Move the route's count from the old path's upstreams to the new one's
	// (nothing to do when they are the same: the usual path change).
	var cOld, cNew, nOld, nNew bgp.ASN
	var sOld, sNew *State
	if old != 0 {
		if cs != nil {
			cOld = t.countryUpstream(old, cc)
		}
		sOld, nOld = t.path(old, f)
	}
	if new != 0 {
		if cs != nil {
			cNew = t.countryUpstream(new, cc)
		}
		sNew, nNew = t.path(new, f)
	}
	if cs != nil && (cOld != cNew || old == 0 || new == 0) {
		if old != 0 {
			t.upstream(now, cs.k.e, f, cs, cOld, -1)
		}
		if new != 0 {
			t.upstream(now, cs.k.e, f, cs, cNew, +1)
		}
	}
	if sOld != sNew || nOld != nNew || old == 0 || new == 0 {
		if sOld != nil {
			t.touch(sOld)
			t.upstream(now, sOld.k.e, f, sOld, nOld, -1)
		}
		if sNew != nil {
			t.upstream(now, sNew.k.e, f, sNew, nNew, +1)
		}
	}
}

func (t *Tracker) noteWithdrawal(now time.Time, id view.PrefixID) {
	t.growW(id)
	if t.firstW[id] == 0 {
		t.firstW[id] = now.UnixNano()
		// The run of path changes just before the first withdrawal is
		// part of the fall's path hunting.
		if t.firstW[id]-t.chgAt[id] <= int64(huntWindow) {
			t.hunt[id] = t.chgN[id]
		}
	}
	t.lastW[id] = now.UnixNano()
	t.wPeers[id]++
}

// Withdrawals returns, for prefix id, the first and last withdrawal by a
// full-feed peer since the prefix was last visible, and how many there were.
func (t *Tracker) Withdrawals(id view.PrefixID) (first, last time.Time, n int) {
	if int(id) >= len(t.firstW) || t.firstW[id] == 0 {
		return time.Time{}, time.Time{}, 0
	}
	return time.Unix(0, t.firstW[id]).UTC(), time.Unix(0, t.lastW[id]).UTC(), int(t.wPeers[id])
}

// Visibility implements view.Observer.
func (t *Tracker) Visibility(now time.Time, id view.PrefixID, p netip.Prefix, origin bgp.ASN, visible bool) {
	for int(id) >= len(t.visible) {
		t.visible = append(t.visible, false)
	}
	t.visible[id] = visible
	if visible {
		if int(id) >= len(t.visSince) {
			t.visSince = growTo(t.visSince, int(id)+1+len(t.visSince)/4)
		}
		t.visSince[id] = now.UnixNano()
	}
	f := family(p)
	tbl := t.vis[f]
	if visible {
		if int(id) < len(t.firstW) {
			t.firstW[id], t.lastW[id], t.wPeers[id], t.hunt[id] = 0, 0, 0, 0
		}
	} else {
		tbl.Delete(p)
	}
	sign := 1.0
	if !visible {
		sign = -1
	}
	// Country entities: the union of all visible prefixes, split by geography.
	t.shares = t.db.PrefixCountries(p, t.shares[:0])
	if !t.covered(tbl, p, 0, false) {
		delta := map[geo.Country]float64{}
		u := units(p)
		for _, s := range t.shares {
			delta[s.Country] += s.Frac * u
		}
		t.eachMaximalSubnet(tbl, p, 0, false, func(q netip.Prefix) {
			t.subShare = t.db.PrefixCountries(q, t.subShare[:0])
			uq := units(q)
			for _, s := range t.subShare {
				delta[s.Country] -= s.Frac * uq
			}
		})
		for _, s := range t.shares {
			if s.Country.IsZero() {
				continue
			}
			if d, ok := delta[s.Country]; ok {
				cs := t.state(CountryEntity(s.Country), f)
				t.touch(cs)
				cs.Space += sign * d
				delete(delta, s.Country)
			}
		}
	}
	for _, s := range t.shares {
		if s.Country.IsZero() {
			continue
		}
		e := CountryEntity(s.Country)
		cs := t.state(e, f)
		t.touch(cs)
		if visible {
			cs.Prefixes++
			if origin != 0 {
				cs.origins[origin]++
			}
		} else {
			cs.Prefixes--
			cs.cur.Losses++
			if origin != 0 {
				if cs.origins[origin]--; cs.origins[origin] <= 0 {
					delete(cs.origins, origin)
				}
			}
		}
		if cs.Space < 1e-9 {
			cs.Space = 0
		}
		cs.cur.MinSpace = min(cs.cur.MinSpace, cs.Space)
		t.sink.PrefixVisibility(now, e, f, id, visible)
		t.sink.Changed(now, e, f, cs)
	}
	// The origin AS: the union of its own visible prefixes.
	if origin != 0 {
		e := ASEntity(origin)
		as := t.state(e, f)
		t.touch(as)
		if !t.covered(tbl, p, origin, true) {
			d := units(p)
			t.eachMaximalSubnet(tbl, p, origin, true, func(q netip.Prefix) { d -= units(q) })
			as.Space += sign * d
			if as.Space < 1e-9 {
				as.Space = 0
			}
		}
		if visible {
			as.Prefixes++
		} else {
			as.Prefixes--
			as.cur.Losses++
		}
		as.cur.MinSpace = min(as.cur.MinSpace, as.Space)
		t.sink.PrefixVisibility(now, e, f, id, visible)
		t.sink.Changed(now, e, f, as)
	}
	if visible {
		tbl.Insert(p, origin)
	}
}

// covered reports whether a visible strict supernet of p exists (of the
// same origin when byOrigin).
func (t *Tracker) covered(tbl *bart.Table[bgp.ASN], p netip.Prefix, origin bgp.ASN, byOrigin bool) bool {
	for q, o := range tbl.Supernets(p) {
		if q.Bits() < p.Bits() && (!byOrigin || o == origin) {
			return true
		}
	}
	return false
}

// eachMaximalSubnet calls fn for each visible strict subnet of p not inside
// another visible subnet of p (of the same origin when byOrigin).
func (t *Tracker) eachMaximalSubnet(tbl *bart.Table[bgp.ASN], p netip.Prefix, origin bgp.ASN, byOrigin bool, fn func(netip.Prefix)) {
	var last netip.Prefix
	for q, o := range tbl.Subnets(p) {
		if q == p || (byOrigin && o != origin) {
			continue
		}
		if last.IsValid() && last.Bits() <= q.Bits() && last.Contains(q.Addr()) {
			continue
		}
		last = q
		fn(q)
	}
}

// Peer implements view.Observer: peer events are passed to the sink (the
// detector's business).
func (t *Tracker) Peer(ev view.PeerEvent) { t.sink.Peer(ev) }

// upCounts counts routes by upstream AS: most entities have one to three
// upstreams, kept inline; more go to a map. A map per entity cost about
// 130 bytes, for tens of thousands of origin ASes.
type upCounts struct {
	small [3]upCount1 // as == 0: free
	more  map[bgp.ASN]int32
}

type upCount1 struct {
	as bgp.ASN
	n  int32
}

func (u *upCounts) get(a bgp.ASN) int32 {
	for _, e := range u.small {
		if e.as == a {
			return e.n
		}
	}
	return u.more[a]
}

// set sets a's count (a is not 0).
func (u *upCounts) set(a bgp.ASN, n int32) {
	free := -1
	for i, e := range u.small {
		if e.as == a {
			u.small[i].n = n
			return
		}
		if e.as == 0 && free < 0 {
			free = i
		}
	}
	if _, ok := u.more[a]; ok || free < 0 {
		if u.more == nil {
			u.more = map[bgp.ASN]int32{}
		}
		u.more[a] = n
		return
	}
	u.small[free] = upCount1{a, n}
}

func (u *upCounts) del(a bgp.ASN) {
	for i, e := range u.small {
		if e.as == a {
			u.small[i] = upCount1{}
			return
		}
	}
	delete(u.more, a)
}

func (u *upCounts) each(fn func(bgp.ASN, int32)) {
	for _, e := range u.small {
		if e.as != 0 {
			fn(e.as, e.n)
		}
	}
	for a, n := range u.more {
		fn(a, n)
	}
}
