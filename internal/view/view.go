// Package view maintains blackout's routing view: for every vantage point
// (collector, peer address, peer AS) its table of prefix -> AS path, kept
// current by route events; the set of full-feed peers; and, per prefix, how
// many full-feed peers see it and whether it is visible (seen by more than a
// configurable share of them, IODA's rule).
//
// A vantage point's own trouble is kept apart from the world's: a session
// that goes down, or a peer that withdraws its whole table within seconds
// while the others keep the routes, makes that peer's routes unknown (it
// leaves the full-feed set) instead of withdrawn, and is reported as a
// PeerEvent.
//
// The view is single-threaded: one pipeline goroutine calls Apply.
package view

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/offheap"
)

// PrefixID names a prefix in the view; ids are dense, from 0.
type PrefixID uint32

// Config holds the view's thresholds.
type Config struct {
	// VisibleShare: a prefix is visible when more than this share of the
	// full-feed peers of its family see it (IODA: 0.5).
	VisibleShare float64
	// FullFeedV4 and FullFeedV6: a peer with at least this many prefixes
	// of the family is full-feed (IODA: 400,000 and 10,000) ...
	FullFeedV4, FullFeedV6 int
	// FullFeedRelative: ... or with at least this share of the largest
	// table of the family seen from any peer, so that small inputs (a
	// partial dump, a test world) work too.
	FullFeedRelative float64
	// FlushWindow, FlushShare and FlushMin: a peer that withdraws at least
	// max(FlushMin, FlushShare x its table) prefixes within FlushWindow,
	// while the other peers keep them, is flushing its table: a fact about
	// the peer, not the world.
	FlushWindow time.Duration
	FlushShare  float64
	FlushMin    int
	// RefreshEvery is how often (in data time) the full-feed set is
	// re-evaluated; it is also re-evaluated at the end of each RIB dump and
	// whenever a peer goes down.
	RefreshEvery time.Duration
	// Paths is the table the view interns AS paths into (nil: a table of
	// its own). Give the same table to the signal tracker.
	Paths *Paths
	// MaxPathLen is the longest AS path accepted into the view, in ASes
	// after prepending is removed (sets and confederations dropped); 0 is
	// no limit. A longer path is an input no real route needs (the
	// longest seen in practice are a few tens) and one that costs memory:
	// its announcement is treated as a withdrawal of the prefix by that
	// peer (RFC 7606's treat-as-withdraw) and counted (LongPaths).
	MaxPathLen int
	// MaxPrefixes caps each peer's table, by family (0: no cap). A peer
	// that goes over it is reported (PeerMaxPrefix), its routes are
	// dropped and its further routes ignored until its session changes
	// state; OnMaxPrefix, if set, is told (a BGP collector closes the
	// session). It must not block.
	MaxPrefixes [2]int
	OnMaxPrefix func(peer bgp.Peer, f bgp.Family, limit int)
}

// DefaultMaxPathLen is Config.MaxPathLen's default.
const DefaultMaxPathLen = 64

// DefaultConfig returns the defaults described on Config's fields.
func DefaultConfig() Config {
	return Config{
		VisibleShare: 0.5, FullFeedV4: 400_000, FullFeedV6: 10_000, FullFeedRelative: 0.8,
		FlushWindow: 60 * time.Second, FlushShare: 0.5, FlushMin: 10, RefreshEvery: time.Minute,
		MaxPathLen: DefaultMaxPathLen,
	}
}

// Observer receives the view's changes. All calls come from Apply (or
// Refresh), in data-time order.
type Observer interface {
	// Visibility reports that prefix id became visible or invisible.
	// origin is the prefix's origin AS (0 if unknown).
	Visibility(t time.Time, id PrefixID, p netip.Prefix, origin bgp.ASN, visible bool)
	// Route reports that full-feed peer peer's route to id changed from
	// path old to path new (0: none): an announcement or a withdrawal.
	Route(t time.Time, id PrefixID, p netip.Prefix, peer int, old, new PathID)
	// Membership reports, for every route of a peer that joins (joined)
	// or leaves the full-feed set, that the route now counts or no longer
	// counts. It is not a route change: nothing was announced or withdrawn.
	Membership(t time.Time, id PrefixID, p netip.Prefix, peer int, path PathID, joined bool)
	// Peer reports an event of one vantage point.
	Peer(ev PeerEvent)
}

// PeerEventKind says what happened to a vantage point.
type PeerEventKind uint8

// Peer event kinds.
const (
	PeerDown      PeerEventKind = iota + 1 // the BGP session left Established
	PeerUp                                 // the session is Established again, or a flushed peer re-announces
	PeerFlush                              // the peer withdrew most of its table within seconds
	PeerFullFeed                           // the peer joined the full-feed set
	PeerPartial                            // the peer left the full-feed set (its table shrank)
	PeerReady                              // a live peer's table of a family is complete (End-of-RIB or quiet)
	PeerMaxPrefix                          // the peer went over its maximum prefix count; its routes are dropped
)

