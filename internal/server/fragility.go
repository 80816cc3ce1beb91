package server

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
)

// FragilityJSON is how few networks a country's reachability hangs on,
// from what the pipeline stored: the country's upstreams (the first AS
// outside the country on the paths to its prefixes, with their share of
// the routes) and the upstreams of each origin AS registered in it.
type FragilityJSON struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Prefixes int32  `json:"prefixes"` // visible prefixes, both families
	Origins  int32  `json:"origins"`  // origin ASes of its visible prefixes (the family with more)
	// Upstreams is the number of upstream ASes; TopUpstreams the largest
	// three with their share of the routes.
	Upstreams    int        `json:"upstreams"`
	TopUpstreams []event.AS `json:"top_upstreams"`
	// OnlyTop1 and OnlyTop2 are the shares of the address space of its
	// origins that is reached only through its largest upstream, or only
	// through its largest two (0 to 1).
	OnlyTop1 float64 `json:"only_top1"`
	OnlyTop2 float64 `json:"only_top2"`
	// SingleHomed counts its origins with one upstream only, of
	// OriginsWithUpstreams (its registered origins whose upstreams are known).
	SingleHomed          int `json:"single_homed"`
	OriginsWithUpstreams int `json:"origins_with_upstreams"`
	// HHI is the Herfindahl-Hirschman index of its upstreams' shares of the
	// routes, 0 to 10,000 (10,000: one upstream carries everything).
	HHI float64 `json:"hhi"`
	// Since is the first bin of the data, and PrefixesSince and
	// OriginsSince the country's figures then: how they changed.
	Since         *time.Time    `json:"since"`
	PrefixesSince int32         `json:"prefixes_since"`
	OriginsSince  int32         `json:"origins_since"`
	World         *WorldCompare `json:"world,omitempty"`
	Summary       string        `json:"summary"`
	Method        string        `json:"method"`
	Note          string        `json:"note,omitempty"`
}

// WorldCompare places a country's figures among every country's.
type WorldCompare struct {
	Prefixes Compare `json:"prefixes"`
	Origins  Compare `json:"origins"`
}

// Compare is the world's median and top of a figure, and the country's rank.
type Compare struct {
	Median  float64 `json:"median"`
	Top     float64 `json:"top"`
	TopCode string  `json:"top_code"`
	Rank    int     `json:"rank"` // 1: the largest
	Of      int     `json:"of"`   // countries with any prefix
}

const fragilityMethod = "Upstreams: the first AS outside the country on the full-feed peers' paths to its prefixes, with their share of those routes; " +
	"HHI: the sum of the squared shares in percent. Only through the top one or two: the share of the IPv4 address space (/24s; prefixes where it has no IPv4) " +
	"of the origin ASes registered in the country whose every path leaves the country through those upstreams (an origin behind a domestic network is followed through that network's own upstreams). " +
	"Single-homed: an origin with one neighbour AS on all its paths. From the entities and bins the pipeline stored at the data time."

// fragility computes the fragility of every country with a stored entity
// or bin.
func (d *deps) fragility() map[string]*FragilityJSON {
	byCC := map[string][]uint32{}
	for a := range d.origins {
		if cc := d.asCC(a); cc != "" {
			byCC[cc] = append(byCC[cc], a)
		}
	}
	out := map[string]*FragilityJSON{}
	codes := map[string]bool{}
	for k := range d.size {
		if cc, ok := strings.CutPrefix(k, "country/"); ok {
			codes[cc] = true
		}
	}
	for cc := range d.country {
		codes[cc] = true
	}
	for cc := range codes {
		out[cc] = d.countryFragility(cc, byCC[cc])
	}
	// The world's median and top, among countries with any prefix.
	var list []*FragilityJSON
	for _, f := range out {
		if f.Prefixes > 0 {
			list = append(list, f)
		}
	}
	cmp := func(get func(*FragilityJSON) float64) map[string]Compare {
		s := slices.Clone(list)
		sort.SliceStable(s, func(i, j int) bool {
			if get(s[i]) != get(s[j]) {
				return get(s[i]) > get(s[j])
			}
			return s[i].Code < s[j].Code
		})
		m := map[string]Compare{}
		if len(s) == 0 {
			return m
		}
		med := get(s[len(s)/2])
		if len(s)%2 == 0 {
			med = (get(s[len(s)/2-1]) + get(s[len(s)/2])) / 2
		}
		for i, f := range s {
			m[f.Code] = Compare{Median: med, Top: get(s[0]), TopCode: s[0].Code, Rank: i + 1, Of: len(s)}
		}
		return m
	}
	px := cmp(func(f *FragilityJSON) float64 { return float64(f.Prefixes) })
	or := cmp(func(f *FragilityJSON) float64 { return float64(f.Origins) })
	for _, f := range list {
		f.World = &WorldCompare{Prefixes: px[f.Code], Origins: or[f.Code]}
		f.Summary = f.summary()
	}
	return out
}

