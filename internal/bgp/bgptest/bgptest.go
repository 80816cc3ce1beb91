// Package bgptest holds test fixtures shared by the packages that encode
// and decode BGP (bgp/wire, mrt): attribute sets that exercise every
// encoder branch, and a sampler for corpus-seeded tests. Tests only.
package bgptest

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// Path parses an AS path or fails tb.
func Path(tb testing.TB, s string) bgp.Path {
	tb.Helper()
	p, err := bgp.ParsePath(s)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// Attrs returns a set of attributes exercising every encoder branch: a
// plain path; prepending, a set, MED, LOCAL_PREF, atomic aggregate, a
// 4-byte aggregator, communities and large communities; confederation
// segments, a 100-hop path, unknown attributes (one over 255 bytes) and 80
// communities.
func Attrs(tb testing.TB) []*bgp.Attrs {
	long := make([]string, 100)
	for i := range long {
		long[i] = fmt.Sprint(4200000000 + i)
	}
	mk := func(path string, nh string, f func(a *bgp.Attrs)) *bgp.Attrs {
		a := &bgp.Attrs{Path: Path(tb, path), NextHop: netip.MustParseAddr(nh)}
		a.Set(bgp.AttrOrigin)
		a.Set(bgp.AttrASPath)
		if f != nil {
			f(a)
		}
		return a
	}
	return []*bgp.Attrs{
		mk("3356 174 131279", "192.0.2.1", nil),
		mk("64500 64500 64500 4837 {131279,131280}", "192.0.2.1", func(a *bgp.Attrs) {
			a.Origin = bgp.OriginIncomplete
			a.MED, a.LocalPref = 10, 100
			a.Set(bgp.AttrMED)
			a.Set(bgp.AttrLocalPref)
			a.Set(bgp.AttrAtomicAggregate)
			a.Set(bgp.AttrAggregator)
			a.Aggregator = bgp.Aggregator{AS: 4200000009, Addr: netip.MustParseAddr("10.0.0.9")}
			a.Communities = []bgp.Community{3356<<16 | 100, bgp.CommunityNoExport}
			a.Set(bgp.AttrCommunities)
			a.LargeCommunities = []bgp.LargeCommunity{{Global: 4200000001, Local1: 1, Local2: 2}, {Global: 3, Local1: 4, Local2: 5}}
			a.Set(bgp.AttrLargeCommunities)
		}),
		mk("(65001 65002) [65003,65004] 1299 "+strings.Join(long, " "), "192.0.2.77", func(a *bgp.Attrs) {
			a.Origin = bgp.OriginEGP
			a.Unknown = []bgp.RawAttr{{Flags: 0xc0, Type: 99, Value: bytes.Repeat([]byte{7}, 300)}, {Flags: 0x80, Type: 200, Value: []byte{1, 2}}}
			for i := range 80 {
				a.Communities = append(a.Communities, bgp.Community(i))
			}
			a.Set(bgp.AttrCommunities)
		}),
	}
}

// WithV6 returns a copy of a with an IPv6 next hop (and link-local when ll).
func WithV6(a *bgp.Attrs, ll bool) *bgp.Attrs {
	c := a.Clone()
	c.NextHop = netip.MustParseAddr("2001:db8::1")
	if ll {
		c.LinkLocalNextHop = netip.MustParseAddr("fe80::1")
	}
	return c
}

// Sample returns s when it has at most n items, else its first n/2 and an
// even sample of the rest, n in all.
func Sample[T any](s []T, n int) []T {
	if len(s) <= n {
		return s
	}
	first := n / 2
	step := (len(s) - first) / (n - first)
	out := s[:first:first]
	for i := first; i < len(s) && len(out) < n; i += step {
		out = append(out, s[i])
	}
	return out
}