// String returns the kind's name.
func (k PeerEventKind) String() string {
	switch k {
	case PeerDown:
		return "session_down"
	case PeerUp:
		return "session_up"
	case PeerFlush:
		return "table_flush"
	case PeerFullFeed:
		return "full_feed"
	case PeerPartial:
		return "partial_feed"
	case PeerReady:
		return "ready"
	case PeerMaxPrefix:
		return "max_prefix"
	}
	return "peer_event"
}

// PeerEvent is an event of one vantage point.
type PeerEvent struct {
	Time     time.Time
	Start    time.Time // for PeerFlush: the first withdrawal of the burst
	Kind     PeerEventKind
	Peer     bgp.Peer
	Index    int        // the peer's index in the view
	Routes   int        // routes the peer had (down, flush, max prefix) or has (up, full feed, ready)
	Family   bgp.Family // for PeerReady and PeerMaxPrefix
	OldState bgp.State  // for PeerDown and PeerUp
	NewState bgp.State
}

type apRoute struct {
	pathID uint32
	path   PathID
}

type peerState struct {
	peer bgp.Peer
	// The peer's routes: path by PrefixID, dense (table) once the peer
	// holds a fair share of the view's prefixes, in a map (sparse) while
	// it holds few, so that a thousand small peers do not each pay 4
	// bytes for every prefix of the view. Each route holds a reference to
	// its path.
	table   [][]PathID // chunks of tableChunk, nil where empty, in mem
	mem     *offheap.Arena
	shard   uint8 // the path shard its paths are in
	sparse  map[PrefixID]PathID
	n4, n6  int  // routes in table
	up      bool // session believed established
	flushed bool // withdrew its table in a burst; out until refilled
	full4   bool
	full6   bool
	// ADD-PATH routes by prefix: every path id the peer announced, so that
	// withdrawing one keeps the route of another.
	addPath map[PrefixID][]apRoute
	// Flush detection window.
	winStart time.Time
	winTable int
	winSolo  int
	winIDs   []PrefixID // the window's withdrawals of prefixes then visible
	refill   bool       // re-announcing after a flush
	hint     pathHint   // the path of the peer's last announcement
	// Readiness (live sources that signal it, bgp.Event.SignalsReady):
	// the peer is learning its table of a family until its EndOfRIB, and
	// is no full-feed peer of that family meanwhile.
	signals bool
	loading [2]bool
	limited bool // over MaxPrefixes: its routes are ignored
}

// View is the routing view. The zero value is not usable; use New.
type View struct {
	cfg      Config
	obs      Observer
	prefixes prefixTable
	seen     []uint16 // full-feed peers with a route, by PrefixID
	visible  []bool
	origin   []bgp.ASN
	lastPath []PathID // the last path withdrawn by a full-feed peer (holding a reference)
	paths    *pathTable
	// mem holds the peers' dense tables, outside the Go heap (package
	// offheap: RSS follows the routes held), released when the view is
	// collected.
	mem    *offheap.Arena
	peers  []*peerState
	byPeer map[bgp.Peer]int
	// The path shard of each peer AS, and the peers of each shard.
	asShard    map[bgp.ASN]uint8
	shardPeers [pathShards]int
	nFull      [2]int // full-feed peers for IPv4, IPv6
	now        time.Time
	nextRef    time.Time
	inRIB      bool
	lastRIB    [2]time.Time // the time of the latest RIB entry of the family
	first      [2]time.Time // the first route event of the family
	lastPeer   int
	lastKey    bgp.Peer
	long       int64 // announcements dropped for their path's length
	pending    pendingQueue
	// The last prefix looked up (ids never change).
	lastPfx   netip.Prefix
	lastPfxID PrefixID
	lastPfxOK bool
	// peerCache holds recent peers by a hash of their address and AS.
	peerCache [1 << peerCacheBits]peerCacheEntry
	nSignals  int // peers that ever signalled readiness
}

// New returns an empty view reporting to obs (which may be nil).
func New(cfg Config, obs Observer) *View {
	if obs == nil {
		obs = nopObserver{}
	}
	if cfg.Paths == nil {
		cfg.Paths = NewPaths()
	}
	v := &View{cfg: cfg, obs: obs, paths: cfg.Paths.t, byPeer: map[bgp.Peer]int{}, lastPeer: -1, mem: &offheap.Arena{}}
	v.prefixes = newPrefixTable(v.mem)
	v.paths.settle = v.settle
	return v
}

type nopObserver struct{}

