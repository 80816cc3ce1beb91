package view

import (
	"math/bits"
	"math/rand/v2"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/offheap"
)

// PathID names an interned AS path; 0 is "no route". An id stays the same
// path while some route uses it; once none does, the path is freed and the
// id may name another path later: an id is read while the route that
// holds it is current (Observer calls come before the old path is let go).
type PathID uint32

// Paths is the table of interned AS paths: the view interns the paths it
// receives, the signal tracker reads them. Make one with NewPaths and give
// it to both (Config.Paths); it is not safe for concurrent use.
type Paths struct{ t *pathTable }

// NewPaths returns an empty path table.
func NewPaths() *Paths { return &Paths{t: newPathTable()} }

// Origin returns the origin AS of path id (0 if the path ends in a set of
// more than one AS, or is empty).
func (p *Paths) Origin(id PathID) bgp.ASN {
	p.sync()
	return p.t.origin(id)
}

// Prefetch asks the processor to fetch what Origin, Neighbour and Step
// read of each path first (its trie node), without waiting: a caller
// about to read many paths calls it for all of them first, so that their
// cache misses overlap.
func (p *Paths) Prefetch(ids []PathID) {
	p.sync()
	for _, id := range ids {
		if id != 0 {
			s, n := p.t.split(id)
			prefetch(&s.nd(n).parent)
		}
	}
}

// sync waits for the view's batches being applied, if any.
func (p *Paths) sync() {
	if p.t.busy && p.t.settle != nil {
		p.t.settle()
	}
}

// Neighbour returns the AS before the last AS of path id's sequence (the
// origin's neighbour towards the vantage point), 0 if none.
func (p *Paths) Neighbour(id PathID) bgp.ASN {
	p.sync()
	return p.t.neighbour(id)
}

// Step walks a path from its origin towards the vantage point: it returns
// the AS at id (the origin first) and the id of the rest of the path (0
// at the end):
//
//	for n := id; n != 0; {
//		var a bgp.ASN
//		a, n = paths.Step(n)
//	}
//
// visits the path's ASes (View.Path) in reverse, with no copy.
func (p *Paths) Step(id PathID) (bgp.ASN, PathID) {
	p.sync()
	return p.t.step(id)
}

func (tt *pathTable) step(id PathID) (bgp.ASN, PathID) {
	t, n := tt.split(id)
	if t.nd(n).parent&markerBit != 0 {
		n = t.nd(n).parent &^ markerBit
		if n == 0 {
			return 0, 0
		}
	}
	return t.nd(n).asn, tt.id(id.shard(), t.nd(n).parent)
}

// pathTable is the view's paths: pathShards tries, each holding the paths
// of the peers assigned to it (View.shardOf), so that the RIB batches of
// the peers of different shards are interned on different cores. A
// PathID is its shard's number in the bits from shardShift up and the
// shard's node below.
type pathTable struct {
	shards [pathShards]*pathShard
	// busy: batches of the view's queued announcements are being applied
	// on other goroutines (see batch.go); settle waits for them. Set and
	// cleared by the view's goroutine only.
	busy   bool
	settle func()
}

// pathShards is the number of shards: two, for the two cores this is
// measured on; the paths of one peer are never split.
const (
	pathShards = 2
	shardShift = 30
	localMask  = 1<<shardShift - 1
)

func newPathTable() *pathTable {
	t := &pathTable{}
	for i := range t.shards {
		t.shards[i] = newPathShard()
	}
	return t
}

// shard returns the shard of id.
func (id PathID) shard() int { return int(id >> shardShift) }

// id returns the PathID of node n of shard s (0 for the root).
func (t *pathTable) id(s int, n uint32) PathID {
	if n == 0 {
		return 0
	}
	return PathID(uint32(s)<<shardShift | n)
}

// split returns id's shard and node.
func (t *pathTable) split(id PathID) (*pathShard, uint32) {
	return t.shards[id.shard()], uint32(id) & localMask
}

func (t *pathTable) intern(s int, p bgp.Path, h *pathHint, maxLen int) (PathID, bool) {
	n, ok := t.shards[s].intern(p, h, maxLen)
	return t.id(s, n), ok
}

