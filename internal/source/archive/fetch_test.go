package archive_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/corpus"
	"github.com/blackout-bgp/blackout/internal/source"

	"github.com/blackout-bgp/blackout/internal/source/archive"
	"github.com/blackout-bgp/blackout/internal/source/archive/archivetest"
)

func corpusDir() string { return corpus.Dir() }

// TestResumeAfterCut cuts the connection half way through a large file:
// the fetcher resumes with a Range request and the cached bytes are those
// served. The file is the corpus's route-views2 RIB (1.6 MB, recompressed
// with bzip2 as RouteViews serves it) when the corpus is there, else the
// mirror's largest file; the corpus RIB is then replayed from the cache
// and gives the same route events as the original file.
func TestResumeAfterCut(t *testing.T) {
	s := mirror(t)
	ctx := testCtx(t)
	rv := archivetest.RouteViews
	var file archive.File
	var body []byte
	var corpus string
	if p := filepath.Join(corpusDir(), "mrt", "routeviews2.rib.20140523.0600.partial.gz"); fileExists(p) {
		corpus = p
		body = rebzip(t, p)
		ft := time.Date(2014, 5, 23, 6, 0, 0, 0, time.UTC)
		files, _ := archive.Plan(ft, ft.Add(time.Minute), []archive.Collector{rv}, s.Bases())
		file = files[0]
		s.Replace(archivetest.RouteViewsPrefix+"/"+file.Path, body)
	} else {
		t.Logf("corpus absent (%s): cutting the mirror's largest file", corpusDir())
		files, _ := archive.Plan(testFrom, testUntil, []archive.Collector{archivetest.RIS}, s.Bases())
		file = files[0]
		d, _ := archivetest.Build(ctx)
		body = d.Files[archivetest.RISPrefix+"/"+file.Path]
	}
	if file.Kind != archive.RIB {
		t.Fatalf("plan starts with %v, want the RIB", file)
	}
	path := strings.TrimPrefix(file.URL, s.URL)
	s.CutAfter(path, int64(len(body)/2))
	f := &archive.Fetcher{Dir: t.TempDir(), Backoff: time.Millisecond}
	ds := f.Fetch(ctx, []archive.File{file})
	if err := ds[0].Err(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.LocalPath(file))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("cached file differs from the served one: %d bytes, want %d", len(got), len(body))
	}
	reqs := s.Requests()
	if len(reqs) != 2 || reqs[0].Range != "" || !strings.HasPrefix(reqs[1].Range, "bytes=") {
		t.Fatalf("requests %+v: want a plain GET, then a Range request", reqs)
	}
	from, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(reqs[1].Range, "bytes="), "-"))
	if err != nil || from <= 0 || from > len(body)/2 {
		t.Errorf("resumed with %q: want bytes=N- with 0 < N <= %d", reqs[1].Range, len(body)/2)
	}
	if f.Stats.Resumed.Load() != 1 || f.Stats.Bytes.Load() != int64(len(body)) {
		t.Errorf("resumed %d, bytes %d: want 1 and %d (nothing fetched twice)", f.Stats.Resumed.Load(), f.Stats.Bytes.Load(), len(body))
	}
	if _, err := os.Stat(f.LocalPath(file) + ".part"); !os.IsNotExist(err) {
		t.Errorf("the .part file is still there: %v", err)
	}
	t.Logf("%d bytes, cut at %d, resumed with %s", len(body), len(body)/2, reqs[1].Range)
	if corpus == "" {
		return
	}
	want := countEvents(t, ctx, corpus)
	srcs := archive.NewSources(ctx, ds, nil)
	n := 0
	for {
		_, err := srcs[0].Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != want || n == 0 {
		t.Errorf("%d route events from the archive, %d from the corpus file", n, want)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// rebzip decompresses a gzip file and compresses it with bzip2.
func rebzip(t *testing.T, p string) []byte {
	t.Helper()
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = zr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bzip2: %v", err)
	}
	return out
}

func countEvents(t *testing.T, ctx context.Context, path string) int {
	t.Helper()
	fs, err := source.OpenFile(ctx, path, "route-views2")
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	n := 0
	for {
		_, err := fs.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
}

// TestGapAndCorruptFile: a 404 in the middle is reported as a gap naming
// the file, a truncated file is reported with its name, and the replay goes
// on: the outage is still found.
func TestGapAndCorruptFile(t *testing.T) {
	s := mirror(t)
	gap := archivetest.RISPrefix + "/rrc00/2014.12/updates.20141231.2300.gz"
	corrupt := archivetest.RouteViewsPrefix + "/bgpdata/2015.01/UPDATES/updates.20150101.0100.bz2"
	d, _ := archivetest.Build(context.Background())
	if d.Files[gap] == nil || d.Files[corrupt] == nil {
		t.Fatal("mirror lacks the files to break")
	}
	s.Remove(gap)
	s.Replace(corrupt, d.Files[corrupt][:len(d.Files[corrupt])/2])
	rr := replay(t, s, t.TempDir(), testFrom, testUntil)
	var gaps, corrupts int
	for _, err := range rr.errs {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "updates.20141231.2300.gz") && errors.Is(err, archive.ErrNotFound) && strings.Contains(msg, "gap"):
			gaps++
		case strings.Contains(msg, "updates.20150101.0100.bz2"):
			corrupts++
		default:
			t.Errorf("unexpected error: %v", err)
		}
		t.Logf("reported: %v", err)
	}
	if gaps != 1 || corrupts == 0 {
		t.Errorf("%d gap and %d corrupt-file reports, want 1 and at least 1", gaps, corrupts)
	}
	if g := rr.fetch.Stats.Gaps.Load(); g != 1 {
		t.Errorf("fetcher counted %d gaps, want 1", g)
	}
	if n := countPath(s.Requests(), gap); n != 1 {
		t.Errorf("the missing file was requested %d times, want 1 (a 404 is not retried)", n)
	}
	ev := kpOutage(rr.events)
	if ev == nil || !near(ev.Start, archivetest.OutageStart) || ev.End == nil || !near(*ev.End, archivetest.OutageEnd) {
		t.Fatalf("KP outage %+v: want it found despite the gap and the corrupt file", ev)
	}
	if rr.res.Last.Before(testUntil.Add(-10 * time.Minute)) {
		t.Errorf("data ends at %s: the files after the gap were not read", rr.res.Last)
	}
}

