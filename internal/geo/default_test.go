package geo

import (
	"net/netip"
	"sync"
	"testing"
)

var (
	snapOnce sync.Once
	snapDB   *DB
)

// snapshotDB is the embedded snapshot alone (no cache, no files), so the
// known answers do not depend on the machine.
func snapshotDB(t testing.TB) *DB {
	t.Helper()
	snapOnce.Do(func() {
		db, err := Open(nil, WithoutCache())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		snapDB = db
	})
	if snapDB == nil {
		t.Fatal("embedded snapshot did not load")
	}
	return snapDB
}

func TestKnownAnswersDefault(t *testing.T) {
	db := snapshotDB(t)
	for _, tc := range []struct {
		q    string
		want string
	}{
		{"175.45.176.0", "KP"},
		{"175.45.179.255", "KP"},
		{"8.8.8.8", "US"},
		{"193.0.0.1", "NL"},
		{"193.0.7.255", "NL"},
		{"2001:67c:2e8::1", "NL"}, // RIPE NCC
		{"2001:4860:4860::8888", "US"},
		{"::ffff:8.8.8.8", "US"},
	} {
		a := netip.MustParseAddr(tc.q)
		c, ok := db.Country(a)
		if !ok || c.String() != tc.want {
			t.Errorf("Country(%s) = %q, %v; want %s", tc.q, c, ok, tc.want)
		}
		c2, src, _ := db.CountrySource(a)
		if c2 != c || src == nil || src.Date.IsZero() {
			t.Errorf("CountrySource(%s) = %q, %v: want same country and a dated source", tc.q, c2, src)
		}
	}
	for _, p := range []string{"175.45.176.0/24", "175.45.176.0/22", "193.0.0.0/21"} {
		sh := db.PrefixCountries(netip.MustParsePrefix(p), nil)
		if len(sh) != 1 || sh[0].Frac != 1 {
			t.Errorf("PrefixCountries(%s) = %+v, want one country", p, sh)
		}
	}
	for _, tc := range []struct {
		asn  uint32
		cc   string
		name string
	}{
		{131279, "KP", "Star"},
		{4837, "CN", ""},
		{15169, "US", "Google"},
		{3333, "NL", "RIPE"},
	} {
		info, ok := db.ASN(tc.asn)
		if !ok || info.Country.String() != tc.cc {
			t.Errorf("ASN(%d) = %+v, want country %s", tc.asn, info, tc.cc)
		}
		if tc.name != "" && !containsFold(info.Name, tc.name) {
			t.Errorf("ASN(%d) name %q, want it to contain %q", tc.asn, info.Name, tc.name)
		}
		if info.CountrySource == nil || info.NameSource == nil {
			t.Errorf("ASN(%d): missing sources: %+v", tc.asn, info)
		}
	}
	if asn, _, ok := db.OriginAS(netip.MustParseAddr("175.45.176.1")); !ok || asn != 131279 {
		t.Errorf("OriginAS(175.45.176.1) = %d, %v; want 131279", asn, ok)
	}
}

func containsFold(s, sub string) bool {
	return len(sub) == 0 || indexFold(s, sub) >= 0
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		ok := true
		for j := 0; j < len(sub); j++ {
			a, b := s[i+j]|0x20, sub[j]|0x20
			if a != b {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}
