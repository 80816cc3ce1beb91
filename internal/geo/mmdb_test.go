package geo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

var testCountries = []string{"US", "KP", "NL", "CN", "DE", "BR", "ZA", "JP", "AU", "FR"}

// writeTestMMDB writes an MMDB with random overlapping IPv4 and IPv6
// networks in the GeoIP2-Country layout, some of them also in the
// GeoLite2-ASN layout.
func writeTestMMDB(t *testing.T, path string) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "Test-Country",
		BuildEpoch:              time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC).Unix(),
		IncludeReservedNetworks: true,
		RecordSize:              28,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	insert := func(ip net.IP, bits, total int) {
		cc := testCountries[r.IntN(len(testCountries))]
		rec := mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(cc)}}
		if r.IntN(3) == 0 {
			asn := 64496 + r.Uint32N(50)
			rec["autonomous_system_number"] = mmdbtype.Uint32(asn)
			rec["autonomous_system_organization"] = mmdbtype.String(fmt.Sprintf("Org %d", asn))
		}
		n := &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, total)}
		n.IP = n.IP.Mask(n.Mask)
		if err := tree.Insert(n, rec); err != nil {
			t.Fatalf("insert %v: %v", n, err)
		}
	}
	for i := 0; i < 3000; i++ {
		ip := make(net.IP, 4)
		for j := range ip {
			ip[j] = byte(r.Uint32())
		}
		insert(ip, 8+r.IntN(17), 32)
	}
	for i := 0; i < 1000; i++ {
		ip := make(net.IP, 16)
		ip[0], ip[1] = 0x2a, byte(r.IntN(4))
		for j := 2; j < 16; j++ {
			ip[j] = byte(r.Uint32())
		}
		insert(ip, 20+r.IntN(45), 128)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMMDBCrossCheck compares 10,000 random addresses with mmdblookup, an
// independent reader (libmaxminddb).
func TestMMDBCrossCheck(t *testing.T) {
	tool, err := exec.LookPath("mmdblookup")
	if err != nil {
		t.Skip("mmdblookup not found: install Debian package mmdb-bin")
	}
	path := filepath.Join(t.TempDir(), "test.mmdb")
	writeTestMMDB(t, path)
	db := mustOpen(t, []string{path}, WithoutDefault(), WithoutCache())
	src := db.Sources()[0]
	if src.Kind != "mmdb" || src.DateString() != "2025-03-04" || !strings.Contains(src.Name, "Test-Country") {
		t.Errorf("source = %+v", src)
	}
	n := 10000
	if testing.Short() {
		n = 1000
	}
	r := rand.New(rand.NewPCG(7, 8))
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		if i%4 == 3 {
			var b [16]byte
			b[0], b[1] = 0x2a, byte(r.IntN(4))
			for j := 2; j < 16; j++ {
				b[j] = byte(r.Uint32())
			}
			addrs[i] = netip.AddrFrom16(b)
		} else {
			var b [4]byte
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			addrs[i] = netip.AddrFrom4(b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type result struct{ cc, asn string }
	results := make([]result, n)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rec, err := mmdblookup(ctx, tool, path, addrs[i])
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				if m := isoRE.FindStringSubmatch(rec); m != nil {
					results[i].cc = m[1]
				}
				if m := asnRE.FindStringSubmatch(rec); m != nil {
					results[i].asn = m[1]
				}
			}
		}()
	}
	for i := range addrs {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	found, bad := 0, 0
	for i, a := range addrs {
		c, _ := db.Country(a)
		asn, _, _ := db.OriginAS(a)
		gotASN := ""
		if asn != 0 {
			gotASN = fmt.Sprint(asn)
		}
		if c.String() != results[i].cc || gotASN != results[i].asn {
			bad++
			if bad <= 10 {
				t.Errorf("%s: geo says %q AS%q, mmdblookup says %q AS%q", a, c, gotASN, results[i].cc, results[i].asn)
			}
		}
		if results[i].cc != "" {
			found++
		}
	}
	t.Logf("%d addresses, %d with a country, %d mismatches", n, found, bad)
	if found < n/10 {
		t.Errorf("only %d of %d addresses found: the test data is too sparse to mean much", found, n)
	}
}

var (
	isoRE = regexp.MustCompile(`"iso_code":\s*"([A-Z]{2})"`)
	asnRE = regexp.MustCompile(`"autonomous_system_number":\s*(\d+)`)
)

// mmdblookup returns the record of addr as printed by mmdblookup, or "" if
// there is none.
func mmdblookup(ctx context.Context, tool, file string, addr netip.Addr, path ...string) (string, error) {
	args := append([]string{"--file", file, "--ip", addr.String()}, path...)
	out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput()
	s := string(out)
	if strings.Contains(s, "Could not find an entry") || strings.Contains(s, "No data was found") || strings.Contains(s, "lookup path does not match") {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("mmdblookup %v: %v: %s", args, err, s)
	}
	return s, nil
}