func (nopObserver) Visibility(time.Time, PrefixID, netip.Prefix, bgp.ASN, bool)     {}
func (nopObserver) Route(time.Time, PrefixID, netip.Prefix, int, PathID, PathID)    {}
func (nopObserver) Peer(PeerEvent)                                                  {}
func (nopObserver) Membership(time.Time, PrefixID, netip.Prefix, int, PathID, bool) {}

func fam(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 0
	}
	return 1
}

func (ps *peerState) isFull(f int) bool {
	if f == 0 {
		return ps.full4
	}
	return ps.full6
}

// Apply applies one route event. Events must come in data-time order
// (small inversions are tolerated; time never goes backwards inside the view).
func (v *View) Apply(ev *bgp.Event) {
	if ev.Time.After(v.now) {
		v.now = ev.Time
	}
	t := v.now
	if v.inRIB && !ev.RIB {
		v.inRIB = false
		v.Refresh()
	} else if !v.nextRef.IsZero() && !t.Before(v.nextRef) {
		v.Refresh()
	}
	if v.nextRef.IsZero() {
		v.nextRef = t.Add(v.cfg.RefreshEvery)
	}
	if ev.Kind == bgp.EndOfRIB {
		v.endOfRIB(t, ev)
		return
	}
	if ev.Prefix.IsValid() {
		f := fam(ev.Prefix)
		if v.first[f].IsZero() {
			v.first[f] = t
		}
		if ev.RIB {
			v.inRIB = true
			v.lastRIB[f] = t
		}
	}
	pi := v.peerIndex(ev.Peer)
	ps := v.peers[pi]
	if ev.Kind == bgp.Announce && ev.Prefix.IsValid() && v.deferrable(ps, ev, fam(ev.Prefix)) && v.queue(ps, ev) {
		return
	}
	v.settle()
	switch ev.Kind {
	case bgp.PeerState:
		v.peerState(t, pi, ps, ev)
	case bgp.Announce:
		if !ps.up && !ev.RIB {
			// Routes from a peer whose session we saw go down mean it is back.
			ps.up = true
		}
		v.announce(t, pi, ps, ev)
	case bgp.Withdraw:
		v.withdraw(t, pi, ps, ev)
	}
}

func (v *View) peerIndex(p bgp.Peer) int {
	if v.lastPeer >= 0 && samePeer(v.lastKey, p) {
		return v.lastPeer
	}
	// A RIB entry names every peer in turn: a small cache by address and
	// AS before the map.
	a := p.Addr.As16()
	h := (binary.LittleEndian.Uint32(a[12:]) ^ uint32(p.AS)*0x9e3779b1) * 0x85ebca6b >> (32 - peerCacheBits)
	if c := &v.peerCache[h]; c.index > 0 && samePeer(c.peer, p) {
		v.lastPeer, v.lastKey = c.index-1, p
		return c.index - 1
	}
	i, ok := v.byPeer[p]
	if !ok {
		i = len(v.peers)
		v.peers = append(v.peers, &peerState{peer: p, up: true, mem: v.mem, shard: v.shardOf(p)})
		v.byPeer[p] = i
	}
	v.peerCache[h] = peerCacheEntry{p, i + 1}
	v.lastPeer, v.lastKey = i, p
	return i
}

const peerCacheBits = 10

// samePeer is a == b, comparing the AS and the address before the
// collector's name: in a RIB dump every entry names another peer, and two
// numbers tell them apart without the string comparison's call.
//
// The conversion below stops the build if bgp.Peer gains a field that
// samePeer would not compare.
func samePeer(a, b bgp.Peer) bool {
	return a.AS == b.AS && a.Addr == b.Addr && a.Collector == b.Collector
}

var _ = struct {
	Collector string
	Addr      netip.Addr
	AS        bgp.ASN
}(bgp.Peer{})

// shardOf returns the path shard of new peer p: its AS's, so that the
// peers of one network (at several collectors, say), whose paths are
// mostly the same, share their trie; a new AS goes to the shard with the
// fewest peers, so that the shards (and the cores) get about the same
// share of the work. It depends only on the order peers first appear in,
// so a replay gives the same shards every time.
func (v *View) shardOf(p bgp.Peer) uint8 {
	if s, ok := v.asShard[p.AS]; ok {
		v.shardPeers[s]++
		return s
	}
	var s uint8
	for i := range v.shardPeers {
		if v.shardPeers[i] < v.shardPeers[s] {
			s = uint8(i)
		}
	}
	if v.asShard == nil {
		v.asShard = map[bgp.ASN]uint8{}
	}
	v.asShard[p.AS] = s
	v.shardPeers[s]++
	return s
}

type peerCacheEntry struct {
	peer  bgp.Peer
	index int // the peer's index + 1 (0: empty)
}