func (t *pathTable) retain(id PathID) {
	s, n := t.split(id)
	s.retain(n)
}

func (t *pathTable) release(id PathID) {
	s, n := t.split(id)
	s.release(n)
}

func (t *pathTable) appendPath(dst []bgp.ASN, id PathID) []bgp.ASN {
	s, n := t.split(id)
	return s.appendPath(dst, n)
}

func (t *pathTable) origin(id PathID) bgp.ASN {
	s, n := t.split(id)
	return s.origin(n)
}

func (t *pathTable) neighbour(id PathID) bgp.ASN {
	s, n := t.split(id)
	return s.neighbour(n)
}

// bytes returns the memory the shards hold, by capacity.
func (t *pathTable) bytes() int {
	b := 0
	for _, s := range t.shards {
		b += s.bytes()
	}
	return b
}

// nodes returns the number of nodes in use.
func (t *pathTable) nodes() int {
	n := 0
	for _, s := range t.shards {
		n += s.nodes()
	}
	return n
}

// pathShard interns AS paths as a trie: node i is an AS (asn[i]) after
// the path of node parent[i], from the vantage point's neighbour (a child
// of the root, node 0) towards the origin, so that the paths of one peer,
// which share their first ASes, share those nodes, and a new path costs
// one or two nodes of 12 bytes plus its hash slot. A path whose origin is
// not its last AS (it ends in an AS_SET, or is empty) ends in a marker
// node holding the origin (the high bit of parent set).
//
// Every node counts its references: the routes that use it as their path
// and its children. A node no route and no child uses is freed and its id
// reused, so that the table follows the live routing table, not its
// history. Written by hand rather than with a map because a map entry and
// a path slice per path cost several times more than the 13-15 bytes per
// node here (8 for the node, 1 for its count, the rest its hash slot),
// and the table holds millions of paths.
type pathShard struct {
	// nodes in chunks of chunkNodes, so that growing never copies nor
	// leaves more than a chunk unused (a table of millions of nodes
	// grown by append would hold a quarter more, and twice its size while
	// it moves).
	chunks [][]node
	// refc counts each node's references, in chunks beside chunks': up to
	// refSat-1 in the byte, beyond in big (the byte then refSat). Most
	// nodes have a few references (a leaf: the routes of one peer with
	// that path); the few near the root have many.
	refc [][]uint8
	big  map[uint32]uint32
	// mem holds the chunks and the slots outside the Go heap (package
	// offheap), released when the table is collected.
	mem  *offheap.Arena
	n    int      // nodes allocated (in use or free), the root included
	free []uint32 // freed node ids, reused last-in first-out
	// slots is an open-addressing hash table of node ids by (parent,
	// asn); 0 is an empty slot, tomb a deleted one.
	slots      []uint32
	used, tomb int
	seed       uint64
	routes     int // references held by routes
	scratch    []bgp.ASN
}

// node is one AS of a path after its parent's path.
type node struct {
	parent uint32 // high bit: a marker node (origin only)
	asn    bgp.ASN
}

const chunkNodes = 1 << 14

// nd returns node i.
func (t *pathShard) nd(i uint32) *node { return &t.chunks[i/chunkNodes][i%chunkNodes] }

// refSat in a node's count byte: the count is in big.
const refSat = 255

// refs returns node n's references.
func (t *pathShard) refs(n uint32) uint32 {
	if r := t.refc[n/chunkNodes][n%chunkNodes]; r != refSat {
		return uint32(r)
	}
	return t.big[n]
}

// incRef adds a reference to node n.
func (t *pathShard) incRef(n uint32) {
	r := &t.refc[n/chunkNodes][n%chunkNodes]
	switch {
	case *r < refSat-1:
		*r++
	case *r == refSat-1:
		if t.big == nil {
			t.big = map[uint32]uint32{}
		}
		*r = refSat
		t.big[n] = refSat
	default:
		t.big[n]++
	}
}