func countPath(reqs []archivetest.Request, p string) int {
	n := 0
	for _, r := range reqs {
		if r.Path == p {
			n++
		}
	}
	return n
}

// TestSlowServerBoundedConcurrency: with a slow server the downloads run
// concurrently, never more than Workers at once. The first Workers
// requests are held until that many are in flight at the same time (a
// barrier, with a generous safety timeout), so the test does not depend
// on timing.
func TestSlowServerBoundedConcurrency(t *testing.T) {
	s := mirror(t)
	const workers = 4
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	s.Hook = func(r *http.Request) {
		mu.Lock()
		arrived++
		if arrived == workers {
			close(all)
		}
		first := arrived <= workers
		mu.Unlock()
		if first {
			select {
			case <-all:
			case <-time.After(30 * time.Second): // safety net only
			}
		}
		time.Sleep(2 * time.Millisecond) // slow
	}
	files, err := archive.Plan(testFrom, testUntil, bothCols, s.Bases())
	if err != nil {
		t.Fatal(err)
	}
	f := &archive.Fetcher{Dir: t.TempDir(), Workers: workers}
	ds := f.Fetch(testCtx(t), files)
	for _, d := range ds {
		if err := d.Err(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-all:
	default:
		t.Fatal("the first requests never were in flight together")
	}
	if m := s.MaxInFlight(); m != workers {
		t.Errorf("at most %d requests in flight, want exactly %d", m, workers)
	}
	if n := len(s.Requests()); n != len(files) {
		t.Errorf("%d requests for %d files", n, len(files))
	}
}

// TestSecondRunFromCache: a second run over the same range makes no
// request at all and finds the same events.
func TestSecondRunFromCache(t *testing.T) {
	s := mirror(t)
	dir := t.TempDir()
	first := replay(t, s, dir, testFrom, testUntil)
	n := len(s.Requests())
	second := replay(t, s, dir, testFrom, testUntil)
	if m := len(s.Requests()); m != n {
		t.Errorf("second run made %d requests, want 0", m-n)
	}
	if c, tot := second.fetch.Stats.FromCache.Load(), second.fetch.Stats.FilesTotal.Load(); c != tot {
		t.Errorf("%d of %d files from the cache", c, tot)
	}
	if first.res.RouteEvents != second.res.RouteEvents || len(first.events) != len(second.events) {
		t.Errorf("second run: %d route events, %d events; first: %d, %d", second.res.RouteEvents, len(second.events), first.res.RouteEvents, len(first.events))
	}
	// A wider range reuses the cached files and fetches only the new ones.
	third := replay(t, s, dir, testFrom, testUntil.Add(30*time.Minute))
	if got := third.fetch.Stats.Requests.Load(); got != 6+2 {
		t.Errorf("wider range made %d requests, want 8 (6 RIS and 2 RouteViews update files)", got)
	}
}

// TestRetries: a server error is retried with backoff until it passes;
// one that lasts beyond the retries fails that file only.
func TestRetries(t *testing.T) {
	s := mirror(t)
	ctx := testCtx(t)
	files, _ := archive.Plan(testFrom, testFrom.Add(5*time.Minute), []archive.Collector{archivetest.RIS}, s.Bases())
	flaky := strings.TrimPrefix(files[1].URL, s.URL)
	down := strings.TrimPrefix(files[2].URL, s.URL)
	s.FailNext(flaky, 2)
	s.FailNext(down, 100)
	f := &archive.Fetcher{Dir: t.TempDir(), Backoff: time.Millisecond, Retries: 3}
	ds := f.Fetch(ctx, files)
	if err := ds[1].Err(); err != nil {
		t.Errorf("flaky file: %v", err)
	}
	if err := ds[2].Err(); err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "4 attempts") || errors.Is(err, archive.ErrNotFound) {
		t.Errorf("file down: %v, want a 503 after 4 attempts", err)
	}
	if n := countPath(s.Requests(), flaky); n != 3 {
		t.Errorf("flaky file requested %d times, want 3", n)
	}
	if f.Stats.Failed.Load() != 1 || f.Stats.FilesDone.Load() != int64(len(files)) {
		t.Errorf("failed %d, done %d of %d", f.Stats.Failed.Load(), f.Stats.FilesDone.Load(), len(files))
	}
}

// TestStall: a server that sends nothing is abandoned after StallTimeout
// and the request retried.
func TestStall(t *testing.T) {
	s := mirror(t)
	files, _ := archive.Plan(testFrom, testFrom.Add(time.Minute), []archive.Collector{archivetest.RIS}, s.Bases())
	var mu sync.Mutex
	stalled := 0
	done := make(chan struct{})
	defer close(done)
	s.Hook = func(r *http.Request) {
		mu.Lock()
		stalled++
		first := stalled == 1
		mu.Unlock()
		if first {
			select { // hangs until the client gives up (or the test ends)
			case <-r.Context().Done():
			case <-done:
			}
		}
	}
	f := &archive.Fetcher{Dir: t.TempDir(), Backoff: time.Millisecond, StallTimeout: 50 * time.Millisecond, Workers: 1}
	ds := f.Fetch(testCtx(t), files[:1])
	if err := ds[0].Err(); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Requests()); n != 2 {
		t.Errorf("%d requests, want 2 (the stalled one, then the retry)", n)
	}
}