func (v *View) prefixID(p netip.Prefix, add bool) (PrefixID, bool) {
	// A RIB entry names one prefix for every peer in turn.
	if v.lastPfxOK && p == v.lastPfx {
		return v.lastPfxID, true
	}
	id, ok := v.prefixIndex(p, add)
	if ok {
		v.lastPfx, v.lastPfxID, v.lastPfxOK = p, id, true
	}
	return id, ok
}

func (v *View) prefixIndex(p netip.Prefix, add bool) (PrefixID, bool) {
	if id, ok := v.prefixes.find(p); ok {
		return id, true
	}
	if !add {
		return 0, false
	}
	id := v.prefixes.add(p)
	v.seen = append(v.seen, 0)
	v.visible = append(v.visible, false)
	v.origin = append(v.origin, 0)
	v.lastPath = append(v.lastPath, 0)
	return id, true
}

func (ps *peerState) get(id PrefixID) PathID {
	if ps.sparse != nil {
		return ps.sparse[id]
	}
	if c := int(id / tableChunk); c < len(ps.table) && ps.table[c] != nil {
		return ps.table[c][id%tableChunk]
	}
	return 0
}

// Dense tables are in chunks of tableChunk routes, allocated when a route
// falls in them: growing copies nothing (a hundred peers' tables growing
// by append at once would leave their old arrays as garbage together) and
// leaves at most a chunk unused.
const tableChunk = 1 << 12

// Sparse tables: a map entry costs about 5 times a dense slot, so a peer
// goes dense once it holds a fifth of the view's prefixes (and at least
// sparseMin routes).
const sparseMin = 64

func (ps *peerState) set(id PrefixID, path PathID, nPrefixes int) {
	if ps.table == nil {
		if path == 0 {
			delete(ps.sparse, id)
			return
		}
		if ps.sparse == nil {
			ps.sparse = map[PrefixID]PathID{}
		}
		ps.sparse[id] = path
		if n := len(ps.sparse); n < sparseMin || n*5 < nPrefixes {
			return
		}
		sp := ps.sparse
		ps.sparse = nil
		ps.table = make([][]PathID, 0, nPrefixes/tableChunk+1)
		for i, p := range sp {
			ps.setDense(i, p)
		}
		return
	}
	ps.setDense(id, path)
}

func (ps *peerState) setDense(id PrefixID, path PathID) {
	c := int(id / tableChunk)
	if c >= len(ps.table) {
		if path == 0 {
			return
		}
		ps.table = append(ps.table, make([][]PathID, c+1-len(ps.table))...)
	}
	if ps.table[c] == nil {
		if path == 0 {
			return
		}
		ps.table[c] = offheap.Make[PathID](ps.mem, tableChunk)
	}
	ps.table[c][id%tableChunk] = path
}

// each calls fn for every route of the peer, in PrefixID order.
func (ps *peerState) each(fn func(id PrefixID, path PathID)) {
	if ps.sparse != nil {
		ids := make([]PrefixID, 0, len(ps.sparse))
		for id := range ps.sparse {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			fn(id, ps.sparse[id])
		}
		return
	}
	for c, chunk := range ps.table {
		for i, path := range chunk {
			if path != 0 {
				fn(PrefixID(c*tableChunk+i), path)
			}
		}
	}
}

// forget drops every route of a peer (not withdrawals: the routes are
// unknown now), releasing their paths. The peer must have left the
// full-feed set.
func (v *View) forget(ps *peerState) {
	ps.each(func(_ PrefixID, path PathID) { v.paths.release(path) })
	for _, rs := range ps.addPath {
		for _, r := range rs {
			v.paths.release(r.path)
		}
	}
	for _, c := range ps.table {
		offheap.Free(ps.mem, c)
	}
	ps.table, ps.sparse, ps.addPath = nil, nil, nil
	ps.n4, ps.n6 = 0, 0
}

// LongPaths returns the number of announcements dropped (treated as
// withdrawals) because their AS path was longer than Config.MaxPathLen.
func (v *View) LongPaths() int64 { return v.long }

func (v *View) announce(t time.Time, pi int, ps *peerState, ev *bgp.Event) {
	if ps.limited {
		return
	}
	path, ok := v.paths.intern(int(ps.shard), ev.Attrs.Path, &ps.hint, v.cfg.MaxPathLen)
	if !ok {
		v.long++
		v.withdraw(t, pi, ps, ev)
		return
	}
	id, _ := v.prefixID(ev.Prefix, true)
	old := ps.get(id)
	if ev.PathID != 0 {
		if ps.addPath == nil {
			ps.addPath = map[PrefixID][]apRoute{}
		}
		rs := ps.addPath[id]
		i := slices.IndexFunc(rs, func(r apRoute) bool { return r.pathID == ev.PathID })
		v.paths.retain(path)
		if i < 0 {
			rs = append(rs, apRoute{ev.PathID, path})
		} else {
			v.paths.release(rs[i].path)
			rs[i].path = path
		}
		ps.addPath[id] = rs
	}
	if old == path {
		v.paths.release(path) // the table holds it already
		return
	}
	ps.set(id, path, v.prefixes.len())
	v.announced(t, pi, ps, ev, id, old, path)
	v.paths.release(old) // after the observer read it
}