// decRef drops a reference to node n and returns those left.
func (t *pathShard) decRef(n uint32) uint32 {
	r := &t.refc[n/chunkNodes][n%chunkNodes]
	if *r != refSat {
		*r--
		return uint32(*r)
	}
	c := t.big[n] - 1
	if c < refSat {
		*r = uint8(c)
		delete(t.big, n)
	} else {
		t.big[n] = c
	}
	return c
}

// alloc returns a new node id past the last.
func (t *pathShard) alloc() uint32 {
	if t.n%chunkNodes == 0 {
		t.chunks = append(t.chunks, offheap.Make[node](t.mem, chunkNodes))
		t.refc = append(t.refc, offheap.Make[uint8](t.mem, chunkNodes))
	}
	if t.n > localMask {
		// A billion nodes of a shard (12 GB): more than any table.
		panic("view: path table shard full")
	}
	t.n++
	return uint32(t.n - 1)
}

const (
	markerBit = 1 << 31
	tomb      = ^uint32(0)
)

func newPathShard() *pathShard {
	t := &pathShard{mem: &offheap.Arena{}, seed: rand.Uint64() | 1}
	t.slots = offheap.Make[uint32](t.mem, 1024)
	t.incRef(t.alloc()) // the root
	return t
}

func (t *pathShard) hash(parent uint32, a bgp.ASN) uint64 {
	// The splitmix64 finaliser, seeded so that crafted AS numbers cannot
	// aim at one slot.
	return mix((uint64(parent)<<32 | uint64(a)) ^ t.seed)
}

// mix is the splitmix64 finaliser: every bit of x moves every bit of the
// result, so that a table can take the low bits as a slot.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// find returns the child of parent for a (0 if none).
func (t *pathShard) find(parent uint32, a bgp.ASN) uint32 {
	return t.findH(parent, a, t.hash(parent, a))
}

// findH is find with h = t.hash(parent, a) given.
func (t *pathShard) findH(parent uint32, a bgp.ASN, h uint64) uint32 {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		n := t.slots[i]
		switch {
		case n == 0:
			return 0
		case n != tomb && t.nd(n).parent == parent && t.nd(n).asn == a:
			return n
		}
	}
}

// child returns the child of parent for a, adding it when new.
func (t *pathShard) child(parent uint32, a bgp.ASN) uint32 {
	return t.childH(parent, a, t.hash(parent, a))
}

// childH is child with h = t.hash(parent, a) given.
func (t *pathShard) childH(parent uint32, a bgp.ASN, h uint64) uint32 {
	if n := t.findH(parent, a, h); n != 0 {
		return n
	}
	if (t.used+t.tomb+1)*4 > len(t.slots)*3 {
		t.rehash()
	}
	var n uint32
	if k := len(t.free); k > 0 {
		n = t.free[k-1]
		t.free = t.free[:k-1]
	} else {
		n = t.alloc()
	}
	*t.nd(n) = node{parent: parent, asn: a}
	t.incRef(parent &^ markerBit)
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i] != 0 && t.slots[i] != tomb {
		i = (i + 1) & mask
	}
	if t.slots[i] == tomb {
		t.tomb--
	}
	t.slots[i] = n
	t.used++
	return n
}

// rehash rebuilds the slots for the nodes in use, at most half full.
func (t *pathShard) rehash() {
	size := 1 << bits.Len(uint((t.used+1)*2))
	size = max(size, 1024)
	old := t.slots
	defer offheap.Free(t.mem, old)
	t.slots = offheap.Make[uint32](t.mem, size)
	mask := uint64(size - 1)
	for _, n := range old {
		if n == 0 || n == tomb {
			continue
		}
		i := t.hash(t.nd(n).parent, t.nd(n).asn) & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = n
	}
	t.tomb = 0
}

// remove takes node n out of the slots.
func (t *pathShard) remove(n uint32) {
	mask := uint64(len(t.slots) - 1)
	for i := t.hash(t.nd(n).parent, t.nd(n).asn) & mask; ; i = (i + 1) & mask {
		if t.slots[i] == n {
			t.slots[i] = tomb
			t.used--
			t.tomb++
			return
		}
	}
}

// pathHint is a caller's previous path, as ASes and the trie nodes of its
// sequence: a peer's consecutive routes share their first ASes, so that
// interning the next one starts where the two part instead of at the root.
// The nodes are checked before use (they may have been freed since).
type pathHint struct {
	flat  []bgp.ASN
	nodes []uint32
}