func (d *deps) countryFragility(cc string, origins []uint32) *FragilityJSON {
	c, _ := geo.ParseCountry(cc)
	f := &FragilityJSON{Code: cc, Name: c.Name(), TopUpstreams: []event.AS{}, Method: fragilityMethod}
	z := d.size["country/"+cc]
	f.Prefixes, f.Origins = z.prefixes, z.origins()
	if !d.firstBin.IsZero() {
		t := d.firstBin
		f.Since = &t
		z0 := d.firstAt["country/"+cc]
		f.PrefixesSince, f.OriginsSince = z0.prefixes, z0.origins()
	}
	var ups []event.AS
	if e := d.country[cc]; e != nil {
		ups = e.Upstreams
	}
	f.Upstreams = len(ups)
	for i, u := range ups {
		if i < 3 {
			f.TopUpstreams = append(f.TopUpstreams, u)
		}
		f.HHI += (u.Share * 100) * (u.Share * 100)
	}
	f.HHI = math.Round(f.HHI)
	if f.Prefixes == 0 {
		f.Note = "No route to its prefixes was seen in the data: nothing to judge."
		f.Summary = f.Name + ": " + f.Note
		return f
	}
	top := map[uint32]int{} // upstream -> rank (1, 2)
	for i, u := range ups {
		if i < 2 {
			top[u.ASN] = i + 1
		}
	}
	memo := map[uint32][]uint32{}
	var all, only1, only2, allPx, only1Px, only2Px float64
	for _, a := range origins {
		e := d.origins[a]
		if len(e.Upstreams) == 0 {
			continue
		}
		f.OriginsWithUpstreams++
		if len(e.Upstreams) == 1 {
			f.SingleHomed++
		}
		r := d.reach(a, cc, memo, map[uint32]bool{})
		if len(r) == 0 {
			continue
		}
		z := d.size["asn/"+e.Code]
		in1, in2 := true, true
		for _, x := range r {
			in1 = in1 && top[x] == 1
			in2 = in2 && top[x] >= 1
		}
		w, p := z.space4, float64(z.prefixes)
		all, allPx = all+w, allPx+p
		if in1 {
			only1, only1Px = only1+w, only1Px+p
		}
		if in2 {
			only2, only2Px = only2+w, only2Px+p
		}
	}
	switch {
	case all > 0:
		f.OnlyTop1, f.OnlyTop2 = round3(only1/all), round3(only2/all)
	case allPx > 0:
		f.OnlyTop1, f.OnlyTop2 = round3(only1Px/allPx), round3(only2Px/allPx)
	}
	f.Summary = f.summary()
	return f
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// reach returns the ASes outside cc through which origin a is reached:
// each neighbour abroad, and for a neighbour in cc that is itself a stored
// origin, that origin's own reach (a domestic transit network).
func (d *deps) reach(a uint32, cc string, memo map[uint32][]uint32, seen map[uint32]bool) []uint32 {
	if r, ok := memo[a]; ok {
		return r
	}
	seen[a] = true
	var out []uint32
	add := func(x uint32) {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	for _, u := range d.origins[a].Upstreams {
		n := u.ASN
		if d.asCC(n) != cc || d.origins[n] == nil || len(d.origins[n].Upstreams) == 0 || seen[n] || len(seen) > 8 {
			add(n)
			continue
		}
		for _, x := range d.reach(n, cc, memo, seen) {
			add(x)
		}
	}
	delete(seen, a)
	memo[a] = out
	return out
}

func (f *FragilityJSON) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s prefix%s from %s origin AS%s", f.Name, commas(int64(f.Prefixes)), plural(int64(f.Prefixes), "", "es"),
		commas(int64(f.Origins)), plural(int64(f.Origins), "", "es"))
	if w := f.World; w != nil && w.Prefixes.Of > 1 {
		fmt.Fprintf(&b, " (the world's median country has %s; %s has the most, %s)", commas(int64(w.Prefixes.Median)),
			countryName(w.Prefixes.TopCode), commas(int64(w.Prefixes.Top)))
	}
	b.WriteString(". ")
	if len(f.TopUpstreams) > 0 {
		u := f.TopUpstreams[0]
		name := "AS" + strconv.FormatUint(uint64(u.ASN), 10)
		if u.Name != "" {
			name += " (" + u.Name + ")"
		}
		fmt.Fprintf(&b, "Its largest upstream, %s, carries %.0f%% of the routes to it (%d upstream%s in all, HHI %.0f). ",
			name, u.Share*100, f.Upstreams, plural(int64(f.Upstreams), "", "s"), f.HHI)
	}
	if f.OriginsWithUpstreams > 0 {
		fmt.Fprintf(&b, "%.0f%% of its origins' address space is reached only through the largest upstream, %.0f%% only through the largest two; %d of %d origins are single-homed.",
			f.OnlyTop1*100, f.OnlyTop2*100, f.SingleHomed, f.OriginsWithUpstreams)
	}
	return strings.TrimSpace(b.String())
}