// announced tells what an announcement changed, once ps holds path for id.
func (v *View) announced(t time.Time, pi int, ps *peerState, ev *bgp.Event, id PrefixID, old, path PathID) {
	f := fam(ev.Prefix)
	if old == 0 {
		if f == 0 {
			ps.n4++
		} else {
			ps.n6++
		}
		if lim := v.cfg.MaxPrefixes[f]; lim > 0 && ps.size(f) > lim {
			v.overLimit(t, pi, ps, f, lim)
			return
		}
	}
	if ps.flushed && !ps.refill {
		ps.refill = true
		v.obs.Peer(PeerEvent{Time: t, Kind: PeerUp, Peer: ps.peer, Index: pi, Routes: ps.n4 + ps.n6})
	}
	if !ps.isFull(f) || ps.flushed {
		return
	}
	v.obs.Route(t, id, ev.Prefix, pi, old, path)
	if o := v.paths.origin(path); o != 0 && o != v.origin[id] {
		if v.visible[id] {
			v.obs.Visibility(t, id, ev.Prefix, v.origin[id], false)
			v.origin[id] = o
			v.obs.Visibility(t, id, ev.Prefix, o, true)
		} else {
			v.origin[id] = o
		}
	}
	if old == 0 {
		v.seen[id]++
		v.check(t, id)
	}
}

func (v *View) withdraw(t time.Time, pi int, ps *peerState, ev *bgp.Event) {
	id, ok := v.prefixID(ev.Prefix, false)
	if !ok {
		return
	}
	old := ps.get(id)
	if old == 0 {
		return
	}
	if ev.PathID != 0 && ps.addPath != nil {
		rs := ps.addPath[id]
		if i := slices.IndexFunc(rs, func(r apRoute) bool { return r.pathID == ev.PathID }); i >= 0 {
			gone := rs[i].path
			rs = slices.Delete(rs, i, i+1)
			// The table holds its own reference to old: releasing the
			// entry's frees nothing the observer still reads.
			v.paths.release(gone)
			if len(rs) > 0 {
				// Other paths remain: the route is the latest of them.
				ps.addPath[id] = rs
				if nw := rs[len(rs)-1].path; nw != old {
					v.paths.retain(nw)
					ps.set(id, nw, v.prefixes.len())
					if ps.isFull(fam(ev.Prefix)) && !ps.flushed {
						v.obs.Route(t, id, ev.Prefix, pi, old, nw)
					}
					v.paths.release(old)
				}
				return
			}
			delete(ps.addPath, id)
		}
	}
	ps.set(id, 0, v.prefixes.len())
	f := fam(ev.Prefix)
	if f == 0 {
		ps.n4--
	} else {
		ps.n6--
	}
	if !ps.isFull(f) || ps.flushed {
		v.paths.release(old)
		return
	}
	// The table's reference to old passes to lastPath.
	v.paths.release(v.lastPath[id])
	v.lastPath[id] = old
	v.obs.Route(t, id, ev.Prefix, pi, old, 0)
	v.seen[id]--
	v.check(t, id)
	// Flush detection: count withdrawals the rest of the world does not share.
	if t.Sub(ps.winStart) > v.cfg.FlushWindow {
		ps.winStart, ps.winSolo, ps.winTable = t, 0, ps.n4+ps.n6+1
		ps.winIDs = ps.winIDs[:0]
	}
	if v.keptByOthers(id, f) {
		ps.winSolo++
		ps.winIDs = append(ps.winIDs, id)
		need := max(v.cfg.FlushMin, int(v.cfg.FlushShare*float64(ps.winTable)))
		if ps.winSolo >= need {
			// The others must still have them: a peer that was merely the
			// first to withdraw what the whole world withdrew is not
			// flushing. Keep only the withdrawals the others still have.
			keep := ps.winIDs[:0]
			for _, w := range ps.winIDs {
				if v.keptByOthers(w, f) {
					keep = append(keep, w)
				}
			}
			ps.winIDs = keep
			ps.winSolo = len(keep)
		}
		if ps.winSolo >= need {
			ps.winIDs = ps.winIDs[:0]
			v.obs.Peer(PeerEvent{Time: t, Start: ps.winStart, Kind: PeerFlush, Peer: ps.peer, Index: pi, Routes: ps.winTable})
			ps.flushed, ps.refill = true, false
			v.leave(t, pi, ps)
			v.reevaluate(t)
		}
	}
}

