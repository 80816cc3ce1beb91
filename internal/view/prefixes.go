package view

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net/netip"

	"github.com/blackout-bgp/blackout/internal/offheap"
)

// prefixTable numbers the prefixes the view has seen: PrefixIDs are
// given in order of first sight and never change. It is an open-addressing
// hash table of ids over the prefixes' keys, both outside the Go heap
// (package offheap). Written by hand rather than with two maps and a
// []netip.Prefix because those cost about 100 bytes per prefix (a map
// entry and its growth, a 32-byte netip.Prefix with a pointer) where this
// costs about 30, and the lookup is on the path of every route event.
type prefixTable struct {
	mem *offheap.Arena
	// keys by PrefixID, in chunks of keyChunk so that growing copies
	// nothing.
	keys [][]prefixKey
	n    int
	// slots holds PrefixID+1 (0: empty) by hash of the key.
	slots []uint32
	seed  uint64
}

// prefixKey is a prefix as comparable bits: the address (IPv4 in the
// high word), the length, and whether it is IPv4.
type prefixKey struct {
	hi, lo uint64
	bits   uint8
	is4    bool
}

const keyChunk = 1 << 12

func newPrefixTable(mem *offheap.Arena) prefixTable {
	return prefixTable{mem: mem, slots: offheap.Make[uint32](mem, 1024), seed: rand.Uint64() | 1}
}

func keyOf(p netip.Prefix) prefixKey {
	if p.Addr().Is4() {
		a := p.Addr().As4()
		return prefixKey{hi: uint64(binary.BigEndian.Uint32(a[:])), bits: uint8(p.Bits()), is4: true}
	}
	a := p.Addr().As16()
	return prefixKey{hi: binary.BigEndian.Uint64(a[:8]), lo: binary.BigEndian.Uint64(a[8:]), bits: uint8(p.Bits())}
}

func (k prefixKey) prefix() netip.Prefix {
	if k.is4 {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], uint32(k.hi))
		return netip.PrefixFrom(netip.AddrFrom4(a), int(k.bits))
	}
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], k.hi)
	binary.BigEndian.PutUint64(a[8:], k.lo)
	return netip.PrefixFrom(netip.AddrFrom16(a), int(k.bits))
}

func (t *prefixTable) hash(k prefixKey) uint64 {
	// The splitmix64 finaliser over the key's words, seeded so that
	// crafted prefixes cannot aim at one slot.
	x := k.hi ^ t.seed
	x ^= bits.RotateLeft64(k.lo, 29) ^ uint64(k.bits)<<56
	if k.is4 {
		x ^= 1 << 63
	}
	return mix(x)
}

func (t *prefixTable) key(id PrefixID) *prefixKey {
	return &t.keys[id/keyChunk][id%keyChunk]
}

// len returns the number of prefixes.
func (t *prefixTable) len() int { return t.n }

// prefix returns prefix id.
func (t *prefixTable) prefix(id PrefixID) netip.Prefix { return t.key(id).prefix() }

// find returns the id of p.
func (t *prefixTable) find(p netip.Prefix) (PrefixID, bool) {
	k := keyOf(p)
	mask := uint64(len(t.slots) - 1)
	for i := t.hash(k) & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if *t.key(PrefixID(s - 1)) == k {
			return PrefixID(s - 1), true
		}
	}
}

// add gives p, which the table does not hold, the next id.
func (t *prefixTable) add(p netip.Prefix) PrefixID {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	id := PrefixID(t.n)
	if t.n%keyChunk == 0 {
		t.keys = append(t.keys, offheap.Make[prefixKey](t.mem, keyChunk))
	}
	t.n++
	k := keyOf(p)
	*t.key(id) = k
	t.place(k, id)
	return id
}

func (t *prefixTable) place(k prefixKey, id PrefixID) {
	mask := uint64(len(t.slots) - 1)
	i := t.hash(k) & mask
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = uint32(id) + 1
}

func (t *prefixTable) grow() {
	old := t.slots
	t.slots = offheap.Make[uint32](t.mem, 2*len(old))
	for id := range t.n {
		t.place(*t.key(PrefixID(id)), PrefixID(id))
	}
	offheap.Free(t.mem, old)
}

// bytes returns the memory the table holds.
func (t *prefixTable) bytes() int { return len(t.keys)*keyChunk*24 + len(t.slots)*4 }
