package partview

import (
	"net/netip"
	"slices"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/view"
)

// TableFunc returns the routes of a peer as its Worker holds them now.
type TableFunc func(p bgp.Peer) []PrefixPath

// peerState is what the Reducer keeps of a peer: no table.
type peerState struct {
	peer     bgp.Peer
	n        [2]int
	up       bool
	flushed  bool
	full     [2]bool
	signals  bool
	loading  [2]bool
	refill   bool
	winStart time.Time
	winTable int
	winSolo  int
	winIDs   []view.PrefixID
}

// Reducer is the view without its tables: it takes every route event
// (Begin) and then the Delta its peer's Worker made of it (Apply), in the
// stream's order, and makes the view's calls to its observer.
type Reducer struct {
	cfg      view.Config
	obs      view.Observer
	table    TableFunc
	prefixes []netip.Prefix
	index    map[netip.Prefix]view.PrefixID
	seen     []uint16
	visible  []bool
	origin   []bgp.ASN
	lastPath []*Path
	peers    []*peerState
	byPeer   map[bgp.Peer]int
	nFull    [2]int
	now      time.Time
	nextRef  time.Time
	inRIB    bool
	lastRIB  [2]time.Time
	first    [2]time.Time
	long     int64
	nSignals int
	// pathIDs gives each distinct path a view.PathID for the observer:
	// interned in cfg.Paths (the tracker's table) when set, else numbered
	// here. Paths are never let go.
	pathIDs map[string]view.PathID
	byID    map[view.PathID]*Path
	key     []byte
	// the event between Begin and Apply
	cur  *bgp.Event
	curP int
	skip bool // an EndOfRIB: Apply only reports readiness
}

// NewReducer returns a Reducer reporting to obs, asking peers' tables of
// table when their full-feed membership changes by a decision across
// peers.
func NewReducer(cfg view.Config, obs view.Observer, table TableFunc) *Reducer {
	return &Reducer{cfg: cfg, obs: obs, table: table, index: map[netip.Prefix]view.PrefixID{}, byPeer: map[bgp.Peer]int{},
		pathIDs: map[string]view.PathID{}, byID: map[view.PathID]*Path{}}
}

// PathID returns the observer's id of path p (0 for nil). A Path is
// numbered by the one Reducer that takes it.
func (r *Reducer) PathID(p *Path) view.PathID {
	if p == nil {
		return 0
	}
	if p.id != 0 {
		return p.id
	}
	r.key = appendKey(r.key[:0], p.ASes, p.Origin)
	id, ok := r.pathIDs[string(r.key)]
	if !ok {
		if r.cfg.Paths != nil {
			id = r.cfg.Paths.Intern(p.ASes, p.Origin)
		} else {
			id = view.PathID(len(r.byID) + 1)
		}
		r.pathIDs[string(r.key)] = id
		r.byID[id] = p
	}
	p.id = id
	return id
}

// Path returns the ASes of a path id given to the observer.
func (r *Reducer) Path(id view.PathID) []bgp.ASN {
	if id == 0 {
		return nil
	}
	return r.byID[id].ASes
}

// PathOrigin returns the origin AS of a path id given to the observer.
func (r *Reducer) PathOrigin(id view.PathID) bgp.ASN {
	if id == 0 {
		return 0
	}
	return r.byID[id].Origin
}

func (r *Reducer) pathOrigin(p *Path) bgp.ASN {
	if p == nil {
		return 0
	}
	return p.Origin
}

// Begin takes a route event before its Worker applies it: the data time,
// and the full-feed set re-evaluated (at the end of a RIB dump, every
// RefreshEvery), which reads the peers' tables as they are before it.
func (r *Reducer) Begin(ev *bgp.Event) {
	if ev.Time.After(r.now) {
		r.now = ev.Time
	}
	t := r.now
	if r.inRIB && !ev.RIB {
		r.inRIB = false
		r.Refresh()
	} else if !r.nextRef.IsZero() && !t.Before(r.nextRef) {
		r.Refresh()
	}
	if r.nextRef.IsZero() {
		r.nextRef = t.Add(r.cfg.RefreshEvery)
	}
	r.cur, r.skip = ev, ev.Kind == bgp.EndOfRIB
	if !r.skip && ev.Prefix.IsValid() {
		f := fam(ev.Prefix)
		if r.first[f].IsZero() {
			r.first[f] = t
		}
		if ev.RIB {
			r.inRIB = true
			r.lastRIB[f] = t
		}
	}
	r.curP = r.peerIndex(ev.Peer)
}

