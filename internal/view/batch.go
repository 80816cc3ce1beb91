package view

import (
	"unsafe"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// A RIB dump is most of what a view is fed, and before its end no peer is
// full-feed: its announcements change the peers' tables and nothing an
// observer sees. They are queued per path shard (a peer's paths are all
// in one shard, see pathTable) and applied in batches, in their order,
// each shard's on a goroutine of its own while the next batch is queued
// (the other cores), with their paths interned in lock step (the first AS of every
// queued path, then the second, ...), so that the trie's cache misses of
// many paths overlap instead of coming one after another: interning is
// most of the cost of loading a RIB. Anything else (another kind of
// event, a Refresh, a query of the tables or the paths) waits for the
// batches first (settle), so that what the view says is what one-by-one
// application would say. Only the path ids may differ (a path freed by a
// replaced route is freed after the batch is interned, not before the
// next route): ids are opaque.
//
// While a batch is applied, the goroutine that owns the view touches
// neither the path table nor the tables of the batch's peers: it only
// queues (prefix ids, the peer list and the flat paths are its own). Two
// shards' batches touch disjoint tries and peers; the only thing they
// share, the arena their table chunks come from, has a lock.

// pendingMax is the most announcements in a batch.
const pendingMax = 1024

// pendingRoute is a queued RIB announcement.
type pendingRoute struct {
	ps       *peerState
	id       PrefixID
	off, n   int32   // its flat path: batch.asns[off:off+n]
	origin   bgp.ASN // its origin (0: none)
	node     uint32  // the trie node reached so far
	h        uint64  // the hash of the next step (node, its next AS)
	v6       bool    // an IPv6 prefix
	terminal bool    // the path needs a marker node for its origin
}

// pendingBatch is a batch of queued announcements.
type pendingBatch struct {
	routes    []pendingRoute
	asns      []bgp.ASN
	nPrefixes int       // the view's prefixes when it was handed over
	addrs     []uintptr // apply's scratch: the addresses of a step to prefetch
}

// pendingQueue is the queue of each path shard: its batch being queued,
// and the one being applied.
type pendingQueue struct {
	shards [pathShards]shardQueue
	busy   int // shards applying a batch
}

type shardQueue struct {
	cur, spare *pendingBatch
	done       chan struct{} // closed when the batch being applied is done; nil if none
}

// deferrable reports whether announcement ev of peer ps can be queued:
// a RIB entry of a peer that is not full-feed for its family, not flushed
// (no observer call can come of it), without ADD-PATH, in a view without
// MaxPrefixes (the limit is checked route by route).
func (v *View) deferrable(ps *peerState, ev *bgp.Event, f int) bool {
	return ev.RIB && ev.PathID == 0 && !ps.limited && !ps.flushed && !ps.isFull(f) &&
		v.cfg.MaxPrefixes == [2]int{}
}

// queue queues announcement ev of peer ps (deferrable), or reports false
// when its path is too long (the caller then handles it as usual).
func (v *View) queue(ps *peerState, ev *bgp.Event) bool {
	q := &v.pending.shards[ps.shard]
	if q.cur == nil {
		q.cur = &pendingBatch{}
	}
	b := q.cur
	off := len(b.asns)
	b.asns = ev.Attrs.Path.AppendFlat(b.asns)
	n := len(b.asns) - off
	if v.cfg.MaxPathLen > 0 && n > v.cfg.MaxPathLen {
		b.asns = b.asns[:off]
		return false
	}
	o, ok := ev.Attrs.Path.Origin()
	if !ok {
		o = 0
	}
	id, _ := v.prefixID(ev.Prefix, true)
	b.routes = append(b.routes, pendingRoute{ps: ps, id: id, off: int32(off), n: int32(n), origin: o,
		v6: !ev.Prefix.Addr().Is4(), terminal: n == 0 || o != b.asns[len(b.asns)-1]})
	if len(b.routes) >= pendingMax {
		v.handOver(int(ps.shard))
	}
	return true
}

// handOver gives shard s's queued batch to a goroutine that applies it,
// once the shard's batch before is done. The shards' goroutines run side
// by side: each touches only its own trie and its own peers' tables.
func (v *View) handOver(s int) {
	q := &v.pending.shards[s]
	v.wait(s)
	b := q.cur
	b.nPrefixes = v.prefixes.len()
	q.cur, q.spare = q.spare, nil
	done := make(chan struct{})
	q.done = done
	v.pending.busy++
	v.paths.busy = true
	t := v.paths
	go func() {
		t.apply(s, b)
		close(done)
	}()
	q.spare = b
}

// wait waits for shard s's batch being applied, if any.
func (v *View) wait(s int) {
	q := &v.pending.shards[s]
	if q.done == nil {
		return
	}
	<-q.done
	q.done = nil
	v.pending.busy--
	v.paths.busy = v.pending.busy > 0
	if b := q.spare; b != nil {
		b.routes, b.asns = b.routes[:0], b.asns[:0]
	}
}

// settle applies every queued announcement and waits for them.
func (v *View) settle() {
	for s := range v.pending.shards {
		q := &v.pending.shards[s]
		if q.done == nil && (q.cur == nil || len(q.cur.routes) == 0) {
			continue
		}
		v.wait(s)
		if q.cur != nil && len(q.cur.routes) > 0 {
			q.cur.nPrefixes = v.prefixes.len()
			v.paths.apply(s, q.cur)
			q.cur.routes, q.cur.asns = q.cur.routes[:0], q.cur.asns[:0]
		}
	}
}

// apply applies a batch of announcements, in order.
func (tt *pathTable) apply(shard int, b *pendingBatch) {
	t := tt.shards[shard]
	rs := b.routes
	for s := int32(0); ; s++ {
		// Prefetch the slots, then the nodes they hold, of every path's
		// next step: the processor fetches them together. Then the steps.
		mask := uint64(len(t.slots) - 1)
		addrs := b.addrs[:0]
		for i := range rs {
			if r := &rs[i]; s < r.n {
				r.h = t.hash(r.node, b.asns[r.off+s])
				addrs = append(addrs, uintptr(unsafe.Pointer(&t.slots[r.h&mask])))
			}
		}
		prefetchAll(addrs)
		addrs = addrs[:0]
		for i := range rs {
			if r := &rs[i]; s < r.n {
				if n := t.slots[r.h&mask]; n != 0 && n != tomb {
					addrs = append(addrs, uintptr(unsafe.Pointer(&t.nd(n).parent)))
				}
			}
		}
		prefetchAll(addrs)
		b.addrs = addrs
		more := false
		for i := range rs {
			r := &rs[i]
			if s < r.n {
				r.node = t.childH(r.node, b.asns[r.off+s], r.h)
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
		t.retain(r.node)
	}
	for i := range rs {
		r := &rs[i]
		ps := r.ps
		path := tt.id(shard, r.node)
		old := ps.get(r.id)
		if old == path {
			t.release(r.node) // the table holds it already
			continue
		}
		ps.set(r.id, path, b.nPrefixes)
		if old == 0 {
			if r.v6 {
				ps.n6++
			} else {
				ps.n4++
			}
		}
		tt.release(old) // a peer's paths are all in its shard
	}
}

// Sync applies what the view holds back (queued RIB announcements); the
// view's queries do it themselves. Call it at the end of the input.
func (v *View) Sync() { v.settle() }
