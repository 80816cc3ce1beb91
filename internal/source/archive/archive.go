// Package archive knows the public BGP route-collector archives — RIPE RIS
// and RouteViews — well enough to replay any past period from them: their
// file layouts and dump schedules, their collectors and the dates they were
// active, a planner that turns a time range into the list of files to read,
// a fetcher that downloads them concurrently into a cache (with retries,
// resumption of cut transfers and atomic writes), and event sources that
// parse each collector's files in time order while the later ones are still
// downloading.
//
// Layouts (base URLs are configurable so that mirrors work):
//
//	RIPE RIS   <base>/rrcNN/YYYY.MM/bview.YYYYMMDD.HHMM.gz     RIB every 8 h (00:00, 08:00, 16:00)
//	           <base>/rrcNN/YYYY.MM/updates.YYYYMMDD.HHMM.gz   updates every 5 min
//	RouteViews <base>/bgpdata/YYYY.MM/RIBS/rib.YYYYMMDD.HHMM.bz2        route-views2, RIB every 2 h
//	           <base>/bgpdata/YYYY.MM/UPDATES/updates.YYYYMMDD.HHMM.bz2  route-views2, updates every 15 min
//	           <base>/<collector>/bgpdata/...                            the other RouteViews collectors
//
// An update file named HHMM holds the updates of [HHMM, HHMM+interval).
// Files of the past never change, so a cached file is used as is.
package archive

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Project is an archive operator.
type Project int

const (
	// RIS is RIPE NCC's Routing Information Service.
	RIS Project = iota + 1
	// RouteViews is the University of Oregon's RouteViews project.
	RouteViews
)

// Default base URLs of the archives.
const (
	DefaultRISBase        = "https://data.ris.ripe.net"
	DefaultRouteViewsBase = "https://archive.routeviews.org"
)

func (p Project) String() string {
	switch p {
	case RIS:
		return "ris"
	case RouteViews:
		return "routeviews"
	}
	return fmt.Sprintf("project(%d)", int(p))
}

// Schedule is how often a project dumps RIBs and rotates update files.
// RIB dumps are aligned to midnight UTC.
type Schedule struct {
	RIBEvery     time.Duration
	UpdatesEvery time.Duration
}

// ScheduleOf returns the project's schedule: RIS dumps a RIB every 8 hours
// and writes an update file every 5 minutes; RouteViews every 2 hours and
// 15 minutes. (Both have held since the mid-2000s; the earliest years of
// either archive used other intervals and are not modelled.)
func ScheduleOf(p Project) Schedule {
	if p == RouteViews {
		return Schedule{RIBEvery: 2 * time.Hour, UpdatesEvery: 15 * time.Minute}
	}
	return Schedule{RIBEvery: 8 * time.Hour, UpdatesEvery: 5 * time.Minute}
}

// Collector is one route collector of an archive.
type Collector struct {
	Name     string // "rrc00", "route-views2", "route-views.linx"
	Project  Project
	Location string
	// From and Until bound the collector's data (Until zero: still active).
	// Month precision, and approximate: see Collectors.
	From, Until time.Time
}

// ActiveDuring reports whether the collector's known active period
// overlaps [from, until).
func (c Collector) ActiveDuring(from, until time.Time) bool {
	if !c.From.IsZero() && !until.After(c.From) {
		return false
	}
	return c.Until.IsZero() || from.Before(c.Until)
}

func month(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }

