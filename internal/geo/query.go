package geo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/blackout-bgp/blackout/internal/progress"
)

// QueryShare is one country's part of a prefix in a QueryResult.
type QueryShare struct {
	Country     string  `json:"country"`
	CountryName string  `json:"country_name,omitempty"`
	Count       uint64  `json:"count"`
	Unit        string  `json:"unit"` // "addresses", or "/64s" for an IPv6 prefix of /64 or shorter
	Fraction    float64 `json:"fraction"`
	Source      string  `json:"source,omitempty"`
	Date        string  `json:"date,omitempty"`
}

// QueryResult is the answer of Query about an address, a prefix or an AS
// number: its country (with the dataset that says so), its AS (the origin
// AS of an address or prefix) and, for a prefix, each country's share. It
// is the JSON object of `blackout geo lookup --json`.
type QueryResult struct {
	Query       string       `json:"query"`
	Type        string       `json:"type"` // address, prefix, asn or invalid
	Country     string       `json:"country"`
	CountryName string       `json:"country_name"`
	Continent   string       `json:"continent"`
	ASN         uint32       `json:"asn,omitempty"`
	ASName      string       `json:"as_name"`
	ASCountry   string       `json:"as_country"`
	Source      string       `json:"source"`
	Date        string       `json:"date"`
	ASSource    string       `json:"as_source,omitempty"`
	ASDate      string       `json:"as_date,omitempty"`
	Shares      []QueryShare `json:"shares,omitempty"`
	Error       string       `json:"error,omitempty"`
}

func srcName(s *Dataset) string {
	if s == nil {
		return ""
	}
	return s.Name
}

func srcDate(s *Dataset) string {
	if s == nil {
		return ""
	}
	return s.DateString()
}

func (r *QueryResult) setCountry(c Country, s *Dataset) {
	r.Country = c.String()
	r.CountryName, r.Continent = CountryInfo(c)
	r.Source, r.Date = srcName(s), srcDate(s)
}

func (r *QueryResult) setAS(db *DB, asn uint32) {
	r.ASN = asn
	info, _ := db.ASN(asn)
	r.ASName, r.ASCountry = info.Name, info.Country.String()
	s := info.CountrySource
	if s == nil {
		s = info.NameSource
	}
	r.ASSource, r.ASDate = srcName(s), srcDate(s)
}

// Query answers q: an AS number ("AS4837", "as4837" or "4837"), an
// address, or a prefix (masked first). A prefix's country is that of its
// largest share and its shares come largest first; its AS is the origin
// AS of its first address. Anything else gives Type "invalid" and Error.
func (db *DB) Query(q string) QueryResult {
	r := QueryResult{Query: q}
	if n, ok := parseASN(q); ok {
		r.Type = "asn"
		r.setAS(db, n)
		info, _ := db.ASN(n)
		r.setCountry(info.Country, info.CountrySource)
		return r
	}
	if a, err := netip.ParseAddr(q); err == nil {
		r.Type = "address"
		ans := db.Lookup(a)
		r.setCountry(ans.Country, ans.CountrySource)
		if ans.ASN != 0 {
			r.setAS(db, ans.ASN)
		}
		return r
	}
	p, err := netip.ParsePrefix(q)
	if err != nil {
		r.Type = "invalid"
		r.Error = "not an address, prefix or AS number"
		return r
	}
	p = p.Masked()
	r.Type = "prefix"
	unit := "addresses"
	if p.Addr().Is6() && p.Bits() <= 64 {
		unit = "/64s"
	}
	var best Share
	for _, s := range db.PrefixCountries(p, nil) {
		name, _ := CountryInfo(s.Country)
		r.Shares = append(r.Shares, QueryShare{Country: s.Country.String(), CountryName: name, Count: s.Count, Unit: unit,
			Fraction: s.Frac, Source: srcName(s.Source), Date: srcDate(s.Source)})
		if !s.Country.IsZero() && s.Count > best.Count {
			best = s
		}
	}
	sort.SliceStable(r.Shares, func(i, j int) bool { return r.Shares[i].Count > r.Shares[j].Count })
	r.setCountry(best.Country, best.Source)
	if asn, _, ok := db.OriginAS(p.Addr()); ok {
		r.setAS(db, asn)
	}
	return r
}