// keptByOthers reports whether the other full-feed peers of family f (all
// but the one that just withdrew id) still see id as visible: more than
// VisibleShare of them have it. With few vantage points this differs from
// the prefix's own visibility, which counts the withdrawing peer too.
func (v *View) keptByOthers(id PrefixID, f int) bool {
	others := v.nFull[f] - 1
	return others > 0 && float64(v.seen[id]) > v.cfg.VisibleShare*float64(others)
}

// check re-evaluates the visibility of one prefix.
func (v *View) check(t time.Time, id PrefixID) {
	p := v.prefixes.prefix(id)
	n := v.nFull[fam(p)]
	vis := n > 0 && float64(v.seen[id]) > v.cfg.VisibleShare*float64(n)
	if vis != v.visible[id] {
		v.visible[id] = vis
		v.obs.Visibility(t, id, p, v.origin[id], vis)
	}
}

// reevaluate re-checks every prefix, after the full-feed set changed.
func (v *View) reevaluate(t time.Time) {
	for id := range v.prefixes.len() {
		v.check(t, PrefixID(id))
	}
}

func (v *View) peerState(t time.Time, pi int, ps *peerState, ev *bgp.Event) {
	old, nw := ev.OldState, ev.NewState
	ps.limited = false
	ps.loading = [2]bool{}
	if nw == bgp.StateEstablished && ev.SignalsReady {
		if !ps.signals {
			v.nSignals++
		}
		ps.signals = true
		ps.loading = [2]bool{true, true}
	}
	if nw == bgp.StateEstablished {
		if !ps.up {
			ps.up = true
			v.obs.Peer(PeerEvent{Time: t, Kind: PeerUp, Peer: ps.peer, Index: pi, OldState: old, NewState: nw})
		}
		return
	}
	if !ps.up && old != bgp.StateEstablished {
		return // not news: the session was not established
	}
	routes := ps.n4 + ps.n6
	ps.up = false
	v.obs.Peer(PeerEvent{Time: t, Kind: PeerDown, Peer: ps.peer, Index: pi, Routes: routes, OldState: old, NewState: nw})
	v.leave(t, pi, ps)
	// The routes are unknown now, not withdrawn: forget them.
	v.forget(ps)
	v.reevaluate(t)
}

// overLimit handles a peer whose table of family f went over
// Config.MaxPrefixes: a peer event, its routes dropped, its further routes
// ignored until its session changes state.
func (v *View) overLimit(t time.Time, pi int, ps *peerState, f int, limit int) {
	routes := ps.n4 + ps.n6
	ps.limited = true
	v.obs.Peer(PeerEvent{Time: t, Kind: PeerMaxPrefix, Peer: ps.peer, Index: pi, Routes: routes, Family: bgp.Family(f)})
	v.leave(t, pi, ps)
	v.forget(ps)
	v.reevaluate(t)
	if v.cfg.OnMaxPrefix != nil {
		v.cfg.OnMaxPrefix(ps.peer, bgp.Family(f), limit)
	}
}

// endOfRIB handles a live peer's EndOfRIB: the peer is ready for the
// family, and the full-feed set is re-evaluated at once.
func (v *View) endOfRIB(t time.Time, ev *bgp.Event) {
	v.settle()
	f := fam(ev.Prefix)
	pi := v.peerIndex(ev.Peer)
	ps := v.peers[pi]
	if !ps.loading[f] {
		return
	}
	ps.loading[f] = false
	v.obs.Peer(PeerEvent{Time: t, Kind: PeerReady, Peer: ps.peer, Index: pi, Routes: ps.size(f), Family: bgp.Family(f)})
	v.Refresh()
}

// Readiness returns, for family f, how many peers that signal readiness
// (live BGP sessions, BMP) are up, and how many of them are ready (their
// table of f is complete). Both are 0 when no source signals readiness
// (files, archives, RIS Live).
func (v *View) Readiness(f bgp.Family) (peers, ready int) {
	if f > bgp.IPv6 || v.nSignals == 0 {
		return 0, 0 // no such source: nothing to look at on every event of a replay
	}
	for _, ps := range v.peers {
		if ps.signals && ps.up {
			peers++
			if !ps.loading[f] {
				ready++
			}
		}
	}
	return peers, ready
}

// leave takes a peer out of the full-feed set for both families.
func (v *View) leave(t time.Time, pi int, ps *peerState) {
	for f := 0; f < 2; f++ {
		if ps.isFull(f) {
			v.setFull(t, pi, ps, f, false)
		}
	}
}

