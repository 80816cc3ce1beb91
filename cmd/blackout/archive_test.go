package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/source/archive/archivetest"
)

func runArchiveCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // safety net
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, &cmdEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func archiveMirror(t *testing.T) *archivetest.Server { return archivetest.Run(t) }

func mirrorFlags(s *archivetest.Server, cache string) []string {
	b := s.Bases()
	return []string{"--from", "2014-12-31T19:00Z", "--until", "2015-01-01T03:00Z", "--collectors", "rrc00,route-views2",
		"--ris-base", b.RIS, "--routeviews-base", b.RouteViews, "--cache", cache}
}

// TestReplayFromArchive is `blackout replay --from --until --country KP`
// against the local mirror: the report shows the outage with its times,
// from both collectors; a second run makes no request.
func TestReplayFromArchive(t *testing.T) {
	s := archiveMirror(t)
	cache := t.TempDir()
	args := append([]string{"replay", "--country", "KP"}, mirrorFlags(s, cache)...)
	code, out, errs := runArchiveCmd(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		"2014-12-31 22:15:0", "outage", "KP", "until 2015-01-01 00:45:0",
		"20 vantage points", "from 2 input(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if errs != "" {
		t.Errorf("stderr not quiet when not a terminal: %q", errs)
	}
	t.Logf("report:\n%s", out)
	n := len(s.Requests())
	code, out2, _ := runArchiveCmd(t, args...)
	if code != 0 || out2 != out {
		t.Errorf("second run: exit %d, same report %v", code, out2 == out)
	}
	if m := len(s.Requests()); m != n {
		t.Errorf("second run made %d requests, want none", m-n)
	}
	// Files and a range together are refused.
	if code, _, _ := runArchiveCmd(t, append([]string{"replay", "x.gz"}, mirrorFlags(s, cache)...)...); code != 2 {
		t.Errorf("files with --from: exit %d, want 2", code)
	}
}

// TestReplayFromArchiveGap: a missing file is reported on stderr as a gap
// and the replay goes on (exit status 1: the report covers what could be read).
func TestReplayFromArchiveGap(t *testing.T) {
	s := archiveMirror(t)
	s.Remove(archivetest.RouteViewsPrefix + "/bgpdata/2014.12/UPDATES/updates.20141231.2230.bz2")
	code, out, errs := runArchiveCmd(t, append([]string{"replay", "--country", "KP"}, mirrorFlags(s, t.TempDir())...)...)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(errs, "updates.20141231.2230.bz2") || !strings.Contains(errs, "gap in the data") {
		t.Errorf("stderr does not report the gap:\n%s", errs)
	}
	if !strings.Contains(out, "2014-12-31 22:15:0") {
		t.Errorf("report lacks the outage:\n%s", out)
	}
}

func TestArchiveListAndFetch(t *testing.T) {
	s := archiveMirror(t)
	code, out, errs := runArchiveCmd(t, append([]string{"archive", "list"}, mirrorFlags(s, "")[:6]...)...)
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 170 || !strings.HasPrefix(lines[0], "rrc00 ") || !strings.Contains(lines[0], "rib") ||
		!strings.HasSuffix(lines[1], "/bgpdata/2014.12/RIBS/rib.20141231.1800.bz2") {
		t.Errorf("list: %d lines, first %q %q", len(lines), lines[0], lines[1])
	}
	code, out, _ = runArchiveCmd(t, "archive", "list", "--json", "--from", "2014-12-22T12:00Z", "--until", "2014-12-22T12:05Z", "--collectors", "route-views.linx")
	var v struct{ Collector, Kind, URL string }
	if code != 0 || json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &v) != nil ||
		v.URL != "https://archive.routeviews.org/route-views.linx/bgpdata/2014.12/RIBS/rib.20141222.1200.bz2" {
		t.Errorf("list --json: exit %d, %q", code, out)
	}
	cache := t.TempDir()
	code, out, errs = runArchiveCmd(t, append([]string{"archive", "fetch"}, mirrorFlags(s, cache)...)...)
	if code != 0 || !strings.Contains(out, "170 files: 170 downloaded") {
		t.Errorf("fetch: exit %d: %s %s", code, out, errs)
	}
	code, out, _ = runArchiveCmd(t, append([]string{"archive", "fetch"}, mirrorFlags(s, cache)...)...)
	if code != 0 || !strings.Contains(out, "170 files: 0 downloaded") || !strings.Contains(out, "170 from the cache") {
		t.Errorf("fetch again: exit %d: %s", code, out)
	}
	if code, _, _ := runArchiveCmd(t, "archive", "list", "--from", "2014-12-22T12:00Z"); code != 2 {
		t.Errorf("no --until: exit %d, want 2", code)
	}
	if code, _, _ := runArchiveCmd(t, "archive", "list", "--from", "2014-12-22T12:00Z", "--until", "2014-12-23", "--collectors", "nonsense"); code != 2 {
		t.Errorf("bad collector: exit %d, want 2", code)
	}
}
