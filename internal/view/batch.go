package view

import "github.com/blackout-bgp/blackout/internal/bgp"

// A RIB dump is most of what a view is fed, and before its end no peer is
// full-feed: its announcements change the peers' tables and nothing an
// observer sees. They are queued (pending) and applied in batches, in
// their order, with their paths interned in lock step (the first AS of
// every queued path, then the second, ...), so that the trie's cache
// misses of many paths overlap instead of coming one after another:
// interning is most of the cost of loading a RIB. Anything else (another
// kind of event, a Refresh, a query of the tables) applies the queue
// first (settle), so that what the view says is what one-by-one
// application would say. Only the path ids may differ (a path freed by a
// replaced route is freed after the batch is interned, not before the
// next route): ids are opaque.

// pendingMax is the most announcements queued.
const pendingMax = 1024

// pendingRoute is a queued RIB announcement.
type pendingRoute struct {
	peer     int32
	id       PrefixID
	off, n   int32   // its flat path: pendingASNs[off:off+n]
	origin   bgp.ASN // its origin (0: none)
	node     uint32  // the trie node reached so far
	terminal bool    // the path needs a marker node for its origin
}

type pendingQueue struct {
	routes []pendingRoute
	asns   []bgp.ASN
	peers  []int32 // queued routes by peer index
	sink   uint32  // what the warming loads read (kept so they are not optimised away)
}

// deferrable reports whether announcement ev of peer ps can be queued:
// a RIB entry of a peer that is not full-feed for its family, not flushed
// (no observer call can come of it), without ADD-PATH, with a path within
// MaxPathLen, and that cannot take the peer over its MaxPrefixes even if
// every queued route is new.
func (v *View) deferrable(pi int, ps *peerState, ev *bgp.Event, f int) bool {
	if !ev.RIB || ev.PathID != 0 || ps.limited || ps.flushed || ps.isFull(f) {
		return false
	}
	if lim := v.cfg.MaxPrefixes[f]; lim > 0 && pi < len(v.pending.peers) && ps.size(f)+int(v.pending.peers[pi])+1 > lim {
		return false
	}
	return true
}

// queue queues announcement ev of peer pi (deferrable), or reports false
// when its path is too long (the caller then handles it as usual).
func (v *View) queue(pi int, ev *bgp.Event) bool {
	q := &v.pending
	off := len(q.asns)
	q.asns = ev.Attrs.Path.AppendFlat(q.asns)
	n := len(q.asns) - off
	if v.cfg.MaxPathLen > 0 && n > v.cfg.MaxPathLen {
		q.asns = q.asns[:off]
		return false
	}
	o, ok := ev.Attrs.Path.Origin()
	if !ok {
		o = 0
	}
	id, _ := v.prefixID(ev.Prefix, true)
	q.routes = append(q.routes, pendingRoute{peer: int32(pi), id: id, off: int32(off), n: int32(n), origin: o,
		terminal: n == 0 || o != q.asns[len(q.asns)-1]})
	for pi >= len(q.peers) {
		q.peers = append(q.peers, 0)
	}
	q.peers[pi]++
	if len(q.routes) >= pendingMax {
		v.settle()
	}
	return true
}

// settle applies the queued announcements, in order.
func (v *View) settle() {
	q := &v.pending
	if len(q.routes) == 0 {
		return
	}
	t := v.paths
	rs := q.routes
	for s := int32(0); ; s++ {
		// Warm the slots, then the nodes they hold, of every path's next
		// step: independent loads the processor overlaps. Then the steps.
		mask := uint64(len(t.slots) - 1)
		var x uint32
		for i := range rs {
			if r := &rs[i]; s < r.n {
				x ^= t.slots[t.hash(r.node, q.asns[r.off+s])&mask]
			}
		}
		for i := range rs {
			if r := &rs[i]; s < r.n {
				if n := t.slots[t.hash(r.node, q.asns[r.off+s])&mask]; n != 0 && n != tomb {
					x ^= uint32(t.nd(n).asn)
				}
			}
		}
		q.sink ^= x
		more := false
		for i := range rs {
			r := &rs[i]
			if s < r.n {
				r.node = t.child(r.node, q.asns[r.off+s])
				more = true
			}
		}
		if !more {
			break
		}
	}
	for i := range rs {
		r := &rs[i]
		if r.terminal {
			r.node = t.child(r.node|markerBit, r.origin)
		}
		t.retain(PathID(r.node))
	}
	nPrefixes := len(v.prefixes)
	for i := range rs {
		r := &rs[i]
		ps := v.peers[r.peer]
		path := PathID(r.node)
		old := ps.get(r.id)
		if old == path {
			t.release(path) // the table holds it already
			continue
		}
		ps.set(r.id, path, nPrefixes)
		if old == 0 {
			if fam(v.prefixes[r.id]) == 0 {
				ps.n4++
			} else {
				ps.n6++
			}
		}
		t.release(old)
	}
	for i := range rs {
		q.peers[rs[i].peer] = 0
	}
	q.routes, q.asns = q.routes[:0], q.asns[:0]
}

// Sync applies what the view holds back (queued RIB announcements); the
// view's queries do it themselves. Call it at the end of the input.
func (v *View) Sync() { v.settle() }
