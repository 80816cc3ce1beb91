package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/blackout-bgp/blackout/internal/geo"
)

func init() {
	register(command{name: "geo lookup", summary: "country, AS and name of addresses, prefixes and ASNs", run: runGeoLookup})
	register(command{name: "geo update", summary: "download the RIR delegated-extended files into the cache", run: runGeoUpdate})
}

// loadGeo returns the registry data for commands with a repeatable --geo
// flag: the default (embedded snapshot plus `geo update` cache) when paths
// is empty, else paths stacked over the default, later paths winning. It
// reports skipped malformed lines on standard error.
func loadGeo(paths []string) (*geo.DB, error) { return loadGeoTo(os.Stderr, paths) }

func loadGeoTo(w io.Writer, paths []string) (*geo.DB, error) {
	var db *geo.DB
	var err error
	if len(paths) == 0 {
		db, err = geo.Default()
	} else {
		db, err = geo.Open(paths)
	}
	if err != nil {
		return nil, err
	}
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
	return db, nil
}

// geoShare is one country's part of a prefix in `geo lookup --json`.
type geoShare struct {
	Country     string  `json:"country"`
	CountryName string  `json:"country_name,omitempty"`
	Count       uint64  `json:"count"`
	Unit        string  `json:"unit"`
	Fraction    float64 `json:"fraction"`
	Source      string  `json:"source,omitempty"`
	Date        string  `json:"date,omitempty"`
}

// geoResult is one answer of `geo lookup`.
type geoResult struct {
	Query       string     `json:"query"`
	Type        string     `json:"type"` // address, prefix or asn
	Country     string     `json:"country"`
	CountryName string     `json:"country_name"`
	Continent   string     `json:"continent"`
	ASN         uint32     `json:"asn,omitempty"`
	ASName      string     `json:"as_name"`
	ASCountry   string     `json:"as_country"`
	Source      string     `json:"source"`
	Date        string     `json:"date"`
	ASSource    string     `json:"as_source,omitempty"`
	ASDate      string     `json:"as_date,omitempty"`
	Shares      []geoShare `json:"shares,omitempty"`
	Error       string     `json:"error,omitempty"`
}

func srcName(s *geo.Dataset) string {
	if s == nil {
		return ""
	}
	return s.Name
}

func srcDate(s *geo.Dataset) string {
	if s == nil {
		return ""
	}
	return s.DateString()
}

func (r *geoResult) setCountry(c geo.Country, s *geo.Dataset) {
	r.Country = c.String()
	r.CountryName, r.Continent = geo.CountryInfo(c)
	r.Source, r.Date = srcName(s), srcDate(s)
}

func (r *geoResult) setAS(db *geo.DB, asn uint32) {
	r.ASN = asn
	info, _ := db.ASN(asn)
	r.ASName, r.ASCountry = info.Name, info.Country.String()
	s := info.CountrySource
	if s == nil {
		s = info.NameSource
	}
	r.ASSource, r.ASDate = srcName(s), srcDate(s)
}

func geoQuery(db *geo.DB, q string) geoResult {
	r := geoResult{Query: q}
	if n, ok := parseASNArg(q); ok {
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
	var best geo.Share
	for _, s := range db.PrefixCountries(p, nil) {
		name, _ := geo.CountryInfo(s.Country)
		r.Shares = append(r.Shares, geoShare{Country: s.Country.String(), CountryName: name, Count: s.Count, Unit: unit,
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

// parseASNArg accepts "AS131279", "as131279" and "131279".
func parseASNArg(s string) (uint32, bool) {
	t := s
	if len(t) > 2 && strings.EqualFold(t[:2], "AS") {
		t = t[2:]
	}
	n, err := strconv.ParseUint(t, 10, 32)
	return uint32(n), err == nil
}

func runGeoLookup(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "geo lookup", "[--json] [--geo PATH]... ADDRESS|PREFIX|ASN...")
	asJSON := fs.Bool("json", false, "print one JSON object per argument")
	var paths multiFlag
	fs.Var(&paths, "geo", "registry data to stack over the default: RIR delegated file, .mmdb or CSV (repeatable; later wins)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: give at least one address, prefix or AS number", errUsage)
	}
	db, err := loadGeoTo(env.stderr, paths)
	if err != nil {
		return err
	}
	results := make([]geoResult, len(pos))
	bad := 0
	for i, q := range pos {
		results[i] = geoQuery(db, q)
		if results[i].Error != "" {
			bad++
		}
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		for _, r := range results {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	} else {
		printGeoTable(env.stdout, results)
	}
	if bad > 0 {
		return fmt.Errorf("%d argument(s) not understood", bad)
	}
	return nil
}

// maxTableShares is how many countries of a prefix the table shows.
const maxTableShares = 10

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printGeoTable(w io.Writer, results []geoResult) {
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
	tw.Flush()
}

// baseURLFlag collects --base-url RIR=URL.
type baseURLFlag map[string]string

func (b baseURLFlag) String() string { return "" }
func (b baseURLFlag) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || url == "" {
		return errors.New("want RIR=URL, e.g. ripencc=https://ftp.ripe.net/pub/stats/ripencc")
	}
	b[strings.ToLower(name)] = url
	return nil
}

func runGeoUpdate(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "geo update", "[--dir DIR] [--rir NAME]... [--base-url RIR=URL]...")
	def, _ := geo.DefaultCacheDir()
	dir := fs.String("dir", def, "cache directory (later commands read it; $BLACKOUT_GEO_CACHE overrides the default)")
	bases := baseURLFlag{}
	fs.Var(bases, "base-url", "directory URL of an RIR's statistics, RIR=URL (repeatable; RIR is afrinic, apnic, arin, lacnic or ripencc)")
	var only multiFlag
	fs.Var(&only, "rir", "update only this RIR (repeatable)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	var rirs []geo.RIR
	known := map[string]bool{}
	for _, r := range geo.RIRs() {
		known[r.Name] = true
		if u, ok := bases[r.Name]; ok {
			r.BaseURL = u
		}
		if len(only) > 0 && !contains(only, r.Name) {
			continue
		}
		rirs = append(rirs, r)
	}
	for name := range bases {
		if !known[name] {
			return fmt.Errorf("%w: unknown RIR %q in --base-url (want afrinic, apnic, arin, lacnic or ripencc)", errUsage, name)
		}
	}
	for _, name := range only {
		if !known[strings.ToLower(name)] {
			return fmt.Errorf("%w: unknown RIR %q in --rir", errUsage, name)
		}
	}
	opts := geo.UpdateOptions{Dir: *dir, RIRs: rirs}
	tty := false
	if isTerminal(env.stderr) {
		tty = true
		opts.Progress = func(file string, done, total int64) {
			size := "?"
			if total >= 0 {
				size = mb(total)
			}
			fmt.Fprintf(env.stderr, "\r%-36s %9s / %s ", file, mb(done), size)
			if done == total {
				fmt.Fprintln(env.stderr)
			}
		}
	}
	res, err := geo.Update(ctx, opts)
	if tty {
		fmt.Fprint(env.stderr, "\r\033[K")
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	for _, r := range res {
		detail := r.Path
		if r.Err != nil {
			detail = r.Err.Error()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.RIR, r.Status, mb(r.Bytes), detail)
	}
	tw.Flush()
	if err != nil {
		return fmt.Errorf("some RIRs failed; their cached data, if any, stays in use:\n%w", err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
