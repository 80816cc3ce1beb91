package geo

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// BenchmarkLoadDefault measures loading the embedded snapshot (no cache).
func BenchmarkLoadDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(nil, WithoutCache()); err != nil {
			b.Fatal(err)
		}
	}
}

func randomAddrs(n int, v6 bool) []netip.Addr {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]netip.Addr, n)
	for i := range out {
		if v6 {
			var b [16]byte
			b[0], b[1] = 0x20, byte(r.IntN(16)) // 2000::/12, where the space is assigned
			for j := 2; j < 16; j++ {
				b[j] = byte(r.Uint32())
			}
			out[i] = netip.AddrFrom16(b)
		} else {
			var b [4]byte
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			out[i] = netip.AddrFrom4(b)
		}
	}
	return out
}

// BenchmarkLookupAddr measures Country on random IPv4 addresses.
func BenchmarkLookupAddr(b *testing.B) {
	db := snapshotDB(b)
	addrs := randomAddrs(1<<16, false)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		db.Country(addrs[i&(1<<16-1)])
		i++
	}
}

// BenchmarkLookupAddr6 measures Country on random IPv6 addresses in 2000::/12.
func BenchmarkLookupAddr6(b *testing.B) {
	db := snapshotDB(b)
	addrs := randomAddrs(1<<16, true)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		db.Country(addrs[i&(1<<16-1)])
		i++
	}
}

// BenchmarkPrefixCountries measures splitting random /16-/24 IPv4 prefixes.
func BenchmarkPrefixCountries(b *testing.B) {
	db := snapshotDB(b)
	addrs := randomAddrs(1<<16, false)
	ps := make([]netip.Prefix, len(addrs))
	for i, a := range addrs {
		ps[i], _ = a.Prefix(16 + i%9)
	}
	dst := make([]Share, 0, 64)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst = db.PrefixCountries(ps[i&(1<<16-1)], dst[:0])
		i++
	}
}
