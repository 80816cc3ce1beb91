package geo

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// parseDelegated reads an RIR statistics file in the delegated or
// delegated-extended format (https://www.nro.net/wp-content/uploads/nro-extended-stats-readme5.txt):
//
//	2|apnic|20250101|12345|19830613|20241231|+1000        version line
//	apnic|*|ipv4|*|45678|summary                          summary lines
//	apnic|KP|ipv4|175.45.176.0|1024|20091015|allocated|A9...  records
//
// ipv4 records give a start address and an address count (not always a
// power of two), ipv6 records a start address and a prefix length, asn
// records a first AS number and a count. Records whose status is available
// or reserved are not assignments and are left out. A malformed line is
// recorded in src (file:line) and skipped; the rest of the file loads.
func parseDelegated(r io.Reader, src *Dataset) (*layer, error) {
	l := newLayer(src)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	fail := func(format string, a ...any) {
		src.skip(&LineError{File: src.Path, Line: line, Err: fmt.Errorf(format, a...)})
	}
	var registry string
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		f := strings.Split(text, "|")
		if registry == "" && len(f) >= 6 && isVersion(f[0]) {
			// version|registry|serial|records|startdate|enddate|UTCoffset
			registry = f[1]
			for _, d := range []string{f[5], f[2]} {
				if t, err := time.Parse("20060102", d); err == nil {
					src.Date = t
					break
				}
			}
			continue
		}
		if len(f) >= 6 && f[1] == "*" && f[5] == "summary" {
			continue
		}
		if len(f) < 7 {
			fail("want at least 7 |-separated fields, got %d", len(f))
			continue
		}
		status := strings.ToLower(f[6])
		switch status {
		case "allocated", "assigned":
		case "available", "reserved":
			continue
		default:
			fail("unknown status %q", f[6])
			continue
		}
		cc, err := ParseCountry(f[1])
		if err != nil {
			fail("%v", err)
			continue
		}
		if cc == (Country{'Z', 'Z'}) {
			continue
		}
		switch strings.ToLower(f[2]) {
		case "ipv4":
			a, err := netip.ParseAddr(f[3])
			if err != nil || !a.Is4() {
				fail("bad ipv4 start %q", f[3])
				continue
			}
			n, err := strconv.ParseUint(f[4], 10, 64)
			if err != nil || n == 0 {
				fail("bad ipv4 address count %q", f[4])
				continue
			}
			lo := addrKey(a)
			if lo.lo+n-1 > 0xFFFFFFFF {
				fail("ipv4 range %s+%d runs past 255.255.255.255", f[3], n)
				continue
			}
			l.cc4 = append(l.cc4, rng{lo: lo, hi: u128{0, lo.lo + n - 1}, val: packCC(cc)})
		case "ipv6":
			a, err := netip.ParseAddr(f[3])
			if err != nil || !a.Is6() || a.Is4In6() {
				fail("bad ipv6 start %q", f[3])
				continue
			}
			bits, err := strconv.Atoi(f[4])
			if err != nil || bits < 0 || bits > 128 {
				fail("bad ipv6 prefix length %q", f[4])
				continue
			}
			p := netip.PrefixFrom(a, bits)
			if p.Masked().Addr() != a {
				fail("ipv6 start %s is not the first address of a /%d", f[3], bits)
				continue
			}
			lo, hi := prefixBounds(p)
			l.cc6 = append(l.cc6, rng{lo: lo, hi: hi, val: packCC(cc)})
		case "asn":
			first, err := strconv.ParseUint(f[3], 10, 32)
			if err != nil {
				fail("bad asn %q", f[3])
				continue
			}
			n, err := strconv.ParseUint(f[4], 10, 32)
			if err != nil || n == 0 || first+n-1 > 0xFFFFFFFF {
				fail("bad asn count %q", f[4])
				continue
			}
			l.asCC = append(l.asCC, rng{lo: u128{0, first}, hi: u128{0, first + n - 1}, val: packCC(cc)})
		default:
			fail("unknown record type %q", f[2])
			continue
		}
		src.Records++
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("%s: line %d: %w", src.Path, line+1, err)
	}
	if registry != "" && !strings.Contains(src.Name, registry) {
		src.Name = registry + " " + src.Name
	}
	if src.Date.IsZero() {
		if m := fileDate.FindStringSubmatch(src.Path); m != nil {
			src.Date, _ = time.Parse("20060102", m[1])
		}
	}
	if src.Records == 0 {
		if src.Skipped > 0 {
			return l, fmt.Errorf("%s: %w (%d malformed lines, first: %v)", src.Path, errNoData, src.Skipped, src.Errors[0])
		}
		return l, fmt.Errorf("%s: %w", src.Path, errNoData)
	}
	return l, nil
}

var fileDate = regexp.MustCompile(`(20\d{6})`)

func isVersion(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// looksDelegated reports whether the first data line of head is in the
// delegated format.
func looksDelegated(head []byte) bool {
	for _, ln := range strings.Split(string(head), "\n") {
		ln = strings.TrimSpace(ln)
		if ln == "" || ln[0] == '#' {
			continue
		}
		return strings.Count(ln, "|") >= 5
	}
	return false
}