// collectors is the known list. Sources: the RIS route-collector page
// (ris.ripe.net/docs/route-collectors) for the active RIS collectors and
// their locations; RIPEstat's rrc-info and RouteViews' collector API
// (api.routeviews.org) carry the activation dates, which could not be
// fetched when this list was written (no internet): the months below are
// from memory of those lists and of the archives' first directories, and
// may be off by some months. Decommissioned RIS collectors are rrc02,
// rrc08 and rrc09; rrc17 never published data. Because the dates are
// approximate, they only choose the collectors of `all`; a collector named
// explicitly is always fetched, and a file it does not have is a gap.
var collectors = []Collector{
	{"rrc00", RIS, "Amsterdam, NL (multihop)", month(1999, 10), time.Time{}},
	{"rrc01", RIS, "London, GB (LINX, LONAP)", month(2000, 7), time.Time{}},
	{"rrc02", RIS, "Paris, FR (SFINX)", month(2001, 3), month(2008, 11)},
	{"rrc03", RIS, "Amsterdam, NL (AMS-IX, NL-IX)", month(2001, 1), time.Time{}},
	{"rrc04", RIS, "Geneva, CH (CIXP)", month(2001, 4), time.Time{}},
	{"rrc05", RIS, "Vienna, AT (VIX)", month(2001, 6), time.Time{}},
	{"rrc06", RIS, "Otemachi, JP (DIX-IE, JPIX)", month(2001, 8), time.Time{}},
	{"rrc07", RIS, "Stockholm, SE (Netnod)", month(2002, 4), time.Time{}},
	{"rrc08", RIS, "San Jose, US (MAE-West)", month(2002, 5), month(2004, 10)},
	{"rrc09", RIS, "Zurich, CH (TIX)", month(2003, 1), month(2004, 3)},
	{"rrc10", RIS, "Milan, IT (MIX)", month(2003, 11), time.Time{}},
	{"rrc11", RIS, "New York, US (NYIIX)", month(2004, 2), time.Time{}},
	{"rrc12", RIS, "Frankfurt, DE (DE-CIX)", month(2004, 7), time.Time{}},
	{"rrc13", RIS, "Moscow, RU (MSK-IX)", month(2005, 4), time.Time{}},
	{"rrc14", RIS, "Palo Alto, US (PAIX)", month(2004, 12), time.Time{}},
	{"rrc15", RIS, "Sao Paulo, BR (PTTMetro-SP)", month(2006, 2), time.Time{}},
	{"rrc16", RIS, "Miami, US (NOTA)", month(2008, 2), time.Time{}},
	{"rrc18", RIS, "Barcelona, ES (CATNIX)", month(2015, 5), time.Time{}},
	{"rrc19", RIS, "Johannesburg, ZA (NAP Africa JB)", month(2016, 9), time.Time{}},
	{"rrc20", RIS, "Zurich, CH (SwissIX)", month(2015, 5), time.Time{}},
	{"rrc21", RIS, "Paris, FR (France-IX)", month(2015, 5), time.Time{}},
	{"rrc22", RIS, "Bucharest, RO (InterLAN)", month(2015, 11), time.Time{}},
	{"rrc23", RIS, "Singapore, SG (Equinix SG)", month(2015, 11), time.Time{}},
	{"rrc24", RIS, "Montevideo, UY (multihop, LACNIC region)", month(2016, 6), time.Time{}},
	{"rrc25", RIS, "Amsterdam, NL (multihop)", month(2019, 10), time.Time{}},
	{"rrc26", RIS, "Dubai, AE (UAE-IX)", month(2021, 4), time.Time{}},

	{"route-views2", RouteViews, "Eugene, US (multihop)", month(2001, 10), time.Time{}},
	{"route-views3", RouteViews, "Eugene, US (multihop)", month(2008, 8), time.Time{}},
	{"route-views4", RouteViews, "Eugene, US (multihop)", month(2008, 8), time.Time{}},
	{"route-views6", RouteViews, "Eugene, US (multihop, IPv6)", month(2008, 8), time.Time{}},
	{"route-views.wide", RouteViews, "Tokyo, JP (DIX-IE)", month(2003, 8), time.Time{}},
	{"route-views.eqix", RouteViews, "Ashburn, US (Equinix)", month(2004, 6), time.Time{}},
	{"route-views.linx", RouteViews, "London, GB (LINX)", month(2004, 6), time.Time{}},
	{"route-views.isc", RouteViews, "Palo Alto, US (PAIX)", month(2004, 11), time.Time{}},
	{"route-views.kixp", RouteViews, "Nairobi, KE (KIXP)", month(2005, 11), time.Time{}},
	{"route-views.jinx", RouteViews, "Johannesburg, ZA (JINX)", month(2008, 9), time.Time{}},
	{"route-views.saopaulo", RouteViews, "Sao Paulo, BR (IX.br)", month(2011, 6), time.Time{}},
	{"route-views.telxatl", RouteViews, "Atlanta, US (TELXATL)", month(2011, 12), time.Time{}},
	{"route-views.sydney", RouteViews, "Sydney, AU (Equinix SY)", month(2012, 3), time.Time{}},
	{"route-views.nwax", RouteViews, "Portland, US (NWAX)", month(2012, 11), time.Time{}},
	{"route-views.perth", RouteViews, "Perth, AU (WAIX)", month(2013, 1), time.Time{}},
	{"route-views.sg", RouteViews, "Singapore, SG (Equinix SG)", month(2013, 3), time.Time{}},
	{"route-views.sfmix", RouteViews, "San Francisco, US (SFMIX)", month(2014, 3), time.Time{}},
	{"route-views.soxrs", RouteViews, "Belgrade, RS (SOX)", month(2014, 6), time.Time{}},
	{"route-views.chicago", RouteViews, "Chicago, US (Equinix CH)", month(2018, 2), time.Time{}},
	{"route-views.napafrica", RouteViews, "Johannesburg, ZA (NAPAfrica)", month(2018, 5), time.Time{}},
	{"route-views.flix", RouteViews, "Miami, US (FL-IX)", month(2018, 6), time.Time{}},
	{"route-views.chile", RouteViews, "Santiago, CL (PIT Chile)", month(2019, 1), time.Time{}},
	{"route-views.amsix", RouteViews, "Amsterdam, NL (AMS-IX)", month(2019, 4), time.Time{}},
	{"route-views.mwix", RouteViews, "Indianapolis, US (MWIX)", month(2019, 1), time.Time{}},
	{"route-views.rio", RouteViews, "Rio de Janeiro, BR (IX.br)", month(2019, 6), time.Time{}},
	{"route-views.fortaleza", RouteViews, "Fortaleza, BR (IX.br)", month(2019, 6), time.Time{}},
	{"route-views.gixa", RouteViews, "Accra, GH (GIXA)", month(2019, 6), time.Time{}},
	{"route-views.bdix", RouteViews, "Dhaka, BD (BDIX)", month(2019, 7), time.Time{}},
	{"route-views.bknix", RouteViews, "Bangkok, TH (BKNIX)", month(2019, 7), time.Time{}},
	{"route-views2.saopaulo", RouteViews, "Sao Paulo, BR (IX.br)", month(2019, 10), time.Time{}},
	{"route-views.uaeix", RouteViews, "Dubai, AE (UAE-IX)", month(2020, 5), time.Time{}},
	{"route-views.ny", RouteViews, "New York, US (DE-CIX NY)", month(2020, 9), time.Time{}},
}

