package geo

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
)

// u128 is an unsigned 128-bit integer: an IPv6 address, or an IPv4 address or
// an AS number in lo.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

// add1 returns a+1 and whether it wrapped around (a was the maximum).
func (a u128) add1() (u128, bool) {
	lo := a.lo + 1
	hi := a.hi
	if lo == 0 {
		hi++
		if hi == 0 {
			return u128{}, true
		}
	}
	return u128{hi, lo}, false
}

func (a u128) sub(b u128) u128 {
	lo := a.lo - b.lo
	hi := a.hi - b.hi
	if a.lo < b.lo {
		hi--
	}
	return u128{hi, lo}
}

// addrKey converts an address to its key: IPv4 (and IPv4-mapped IPv6) in
// lo, IPv6 in both halves.
func addrKey(a netip.Addr) u128 {
	if a.Is4() || a.Is4In6() {
		b := a.Unmap().As4()
		return u128{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// keyAddr converts a key back to an address of the given family.
func keyAddr(k u128, v6 bool) netip.Addr {
	if !v6 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(k.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return netip.AddrFrom16(b)
}

// prefixBounds returns the first and last key of p (p must be masked).
func prefixBounds(p netip.Prefix) (first, last u128) {
	p = p.Masked()
	first = addrKey(p.Addr())
	if p.Addr().Is4() {
		host := uint64(1)<<(32-p.Bits()) - 1
		return first, u128{0, first.lo | host}
	}
	hb := 128 - p.Bits()
	last = first
	switch {
	case hb >= 64:
		last.lo = ^uint64(0)
		if hb == 128 {
			last.hi = ^uint64(0)
		} else {
			last.hi |= uint64(1)<<(hb-64) - 1
		}
	case hb > 0:
		last.lo |= uint64(1)<<hb - 1
	}
	return first, last
}

var (
	max32  = u128{0, 0xFFFFFFFF}
	max128 = u128{^uint64(0), ^uint64(0)}
)

// rng is one input record: the inclusive key range [lo, hi] has value val.
type rng struct {
	lo, hi u128
	val    uint32
}

// entry starts a run of keys with one value; the run ends where the next
// entry starts. val 0 means no data.
type entry struct {
	start u128
	val   uint32
	src   uint8
}

// flat is a complete, sorted partition of a key space: the first entry starts
// at 0 and adjacent entries differ in value or source.
type flat []entry

func emptyFlat() flat { return flat{{}} }

func (f *flat) push(e entry) {
	n := len(*f)
	if n > 0 && (*f)[n-1].start == e.start {
		*f = (*f)[:n-1]
		n--
	}
	if n > 0 && (*f)[n-1].val == e.val && (*f)[n-1].src == e.src {
		return
	}
	*f = append(*f, e)
}

// flatten turns records of one source into a flat map. Where records
// overlap, the later record wins.
func flatten(rs []rng, src uint8) flat {
	if len(rs) == 0 {
		return emptyFlat()
	}
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b rng) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		}
		return 0
	})
	overlap := false
	for i := 1; i < len(sorted); i++ {
		if !sorted[i-1].hi.less(sorted[i].lo) {
			overlap = true
			break
		}
	}
	if overlap { // len(rs) >= 2 here: resolve by halves, later half on top.
		m := len(rs) / 2
		return overlay(flatten(rs[:m], src), flatten(rs[m:], src))
	}
	out := make(flat, 0, 2*len(sorted)+1)
	out = append(out, entry{})
	var cur u128
	end := false
	for _, r := range sorted {
		if r.lo != cur {
			out.push(entry{start: cur})
		}
		out.push(entry{start: r.lo, val: r.val, src: src})
		cur, end = r.hi.add1()
		if end {
			break
		}
	}
	if !end {
		out.push(entry{start: cur})
	}
	return out
}

// overlay returns base with every run of top that has data laid over it.
func overlay(base, top flat) flat {
	if len(top) == 1 && top[0].val == 0 {
		return base
	}
	if len(base) == 1 && base[0].val == 0 {
		return top
	}
	out := make(flat, 0, len(base)+len(top))
	bi, ti := 0, 0
	var p u128
	for {
		v := base[bi]
		if top[ti].val != 0 {
			v = top[ti]
		}
		out.push(entry{start: p, val: v.val, src: v.src})
		nb, nt := bi+1 < len(base), ti+1 < len(top)
		switch {
		case nb && nt:
			b, t := base[bi+1].start, top[ti+1].start
			switch {
			case b.less(t):
				bi, p = bi+1, b
			case t.less(b):
				ti, p = ti+1, t
			default:
				bi, ti, p = bi+1, ti+1, b
			}
		case nb:
			bi, p = bi+1, base[bi+1].start
		case nt:
			ti, p = ti+1, top[ti+1].start
		default:
			return out
		}
	}
}

// map4 is the lookup form of a flat map over 32-bit keys (IPv4 addresses,
// AS numbers): sorted run starts and a direct index on the top 16 bits that
// narrows the binary search to one /16.
type map4 struct {
	start []uint32
	val   []uint32
	src   []uint8
	idx   []uint32 // len 65537; idx[h] = first run with start>>16 >= h
}

