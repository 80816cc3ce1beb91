package geo

import (
	"fmt"
	"strings"
)

// Country is an ISO 3166-1 alpha-2 country code as two upper-case ASCII
// letters. The zero value means unknown. Registry data also uses EU
// (European Union) and AP (Asia/Pacific) for some old allocations.
type Country [2]byte

// ParseCountry parses a two-letter code, case-insensitively. It accepts any
// two letters; use Known to check the code against the ISO list.
func ParseCountry(s string) (Country, error) {
	if len(s) != 2 {
		return Country{}, fmt.Errorf("country code %q: want two letters", s)
	}
	var c Country
	for i := 0; i < 2; i++ {
		b := s[i]
		if 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		}
		if b < 'A' || b > 'Z' {
			return Country{}, fmt.Errorf("country code %q: want two letters", s)
		}
		c[i] = b
	}
	return c, nil
}

// MustCountry is ParseCountry for constants; it panics on a bad code.
func MustCountry(s string) Country {
	c, err := ParseCountry(s)
	if err != nil {
		panic(err)
	}
	return c
}

// IsZero reports whether c is unknown.
func (c Country) IsZero() bool { return c == Country{} }

// String returns the code, or "" for the zero Country.
func (c Country) String() string {
	if c.IsZero() {
		return ""
	}
	return string(c[:])
}

// MarshalText implements encoding.TextMarshaler.
func (c Country) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Country) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*c = Country{}
		return nil
	}
	v, err := ParseCountry(string(b))
	*c = v
	return err
}

// Known reports whether c is in the country table.
func (c Country) Known() bool { _, ok := countryIndex[c]; return ok }

// Name returns the English short name of the country, or "" if unknown.
func (c Country) Name() string { n, _ := CountryInfo(c); return n }

// Continent returns the continent code (AF, AN, AS, EU, NA, OC, SA).
func (c Country) Continent() string { _, k := CountryInfo(c); return k }

// CountryInfo returns the English name and the continent code (AF, AN, AS,
// EU, NA, OC, SA) of a country; both are empty for an unknown code.
func CountryInfo(c Country) (name, continent string) {
	i, ok := countryIndex[c]
	if !ok {
		return "", ""
	}
	return countryTable[i].name, countryTable[i].continent
}

// ContinentName returns the English name of a continent code.
func ContinentName(code string) string {
	switch strings.ToUpper(code) {
	case "AF":
		return "Africa"
	case "AN":
		return "Antarctica"
	case "AS":
		return "Asia"
	case "EU":
		return "Europe"
	case "NA":
		return "North America"
	case "OC":
		return "Oceania"
	case "SA":
		return "South America"
	}
	return ""
}

// Countries returns every code in the country table, sorted.
func Countries() []Country {
	out := make([]Country, len(countryTable))
	for i, r := range countryTable {
		out[i] = Country{r.code[0], r.code[1]}
	}
	return out
}

var countryIndex = func() map[Country]int {
	m := make(map[Country]int, len(countryTable))
	for i, r := range countryTable {
		m[Country{r.code[0], r.code[1]}] = i
	}
	return m
}()