func (r *Reducer) peerIndex(p bgp.Peer) int {
	i, ok := r.byPeer[p]
	if !ok {
		i = len(r.peers)
		r.peers = append(r.peers, &peerState{peer: p, up: true})
		r.byPeer[p] = i
	}
	return i
}

func (r *Reducer) prefixID(p netip.Prefix, add bool) (view.PrefixID, bool) {
	if id, ok := r.index[p]; ok {
		return id, true
	}
	if !add {
		return 0, false
	}
	id := view.PrefixID(len(r.prefixes))
	r.index[p] = id
	r.prefixes = append(r.prefixes, p)
	r.seen = append(r.seen, 0)
	r.visible = append(r.visible, false)
	r.origin = append(r.origin, 0)
	r.lastPath = append(r.lastPath, nil)
	return id, true
}

// Apply takes the Delta the event given to Begin made.
func (r *Reducer) Apply(d Delta) {
	ev, t, pi := r.cur, r.now, r.curP
	ps := r.peers[pi]
	if d.Signals && !ps.signals {
		r.nSignals++
	}
	ps.n, ps.up, ps.signals, ps.loading = d.Size, d.Up, d.Signals, d.Loading
	if d.LongPath {
		r.long++
	}
	switch d.Kind {
	case Ready:
		r.obs.Peer(view.PeerEvent{Time: t, Kind: view.PeerReady, Peer: ps.peer, Index: pi, Routes: ps.n[d.Family], Family: d.Family})
		r.Refresh()
	case Up:
		r.obs.Peer(view.PeerEvent{Time: t, Kind: view.PeerUp, Peer: ps.peer, Index: pi, OldState: ev.OldState, NewState: ev.NewState})
	case Down:
		r.obs.Peer(view.PeerEvent{Time: t, Kind: view.PeerDown, Peer: ps.peer, Index: pi, Routes: d.Before, OldState: ev.OldState, NewState: ev.NewState})
		r.leave(t, pi, ps, d.Routes)
		r.reevaluate(t)
	case Limit:
		r.prefixID(ev.Prefix, true)
		r.obs.Peer(view.PeerEvent{Time: t, Kind: view.PeerMaxPrefix, Peer: ps.peer, Index: pi, Routes: d.Before, Family: d.Family})
		r.leave(t, pi, ps, d.Routes)
		r.reevaluate(t)
	case Same:
		r.prefixID(ev.Prefix, true)
	case Switch:
		id, _ := r.prefixID(ev.Prefix, false)
		if ps.full[fam(ev.Prefix)] && !ps.flushed {
			r.obs.Route(t, id, ev.Prefix, pi, r.PathID(d.Old), r.PathID(d.New))
		}
	case Route:
		if d.New != nil {
			r.announced(t, pi, ps, ev.Prefix, d.Old, d.New)
		} else {
			r.withdrawn(t, pi, ps, ev.Prefix, d.Old)
		}
	}
	r.cur = nil
}

func (r *Reducer) announced(t time.Time, pi int, ps *peerState, p netip.Prefix, old, path *Path) {
	id, _ := r.prefixID(p, true)
	f := fam(p)
	if ps.flushed && !ps.refill {
		ps.refill = true
		r.obs.Peer(view.PeerEvent{Time: t, Kind: view.PeerUp, Peer: ps.peer, Index: pi, Routes: ps.n[0] + ps.n[1]})
	}
	if !ps.full[f] || ps.flushed {
		return
	}
	r.obs.Route(t, id, p, pi, r.PathID(old), r.PathID(path))
	if o := path.Origin; o != 0 && o != r.origin[id] {
		if r.visible[id] {
			r.obs.Visibility(t, id, p, r.origin[id], false)
			r.origin[id] = o
			r.obs.Visibility(t, id, p, o, true)
		} else {
			r.origin[id] = o
		}
	}
	if old == nil {
		r.seen[id]++
		r.check(t, id)
	}
}

