package geo

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func mustOpen(t *testing.T, paths []string, opts ...Option) *DB {
	t.Helper()
	db, err := Open(paths, opts...)
	if err != nil {
		t.Fatalf("Open(%v): %v", paths, err)
	}
	return db
}

func wantCountry(t *testing.T, db *DB, addr, want string) {
	t.Helper()
	c, ok := db.Country(netip.MustParseAddr(addr))
	if c.String() != want || ok != (want != "") {
		t.Errorf("Country(%s) = %q, %v; want %q", addr, c, ok, want)
	}
}

func TestDelegated(t *testing.T) {
	path := "testdata/delegated-apnic-extended-20250101"
	db := mustOpen(t, []string{path}, WithoutDefault(), WithoutCache())
	src := db.Sources()[0]
	if src.Kind != "delegated" || src.DateString() != "2024-12-31" || !strings.Contains(src.Name, "apnic") {
		t.Errorf("source = %+v", src)
	}
	// 7 assignments (4 ipv4 incl. 192.0.2.0, 2 ipv6, 3 asn lines = 9); 2 malformed.
	if src.Records != 8 || src.Skipped != 2 || len(src.Errors) != 2 {
		t.Errorf("records %d skipped %d errors %v; want 8, 2, 2", src.Records, src.Skipped, src.Errors)
	}
	for i, line := range []int{14, 15} {
		want := path + ":" + strconv.Itoa(line) + ":"
		if i < len(src.Errors) && !strings.HasPrefix(src.Errors[i].Error(), want) {
			t.Errorf("error %d = %q, want prefix %q", i, src.Errors[i], want)
		}
	}
	wantCountry(t, db, "175.45.176.0", "KP")
	wantCountry(t, db, "175.45.179.255", "KP")
	wantCountry(t, db, "175.45.180.0", "")
	// 768 addresses from 198.18.1.0: 198.18.1.0/24 and 198.18.2.0/23.
	wantCountry(t, db, "198.18.0.255", "")
	wantCountry(t, db, "198.18.1.0", "JP")
	wantCountry(t, db, "198.18.3.255", "JP")
	wantCountry(t, db, "198.18.4.0", "")
	got := rangePrefixes(addrKey(netip.MustParseAddr("198.18.1.0")), addrKey(netip.MustParseAddr("198.18.3.255")), false, nil)
	if want := []netip.Prefix{netip.MustParsePrefix("198.18.1.0/24"), netip.MustParsePrefix("198.18.2.0/23")}; !slices.Equal(got, want) {
		t.Errorf("rangePrefixes = %v, want %v", got, want)
	}
	wantCountry(t, db, "1.1.1.1", "") // available
	wantCountry(t, db, "1.2.3.4", "") // reserved
	wantCountry(t, db, "192.0.2.7", "JP")
	wantCountry(t, db, "2001:db8:ffff::1", "JP")
	wantCountry(t, db, "2001:db9::1", "KR")
	wantCountry(t, db, "2001:db9:1::1", "")
	for asn, want := range map[uint32]string{131279: "KP", 4837: "CN", 64500: "AU", 64503: "AU", 64504: "", 64499: ""} {
		info, ok := db.ASN(asn)
		if info.Country.String() != want || ok != (want != "") {
			t.Errorf("ASN(%d) = %+v, %v; want %q", asn, info, ok, want)
		}
		if ok && info.CountrySource != src {
			t.Errorf("ASN(%d) source %v, want %v", asn, info.CountrySource, src)
		}
	}
}