// maxTableShares is how many countries of a prefix WriteQueryTable shows.
const maxTableShares = 10

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteQueryTable writes results as the table of `blackout geo lookup`:
// one row per result, "-" for what is unknown, and one row per country
// (at most ten) for a prefix of several countries.
func WriteQueryTable(w io.Writer, results []QueryResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "QUERY\tTYPE\tCOUNTRY\tSHARE\tASN\tAS NAME\tAS CC\tSOURCE\tDATE")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t\t\t\t\t\n", r.Query, r.Type, r.Error)
			continue
		}
		country := dash(r.Country)
		if r.CountryName != "" {
			country += " " + r.CountryName
		}
		asn := "-"
		if r.ASN != 0 {
			asn = "AS" + strconv.FormatUint(uint64(r.ASN), 10)
		}
		src, date := r.Source, r.Date
		if r.Type == "asn" && src == "" {
			src, date = r.ASSource, r.ASDate
		}
		if r.Type != "prefix" || len(r.Shares) <= 1 {
			share := ""
			if r.Type == "prefix" {
				share = "100%"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Query, r.Type, country, dash(share), asn,
				dash(r.ASName), dash(r.ASCountry), dash(src), dash(date))
			continue
		}
		for i, s := range r.Shares {
			if i == maxTableShares && len(r.Shares) > maxTableShares+1 {
				fmt.Fprintf(tw, "\t\t(%d more countries; --json lists all)\t\t\t\t\t\t\n", len(r.Shares)-i)
				break
			}
			q, typ, a, an, ac := "", "", "", "", ""
			if i == 0 {
				q, typ, a, an, ac = r.Query, r.Type, asn, dash(r.ASName), dash(r.ASCountry)
			}
			c := dash(s.Country)
			if s.CountryName != "" {
				c += " " + s.CountryName
			}
			share := fmt.Sprintf("%.2f%% (%d %s)", 100*s.Fraction, s.Count, s.Unit)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", q, typ, c, share, a, an, ac, dash(s.Source), dash(s.Date))
		}
	}
	return tw.Flush()
}

// WriteQueryJSON writes results as `blackout geo lookup --json` does: one
// JSON object per line.
func WriteQueryJSON(w io.Writer, results []QueryResult) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// WriteSkipped writes, for each dataset of db that skipped malformed
// lines, their count and the errors kept ("geo: FILE: skipped N malformed
// line(s)", then one indented line each).
func WriteSkipped(w io.Writer, db *DB) {
	for _, s := range db.Sources() {
		if s.Skipped == 0 {
			continue
		}
		name := s.Path
		if name == "" {
			name = s.Name
		}
		fmt.Fprintf(w, "geo: %s: skipped %d malformed line(s)\n", name, s.Skipped)
		for _, e := range s.Errors {
			fmt.Fprintf(w, "  %v\n", e)
		}
		if s.Skipped > len(s.Errors) {
			fmt.Fprintf(w, "  ... and %d more\n", s.Skipped-len(s.Errors))
		}
	}
}

// SelectRIRs returns the RIRs that `geo update` fetches: those named in
// only (all when empty; names are case-insensitive), each with the base
// URL of bases (keyed by lower-case name) where given. An unknown name in
// bases or only is an *UnknownRIRError.
func SelectRIRs(only []string, bases map[string]string) ([]RIR, error) {
	var rirs []RIR
	known := map[string]bool{}
	for _, r := range RIRs() {
		known[r.Name] = true
		if u, ok := bases[r.Name]; ok {
			r.BaseURL = u
		}
		if len(only) > 0 && !slices.ContainsFunc(only, func(x string) bool { return strings.EqualFold(x, r.Name) }) {
			continue
		}
		rirs = append(rirs, r)
	}
	for name := range bases {
		if !known[name] {
			return nil, &UnknownRIRError{Name: name, InBases: true}
		}
	}
	for _, name := range only {
		if !known[strings.ToLower(name)] {
			return nil, &UnknownRIRError{Name: name}
		}
	}
	return rirs, nil
}

// UnknownRIRError is a name SelectRIRs does not know.
type UnknownRIRError struct {
	Name    string
	InBases bool // the name was a key of bases, not in only
}

func (e *UnknownRIRError) Error() string { return fmt.Sprintf("unknown RIR %q", e.Name) }

// WriteUpdateTable writes the results of Update as the table of
// `blackout geo update`: RIR, status, bytes downloaded, and the cached
// file or the error.
func WriteUpdateTable(w io.Writer, res []UpdateResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range res {
		detail := r.Path
		if r.Err != nil {
			detail = r.Err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.RIR, r.Status, progress.Bytes(r.Bytes), detail)
	}
	return tw.Flush()
}