func (r *Reducer) withdrawn(t time.Time, pi int, ps *peerState, p netip.Prefix, old *Path) {
	id, _ := r.prefixID(p, false)
	f := fam(p)
	if !ps.full[f] || ps.flushed {
		return
	}
	r.lastPath[id] = old
	r.obs.Route(t, id, p, pi, r.PathID(old), 0)
	r.seen[id]--
	r.check(t, id)
	if t.Sub(ps.winStart) > r.cfg.FlushWindow {
		ps.winStart, ps.winSolo, ps.winTable = t, 0, ps.n[0]+ps.n[1]+1
		ps.winIDs = ps.winIDs[:0]
	}
	if r.keptByOthers(id, f) {
		ps.winSolo++
		ps.winIDs = append(ps.winIDs, id)
		need := max(r.cfg.FlushMin, int(r.cfg.FlushShare*float64(ps.winTable)))
		if ps.winSolo >= need {
			keep := ps.winIDs[:0]
			for _, w := range ps.winIDs {
				if r.keptByOthers(w, f) {
					keep = append(keep, w)
				}
			}
			ps.winIDs = keep
			ps.winSolo = len(keep)
		}
		if ps.winSolo >= need {
			ps.winIDs = ps.winIDs[:0]
			r.obs.Peer(view.PeerEvent{Time: t, Start: ps.winStart, Kind: view.PeerFlush, Peer: ps.peer, Index: pi, Routes: ps.winTable})
			ps.flushed, ps.refill = true, false
			r.leave(t, pi, ps, r.table(ps.peer))
			r.reevaluate(t)
		}
	}
}

func (r *Reducer) keptByOthers(id view.PrefixID, f int) bool {
	others := r.nFull[f] - 1
	return others > 0 && float64(r.seen[id]) > r.cfg.VisibleShare*float64(others)
}

func (r *Reducer) check(t time.Time, id view.PrefixID) {
	p := r.prefixes[id]
	n := r.nFull[fam(p)]
	vis := n > 0 && float64(r.seen[id]) > r.cfg.VisibleShare*float64(n)
	if vis != r.visible[id] {
		r.visible[id] = vis
		r.obs.Visibility(t, id, p, r.origin[id], vis)
	}
}

func (r *Reducer) reevaluate(t time.Time) {
	for id := range r.prefixes {
		r.check(t, view.PrefixID(id))
	}
}

// leave takes a peer out of the full-feed set of both families; routes
// is its table.
func (r *Reducer) leave(t time.Time, pi int, ps *peerState, routes []PrefixPath) {
	var sorted []idPath
	for f := 0; f < 2; f++ {
		if ps.full[f] {
			if sorted == nil {
				sorted = r.sortRoutes(routes)
			}
			r.setFull(t, pi, ps, f, false, sorted)
		}
	}
}

type idPath struct {
	id   view.PrefixID
	path *Path
}

// sortRoutes puts a table in prefix id order, as the view walks it.
func (r *Reducer) sortRoutes(routes []PrefixPath) []idPath {
	out := make([]idPath, 0, len(routes))
	for _, rt := range routes {
		id, ok := r.prefixID(rt.Prefix, false)
		if !ok {
			// An invariant, not an input: a worker holds only routes
			// whose announcement the reducer took (Route, Same).
			panic("partview: a worker's route to a prefix the reducer never saw announced: " + rt.Prefix.String())
		}
		out = append(out, idPath{id, rt.Path})
	}
	slices.SortFunc(out, func(a, b idPath) int { return int(a.id) - int(b.id) })
	return out
}

func (r *Reducer) setFull(t time.Time, pi int, ps *peerState, f int, full bool, routes []idPath) {
	ps.full[f] = full
	if full {
		r.nFull[f]++
	} else {
		r.nFull[f]--
	}
	for _, rt := range routes {
		p := r.prefixes[rt.id]
		if fam(p) != f {
			continue
		}
		if full {
			r.seen[rt.id]++
			r.obs.Membership(t, rt.id, p, pi, r.PathID(rt.path), true)
			if o := r.pathOrigin(rt.path); o != 0 && r.origin[rt.id] == 0 {
				r.origin[rt.id] = o
			}
		} else {
			r.seen[rt.id]--
			r.obs.Membership(t, rt.id, p, pi, r.PathID(rt.path), false)
		}
	}
}

