package scenario

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"

	"github.com/blackout-bgp/blackout/internal/geo"
)

// geoIndex is what the generator needs to know of a geo DB: per country,
// its registered ASNs and some address blocks that map wholly to it. It is
// computed lazily, deterministically, and shared by all generations that
// use the same DB.
type geoIndex struct {
	db      *geo.DB
	mu      sync.Mutex
	asns    map[geo.Country][]uint32 // ascending
	blocks  map[blockKey][]netip.Prefix
	memo    map[netip.Prefix][]geo.Share
	scratch []geo.Share
	top4    []netip.Prefix
	top6    []netip.Prefix
}

type blockKey struct {
	cc         geo.Country
	v6         bool
	max, nodes int
}

var (
	indexMu sync.Mutex
	indexes = map[*geo.DB]*geoIndex{}
)

// Bounds of the scans.
const (
	maxASN       = 400000
	blocksPerCC  = 48   // pure blocks kept per country and family
	nodesPerCC   = 6000 // PrefixCountries calls per country and family, at most
	leafBits4    = 24
	leafBits6    = 48
	minPure4Bits = 8
	minPure6Bits = 32
)

func indexFor(db *geo.DB) *geoIndex {
	indexMu.Lock()
	defer indexMu.Unlock()
	if ix := indexes[db]; ix != nil {
		return ix
	}
	ix := &geoIndex{db: db, asns: map[geo.Country][]uint32{}, blocks: map[blockKey][]netip.Prefix{}, memo: map[netip.Prefix][]geo.Share{}}
	for a := uint32(1); a <= maxASN; a++ {
		if info, ok := db.ASN(a); ok && !info.Country.IsZero() {
			ix.asns[info.Country] = append(ix.asns[info.Country], a)
		}
	}
	indexes[db] = ix
	return ix
}

// ASNs returns the ASNs registered in cc, ascending.
func (ix *geoIndex) ASNs(cc geo.Country) []uint32 { return ix.asns[cc] }

// Blocks returns up to blocksPerCC prefixes that map 100% to cc, no
// shorter than /8 (IPv4) or /32 (IPv6) and no longer than /24 or /48.
// They are found by a depth-first descent of the address space that goes
// into a node only when cc holds part of it, visiting the two halves of a
// node in an order fixed by a hash of each (so that the blocks are spread
// over the space, and the same for the same DB).
func (ix *geoIndex) Blocks(cc geo.Country, v6 bool) []netip.Prefix {
	return ix.blocksN(cc, v6, blocksPerCC, nodesPerCC)
}

// blocksN is Blocks with other bounds: up to maxBlocks blocks, found in at
// most maxNodes steps of the descent. The first blocks are the same as
// those of a smaller bound.
func (ix *geoIndex) blocksN(cc geo.Country, v6 bool, maxBlocks, maxNodes int) []netip.Prefix {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	key := blockKey{cc, v6, maxBlocks, maxNodes}
	if b, ok := ix.blocks[key]; ok {
		return b
	}
	root, leaf, minPure := netip.MustParsePrefix("0.0.0.0/0"), leafBits4, minPure4Bits
	if v6 {
		root, leaf, minPure = netip.MustParsePrefix("2000::/3"), leafBits6, minPure6Bits
	}
	var out []netip.Prefix
	nodes := 0
	var walk func(p netip.Prefix)
	walk = func(p netip.Prefix) {
		if len(out) >= maxBlocks || nodes >= maxNodes {
			return
		}
		nodes++
		ss := ix.shares(p)
		var mine geo.Share
		for _, s := range ss {
			if s.Country == cc {
				mine = s
			}
		}
		if mine.Count == 0 {
			return
		}
		if mine.Frac == 1 && p.Bits() >= minPure {
			out = append(out, p)
			return
		}
		if p.Bits() >= leaf {
			return
		}
		a, b := halves(p)
		if hashPrefix(a) > hashPrefix(b) {
			a, b = b, a
		}
		walk(a)
		walk(b)
	}
	// Start at /8 (IPv4) or /16 (IPv6): the levels above cost the most
	// and tell nothing a country-level descent needs.
	top := ix.top4
	if v6 {
		top = ix.top6
	}
	if top == nil {
		top = []netip.Prefix{root}
		for top[0].Bits() < topBits(v6) {
			var next []netip.Prefix
			for _, p := range top {
				a, b := halves(p)
				next = append(next, a, b)
			}
			top = next
		}
		slices.SortFunc(top, func(a, b netip.Prefix) int { return cmp.Compare(hashPrefix(a), hashPrefix(b)) })
		if v6 {
			ix.top6 = top
		} else {
			ix.top4 = top
		}
	}
	for _, p := range top {
		walk(p)
	}
	ix.blocks[key] = out
	return out
}

func topBits(v6 bool) int {
	if v6 {
		return 16
	}
	return 8
}

// shares returns PrefixCountries(p), memoised for the short prefixes that
// every country's descent goes through.
func (ix *geoIndex) shares(p netip.Prefix) []geo.Share {
	if s, ok := ix.memo[p]; ok {
		return s
	}
	ix.scratch = ix.db.PrefixCountries(p, ix.scratch[:0])
	limit := 16
	if p.Addr().Is6() {
		limit = 40
	}
	if p.Bits() > limit {
		return ix.scratch
	}
	s := slices.Clone(ix.scratch)
	ix.memo[p] = s
	return s
}

// halves splits p in its two subprefixes.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits() + 1
	a := p.Addr().AsSlice()
	b := slices.Clone(a)
	bit := p.Bits()
	b[bit/8] |= 0x80 >> (bit % 8)
	lo, _ := netip.AddrFromSlice(a)
	hi, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(lo, bits), netip.PrefixFrom(hi, bits)
}

func hashPrefix(p netip.Prefix) uint64 {
	b := p.Addr().As16()
	h := uint64(p.Bits()) * 0x9e3779b97f4a7c15
	for i := 0; i < 16; i += 8 {
		h ^= binary.BigEndian.Uint64(b[i:])
		h ^= h >> 31
		h *= 0xbf58476d1ce4e5b9
		h ^= h >> 29
	}
	return h
}
