package geo

import (
	"net/netip"
	"testing"
)

// TestMap6Starts checks map6 with starts on /64 boundaries only (their low
// halves dropped) and with some inside a /64 (their low halves kept apart),
// answering every address around every boundary as the flat map says.
func TestMap6Starts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		addrs []string // range starts, ascending
		wide  bool     // a start lies inside a /64
	}{
		{"boundaries on /64", []string{"::", "2001:db8::", "2001:db8:0:1::", "2001:db9::"}, false},
		{"starts inside a /64", []string{"::", "2001:db8::", "2001:db8::8000:0:0:1", "2001:db8::8000:0:0:2", "2001:db8:0:1::", "2001:db8:0:1::1", "2001:db9::"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f flat
			for i, a := range tc.addrs {
				f = append(f, entry{start: addrKey(netip.MustParseAddr(a)), val: uint32(i + 1), src: uint8(i)})
			}
			m := compile6(f)
			if (len(m.loRun) > 0) != tc.wide {
				t.Fatalf("low halves kept: %d, want some: %v", len(m.loRun), tc.wide)
			}
			if got := m.flat(); len(got) != len(f) {
				t.Fatalf("flat: %d runs, want %d", len(got), len(f))
			} else {
				for i := range f {
					if got[i] != f[i] {
						t.Errorf("run %d: %+v, want %+v", i, got[i], f[i])
					}
				}
			}
			for i, e := range f {
				next, _ := e.start.add1()
				probes := []u128{e.start, next}
				if i > 0 {
					probes = append(probes, e.start.sub(u128{0, 1}))
				}
				for _, k := range probes {
					want := 0
					for j := range f {
						if !k.less(f[j].start) {
							want = j
						}
					}
					if got := m.find(k); got != want {
						t.Errorf("find(%x:%x) = run %d, want %d", k.hi, k.lo, got, want)
					}
				}
				if i+1 < len(f) {
					if end := m.end(i); end != f[i+1].start.sub(u128{0, 1}) {
						t.Errorf("end(%d) = %x:%x", i, end.hi, end.lo)
					}
				}
			}
		})
	}
}