// Refresh re-evaluates the full-feed set, as view.View.Refresh does.
func (r *Reducer) Refresh() {
	t := r.now
	r.nextRef = t.Add(r.cfg.RefreshEvery)
	changed := false
	for f := 0; f < 2; f++ {
		largest := 0
		for _, ps := range r.peers {
			if ps.up && !ps.flushed && !ps.loading[f] {
				largest = max(largest, ps.n[f])
			}
		}
		abs := r.cfg.FullFeedV4
		if f == 1 {
			abs = r.cfg.FullFeedV6
		}
		need := max(min(abs, int(r.cfg.FullFeedRelative*float64(largest))), 1)
		for pi, ps := range r.peers {
			if ps.flushed && ps.n[f] >= need {
				ps.flushed = false
			}
			want := ps.up && !ps.flushed && !ps.loading[f] && ps.n[f] >= need
			if want != ps.full[f] {
				changed = true
				r.setFull(t, pi, ps, f, want, r.sortRoutes(r.table(ps.peer)))
				kind := view.PeerFullFeed
				if !want {
					kind = view.PeerPartial
				}
				r.obs.Peer(view.PeerEvent{Time: t, Kind: kind, Peer: ps.peer, Index: pi, Routes: ps.n[f]})
			}
		}
	}
	if changed {
		r.reevaluate(t)
	}
}

// The view's queries, answered the same.

// Sync does nothing: a Reducer applies every delta as it comes (it is
// the pipeline's ViewStage hook for the view's queued RIB announcements).
func (r *Reducer) Sync() {}

// Now returns the data time.
func (r *Reducer) Now() time.Time { return r.now }

// FamilyState is view.View.FamilyState.
func (r *Reducer) FamilyState(f bgp.Family) (lastRIB, first time.Time, fullFeed int) {
	return r.lastRIB[f&1], r.first[f&1], r.nFull[f&1]
}

// Prefix returns the prefix of id.
func (r *Reducer) Prefix(id view.PrefixID) netip.Prefix { return r.prefixes[id] }

// Lookup returns the id of p, if seen.
func (r *Reducer) Lookup(p netip.Prefix) (view.PrefixID, bool) { return r.prefixID(p, false) }

// Prefixes returns the number of prefixes seen.
func (r *Reducer) Prefixes() int { return len(r.prefixes) }

// Visible reports whether id is visible now.
func (r *Reducer) Visible(id view.PrefixID) bool { return r.visible[id] }

// Seen returns how many full-feed peers see id, and how many there are.
func (r *Reducer) Seen(id view.PrefixID) (seen, full int) {
	return int(r.seen[id]), r.nFull[fam(r.prefixes[id])]
}

// Origin returns the origin AS of id.
func (r *Reducer) Origin(id view.PrefixID) bgp.ASN { return r.origin[id] }

// LastWithdrawnPath returns the path a full-feed peer last withdrew.
func (r *Reducer) LastWithdrawnPath(id view.PrefixID) []bgp.ASN {
	if p := r.lastPath[id]; p != nil {
		return slices.Clone(p.ASes)
	}
	return nil
}

// Peers returns the number of vantage points seen.
func (r *Reducer) Peers() int { return len(r.peers) }

// FullFeed returns the full-feed peers by family.
func (r *Reducer) FullFeed() (v4, v6 int) { return r.nFull[0], r.nFull[1] }

// LongPaths returns the announcements treated as withdrawals.
func (r *Reducer) LongPaths() int64 { return r.long }

// Readiness is view.View.Readiness.
func (r *Reducer) Readiness(f bgp.Family) (peers, ready int) {
	if f > bgp.IPv6 || r.nSignals == 0 {
		return 0, 0
	}
	for _, ps := range r.peers {
		if ps.signals && ps.up {
			peers++
			if !ps.loading[f] {
				ready++
			}
		}
	}
	return peers, ready
}
