package pipeline_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/mrt/mrtgen"
	"github.com/blackout-bgp/blackout/internal/offheap"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
)

// BenchmarkScale replays generated RIB dumps (mrtgen) of growing peer
// counts plus updates of the same peers and prefixes (mrtgen.WriteChurn)
// through the whole pipeline, from MRT files as `blackout replay` reads
// them, and reports for each size what a route costs:
//
//   - live-B/route: the live heap (runtime/metrics /gc/heap/live:bytes
//     after a GC) with the pipeline alive, minus the live heap before it,
//     over the (peer, prefix) routes the view holds at the end;
//   - events/cpu-s: route events per second of the process's CPU time
//     (user+system, all goroutines; a busy machine distorts it less than
//     the wall clock), and events/s by the wall clock;
//   - maxrss-MB: the process's peak RSS so far (sizes run smallest first,
//     so each is its own size's peak, generation included).
//
// The default is one small size for CI. BLACKOUT_BENCH_SCALE lists sizes
// as PREFIXESxPEERS[+UPDATES] (updates default 300,000):
//
//	BLACKOUT_BENCH_SCALE=1000000x40,1000000x100,1000000x200,200000x100 \
//	  go test ./internal/pipeline -run '^$' -bench Scale -benchtime 1x -timeout 2h
//
// The files go to BLACKOUT_BENCH_DIR (default a temporary directory) and
// are reused when there; 1,000,000 x 200 is 7.8 GB of MRT.
func BenchmarkScale(b *testing.B) {
	if testing.Short() {
		b.Skip("large: skipped under -short")
	}
	sizes := os.Getenv("BLACKOUT_BENCH_SCALE")
	if sizes == "" {
		sizes = "20000x40+20000"
	}
	dir := os.Getenv("BLACKOUT_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	db, err := geo.Default()
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range strings.Split(sizes, ",") {
		nPfx, nPeers, nUpd, err := parseSize(size)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dx%d+%d", nPfx, nPeers, nUpd), func(b *testing.B) {
			rib, upd, err := scaleFiles(dir, nPfx, nPeers, nUpd)
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				runScale(b, db, rib, upd)
			}
		})
	}
}

func parseSize(s string) (prefixes, peers, updates int, err error) {
	updates = 300_000
	if i := strings.IndexByte(s, '+'); i >= 0 {
		if updates, err = strconv.Atoi(s[i+1:]); err != nil {
			return 0, 0, 0, fmt.Errorf("size %q: %w", s, err)
		}
		s = s[:i]
	}
	a, c, ok := strings.Cut(s, "x")
	if !ok {
		return 0, 0, 0, fmt.Errorf("size %q: want PREFIXESxPEERS[+UPDATES]", s)
	}
	if prefixes, err = strconv.Atoi(a); err == nil {
		peers, err = strconv.Atoi(c)
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("size %q: %w", s, err)
	}
	return prefixes, peers, updates, nil
}

// scaleFiles writes (or finds) the RIB and update files of one size.
func scaleFiles(dir string, nPfx, nPeers, nUpd int) (rib, upd string, err error) {
	opt := mrtgen.Options{Seed: 1, Prefixes: nPfx, Peers: nPeers}
	rib = filepath.Join(dir, fmt.Sprintf("rib.%dx%d.mrt", nPfx, nPeers))
	upd = filepath.Join(dir, fmt.Sprintf("upd.%dx%d+%d.mrt", nPfx, nPeers, nUpd))
	if err := writeOnce(rib, func(w *mrt.Writer) error { _, err := mrtgen.WriteRIB(w, opt); return err }); err != nil {
		return "", "", err
	}
	err = writeOnce(upd, func(w *mrt.Writer) error {
		f, err := os.Open(rib)
		if err != nil {
			return err
		}
		defer f.Close()
		opt.Time = time.Date(2025, 1, 1, 0, 0, 1, 0, time.UTC)
		_, err = mrtgen.WriteChurn(w, bufio.NewReaderSize(f, 1<<20), opt, nUpd)
		return err
	})
	return rib, upd, err
}

func writeOnce(name string, gen func(w *mrt.Writer) error) error {
	if _, err := os.Stat(name); err == nil {
		return nil
	}
	f, err := os.Create(name + ".tmp")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := mrt.NewWriter(bw)
	err = gen(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name + ".tmp")
		return fmt.Errorf("%s: %w", name, err)
	}
	return os.Rename(name+".tmp", name)
}

func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	// The view's tables and paths are off the Go heap (package offheap).
	return s[0].Value.Uint64() + uint64(offheap.InUse())
}

func maxRSS() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // kB on Linux
}

func runScale(b *testing.B, db *geo.DB, rib, upd string) {
	b.StopTimer()
	base := liveHeap()
	ctx := context.Background()
	files, err := source.OpenFiles(ctx, []string{rib, upd})
	if err != nil {
		b.Fatal(err)
	}
	srcs := []source.Source{files[0], files[1]}
	opts := pipeline.Options{Config: pipeline.DefaultConfig(db)}
	p := pipeline.New(opts.Config)
	b.StartTimer()
	start, cpu0 := time.Now(), cpuTime()
	res, err := p.Run(ctx, source.Merge(srcs), opts)
	wall, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	for _, f := range files {
		f.Close()
	}
	if err != nil || res.Errors != 0 {
		b.Fatalf("%v, %d input errors", err, res.Errors)
	}
	live := liveHeap() - base
	mem := p.View().Memory()
	perRoute := float64(live) / float64(max(mem.Routes, 1))
	b.ReportMetric(perRoute, "live-B/route")
	b.ReportMetric(float64(res.RouteEvents)/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(res.RouteEvents)/wall.Seconds(), "events/s")
	b.ReportMetric(maxRSS(), "maxrss-MB")
	b.Logf("%d routes held (%d peers, %d prefixes, %d path nodes), %d route events: live %.1f MB (view: tables %.1f MB, paths %.1f MB, prefixes %.1f MB); cpu %.1fs, wall %.1fs",
		mem.Routes, res.Peers, res.Prefixes, mem.DistinctPath, res.RouteEvents, float64(live)/1e6,
		float64(mem.Tables)/1e6, float64(mem.Paths)/1e6, float64(mem.Prefixes)/1e6, cpu.Seconds(), wall.Seconds())
	runtime.KeepAlive(p)
	b.StartTimer()
}
