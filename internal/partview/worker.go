// Package partview splits blackout's routing view (internal/view) in two,
// the first step of view workers partitioned by peer:
//
//   - a Worker keeps the tables (prefix -> AS path) of the peers it owns,
//     the memory-heavy part, with the view's per-peer rules (ADD-PATH,
//     long paths treated as withdrawals, the maximum prefix count,
//     sessions going down and their routes forgotten, readiness), and
//     turns each route event of its peers into a Delta: what changed in
//     the peer's table, and the peer's own state after it;
//   - a Reducer holds what the view holds across peers (per prefix: the
//     full-feed peers seeing it, visibility, origin, the last withdrawn
//     path; per peer: sizes, full-feed flags, table-flush windows) but no
//     table, and makes, from the deltas in the stream's order, exactly the
//     view's calls to its view.Observer, and answers the view's queries.
//
// The view does not decompose over peers as a sum (docs/cluster.md): the
// full-feed set depends on the largest table of any peer, table-flush
// detection reads every prefix's count across peers, and a peer joining
// or leaving the full-feed set walks its whole table. So the Reducer takes
// the deltas in the global order of the route events, and, when a peer's
// membership changes by a decision across peers (Refresh, a table flush),
// asks that peer's table of the Worker that owns it (a TableFunc). In one
// process the Workers run in step with the Reducer; across processes the
// table comes from replaying that peer's route events (not built yet).
//
// The package's test checks, on the demo and the scenario suite, that the
// Reducer's observer calls and query answers equal the view's, call for
// call, with the peers spread over several Workers.
package partview

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/view"
)

// Path is an AS path as the view interns it: its ASes with prepending
// removed (sets and confederations dropped), from the vantage point's
// side, and its origin (which an AS_SET at the end may leave unknown: 0).
// Two routes have the same path when both are equal.
type Path struct {
	ASes   []bgp.ASN
	Origin bgp.ASN
	id     view.PathID // the Reducer's number for it (0: none yet)
}

// appendKey appends the path as a map key to b.
func appendKey(b []byte, ases []bgp.ASN, origin bgp.ASN) []byte {
	for _, a := range ases {
		b = binary.BigEndian.AppendUint32(b, uint32(a))
	}
	b = append(b, 0xff)
	return binary.BigEndian.AppendUint32(b, uint32(origin))
}

// DeltaKind says what a route event did to its peer's table.
type DeltaKind uint8

// Delta kinds.
const (
	Nothing DeltaKind = iota // no route changed (a withdrawal of nothing, a limited peer's route)
	Same                     // an announcement of the path the peer had: the prefix is known now, nothing changed
	Route                    // the peer's route changed from Old to New (either may be nil)
	Switch                   // ADD-PATH: a withdrawal left another path of the peer, Old -> New
	Up                       // the session is Established again
	Down                     // the session went down: Routes were forgotten
	Limit                    // the peer went over its maximum prefix count: Routes were dropped
	Ready                    // EndOfRIB for Family while the peer was loading it
)

// PrefixPath is one route of a peer's table.
type PrefixPath struct {
	Prefix netip.Prefix
	Path   *Path
}

// Delta is what one route event did to its peer's table, and the peer's
// state after it.
type Delta struct {
	Kind     DeltaKind
	Old, New *Path        // Route, Switch
	Routes   []PrefixPath // Down, Limit: the routes forgotten, in no order
	Family   bgp.Family   // Ready, Limit
	Size     [2]int       // the peer's routes by family, after the event
	Before   int          // Down, Limit: the routes the peer had
	Up       bool         // the session believed established
	Signals  bool         // the peer signals readiness (EndOfRIB)
	Loading  [2]bool      // learning its table of a family until its EndOfRIB
	NewPeer  bool         // the first event of the peer (it is counted by the reducer)
	LongPath bool         // the announcement's path was too long (treated as a withdrawal)
}

type apRoute struct {
	pathID uint32
	path   *Path
}

type peerTable struct {
	routes  map[netip.Prefix]*Path
	addPath map[netip.Prefix][]apRoute
	n       [2]int
	up      bool
	signals bool
	loading [2]bool
	limited bool
}

// Worker keeps the tables of the peers it is given the events of.
type Worker struct {
	cfg   view.Config
	peers map[bgp.Peer]*peerTable
	paths map[string]*Path // interned: one *Path per distinct path
	flat  []bgp.ASN
	key   []byte
}

// NewWorker returns a Worker with the view's configuration (MaxPathLen
// and MaxPrefixes are what it reads).
func NewWorker(cfg view.Config) *Worker {
	return &Worker{cfg: cfg, peers: map[bgp.Peer]*peerTable{}, paths: map[string]*Path{}}
}

// fam is the family of p as an index of per-family arrays.
func fam(p netip.Prefix) int { return int(bgp.FamilyOf(p)) }

// intern returns the path of p (nil, false when it is longer than
// MaxPathLen).
func (w *Worker) intern(p bgp.Path) (*Path, bool) {
	w.flat = p.AppendFlat(w.flat[:0])
	if w.cfg.MaxPathLen > 0 && len(w.flat) > w.cfg.MaxPathLen {
		return nil, false
	}
	o, ok := p.Origin()
	if !ok {
		o = 0
	}
	w.key = appendKey(w.key[:0], w.flat, o)
	if x := w.paths[string(w.key)]; x != nil {
		return x, true
	}
	x := &Path{ASes: slices.Clone(w.flat), Origin: o}
	w.paths[string(w.key)] = x
	return x, true
}

