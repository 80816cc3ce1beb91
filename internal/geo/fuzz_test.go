package geo

import (
	"bytes"
	"net/netip"
	"os"
	"testing"
)

func fuzzSeeds(f *testing.F, files ...string) {
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkLayer builds a DB from l and looks a few addresses up.
func checkLayer(t *testing.T, l *layer) {
	b := newBuilder()
	if err := b.add(l); err != nil {
		t.Fatal(err)
	}
	db := b.build()
	for _, a := range []string{"0.0.0.0", "10.0.1.1", "255.255.255.255", "::", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"} {
		db.Country(netip.MustParseAddr(a))
		db.Lookup(netip.MustParseAddr(a))
	}
	db.PrefixCountries(netip.MustParsePrefix("0.0.0.0/0"), nil)
	db.PrefixCountries(netip.MustParsePrefix("2000::/3"), nil)
}

func FuzzDelegated(f *testing.F) {
	fuzzSeeds(f, "testdata/delegated-apnic-extended-20250101", "testdata/delegated-ripencc-20240102")
	f.Fuzz(func(t *testing.T, data []byte) {
		l, _ := parseDelegated(bytes.NewReader(data), &Dataset{Path: "fuzz"})
		checkLayer(t, l)
	})
}

func FuzzCSV(f *testing.F) {
	fuzzSeeds(f, "testdata/country.csv", "testdata/asn.csv", "testdata/country-ipv6-num.csv")
	f.Fuzz(func(t *testing.T, data []byte) {
		l, _ := parseCSV(bytes.NewReader(data), &Dataset{Path: "fuzz"})
		checkLayer(t, l)
	})
}

func FuzzSnapshot(f *testing.F) {
	db := mustOpenF(f, []string{"testdata/country.csv", "testdata/asn.csv", "testdata/delegated-ripencc-20240102"})
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, db); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newBuilder()
		if err := readSnapshot(data, b, "fuzz"); err == nil {
			b.build().Country(netip.MustParseAddr("10.0.0.1"))
		}
	})
}

func mustOpenF(f *testing.F, paths []string) *DB {
	db, err := Open(paths, WithoutDefault(), WithoutCache())
	if err != nil {
		f.Fatal(err)
	}
	return db
}

// TestSnapshotRoundTrip writes a DB and reads it back.
func TestSnapshotRoundTrip(t *testing.T) {
	db := mustOpen(t, []string{"testdata/country.csv", "testdata/asn.csv", "testdata/delegated-apnic-extended-20250101"}, WithoutDefault(), WithoutCache())
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, db); err != nil {
		t.Fatal(err)
	}
	b := newBuilder()
	if err := readSnapshot(buf.Bytes(), b, "x"); err != nil {
		t.Fatal(err)
	}
	got := b.build()
	for _, a := range []string{"10.0.0.1", "10.0.1.1", "175.45.176.1", "2001:db8::1", "2001:db9::1", "8.8.8.8"} {
		addr := netip.MustParseAddr(a)
		c1, s1, _ := db.CountrySource(addr)
		c2, s2, _ := got.CountrySource(addr)
		n1, _, _ := db.OriginAS(addr)
		n2, _, _ := got.OriginAS(addr)
		if c1 != c2 || n1 != n2 || s1.String() != s2.String() {
			t.Errorf("%s: %s %v AS%d before, %s %v AS%d after", a, c1, s1, n1, c2, s2, n2)
		}
	}
	for _, asn := range []uint32{131279, 64496, 64501} {
		i1, _ := db.ASN(asn)
		i2, _ := got.ASN(asn)
		if i1.Country != i2.Country || i1.Name != i2.Name {
			t.Errorf("AS%d: %+v before, %+v after", asn, i1, i2)
		}
	}
}
