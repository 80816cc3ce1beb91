package archive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := ParseTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseTime(t *testing.T) {
	want := time.Date(2014, 12, 22, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"2014-12-22T12:00Z", "2014-12-22T12:00:00Z", "2014-12-22T13:00+01:00", "2014-12-22T12:00", "2014-12-22T12:00:00.000Z"} {
		if got, err := ParseTime(s); err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v", s, got, err)
		}
	}
	if got, err := ParseTime("2014-12-22"); err != nil || !got.Equal(want.Add(-12*time.Hour)) {
		t.Errorf("date: %v, %v", got, err)
	}
	if _, err := ParseTime("yesterday"); err == nil {
		t.Error("no error for a bad time")
	}
}

func TestPlanRIS(t *testing.T) {
	rrc, _ := Lookup("rrc00")
	files, err := Plan(mustTime(t, "2014-12-22T12:00Z"), mustTime(t, "2014-12-22T12:10Z"), []Collector{rrc}, Bases{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.URL)
	}
	// The latest RIB at or before 12:00 is 08:00; updates from 08:00 to the
	// file holding 12:05-12:10.
	if len(files) != 1+50 || got[0] != "https://data.ris.ripe.net/rrc00/2014.12/bview.20141222.0800.gz" ||
		got[1] != "https://data.ris.ripe.net/rrc00/2014.12/updates.20141222.0800.gz" ||
		got[len(got)-1] != "https://data.ris.ripe.net/rrc00/2014.12/updates.20141222.1205.gz" {
		t.Errorf("plan: %d files %v", len(files), got)
	}
	if f := files[len(files)-1]; f.Span != 5*time.Minute || f.Kind != Updates || f.Collector != "rrc00" {
		t.Errorf("last file %+v", f)
	}
	// A start on a dump time takes that dump.
	files, _ = Plan(mustTime(t, "2014-12-22T16:00Z"), mustTime(t, "2014-12-22T16:01Z"), []Collector{rrc}, Bases{RIS: "http://mirror/ris/"})
	if len(files) != 2 || files[0].URL != "http://mirror/ris/rrc00/2014.12/bview.20141222.1600.gz" || files[1].Name() != "updates.20141222.1600.gz" {
		t.Errorf("plan on a dump time: %+v", files)
	}
	if _, err := Plan(mustTime(t, "2014-12-22T16:00Z"), mustTime(t, "2014-12-22T16:00Z"), []Collector{rrc}, Bases{}); err == nil {
		t.Error("no error for an empty range")
	}
}