// Apply applies one route event of a peer this worker owns and returns
// what it did to the peer's table.
func (w *Worker) Apply(ev *bgp.Event) Delta {
	ps := w.peers[ev.Peer]
	var d Delta
	if ps == nil {
		ps = &peerTable{routes: map[netip.Prefix]*Path{}, up: true}
		w.peers[ev.Peer] = ps
		d.NewPeer = true
	}
	switch ev.Kind {
	case bgp.EndOfRIB:
		f := fam(ev.Prefix)
		if ps.loading[f] {
			ps.loading[f] = false
			d.Kind, d.Family = Ready, bgp.Family(f)
		}
	case bgp.PeerState:
		w.peerState(ps, ev, &d)
	case bgp.Announce:
		if !ps.up && !ev.RIB {
			ps.up = true
		}
		w.announce(ps, ev, &d)
	case bgp.Withdraw:
		w.withdraw(ps, ev.Prefix, ev.PathID, &d)
	}
	d.Size, d.Up, d.Signals, d.Loading = ps.n, ps.up, ps.signals, ps.loading
	return d
}

func (w *Worker) peerState(ps *peerTable, ev *bgp.Event, d *Delta) {
	old, nw := ev.OldState, ev.NewState
	ps.limited = false
	ps.loading = [2]bool{}
	if nw == bgp.StateEstablished && ev.SignalsReady {
		ps.signals = true
		ps.loading = [2]bool{true, true}
	}
	if nw == bgp.StateEstablished {
		if !ps.up {
			ps.up = true
			d.Kind = Up
		}
		return
	}
	if !ps.up && old != bgp.StateEstablished {
		return
	}
	ps.up = false
	d.Kind, d.Before = Down, ps.n[0]+ps.n[1]
	d.Routes = w.forget(ps)
}

// forget drops every route of a peer and returns them.
func (w *Worker) forget(ps *peerTable) []PrefixPath {
	out := make([]PrefixPath, 0, len(ps.routes))
	for p, path := range ps.routes {
		out = append(out, PrefixPath{p, path})
	}
	ps.routes, ps.addPath, ps.n = map[netip.Prefix]*Path{}, nil, [2]int{}
	return out
}

func (w *Worker) announce(ps *peerTable, ev *bgp.Event, d *Delta) {
	if ps.limited {
		return
	}
	path, ok := w.intern(ev.Attrs.Path)
	if !ok {
		d.LongPath = true
		w.withdraw(ps, ev.Prefix, ev.PathID, d)
		return
	}
	old := ps.routes[ev.Prefix]
	if ev.PathID != 0 {
		if ps.addPath == nil {
			ps.addPath = map[netip.Prefix][]apRoute{}
		}
		rs := ps.addPath[ev.Prefix]
		if i := slices.IndexFunc(rs, func(r apRoute) bool { return r.pathID == ev.PathID }); i < 0 {
			rs = append(rs, apRoute{ev.PathID, path})
		} else {
			rs[i].path = path
		}
		ps.addPath[ev.Prefix] = rs
	}
	if old == path {
		d.Kind = Same
		return
	}
	ps.routes[ev.Prefix] = path
	f := fam(ev.Prefix)
	if old == nil {
		ps.n[f]++
		if lim := w.cfg.MaxPrefixes[f]; lim > 0 && ps.n[f] > lim {
			d.Kind, d.Family, d.Before = Limit, bgp.Family(f), ps.n[0]+ps.n[1]
			ps.limited = true
			d.Routes = w.forget(ps)
			return
		}
	}
	d.Kind, d.Old, d.New = Route, old, path
}

func (w *Worker) withdraw(ps *peerTable, p netip.Prefix, pathID uint32, d *Delta) {
	old := ps.routes[p]
	if old == nil {
		return
	}
	if pathID != 0 && ps.addPath != nil {
		rs := ps.addPath[p]
		if i := slices.IndexFunc(rs, func(r apRoute) bool { return r.pathID == pathID }); i >= 0 {
			rs = slices.Delete(rs, i, i+1)
			if len(rs) > 0 {
				ps.addPath[p] = rs
				if nw := rs[len(rs)-1].path; nw != old {
					ps.routes[p] = nw
					d.Kind, d.Old, d.New = Switch, old, nw
				}
				return
			}
			delete(ps.addPath, p)
		}
	}
	delete(ps.routes, p)
	ps.n[fam(p)]--
	d.Kind, d.Old, d.New = Route, old, nil
}

// Table returns the routes of peer p, in no order (nil if unknown).
func (w *Worker) Table(p bgp.Peer) []PrefixPath {
	ps := w.peers[p]
	if ps == nil {
		return nil
	}
	out := make([]PrefixPath, 0, len(ps.routes))
	for q, path := range ps.routes {
		out = append(out, PrefixPath{q, path})
	}
	return out
}

// Routes returns the routes the worker holds (its memory's main part).
func (w *Worker) Routes() int {
	n := 0
	for _, ps := range w.peers {
		n += ps.n[0] + ps.n[1]
	}
	return n
}
