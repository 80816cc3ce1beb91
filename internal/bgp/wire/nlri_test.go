package wire

import (
	"net/netip"
	"testing"
)

func TestDecodePrefix(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		afi  uint16
		want string
		n    int
	}{
		{[]byte{0}, AFIIPv4, "0.0.0.0/0", 1},
		{[]byte{22, 175, 45, 179}, AFIIPv4, "175.45.176.0/22", 4}, // host bits cleared
		{[]byte{32, 192, 0, 2, 1, 99}, AFIIPv4, "192.0.2.1/32", 5},
		{[]byte{32, 0x20, 0x01, 0x0d, 0xb8}, AFIIPv6, "2001:db8::/32", 5},
		{[]byte{33}, AFIIPv4, "", 0},
		{[]byte{24, 1, 2}, AFIIPv4, "", 0},
		{nil, AFIIPv4, "", 0},
	} {
		p, n, err := DecodePrefix(c.in, c.afi)
		if c.want == "" {
			if err == nil {
				t.Errorf("% x: %s accepted", c.in, p)
			}
			continue
		}
		if err != nil || p.String() != c.want || n != c.n {
			t.Errorf("% x: %s %d %v, want %s %d", c.in, p, n, err, c.want, c.n)
		}
		if got := AppendPrefix(nil, p); len(got) != n || PrefixLen(p) != n {
			t.Errorf("%s: encoded % x, PrefixLen %d, want %d bytes", p, got, PrefixLen(p), n)
		}
	}
}

func TestNLRIRoundTrip(t *testing.T) {
	ns := []NLRI{{Prefix: netip.MustParsePrefix("10.0.0.0/8"), PathID: 1}, {Prefix: netip.MustParsePrefix("0.0.0.0/0"), PathID: 2}, {Prefix: netip.MustParsePrefix("192.0.2.128/25"), PathID: 0}}
	for _, addPath := range []bool{false, true} {
		b := AppendNLRI(nil, ns, addPath)
		l := 0
		for _, n := range ns {
			l += NLRILen(n, addPath)
		}
		if len(b) != l {
			t.Errorf("addPath=%v: %d bytes, NLRILen says %d", addPath, len(b), l)
		}
		if !ValidNLRI(b, AFIIPv4, addPath) {
			t.Errorf("addPath=%v: not valid", addPath)
		}
		got, err := DecodeNLRI(nil, b, AFIIPv4, addPath, true)
		if err != nil || len(got) != len(ns) {
			t.Fatalf("addPath=%v: %v %v", addPath, got, err)
		}
		for i := range ns {
			want := ns[i]
			if !addPath {
				want.PathID = 0
			}
			want.Multicast = true
			if got[i] != want {
				t.Errorf("addPath=%v: route %d is %+v, want %+v", addPath, i, got[i], want)
			}
		}
	}
}

// TestNLRIGuess checks the ADD-PATH guess for messages that do not say so.
func TestNLRIGuess(t *testing.T) {
	ns := []NLRI{{Prefix: netip.MustParsePrefix("172.17.0.0/24"), PathID: 2}, {Prefix: netip.MustParsePrefix("172.17.1.0/24"), PathID: 2}}
	b := AppendNLRI(nil, ns, true)
	if ValidNLRI(b, AFIIPv4, false) {
		t.Fatal("ADD-PATH NLRI valid as plain NLRI")
	}
	got, err := decodeNLRIGuess(nil, b, AFIIPv4, false, false)
	if err != nil || len(got) != 2 || got[0] != ns[0] || got[1] != ns[1] {
		t.Errorf("got %v %v", got, err)
	}
}
