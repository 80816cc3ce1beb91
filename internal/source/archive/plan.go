package archive

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind is the kind of an archive file.
type Kind string

const (
	// RIB is a table dump (RIS "bview", RouteViews "rib").
	RIB Kind = "rib"
	// Updates is a file of BGP update messages and state changes.
	Updates Kind = "updates"
)

// Bases are the archives' base URLs (no trailing slash needed).
type Bases struct {
	RIS        string // default DefaultRISBase
	RouteViews string // default DefaultRouteViewsBase
}

func (b Bases) of(p Project) string {
	var s string
	switch p {
	case RIS:
		s = b.RIS
		if s == "" {
			s = DefaultRISBase
		}
	default:
		s = b.RouteViews
		if s == "" {
			s = DefaultRouteViewsBase
		}
	}
	return strings.TrimRight(s, "/")
}

// File is one archive file of a plan.
type File struct {
	Collector string
	Project   Project
	Kind      Kind
	// Time is the time in the file name: the dump's time for a RIB, the
	// start of the span [Time, Time+Span) for updates.
	Time time.Time
	Span time.Duration // 0 for a RIB
	// Path is the file's path below its archive's base URL.
	Path string
	URL  string
}

// CachePath is where the file lives below a cache directory (slash
// separated): project, collector, then the archive path, so that files of
// different collectors and archives never collide.
func (f File) CachePath() string {
	p := f.Path
	if f.Project == RouteViews && f.Collector != "route-views2" {
		p = strings.TrimPrefix(p, f.Collector+"/")
	}
	return f.Project.String() + "/" + f.Collector + "/" + p
}

// Name returns the file's base name ("bview.20141222.0800.gz").
func (f File) Name() string { return f.Path[strings.LastIndexByte(f.Path, '/')+1:] }

func (f File) String() string {
	return fmt.Sprintf("%s %s %s", f.Collector, f.Kind, f.Time.Format("2006-01-02 15:04"))
}

// PathOf returns the path below the archive base of a collector's file of
// that kind and time.
func PathOf(c Collector, k Kind, t time.Time) string {
	t = t.UTC()
	stamp := t.Format("20060102.1504")
	month := t.Format("2006.01")
	if c.Project == RIS {
		prefix := "updates."
		if k == RIB {
			prefix = "bview."
		}
		return c.Name + "/" + month + "/" + prefix + stamp + ".gz"
	}
	dir := "bgpdata/" + month + "/UPDATES/updates."
	if k == RIB {
		dir = "bgpdata/" + month + "/RIBS/rib."
	}
	if c.Name != "route-views2" {
		dir = c.Name + "/" + dir
	}
	return dir + stamp + ".bz2"
}

// Plan lists the files to read for [from, until) from each collector: the
// latest RIB dump at or before from, then every update file from that
// dump's time up to until (an update file named HHMM covers [HHMM,
// HHMM+interval), so the last one is the one that holds until's instant
// just before it). The updates start at the RIB's time, not at from, so
// that the routing view is exact at from.
//
// The order is the fetch order: all RIBs first, then the update files in
// time order, interleaved across collectors, so that a consumer merging
// the collectors in time order always finds the file it waits for among
// the first downloads.
func Plan(from, until time.Time, cols []Collector, bases Bases) ([]File, error) {
	from, until = from.UTC(), until.UTC()
	if !until.After(from) {
		return nil, fmt.Errorf("empty time range: %s is not after %s", until.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	var out []File
	for _, c := range cols {
		sch := ScheduleOf(c.Project)
		base := bases.of(c.Project)
		mk := func(k Kind, t time.Time, span time.Duration) File {
			p := PathOf(c, k, t)
			return File{Collector: c.Name, Project: c.Project, Kind: k, Time: t, Span: span, Path: p, URL: base + "/" + p}
		}
		rib := from.Truncate(sch.RIBEvery)
		out = append(out, mk(RIB, rib, 0))
		for t := rib; t.Before(until); t = t.Add(sch.UpdatesEvery) {
			out = append(out, mk(Updates, t, sch.UpdatesEvery))
		}
	}
	order := map[string]int{}
	for i, c := range cols {
		order[c.Name] = i
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return a.Kind == RIB
		}
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		return order[a.Collector] < order[b.Collector]
	})
	return out, nil
}

// ByCollector splits a plan into each collector's files, in time order
// (the RIB first), in the order the collectors first appear.
func ByCollector(files []File) (names []string, per map[string][]File) {
	per = map[string][]File{}
	for _, f := range files {
		if _, ok := per[f.Collector]; !ok {
			names = append(names, f.Collector)
		}
		per[f.Collector] = append(per[f.Collector], f)
	}
	for _, n := range names {
		fs := per[n]
		sort.SliceStable(fs, func(i, j int) bool {
			if fs[i].Kind != fs[j].Kind {
				return fs[i].Kind == RIB
			}
			return fs[i].Time.Before(fs[j].Time)
		})
	}
	return names, per
}
