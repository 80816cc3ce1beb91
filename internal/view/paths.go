package view

import (
	"hash/maphash"
	"unsafe"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// PathID names an interned AS path; 0 is "no route".
type PathID uint32

// Paths is the table of interned AS paths: the view interns the paths it
// receives, the signal tracker reads them. Make one with NewPaths and give
// it to both (Config.Paths); it is not safe for concurrent use.
type Paths struct{ t *pathTable }

// NewPaths returns an empty path table.
func NewPaths() *Paths { return &Paths{t: newPathTable()} }

// Path returns the ASes of path id (valid until the next path is interned;
// nil for 0).
func (p *Paths) Path(id PathID) []bgp.ASN { return p.t.get(id) }

// Origin returns the origin AS of path id (0 if the path ends in a set).
func (p *Paths) Origin(id PathID) bgp.ASN { return p.t.origin[id] }

// pathTable interns AS paths. Paths are stored flattened (AS_SEQUENCE
// members with prepending removed; sets and confederation segments dropped)
// in one arena, so that 40 peers sharing a path pay for it once. Written by
// hand rather than with a map[string]PathID because the arena costs a few
// bytes per path instead of a string header and a heap object each.
type pathTable struct {
	arena   []bgp.ASN // len, asns..., len, asns...
	offs    []uint32  // PathID -> offset in arena (index 0 unused)
	index   map[uint64]PathID
	seed    maphash.Seed
	origin  []bgp.ASN // PathID -> origin AS (0 if the path ends in a set)
	scratch []bgp.ASN
}

func newPathTable() *pathTable {
	return &pathTable{offs: []uint32{0}, origin: []bgp.ASN{0}, index: map[uint64]PathID{}, seed: maphash.MakeSeed()}
}

func (t *pathTable) hash(asns []bgp.ASN, probe uint64) uint64 {
	var b []byte
	if len(asns) > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(&asns[0])), len(asns)*4)
	}
	return maphash.Bytes(t.seed, b) + probe*0x9E3779B97F4A7C15
}

// intern returns the id of path p, adding it when new. last is a one-entry
// cache (the caller's previous path): a peer's consecutive routes often
// share their path, and comparing is cheaper than hashing.
func (t *pathTable) intern(p bgp.Path, last PathID) PathID {
	t.scratch = p.AppendFlat(t.scratch[:0])
	flat := t.scratch
	if last != 0 && equalASNs(t.get(last), flat) {
		if o, ok := p.Origin(); ok && o == t.origin[last] || !ok && t.origin[last] == 0 {
			return last
		}
	}
	for probe := uint64(0); ; probe++ {
		h := t.hash(flat, probe)
		id, ok := t.index[h]
		if !ok {
			id = PathID(len(t.offs))
			t.offs = append(t.offs, uint32(len(t.arena)))
			t.arena = append(t.arena, bgp.ASN(len(flat)))
			t.arena = append(t.arena, flat...)
			o, ok := p.Origin()
			if !ok {
				o = 0
			}
			t.origin = append(t.origin, o)
			t.index[h] = id
			return id
		}
		if equalASNs(t.get(id), flat) {
			return id
		}
	}
}

// get returns the flattened ASNs of path id; the slice aliases the arena.
func (t *pathTable) get(id PathID) []bgp.ASN {
	if id == 0 || int(id) >= len(t.offs) {
		return nil
	}
	off := t.offs[id]
	n := uint32(t.arena[off])
	return t.arena[off+1 : off+1+n : off+1+n]
}

func (t *pathTable) bytes() int {
	return len(t.arena)*4 + len(t.offs)*4 + len(t.origin)*4 + len(t.index)*24
}

func equalASNs(a, b []bgp.ASN) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