func TestCSV(t *testing.T) {
	db := mustOpen(t, []string{"testdata/country.csv", "testdata/asn.csv"}, WithoutDefault(), WithoutCache())
	cs, as := db.Sources()[0], db.Sources()[1]
	if cs.Kind != "csv" || cs.Records != 6 || cs.Skipped != 2 {
		t.Errorf("country.csv: %+v", cs)
	}
	if len(cs.Errors) == 2 {
		if !strings.HasPrefix(cs.Errors[0].Error(), "testdata/country.csv:7:") || !strings.HasPrefix(cs.Errors[1].Error(), "testdata/country.csv:8:") {
			t.Errorf("errors: %v", cs.Errors)
		}
	}
	if as.Records != 3 || as.Skipped != 1 || !strings.HasPrefix(as.Errors[0].Error(), "testdata/asn.csv:4:") {
		t.Errorf("asn.csv: %+v", as)
	}
	wantCountry(t, db, "1.0.0.7", "AU")
	wantCountry(t, db, "10.0.0.0", "DE")
	wantCountry(t, db, "10.0.1.127", "FR")
	wantCountry(t, db, "10.0.1.128", "")
	wantCountry(t, db, "10.0.2.1", "") // ZZ
	wantCountry(t, db, "2001:db8:7fff::1", "JP")
	wantCountry(t, db, "2001:db8:8000::", "KR")
	wantCountry(t, db, "2001:db8:c000::", "")
	for addr, want := range map[string]uint32{"10.0.1.200": 64496, "10.0.2.0": 64497, "2001:db8:ffff::": 64498, "10.0.3.0": 0} {
		asn, _, ok := db.OriginAS(netip.MustParseAddr(addr))
		if asn != want || ok != (want != 0) {
			t.Errorf("OriginAS(%s) = %d, want %d", addr, asn, want)
		}
	}
	if info, _ := db.ASN(64496); info.Name != "Example Networks, Inc." || info.NameSource != as {
		t.Errorf("ASN(64496) = %+v", info)
	}
	if info, _ := db.ASN(64497); info.Name != "Second Example" {
		t.Errorf("ASN(64497) = %+v", info)
	}
	a := db.Lookup(netip.MustParseAddr("10.0.0.1"))
	if a.Country.String() != "DE" || a.ASN != 64496 || a.AS.Name == "" || a.CountrySource != cs || a.ASNSource != as {
		t.Errorf("Lookup = %+v", a)
	}

	num := mustOpen(t, []string{"testdata/country-ipv6-num.csv"}, WithoutDefault(), WithoutCache())
	wantCountry(t, num, "2001:db8:1234::1", "SE")
	if s := num.Sources()[0]; s.Records != 1 || s.Skipped != 1 {
		t.Errorf("num source %+v", s)
	}
}

func TestBadFile(t *testing.T) {
	if _, err := Open([]string{"testdata/missing.csv"}, WithoutDefault(), WithoutCache()); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("missing file: err = %v", err)
	}
	if _, err := Open([]string{"testdata/README"}, WithoutDefault(), WithoutCache()); err == nil || !strings.Contains(err.Error(), "testdata/README: no usable records") {
		t.Errorf("not data: err = %v", err)
	}
}

func TestStacking(t *testing.T) {
	// Later files win where they have data.
	db := mustOpen(t, []string{"testdata/country.csv", "testdata/override.csv"}, WithoutDefault(), WithoutCache())
	wantCountry(t, db, "10.0.0.1", "DE")
	wantCountry(t, db, "10.0.1.1", "IT")
	wantCountry(t, db, "10.0.1.200", "IT")
	wantCountry(t, db, "8.8.8.8", "FR")
	db = mustOpen(t, []string{"testdata/override.csv", "testdata/country.csv"}, WithoutDefault(), WithoutCache())
	wantCountry(t, db, "10.0.1.1", "FR")
	wantCountry(t, db, "10.0.1.200", "IT") // country.csv has no data there
	// Files win over the embedded snapshot; the snapshot shows through elsewhere.
	db = mustOpen(t, []string{"testdata/override.csv", "testdata/delegated-ripencc-20240102"}, WithoutCache())
	wantCountry(t, db, "8.8.8.8", "FR")
	wantCountry(t, db, "8.8.4.4", "US")
	_, src, _ := db.CountrySource(netip.MustParseAddr("193.0.0.1"))
	if src == nil || src.Kind != "delegated" || src.DateString() != "2024-01-02" {
		t.Errorf("193.0.0.1 source = %v, want the RIPE file dated 2024-01-02", src)
	}
	info, _ := db.ASN(3333)
	if info.Country.String() != "NL" || info.CountrySource.Kind != "delegated" || info.NameSource == nil || info.NameSource.Kind != "snapshot" {
		t.Errorf("ASN(3333) = %+v: want country from the file, name from the snapshot", info)
	}
}

