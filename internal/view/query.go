package view

import (
	"net/netip"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// Now returns the view's data time: the latest event time applied.
func (v *View) Now() time.Time { return v.now }

// FamilyState tells, for family IPv4 or IPv6, when the latest RIB dump
// entry of it was applied (zero: never), when its first route event came,
// and how many full-feed peers it has now.
func (v *View) FamilyState(f bgp.Family) (lastRIB, first time.Time, fullFeed int) {
	return v.lastRIB[f&1], v.first[f&1], v.nFull[f&1]
}

// Prefix returns the prefix of id.
func (v *View) Prefix(id PrefixID) netip.Prefix { return v.prefixes.prefix(id) }

// Lookup returns the id of p, if the view has seen it.
func (v *View) Lookup(p netip.Prefix) (PrefixID, bool) { return v.prefixID(p, false) }

// Prefixes returns the number of prefixes the view has seen.
func (v *View) Prefixes() int { return v.prefixes.len() }

// Visible reports whether id is visible now.
func (v *View) Visible(id PrefixID) bool { return v.visible[id] }

// Seen returns how many full-feed peers see id, and how many full-feed
// peers of its family there are.
func (v *View) Seen(id PrefixID) (seen, full int) {
	return int(v.seen[id]), v.nFull[fam(v.prefixes.prefix(id))]
}

// Origin returns the origin AS of id (0 if unknown).
func (v *View) Origin(id PrefixID) bgp.ASN { return v.origin[id] }

// LastWithdrawnPath returns the AS path of the last route to id that a
// full-feed peer withdrew (nil if none).
func (v *View) LastWithdrawnPath(id PrefixID) []bgp.ASN {
	v.settle()
	return v.paths.appendPath(nil, v.lastPath[id])
}

// Path returns the flattened AS path of an id in a new slice (nil for 0).
func (v *View) Path(id PathID) []bgp.ASN {
	v.settle()
	return v.paths.appendPath(nil, id)
}

// PathOrigin returns the origin AS of a path id.
func (v *View) PathOrigin(id PathID) bgp.ASN {
	v.settle()
	return v.paths.origin(id)
}

// Peers returns the number of vantage points seen.
func (v *View) Peers() int { return len(v.peers) }

// Peer returns the vantage point with index i.
func (v *View) Peer(i int) bgp.Peer { return v.peers[i].peer }

// PeerRoute returns peer i's path to id (0 if none or unknown).
func (v *View) PeerRoute(i int, id PrefixID) PathID {
	v.settle()
	return v.peers[i].get(id)
}

// FullFeed returns the number of full-feed peers for IPv4 and IPv6.
func (v *View) FullFeed() (v4, v6 int) { return v.nFull[0], v.nFull[1] }

// IsFullFeed reports whether peer i is full-feed for the family of p.
func (v *View) IsFullFeed(i int, p netip.Prefix) bool { return v.peers[i].isFull(fam(p)) }

// MemoryStats describes the view's memory use by part, in bytes, counting
// what the view allocated (slices by capacity, maps by an estimate).
type MemoryStats struct {
	Routes       int // (prefix, peer) routes held
	Tables       int // per-peer tables
	Prefixes     int // prefix index and per-prefix arrays
	Paths        int // interned paths
	DistinctPath int // path trie nodes in use (each distinct path is one)
}

// Memory returns an estimate of the view's memory by part. Measure the
// process (runtime.MemStats) for the exact figure.
func (v *View) Memory() MemoryStats {
	v.settle()
	var m MemoryStats
	for _, ps := range v.peers {
		m.Routes += ps.n4 + ps.n6
		for _, c := range ps.table {
			m.Tables += len(c) * 4
		}
		m.Tables += len(ps.sparse) * 20
	}
	m.Prefixes = v.prefixes.bytes() + cap(v.seen)*2 + cap(v.visible) + cap(v.origin)*4 + cap(v.lastPath)*4
	m.Paths = v.paths.bytes()
	m.DistinctPath = v.paths.nodes()
	return m
}