// intern returns the id of path p, adding it when new, with one more
// reference (the caller's route); ok is false, and nothing is added, when
// the path has more than maxLen ASes after prepending is removed (maxLen
// <= 0: no limit). h (may be nil) is the caller's hint, updated.
func (t *pathShard) intern(p bgp.Path, h *pathHint, maxLen int) (uint32, bool) {
	t.scratch = p.AppendFlat(t.scratch[:0])
	flat := t.scratch
	if maxLen > 0 && len(flat) > maxLen {
		return 0, false
	}
	o, ok := p.Origin()
	if !ok {
		o = 0
	}
	var n uint32
	start := 0
	if h != nil {
		k := min(len(h.flat), len(flat))
		for start < k && h.flat[start] == flat[start] {
			m := h.nodes[start]
			if nd := t.nd(m); t.refs(m) == 0 || nd.parent != n || nd.asn != flat[start] {
				break
			}
			n = m
			start++
		}
		h.nodes = h.nodes[:start]
	}
	for _, a := range flat[start:] {
		n = t.child(n, a)
		if h != nil {
			h.nodes = append(h.nodes, n)
		}
	}
	if h != nil {
		h.flat = append(h.flat[:0], flat...)
	}
	if len(flat) == 0 || o != flat[len(flat)-1] {
		n = t.child(n|markerBit, o)
	}
	t.retain(n)
	return n, true
}

// retain adds a route's reference to path n (a node of the shard).
func (t *pathShard) retain(n uint32) {
	if n == 0 {
		return
	}
	t.incRef(n)
	t.routes++
}

// release drops a route's reference to path n, freeing the path's nodes
// no other route or path uses.
func (t *pathShard) release(n uint32) {
	if n == 0 {
		return
	}
	t.routes--
	for n != 0 {
		if t.decRef(n) > 0 {
			return
		}
		p := t.nd(n).parent &^ markerBit
		t.remove(n)
		t.free = append(t.free, n)
		n = p
	}
}

// appendPath appends the ASes of path id, from the vantage point's side.
func (t *pathShard) appendPath(dst []bgp.ASN, n uint32) []bgp.ASN {
	if n == 0 {
		return dst
	}
	if t.nd(n).parent&markerBit != 0 {
		n = t.nd(n).parent &^ markerBit
	}
	start := len(dst)
	for ; n != 0; n = t.nd(n).parent {
		dst = append(dst, t.nd(n).asn)
	}
	s := dst[start:]
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return dst
}

func (t *pathShard) origin(n uint32) bgp.ASN {
	if n == 0 {
		return 0
	}
	return t.nd(n).asn
}

func (t *pathShard) neighbour(n uint32) bgp.ASN {
	if n == 0 {
		return 0
	}
	if t.nd(n).parent&markerBit != 0 {
		n = t.nd(n).parent &^ markerBit
	}
	if n == 0 {
		return 0
	}
	p := t.nd(n).parent
	if p == 0 {
		return 0
	}
	return t.nd(p).asn
}

// bytes returns the memory the table holds, by capacity.
func (t *pathShard) bytes() int {
	return len(t.chunks)*chunkNodes*9 + cap(t.free)*4 + cap(t.slots)*4
}

// nodes returns the number of nodes in use.
func (t *pathShard) nodes() int { return t.n - 1 - len(t.free) }

// Intern returns the id of the path with these ASes (prepending removed,
// from the vantage point's side, as View.Path gives them) and origin (as
// Origin gives it), adding it when new, with one more reference. It is
// for a routing view kept elsewhere (partview's Reducer, fed by view
// workers) whose paths the signal tracker reads from this table.
func (p *Paths) Intern(ases []bgp.ASN, origin bgp.ASN) PathID {
	t := p.t.shards[0]
	var n uint32
	for _, a := range ases {
		n = t.child(n, a)
	}
	if len(ases) == 0 || origin != ases[len(ases)-1] {
		n = t.child(n|markerBit, origin)
	}
	t.retain(n)
	return p.t.id(0, n)
}
