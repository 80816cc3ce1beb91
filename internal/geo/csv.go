package geo

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
)

// parseCSV reads address ranges in the ip-location-db layouts, IPv4 and
// IPv6 mixed freely:
//
//	start,end,country[,...]       e.g. 1.0.0.0,1.0.0.255,AU
//	start,end,asn,name            e.g. 1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."
//
// start and end are inclusive and either addresses or decimal numbers (the
// "-num" files; a number above 2^32-1, or a file whose name contains "ipv6",
// means IPv6). Further columns of the country layout (city databases) are
// ignored. A first line that is not data is taken as a header. A malformed
// line is recorded in src (file:line) and skipped.
func parseCSV(r io.Reader, src *Dataset) (*layer, error) {
	l := newLayer(src)
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.LazyQuotes = true
	v6Hint := strings.Contains(strings.ToLower(src.Path), "ipv6")
	rows := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		rows++
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && pe.Err != nil {
				src.skip(&LineError{File: src.Path, Line: pe.Line, Err: pe.Err})
				continue
			}
			return l, fmt.Errorf("%s: %w", src.Path, err)
		}
		if err := csvRecord(l, rec, v6Hint); err != nil {
			if rows == 1 && !startsWithDigitOrColon(rec[0]) {
				continue // header
			}
			src.skip(&LineError{File: src.Path, Line: line, Err: err})
			continue
		}
		src.Records++
	}
	if src.Records == 0 {
		if src.Skipped > 0 {
			return l, fmt.Errorf("%s: %w (%d malformed lines, first: %v)", src.Path, errNoData, src.Skipped, src.Errors[0])
		}
		return l, fmt.Errorf("%s: %w", src.Path, errNoData)
	}
	return l, nil
}

func startsWithDigitOrColon(s string) bool {
	s = strings.TrimSpace(s)
	return s != "" && (s[0] >= '0' && s[0] <= '9' || s[0] == ':' || (s[0]|0x20 >= 'a' && s[0]|0x20 <= 'f' && strings.Contains(s, ":")))
}

func csvRecord(l *layer, rec []string, v6Hint bool) error {
	if len(rec) < 3 {
		return fmt.Errorf("want at least 3 comma-separated fields, got %d", len(rec))
	}
	lo, v6lo, err := csvAddr(rec[0], v6Hint)
	if err != nil {
		return err
	}
	hi, v6hi, err := csvAddr(rec[1], v6Hint || v6lo)
	if err != nil {
		return err
	}
	if v6lo != v6hi {
		return fmt.Errorf("range %s-%s mixes IPv4 and IPv6", rec[0], rec[1])
	}
	if hi.less(lo) {
		return fmt.Errorf("range end %s before start %s", rec[1], rec[0])
	}
	third := strings.TrimSpace(rec[2])
	if asn, ok := parseASN(third); ok {
		if asn == 0 {
			return nil // AS0: not routed
		}
		r := rng{lo: lo, hi: hi, val: asn}
		if v6lo {
			l.as6 = append(l.as6, r)
		} else {
			l.as4 = append(l.as4, r)
		}
		if len(rec) >= 4 {
			if name := strings.TrimSpace(rec[3]); name != "" {
				if _, dup := l.names[asn]; !dup {
					l.names[asn] = name
				}
			}
		}
		return nil
	}
	if third == "" || strings.EqualFold(third, "ZZ") {
		return nil // no country
	}
	cc, err := ParseCountry(third)
	if err != nil {
		return err
	}
	r := rng{lo: lo, hi: hi, val: packCC(cc)}
	if v6lo {
		l.cc6 = append(l.cc6, r)
	} else {
		l.cc4 = append(l.cc4, r)
	}
	return nil
}

// parseASN accepts "13335" and "AS13335".
func parseASN(s string) (uint32, bool) {
	if len(s) > 2 && (s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's') {
		s = s[2:]
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// csvAddr parses an address or a decimal address number.
func csvAddr(s string, v6Hint bool) (u128, bool, error) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, ".:") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return u128{}, false, fmt.Errorf("bad address %q", s)
		}
		return addrKey(a), a.Is6() && !a.Is4In6(), nil
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return u128{0, n}, v6Hint || n > 0xFFFFFFFF, nil
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok || b.Sign() < 0 || b.BitLen() > 128 {
		return u128{}, false, fmt.Errorf("bad address number %q", s)
	}
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0))).Uint64()
	hi := new(big.Int).Rsh(b, 64).Uint64()
	return u128{hi, lo}, true, nil
}