func countryName(cc string) string {
	c, err := geo.ParseCountry(cc)
	if err != nil || c.Name() == "" {
		return cc
	}
	return c.Name()
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (s *Server) countryFragilityHandler(w http.ResponseWriter, r *http.Request) {
	c, err := geo.ParseCountry(r.PathValue("code"))
	if err != nil || !c.Known() {
		writeError(w, 404, "unknown country "+strconv.Quote(r.PathValue("code")))
		return
	}
	d, err := s.deps(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	f := d.fragilityOf(c.String())
	writeJSON(w, 200, f)
}

// fragilityOf returns one country's fragility (computed with the world's).
func (d *deps) fragilityOf(cc string) *FragilityJSON {
	all := d.fragilityAll()
	if f := all[cc]; f != nil {
		return f
	}
	f := d.countryFragility(cc, nil)
	return f
}

// fragilityAll computes every country's fragility once per index.
func (d *deps) fragilityAll() map[string]*FragilityJSON {
	d.fragOnce.Do(func() { d.frag = d.fragility() })
	return d.frag
}

// FragilityRanking is the world ranking: every country with any prefix,
// the most fragile first (the largest share reached only through one
// upstream, then the highest HHI).
type FragilityRanking struct {
	DataTime  any              `json:"data_time"`
	Countries []*FragilityJSON `json:"countries"`
	Method    string           `json:"method"`
}

func (s *Server) fragilityRanking(w http.ResponseWriter, r *http.Request) {
	d, err := s.deps(r.Context())
	if err != nil {
		s.internal(w, err)
		return
	}
	out := FragilityRanking{DataTime: timeOrNil(d.at), Countries: []*FragilityJSON{}, Method: fragilityMethod}
	for _, f := range d.fragilityAll() {
		if f.Prefixes > 0 {
			out.Countries = append(out.Countries, f)
		}
	}
	sort.Slice(out.Countries, func(i, j int) bool {
		a, b := out.Countries[i], out.Countries[j]
		switch {
		case a.OnlyTop1 != b.OnlyTop1:
			return a.OnlyTop1 > b.OnlyTop1
		case a.HHI != b.HHI:
			return a.HHI > b.HHI
		}
		return a.Code < b.Code
	})
	writeJSON(w, 200, out)
}