func TestPlanRouteViewsAndMonths(t *testing.T) {
	rv2, _ := Lookup("route-views2")
	linx, _ := Lookup("route-views.linx")
	// Across the new year: the RIB of 23:00 is 22:00 on 31 December; the
	// updates go on into January's directory.
	files, err := Plan(mustTime(t, "2014-12-31T23:00Z"), mustTime(t, "2015-01-01T00:30Z"), []Collector{rv2, linx}, Bases{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"bgpdata/2014.12/RIBS/rib.20141231.2200.bz2",
		"route-views.linx/bgpdata/2014.12/RIBS/rib.20141231.2200.bz2",
	}
	for tm := mustTime(t, "2014-12-31T22:00Z"); tm.Before(mustTime(t, "2015-01-01T00:30Z")); tm = tm.Add(15 * time.Minute) {
		for _, c := range []Collector{rv2, linx} {
			want = append(want, PathOf(c, Updates, tm))
		}
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Path)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p := PathOf(linx, Updates, mustTime(t, "2015-01-01T00:15Z")); p != "route-views.linx/bgpdata/2015.01/UPDATES/updates.20150101.0015.bz2" {
		t.Errorf("path %s", p)
	}
	if files[0].URL != "https://archive.routeviews.org/bgpdata/2014.12/RIBS/rib.20141231.2200.bz2" {
		t.Errorf("URL %s", files[0].URL)
	}
	// Cache paths never collide and name the collector.
	if a, b := files[0].CachePath(), files[1].CachePath(); a != "routeviews/route-views2/bgpdata/2014.12/RIBS/rib.20141231.2200.bz2" ||
		b != "routeviews/route-views.linx/bgpdata/2014.12/RIBS/rib.20141231.2200.bz2" {
		t.Errorf("cache paths %s, %s", a, b)
	}
	names, per := ByCollector(files)
	if len(names) != 2 || per["route-views.linx"][0].Kind != RIB || len(per["route-views2"]) != 1+10 {
		t.Errorf("by collector: %v %d", names, len(per["route-views2"]))
	}
}

func TestSelect(t *testing.T) {
	from, until := mustTime(t, "2014-12-22T12:00Z"), mustTime(t, "2014-12-23T04:00Z")
	cols, warn, err := Select("", from, until)
	if err != nil || len(cols) != 3 || cols[0].Name != "rrc00" || cols[2].Name != "route-views2" || len(warn) != 0 {
		t.Errorf("default: %v %v %v", cols, warn, err)
	}
	all, _, err := Select("all", from, until)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range all {
		names[c.Name] = true
	}
	// In December 2014: rrc02, rrc08, rrc09 were gone; rrc18+ not yet there.
	for _, n := range []string{"rrc00", "rrc16", "route-views2", "route-views.sfmix", "route-views.linx"} {
		if !names[n] {
			t.Errorf("all in 2014 lacks %s", n)
		}
	}
	for _, n := range []string{"rrc02", "rrc08", "rrc18", "rrc26", "route-views.amsix"} {
		if names[n] {
			t.Errorf("all in 2014 has %s", n)
		}
	}
	cols, warn, err = Select("RRC26, route-views.linx,rrc03,rrc03", from, until)
	if err != nil || len(cols) != 3 || cols[0].Name != "rrc26" || cols[2].Name != "route-views.linx" || len(warn) != 1 || !strings.Contains(warn[0], "rrc26") {
		t.Errorf("named: %v %v %v", cols, warn, err)
	}
	cols, warn, err = Select("route-views.newix", from, until)
	if err != nil || len(cols) != 1 || cols[0].Project != RouteViews || len(warn) != 1 {
		t.Errorf("unknown RouteViews name: %v %v %v", cols, warn, err)
	}
	if _, _, err := Select("rrc0", from, until); err == nil {
		t.Error("no error for a bad name")
	}
	ris, _, _ := Select("ris", from, until)
	for _, c := range ris {
		if c.Project != RIS {
			t.Errorf("ris selected %s", c.Name)
		}
	}
	if _, _, err := Select("all", mustTime(t, "1990-01-01T00:00Z"), mustTime(t, "1990-01-02T00:00Z")); err == nil {
		t.Error("no error when no collector was active")
	}
}

func TestEvict(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	mk := func(name string, size int, age time.Duration) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, now.Add(-age), now.Add(-age))
		return p
	}
	oldest := mk("ris/rrc00/a", 100, 5*time.Hour)
	kept := mk("ris/rrc00/b", 100, 4*time.Hour)
	old := mk("ris/rrc00/c", 100, 3*time.Hour)
	recent := mk("routeviews/x/d", 100, time.Hour)
	part := mk("ris/rrc00/e.part", 100, time.Minute) // a download in progress
	n, b, err := Evict(dir, 150, map[string]bool{kept: true})
	if err != nil {
		t.Fatal(err)
	}
	// 400 bytes counted (the fresh .part is not); remove the oldest not kept
	// until at most 150: a, c; then 200 > 150 but only kept and recent are
	// left... recent goes too.
	if n != 3 || b != 300 {
		t.Errorf("evicted %d files, %d bytes", n, b)
	}
	for p, want := range map[string]bool{oldest: false, kept: true, old: false, recent: false, part: true} {
		if fileExists(p) != want {
			t.Errorf("%s exists: %v, want %v", p, !want, want)
		}
	}
	if n, _, _ := Evict(dir, 1<<20, nil); n != 0 {
		t.Errorf("evicted %d under the bound", n)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestParseSize(t *testing.T) {
	for s, want := range map[string]int64{"20G": 20 << 30, "500M": 500 << 20, "1.5GiB": 3 << 29, "123": 123, "4kb": 4096} {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	if _, err := ParseSize("lots"); err == nil {
		t.Error("no error for a bad size")
	}
}