func compile4(f flat) map4 {
	m := map4{start: make([]uint32, len(f)), val: make([]uint32, len(f)), src: make([]uint8, len(f))}
	for i, e := range f {
		m.start[i], m.val[i], m.src[i] = uint32(e.start.lo), e.val, e.src
	}
	m.idx = make([]uint32, 65537)
	j := 0
	for h := 0; h <= 65536; h++ {
		for j < len(m.start) && int(m.start[j]>>16) < h {
			j++
		}
		m.idx[h] = uint32(j)
	}
	return m
}

// find returns the index of the run that holds k.
func (m *map4) find(k uint32) int {
	h := k >> 16
	lo, hi := int(m.idx[h]), int(m.idx[h+1])
	if lo > 0 {
		lo--
	}
	// The answer is the last run in [lo, hi) with start <= k.
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if m.start[mid] <= k {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// end returns the last key of run i.
func (m *map4) end(i int) uint32 {
	if i+1 < len(m.start) {
		return m.start[i+1] - 1
	}
	return 0xFFFFFFFF
}

func (m *map4) flat() flat {
	f := make(flat, len(m.start))
	for i := range f {
		f[i] = entry{start: u128{0, uint64(m.start[i])}, val: m.val[i], src: m.src[i]}
	}
	return f
}

// map6 is the lookup form of a flat map over IPv6 addresses, with a direct
// index on the top 16 bits. The range starts are kept as their top 64 bits
// (hi); the few whose low 64 bits are not zero (a start inside a /64: 3%
// of the embedded snapshot's) have them apart, by run (loRun, ascending,
// and loVal). That halves the starts' bytes; the low bits are looked for
// only when a lookup's top 64 bits equal a start's.
type map6 struct {
	hi    []uint64
	loRun []uint32
	loVal []uint64
	val   []uint32
	src   []uint8
	idx   []uint32 // len 65537
}

func compile6(f flat) map6 {
	m := map6{hi: make([]uint64, len(f)), val: make([]uint32, len(f)), src: make([]uint8, len(f))}
	for i, e := range f {
		m.hi[i], m.val[i], m.src[i] = e.start.hi, e.val, e.src
		if e.start.lo != 0 {
			m.loRun, m.loVal = append(m.loRun, uint32(i)), append(m.loVal, e.start.lo)
		}
	}
	m.loRun, m.loVal = slices.Clip(m.loRun), slices.Clip(m.loVal)
	m.idx = make([]uint32, 65537)
	j := 0
	for h := 0; h <= 65536; h++ {
		for j < len(m.hi) && int(m.hi[j]>>48) < h {
			j++
		}
		m.idx[h] = uint32(j)
	}
	return m
}

// len returns the number of runs.
func (m *map6) len() int { return len(m.hi) }

// lo returns the low 64 bits of run i's first address.
func (m *map6) lo(i int) uint64 {
	if j, ok := slices.BinarySearch(m.loRun, uint32(i)); ok {
		return m.loVal[j]
	}
	return 0
}

// start returns the first address of run i.
func (m *map6) start(i int) u128 { return u128{m.hi[i], m.lo(i)} }

func (m *map6) find(k u128) int {
	h := k.hi >> 48
	lo, hi := int(m.idx[h]), int(m.idx[h+1])
	if lo > 0 {
		lo--
	}
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if s := m.hi[mid]; s < k.hi || (s == k.hi && m.lo(mid) <= k.lo) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

func (m *map6) end(i int) u128 {
	if i+1 < m.len() {
		return m.start(i + 1).sub(u128{0, 1})
	}
	return max128
}

func (m *map6) flat() flat {
	f := make(flat, m.len())
	for i := range f {
		f[i] = entry{start: m.start(i), val: m.val[i], src: m.src[i]}
	}
	return f
}

func (a u128) tz() int {
	if a.lo != 0 {
		return bits.TrailingZeros64(a.lo)
	}
	if a.hi != 0 {
		return 64 + bits.TrailingZeros64(a.hi)
	}
	return 128
}

func (a u128) bitLen() int {
	if a.hi != 0 {
		return 64 + bits.Len64(a.hi)
	}
	return bits.Len64(a.lo)
}

func (a u128) shl(n int) u128 {
	switch {
	case n >= 128:
		return u128{}
	case n >= 64:
		return u128{a.lo << (n - 64), 0}
	case n == 0:
		return a
	}
	return u128{a.hi<<n | a.lo>>(64-n), a.lo << n}
}

// rangePrefixes appends the CIDR blocks that exactly cover the inclusive
// range [lo, hi] to dst.
func rangePrefixes(lo, hi u128, v6 bool, dst []netip.Prefix) []netip.Prefix {
	width := 32
	if v6 {
		width = 128
	}
	for !hi.less(lo) {
		k := min(lo.tz(), width)
		n, wrap := hi.sub(lo).add1()
		if !wrap {
			k = min(k, n.bitLen()-1)
		}
		dst = append(dst, netip.PrefixFrom(keyAddr(lo, v6), width-k))
		if k == 128 {
			break
		}
		var end bool
		lo, end = lo.add(u128{0, 1}.shl(k))
		if end {
			break
		}
	}
	return dst
}

// add returns a+b and whether it overflowed.
func (a u128) add(b u128) (u128, bool) {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, c2 := bits.Add64(a.hi, b.hi, c)
	return u128{hi, lo}, c2 != 0
}
