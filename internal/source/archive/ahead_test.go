package archive_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/archive"
	"github.com/blackout-bgp/blackout/internal/source/archive/archivetest"
)

// describeEvent is every field of an event, as text.
func describeEvent(ev *bgp.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %v %v %d %v %d %d %v %v", ev.Time.Format(time.RFC3339Nano), ev.Kind, ev.Peer, ev.Prefix, ev.PathID, ev.RIB, ev.OldState, ev.NewState, ev.SignalsReady, ev.Multicast)
	if a := ev.Attrs; a != nil {
		fmt.Fprintf(&b, " %s %v %v %d %d %v %v %v", a.Path.AppendString(nil), a.NextHop, a.Origin, a.MED, a.LocalPref, a.Communities, a.LargeCommunities, a.Unknown)
	}
	return b.String()
}

// The synthetic mirror of these tests: three RIS collectors, 2 hours.
var (
	synthFrom  = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	synthUntil = synthFrom.Add(2 * time.Hour)
	synthCols  = []archive.Collector{{Name: "rrc00", Project: archive.RIS}, {Name: "rrc01", Project: archive.RIS}, {Name: "rrc03", Project: archive.RIS}}
)

func synthMirror(t *testing.T) *archivetest.Server {
	t.Helper()
	return archivetest.ServeSynthetic(t, archivetest.Synthetic{
		Collectors: []string{"rrc00", "rrc01", "rrc03"}, Start: synthFrom, Span: synthUntil.Sub(synthFrom),
		Prefixes: 3000, Peers: 5, UpdatesPerPeer: 1, Seed: 3,
	})
}

// brokenMirror serves the synthetic mirror with a gap (an update file of
// rrc00 missing), an update file of rrc01 cut in half (unreadable from
// there) and one of rrc03 with a bad record in its middle (one input
// error, the file goes on).
func brokenMirror(t *testing.T) *archivetest.Server {
	t.Helper()
	s := synthMirror(t)
	gap := archivetest.RISPrefix + "/rrc00/2025.01/updates.20250101.0030.gz"
	cut := archivetest.RISPrefix + "/rrc01/2025.01/updates.20250101.0100.gz"
	bad := archivetest.RISPrefix + "/rrc03/2025.01/updates.20250101.0005.gz"
	body := func(p string) []byte {
		rs, err := http.Get(s.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Body.Close()
		b, err := io.ReadAll(rs.Body)
		if err != nil || rs.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %s", p, err, rs.Status)
		}
		return b
	}
	cutBody, badBody := body(cut), body(bad)
	s.Remove(gap)
	s.Replace(cut, cutBody[:len(cutBody)/2])
	zr, err := gzip.NewReader(bytes.NewReader(badBody))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	// A record header with an unknown type and a short body, at a record
	// boundary found by walking the MRT headers to the middle.
	off := 0
	for off < len(raw)/2 {
		off += 12 + int(uint32(raw[off+8])<<24|uint32(raw[off+9])<<16|uint32(raw[off+10])<<8|uint32(raw[off+11]))
	}
	junk := []byte{0x5f, 0, 0, 0, 0, 99, 0, 4, 0, 0, 0, 4, 1, 2, 3, 4}
	raw = append(append(append([]byte(nil), raw[:off]...), junk...), raw[off:]...)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(raw)
	zw.Close()
	s.Replace(bad, zb.Bytes())
	return s
}

// readArchive replays the range from the server into a new cache and
// returns the merged stream as text (errors included), how often the
// end hook ran, and the parse statistics.
func readArchive(t *testing.T, s *archivetest.Server, serial bool) (items []string, ends int64, ps *archive.ParseStats) {
	t.Helper()
	ctx := testCtx(t)
	files, err := archive.Plan(synthFrom, synthUntil, synthCols, s.Bases())
	if err != nil {
		t.Fatal(err)
	}
	f := &archive.Fetcher{Dir: t.TempDir(), Backoff: time.Millisecond, Retries: -1}
	ds := f.Start(ctx, files)
	ps = &archive.ParseStats{}
	srcs := archive.NewSources(ctx, ds, ps)
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	var n atomic.Int64
	m := source.Merge(archive.WhenAllEnd(srcs, func() { n.Add(1) }))
	m.Serial = serial
	defer m.Stop()
	for {
		ev, err := m.Next()
		if errors.Is(err, io.EOF) {
			return items, n.Load(), ps
		}
		if err != nil {
			items = append(items, "error: "+err.Error())
			continue
		}
		items = append(items, describeEvent(ev))
	}
}