func TestPrefixCountries(t *testing.T) {
	db := mustOpen(t, []string{"testdata/country.csv"}, WithoutDefault(), WithoutCache())
	sh := db.PrefixCountries(netip.MustParsePrefix("10.0.0.0/22"), nil)
	want := map[string]uint64{"DE": 256, "FR": 128, "": 640}
	var sum uint64
	var frac float64
	for _, s := range sh {
		if want[s.Country.String()] != s.Count {
			t.Errorf("share %s = %d, want %d", s.Country, s.Count, want[s.Country.String()])
		}
		if (s.Source == nil) != s.Country.IsZero() {
			t.Errorf("share %s source %v", s.Country, s.Source)
		}
		sum += s.Count
		frac += s.Frac
	}
	if len(sh) != 3 || sum != 1024 || frac != 1 {
		t.Errorf("shares %+v: sum %d frac %v", sh, sum, frac)
	}
	// IPv6 up to /64: /64 units.
	sh = db.PrefixCountries(netip.MustParsePrefix("2001:db8::/32"), nil)
	want = map[string]uint64{"JP": 1 << 31, "KR": 1 << 30, "": 1 << 30}
	for _, s := range sh {
		if want[s.Country.String()] != s.Count {
			t.Errorf("v6 share %s = %d, want %d", s.Country, s.Count, want[s.Country.String()])
		}
	}
	if len(sh) != 3 {
		t.Errorf("v6 shares %+v", sh)
	}
	// Longer than /64: addresses.
	sh = db.PrefixCountries(netip.MustParsePrefix("2001:db8:1::/96"), nil)
	if len(sh) != 1 || sh[0].Count != 1<<32 || sh[0].Frac != 1 || sh[0].Country.String() != "JP" {
		t.Errorf("/96 shares %+v", sh)
	}
	// Allocation-free with capacity.
	buf := make([]Share, 0, 8)
	if n := testing.AllocsPerRun(100, func() { buf = db.PrefixCountries(netip.MustParsePrefix("10.0.0.0/22"), buf[:0]) }); n != 0 {
		t.Errorf("PrefixCountries allocates %v times", n)
	}
}

// TestFlattenModel compares flatten and overlay with painting an array.
func TestFlattenModel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const space = 64
	for iter := 0; iter < 2000; iter++ {
		var model [space]uint32
		var layers [][]rng
		for l := 0; l < 1+r.IntN(3); l++ {
			var rs []rng
			for i := 0; i < r.IntN(6); i++ {
				lo := r.Uint64N(space)
				hi := lo + r.Uint64N(space-lo)
				v := 1 + r.Uint32N(3)
				rs = append(rs, rng{lo: u128{0, lo}, hi: u128{0, hi}, val: v})
				for k := lo; k <= hi; k++ {
					model[k] = v
				}
			}
			layers = append(layers, rs)
		}
		f := emptyFlat()
		for i, rs := range layers {
			f = overlay(f, flatten(rs, uint8(i+1)))
		}
		m := compile4(f)
		for k := uint32(0); k < space; k++ {
			if got := m.val[m.find(k)]; got != model[k] {
				t.Fatalf("iter %d key %d: got %d want %d (layers %v)", iter, k, got, model[k], layers)
			}
		}
		for i := 1; i < len(f); i++ {
			if !f[i-1].start.less(f[i].start) || (f[i-1].val == f[i].val && f[i-1].src == f[i].src) {
				t.Fatalf("flat not normal: %v", f)
			}
		}
	}
}