// setFull moves a peer in or out of the full-feed set of family f, adding or
// removing its routes from the per-prefix counts. Visibility is re-evaluated
// by the caller.
func (v *View) setFull(t time.Time, pi int, ps *peerState, f int, full bool) {
	if f == 0 {
		ps.full4 = full
	} else {
		ps.full6 = full
	}
	if full {
		v.nFull[f]++
	} else {
		v.nFull[f]--
	}
	ps.each(func(id PrefixID, path PathID) {
		if fam(v.prefixes.prefix(id)) != f {
			return
		}
		if full {
			v.seen[id]++
			v.obs.Membership(t, id, v.prefixes.prefix(id), pi, path, true)
			if o := v.paths.origin(path); o != 0 && v.origin[id] == 0 {
				v.origin[id] = o
			}
		} else {
			v.seen[id]--
			v.obs.Membership(t, id, v.prefixes.prefix(id), pi, path, false)
		}
	})
}

// Refresh re-evaluates the full-feed set now; Apply calls it at the end of a
// RIB dump and every Config.RefreshEvery of data time.
func (v *View) Refresh() {
	v.settle()
	t := v.now
	v.nextRef = t.Add(v.cfg.RefreshEvery)
	changed := false
	for f := 0; f < 2; f++ {
		largest := 0
		for _, ps := range v.peers {
			if ps.up && !ps.flushed && !ps.loading[f] {
				largest = max(largest, ps.size(f))
			}
		}
		abs := v.cfg.FullFeedV4
		if f == 1 {
			abs = v.cfg.FullFeedV6
		}
		need := min(abs, int(v.cfg.FullFeedRelative*float64(largest)))
		need = max(need, 1)
		if v.joinAll(t, f, need) {
			changed = true
			continue
		}
		for pi, ps := range v.peers {
			if ps.flushed && ps.size(f) >= need {
				ps.flushed = false // refilled after a flush
			}
			want := ps.up && !ps.flushed && !ps.loading[f] && ps.size(f) >= need
			if want != ps.isFull(f) {
				changed = true
				v.setFull(t, pi, ps, f, want)
				kind := PeerFullFeed
				if !want {
					kind = PeerPartial
				}
				v.obs.Peer(PeerEvent{Time: t, Kind: kind, Peer: ps.peer, Index: pi, Routes: ps.size(f)})
			}
		}
	}
	if changed {
		v.reevaluate(t)
	}
}

func (ps *peerState) size(f int) int {
	if f == 0 {
		return ps.n4
	}
	return ps.n6
}

// JoinObserver is an Observer that can take the routes of several peers
// that join the full-feed set of a family in one Refresh (at the end of a
// RIB dump, every peer at once) prefix by prefix, rather than peer by peer
// through Membership: the routes of one prefix from every joining peer
// come together, which is much cheaper for an observer that keeps state
// per prefix and per origin.
type JoinObserver interface {
	Observer
	// BeginJoins asks whether the observer takes the joins of peers (view
	// indexes, in increasing order) to family f now, prefix by prefix,
	// with the same result as Membership calls peer by peer; if it says
	// no, Membership calls follow as usual.
	BeginJoins(t time.Time, f bgp.Family, peers []int) bool
	// JoinPrefix gives the routes of prefix id from the joining peers:
	// routes[k] is the route of the k-th peer of BeginJoins (a zero Path:
	// none). It is called in PrefixID order, for every prefix of the
	// family with a route from one of them; routes is reused after the
	// call.
	JoinPrefix(t time.Time, id PrefixID, p netip.Prefix, routes []JoinedRoute)
	// EndJoins ends the joins; the peers' PeerFullFeed events follow.
	EndJoins(t time.Time)
}

// JoinedRoute is a joining peer's route to a prefix: its path, and what
// Paths.Origin and Paths.Step say of it, read ahead on another goroutine
// (the trie's cache misses are most of a join's cost).
type JoinedRoute struct {
	Path   PathID
	Origin bgp.ASN
	// The first JoinSteps of Paths.Step's walk from Path (NSteps of them:
	// fewer when the walk ends), and where the walk goes on after them
	// (0: at its end).
	Steps  [JoinSteps]bgp.ASN
	NSteps uint8
	Rest   PathID
}

// Neighbour is Paths.Neighbour of r's path: the walk's second step (the
// first is the sequence's last AS).
func (r *JoinedRoute) Neighbour() bgp.ASN {
	if r.NSteps < 2 {
		return 0
	}
	return r.Steps[1]
}

// JoinSteps is the number of steps of a JoinedRoute read ahead.
const JoinSteps = 3

// joinBlock is a block of prefixes of a join, read ahead: prefix ids[i]
// has the routes routes[i*peers:(i+1)*peers], n[i] of them non-zero.
type joinBlock struct {
	ids    []PrefixID
	n      []uint16
	routes []JoinedRoute
}