// TestArchiveAheadSameStream checks that reading each collector's stream
// ahead, on its own goroutine, gives the merged stream of reading them in
// turn on one: the same events in the same order, and the same errors (a
// gap, a file unreadable from its middle, a bad record) at the same
// places.
func TestArchiveAheadSameStream(t *testing.T) {
	s := brokenMirror(t)
	serial, serialEnds, sps := readArchive(t, s, true)
	ahead, aheadEnds, aps := readArchive(t, s, false)
	var gaps, cuts, bad int
	for _, it := range serial {
		switch {
		case !strings.HasPrefix(it, "error: "):
		case strings.Contains(it, "rrc00/2025.01/updates.20250101.0030.gz") && strings.Contains(it, "gap"):
			gaps++
		case strings.Contains(it, "rrc01/2025.01/updates.20250101.0100.gz"):
			cuts++
		case strings.Contains(it, "rrc03/2025.01/updates.20250101.0005.gz"):
			bad++
		default:
			t.Errorf("unexpected error: %s", it)
		}
	}
	if len(serial) < 100000 || gaps != 1 || cuts == 0 || bad == 0 {
		t.Fatalf("serial stream: %d items, %d gaps, %d cut-file and %d bad-record errors: want many events, 1 gap and the others", len(serial), gaps, cuts, bad)
	}
	if len(ahead) != len(serial) {
		t.Errorf("ahead: %d items, serial %d", len(ahead), len(serial))
	}
	for i := range min(len(ahead), len(serial)) {
		if ahead[i] != serial[i] {
			t.Fatalf("item %d differs:\nahead  %s\nserial %s", i, ahead[i], serial[i])
		}
	}
	if serialEnds != 1 || aheadEnds != 1 {
		t.Errorf("the end hook ran %d times serially, %d ahead: want once each", serialEnds, aheadEnds)
	}
	for _, c := range []struct {
		what     string
		ser, ahd int64
	}{
		{"events", sps.Events.Load(), aps.Events.Load()},
		{"files", sps.FilesParsed.Load(), aps.FilesParsed.Load()},
		{"sources done", sps.SourcesDone.Load(), aps.SourcesDone.Load()},
	} {
		if c.ser != c.ahd || c.ser == 0 {
			t.Errorf("parse stats, %s: %d serially, %d ahead", c.what, c.ser, c.ahd)
		}
	}
	if !sps.Clock().Equal(aps.Clock()) || sps.Clock().IsZero() {
		t.Errorf("parse clock %s serially, %s ahead", sps.Clock(), aps.Clock())
	}
	t.Logf("%d items (%d events counted), clock %s", len(serial), sps.Events.Load(), sps.Clock())
}

// TestArchiveAheadStopEarly stops a merged archive stream in its middle
// and closes the streams right after, as replay does when it is
// cancelled: each stream was read on a goroutine of its own, and Stop
// waits for them, so closing races with nothing (go test -race) and no
// reader is left.
func TestArchiveAheadStopEarly(t *testing.T) {
	s := synthMirror(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	files, err := archive.Plan(synthFrom, synthUntil, synthCols, s.Bases())
	if err != nil {
		t.Fatal(err)
	}
	f := &archive.Fetcher{Dir: t.TempDir(), Backoff: time.Millisecond}
	ds := f.Start(ctx, files)
	srcs := archive.NewSources(ctx, ds, nil)
	m := source.Merge(archive.WhenAllEnd(srcs, func() {}))
	for range 20000 {
		if _, err := m.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if n := readers(); n != len(srcs) {
		t.Errorf("%d goroutines reading ahead, want one per stream (%d)", n, len(srcs))
	}
	cancel()
	m.Stop()
	// No reader is left the moment Stop returns: closing races with none.
	if n := readers(); n != 0 {
		t.Errorf("%d goroutines reading ahead after Stop", n)
	}
	for _, s := range srcs {
		s.Close()
	}
}

// readers counts the goroutines reading a source ahead of a merge.
func readers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "source.(*ahead).run(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestSyntheticMirror replays a small synthetic mirror (the generator of
// bench/archday) through the pipeline: every file is there and parses,
// every vantage point is a full feed, and the events are the RIBs plus
// the update messages written. (Whether the churn makes events depends on
// the size: at this one, an AS whose one prefix 5 of the 8 peers see
// goes dark for a flap's minutes, as it should.)
func TestSyntheticMirror(t *testing.T) {
	o := archivetest.Synthetic{Collectors: []string{"rrc00", "rrc01"}, Start: synthFrom, Span: time.Hour, Prefixes: 2000, Peers: 4, Seed: 9}
	files := map[string][]byte{}
	st, err := o.Write(context.Background(), func(path string) (io.WriteCloser, error) {
		return &memFile{files: files, path: archivetest.RISPrefix + "/" + path}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 2*(1+12) || len(files) != st.Files {
		t.Fatalf("%d files written (%d in the map), want 2 collectors x (1 RIB + 12 update files)", st.Files, len(files))
	}
	if st.RIBRoutes < 2000*4*9/10 || st.Updates < 2*12*4*3*300 {
		t.Fatalf("%d RIB routes and %d updates: fewer than the options ask", st.RIBRoutes, st.Updates)
	}
	s := archivetest.Serve(&archivetest.Data{Files: files})
	defer s.Close()
	ctx := testCtx(t)
	plan, err := archive.Plan(synthFrom, synthFrom.Add(time.Hour), synthCols[:2], s.Bases())
	if err != nil {
		t.Fatal(err)
	}
	f := &archive.Fetcher{Dir: t.TempDir(), Backoff: time.Millisecond}
	srcs := archive.NewSources(ctx, f.Start(ctx, plan), nil)
	es := make([]source.Source, len(srcs))
	for i, s := range srcs {
		es[i] = s
		defer s.Close()
	}
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Run(ctx, source.Merge(es), pipeline.Options{Config: pipeline.DefaultConfig(db)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Peers != 8 || res.FullFeed[0] != 8 {
		t.Errorf("%d input errors, %d peers, %d full-feed IPv4 peers: want 0, 8, 8", res.Errors, res.Peers, res.FullFeed[0])
	}
	if want := 2*st.RIBRoutes + st.Updates; res.RouteEvents != want {
		t.Errorf("%d route events, want %d (2 RIBs of %d routes and %d updates)", res.RouteEvents, want, st.RIBRoutes, st.Updates)
	}
	t.Logf("%d route events, %d detector events", res.RouteEvents, len(res.Events))
}

type memFile struct {
	bytes.Buffer
	files map[string][]byte
	path  string
}

func (m *memFile) Close() error { m.files[m.path] = m.Bytes(); return nil }
