package archive

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

func TestFetcherSummary(t *testing.T) {
	f := &Fetcher{Dir: "/cache"}
	s := &f.Stats
	s.FilesTotal.Store(10)
	s.FilesDone.Store(9)
	s.FromCache.Store(3)
	s.Gaps.Store(2)
	s.Failed.Store(1)
	s.Bytes.Store(1234567)
	want := "10 files: 3 downloaded (1.2 MB in 0s), 3 from the cache, 2 missing from the archive, 1 failed; cache /cache"
	if got := f.Summary(); got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
}

func TestProgressText(t *testing.T) {
	var s Stats
	s.FilesTotal.Store(4)
	s.FilesDone.Store(2)
	s.FromCache.Store(1)
	s.Bytes.Store(4000000)
	want := "fetch: files 2/4 (1 cached, 0 missing), 4.0 MB at 2.0 MB/s"
	if got := ProgressText("fetch", &s, nil, 2*time.Second); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	ps := &ParseStats{}
	ps.FilesParsed.Store(1)
	ps.Events.Store(3000)
	want += "; parsed 1 files, 3000 events (1500/s)"
	if got := ProgressText("fetch", &s, ps, 2*time.Second); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	ps.clock.Store(time.Date(2014, 12, 22, 16, 5, 0, 0, time.UTC).UnixMicro())
	want += ", data clock 2014-12-22 16:05:00"
	if got := ProgressText("fetch", &s, ps, 2*time.Second); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEvictExcept(t *testing.T) {
	f := &Fetcher{Dir: t.TempDir()}
	t0 := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	mine := File{Collector: "rrc00", Project: RIS, Kind: RIB, Time: t0, Path: "rrc00/2014.12/bview.20141222.1600.gz"}
	other := mine
	other.Path = "rrc00/2014.12/bview.20141222.0800.gz"
	for i, file := range []File{other, mine} {
		p := f.LocalPath(file)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, make([]byte, 100), 0o644); err != nil {
			t.Fatal(err)
		}
		age := time.Duration(2-i) * time.Hour
		os.Chtimes(p, time.Now().Add(-age), time.Now().Add(-age))
	}
	n, b, err := f.EvictExcept(0, []*Download{{File: mine}})
	if err != nil || n != 1 || b != 100 {
		t.Fatalf("EvictExcept = %d, %d, %v; want 1 file of 100 bytes", n, b, err)
	}
	if !fileExists(f.LocalPath(mine)) || fileExists(f.LocalPath(other)) {
		t.Error("the run's file went, or the other stayed")
	}
}

func TestListing(t *testing.T) {
	t0 := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	f := File{Collector: "route-views2", Project: RouteViews, Kind: Updates, Time: t0, Span: 15 * time.Minute, URL: "https://x/u.bz2"}
	b, err := json.Marshal(f.Listing())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"collector":"route-views2","project":"routeviews","kind":"updates","time":"2014-12-22T16:00:00Z","end":"2014-12-22T16:15:00Z","url":"https://x/u.bz2"}`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
	if got, want := f.ListLine(), "route-views2           updates 2014-12-22 16:00  https://x/u.bz2\n"; got != want {
		t.Errorf("ListLine = %q, want %q", got, want)
	}
}

// countSource returns n events, then io.EOF for ever.
type countSource struct{ n int }

func (c *countSource) Next() (*bgp.Event, error) {
	if c.n == 0 {
		return nil, io.EOF
	}
	c.n--
	return &bgp.Event{}, nil
}

func TestWhenAllEnd(t *testing.T) {
	ends := 0
	srcs := WhenAllEnd([]*countSource{{1}, {2}}, func() { ends++ })
	for round := 0; round < 4; round++ {
		for _, s := range srcs {
			s.Next()
		}
		if want := map[int]int{0: 0, 1: 0, 2: 1, 3: 1}[round]; ends != want {
			t.Errorf("after round %d: end called %d times, want %d", round, ends, want)
		}
	}
}

func TestWriteList(t *testing.T) {
	t0 := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	files := []File{{Collector: "rrc00", Project: RIS, Kind: RIB, Time: t0, URL: "https://x/b.gz"}}
	var text, js strings.Builder
	if err := WriteList(&text, files, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteList(&js, files, true); err != nil {
		t.Fatal(err)
	}
	if text.String() != files[0].ListLine() || !strings.HasPrefix(js.String(), `{"collector":"rrc00","project":"ris","kind":"rib"`) || !strings.HasSuffix(js.String(), "}\n") {
		t.Errorf("text %q, JSON %q", text.String(), js.String())
	}
}

func TestRangeLine(t *testing.T) {
	t0 := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	cols := []Collector{{Name: "rrc00"}, {Name: "route-views2"}}
	want := "2014-12-22T16:00:00Z to 2014-12-22T17:00:00Z from rrc00, route-views2: 9 files; cache /c"
	if got := RangeLine(t0, t0.Add(time.Hour), cols, 9, "/c"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestProgressTextRetries(t *testing.T) {
	var s Stats
	s.FilesTotal.Store(4)
	s.FilesDone.Store(3)
	s.Failed.Store(2)
	s.Retries.Store(7)
	want := "fetch: files 3/4 (0 cached, 0 missing), 0 B at 0 B/s, 2 failed, 7 retries"
	if got := ProgressText("fetch", &s, nil, 2*time.Second); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