// Collectors returns the known collectors, RIS first, in name order within
// each project. The active dates are approximate (see the list's comment).
func Collectors() []Collector {
	out := make([]Collector, len(collectors))
	copy(out, collectors)
	return out
}

// DefaultCollectors are used when none are named: the RIS multihop
// collector, RIS at LINX and RouteViews' main collector — three views from
// two projects, active since 2001.
var DefaultCollectors = []string{"rrc00", "rrc01", "route-views2"}

var (
	risName = regexp.MustCompile(`^rrc\d\d$`)
	rvName  = regexp.MustCompile(`^route-views[0-9]*(\.[a-z0-9-]+)?$`)
)

// Lookup returns the collector of that name. A name absent from the list
// but shaped like one of a project's ("rrc27", "route-views.newix") is
// accepted with unknown dates, so that new collectors work before this
// list knows them.
func Lookup(name string) (Collector, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, c := range collectors {
		if c.Name == name {
			return c, true
		}
	}
	switch {
	case risName.MatchString(name):
		return Collector{Name: name, Project: RIS}, true
	case rvName.MatchString(name):
		return Collector{Name: name, Project: RouteViews}, true
	}
	return Collector{}, false
}

// Select parses a collector list: "" for DefaultCollectors, "all" for
// every known collector active during [from, until), or names separated by
// commas ("rrc03,route-views.linx"; "ris" and "routeviews" stand for all of
// a project's active collectors). Warnings name explicitly chosen
// collectors whose known dates do not cover the range.
func Select(spec string, from, until time.Time) (cols []Collector, warnings []string, err error) {
	names := DefaultCollectors
	if s := strings.TrimSpace(spec); s != "" {
		names = strings.Split(s, ",")
	}
	seen := map[string]bool{}
	add := func(c Collector) {
		if !seen[c.Name] {
			seen[c.Name] = true
			cols = append(cols, c)
		}
	}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		switch n {
		case "":
			continue
		case "all", "ris", "routeviews":
			for _, c := range collectors {
				if (n == "all" || n == c.Project.String()) && c.ActiveDuring(from, until) {
					add(c)
				}
			}
			continue
		}
		c, ok := Lookup(n)
		if !ok {
			return nil, nil, fmt.Errorf("unknown collector %q (RIS: rrc00..rrc26; RouteViews: route-views2, route-views.linx, ...; or all)", n)
		}
		if c.From.IsZero() {
			warnings = append(warnings, fmt.Sprintf("collector %s is not in the known list; assuming the %s layout", c.Name, c.Project))
		} else if !c.ActiveDuring(from, until) {
			warnings = append(warnings, fmt.Sprintf("collector %s was not active during the range as far as known (%s); its missing files will be gaps", c.Name, c.activeString()))
		}
		add(c)
	}
	if len(cols) == 0 {
		return nil, warnings, fmt.Errorf("no collector active between %s and %s", from.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	sort.SliceStable(cols, func(i, j int) bool { return cols[i].Project < cols[j].Project })
	return cols, warnings, nil
}

func (c Collector) activeString() string {
	s := "from " + c.From.Format("2006-01")
	if !c.Until.IsZero() {
		s += " until " + c.Until.Format("2006-01")
	}
	return s
}

// ParseTime parses a time as RFC 3339 with or without seconds
// ("2014-12-22T12:00Z", "2014-12-22T12:00:00+01:00"), or a date
// ("2014-12-22", midnight UTC). A time without a zone is UTC.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 such as 2014-12-22T12:00Z", s)
}