// joinBlockPrefixes is the number of prefixes of a joinBlock.
const joinBlockPrefixes = 256

// readJoins reads the routes of the joining peers' tables, for every
// prefix of family f, a block at a time, into blocks taken from free and
// sent on out (closed at the end). It only reads the tables and the
// trie, which nothing changes during a join.
func (v *View) readJoins(f int, tables []*peerState, free <-chan *joinBlock, out chan<- *joinBlock) {
	defer close(out)
	np := v.prefixes.len()
	b := <-free
	for i := 0; i < np; i++ {
		id := PrefixID(i)
		if fam(v.prefixes.prefix(id)) != f {
			continue
		}
		off := len(b.routes)
		n := 0
		for _, ps := range tables {
			r := JoinedRoute{Path: ps.get(id)}
			if r.Path != 0 {
				n++
			}
			b.routes = append(b.routes, r)
		}
		if n == 0 {
			b.routes = b.routes[:off]
			continue
		}
		// Every node first, then what the nodes point to: the misses of a
		// prefix's routes overlap.
		rs := b.routes[off:]
		for k := range rs {
			if rs[k].Path != 0 {
				s, n := v.paths.split(rs[k].Path)
				prefetch(&s.nd(n).parent)
			}
		}
		for k := range rs {
			if r := &rs[k]; r.Path != 0 {
				r.Origin = v.paths.origin(r.Path)
				n := r.Path
				for r.NSteps < JoinSteps && n != 0 {
					r.Steps[r.NSteps], n = v.paths.step(n)
					r.NSteps++
				}
				r.Rest = n
			}
		}
		b.ids = append(b.ids, id)
		b.n = append(b.n, uint16(n))
		if len(b.ids) == joinBlockPrefixes {
			out <- b
			b = <-free
		}
	}
	if len(b.ids) > 0 {
		out <- b
	}
}

// joinAll moves every peer that joins the full-feed set of family f in a
// Refresh in at once, prefix by prefix, when at least two do, none
// leaves, and the observer takes them (JoinObserver); it reports whether
// it did. The result is Refresh's peer-by-peer one: the same counts, the
// same origins, the same peer events in the same order.
func (v *View) joinAll(t time.Time, f, need int) bool {
	jo, ok := v.obs.(JoinObserver)
	if !ok {
		return false
	}
	var joiners []int
	for _, ps := range v.peers {
		refilled := ps.flushed && ps.size(f) >= need
		want := ps.up && (!ps.flushed || refilled) && !ps.loading[f] && ps.size(f) >= need
		if ps.isFull(f) && !want {
			return false // a peer leaves: peer by peer
		}
	}
	for pi, ps := range v.peers {
		refilled := ps.flushed && ps.size(f) >= need
		want := ps.up && (!ps.flushed || refilled) && !ps.loading[f] && ps.size(f) >= need
		if want && !ps.isFull(f) {
			joiners = append(joiners, pi)
		}
	}
	if len(joiners) < 2 || !jo.BeginJoins(t, bgp.Family(f), joiners) {
		return false
	}
	for _, pi := range joiners {
		ps := v.peers[pi]
		ps.flushed = false
		if f == 0 {
			ps.full4 = true
		} else {
			ps.full6 = true
		}
		v.nFull[f]++
	}
	for _, ps := range v.peers {
		if ps.flushed && ps.size(f) >= need {
			ps.flushed = false // refilled after a flush (as Refresh does)
		}
	}
	tables := make([]*peerState, len(joiners))
	for k, pi := range joiners {
		tables[k] = v.peers[pi]
	}
	// The tables and the trie are read ahead, on a goroutine of their own,
	// in blocks (two, taking turns), while the observer takes the block
	// before.
	free, full := make(chan *joinBlock, 2), make(chan *joinBlock, 2)
	for range 2 {
		free <- &joinBlock{}
	}
	go v.readJoins(f, tables, free, full)
	for b := range full {
		for i, id := range b.ids {
			rs := b.routes[i*len(tables) : (i+1)*len(tables)]
			for _, r := range rs {
				if r.Path != 0 && v.origin[id] == 0 {
					v.origin[id] = r.Origin
				}
			}
			v.seen[id] += b.n[i]
			jo.JoinPrefix(t, id, v.prefixes.prefix(id), rs)
		}
		b.ids, b.n, b.routes = b.ids[:0], b.n[:0], b.routes[:0]
		free <- b
	}
	jo.EndJoins(t)
	for _, pi := range joiners {
		ps := v.peers[pi]
		v.obs.Peer(PeerEvent{Time: t, Kind: PeerFullFeed, Peer: ps.peer, Index: pi, Routes: ps.size(f)})
	}
	return true
}
