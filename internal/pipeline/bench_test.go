package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/mrt/mrtgen"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
)

func benchEnvInt(name string, dflt int) int {
	if s := os.Getenv(name); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return dflt
}

// benchInput is a generated RIB dump and an hour of updates, uncompressed
// MRT in memory.
type benchInput struct {
	rib, upd   []byte
	ribRoutes  int64
	updRoutes  int64
	updMsgs    int64
	prefixes   int
	peers      int
	decodeRate float64 // RIB entries/s decoded alone (RouteReader)
}

var benchData = sync.OnceValues(func() (*benchInput, error) {
	nPfx := benchEnvInt("BLACKOUT_BENCH_PREFIXES", 1_000_000)
	nPeers := benchEnvInt("BLACKOUT_BENCH_PEERS", 40)
	opt := mrtgen.Options{Seed: 1, Prefixes: nPfx, Peers: nPeers}
	in := &benchInput{peers: nPeers}
	var rib bytes.Buffer
	w := mrt.NewWriter(&rib)
	n, err := mrtgen.WriteRIB(w, opt)
	if err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	in.rib, in.ribRoutes = rib.Bytes(), n

	// Read the RIB back once: the prefixes with their AS paths (from the
	// first peer that has each), and the decoding rate alone.
	type route struct {
		p    netip.Prefix
		path []bgp.ASN
	}
	var routes []route
	rr := mrt.NewRouteReader(bytes.NewReader(in.rib), "rib", "rrc00")
	start := time.Now()
	var last netip.Prefix
	var entries int64
	for {
		ev, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		entries++
		if ev.Prefix != last {
			last = ev.Prefix
			routes = append(routes, route{p: ev.Prefix, path: ev.Attrs.Path.AppendFlat(nil)})
		}
	}
	in.decodeRate = float64(entries) / time.Since(start).Seconds()
	in.prefixes = len(routes)

	// An hour of updates: each peer sends about 15 messages a second on
	// average (Poisson-like, 0-30 a second), one prefix each (a third of
	// the messages carry 2-3 prefixes of the same route: packed updates);
	// a quarter are withdrawals (re-announced later), the rest path changes
	// through another tier-1 or transit, keeping the prefix's origin. Every
	// 10 minutes one peer sends a burst: 20,000 path changes within 2 s
	// (10^4/s), and every 15 minutes another withdraws 5,000 prefixes in
	// 1 s and re-announces them 30 s later.
	peers := mrtgen.Peers(opt)
	rng := rand.New(rand.NewPCG(3, 3))
	var upd bytes.Buffer
	uw := mrt.NewWriter(&upd)
	local := netip.AddrFrom4([4]byte{192, 0, 2, 254})
	transit := []bgp.ASN{174, 1299, 2914, 3257, 3356, 6453, 6762, 7018, 7000, 7003, 262147, 7009}
	attrs := &bgp.Attrs{}
	withdrawn := make([][]bool, nPeers)
	for i := range withdrawn {
		withdrawn[i] = make([]bool, len(routes))
	}
	t0 := opt.Time
	if t0.IsZero() {
		t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var pfx []netip.Prefix
	announce := func(tm time.Time, pi int, ids []int) error {
		r := routes[ids[0]]
		path := make([]bgp.ASN, 0, 8)
		path = append(path, peers[pi].AS, transit[rng.IntN(len(transit))])
		if len(r.path) >= 2 {
			path = append(path, r.path[len(r.path)-2:]...)
		} else {
			path = append(path, r.path...)
		}
		attrs.Reset()
		attrs.Set(bgp.AttrOrigin)
		attrs.Set(bgp.AttrASPath)
		attrs.Set(bgp.AttrNextHop)
		attrs.NextHop = peers[pi].Addr
		attrs.Path.Segments = append(attrs.Path.Segments, bgp.Segment{Type: bgp.ASSequence, ASNs: path})
		pfx = pfx[:0]
		for _, id := range ids {
			pfx = append(pfx, routes[id].p)
			withdrawn[pi][id] = false
		}
		in.updMsgs++
		in.updRoutes += int64(len(pfx))
		return uw.WriteUpdate(tm, peers[pi], local, 12654, nil, attrs, pfx)
	}
	withdraw := func(tm time.Time, pi int, ids []int) error {
		pfx = pfx[:0]
		for _, id := range ids {
			pfx = append(pfx, routes[id].p)
			withdrawn[pi][id] = true
		}
		in.updMsgs++
		in.updRoutes += int64(len(pfx))
		return uw.WriteUpdate(tm, peers[pi], local, 12654, pfx, nil, nil)
	}
	type pend struct {
		at  time.Time
		pi  int
		ids []int
	}
	var reannounce []pend
	ids := make([]int, 0, 3)
	for s := 1; s < 3600; s++ {
		sec := t0.Add(time.Duration(s) * time.Second)
		total := 0
		counts := make([]int, nPeers)
		for pi := range counts {
			counts[pi] = rng.IntN(31)
			total += counts[pi]
		}
		j := 0
		for pi, k := range counts {
			for range k {
				tm := sec.Add(time.Duration(j) * time.Second / time.Duration(total))
				j++
				id := rng.IntN(len(routes))
				ids = append(ids[:0], id)
				if rng.IntN(3) == 0 {
					for e := 1 + rng.IntN(2); e > 0 && id+e < len(routes); e-- {
						ids = append(ids, id+e)
					}
				}
				var err error
				if rng.IntN(4) == 0 && !withdrawn[pi][id] {
					err = withdraw(tm, pi, ids)
					reannounce = append(reannounce, pend{at: tm.Add(time.Duration(30+rng.IntN(600)) * time.Second), pi: pi, ids: append([]int(nil), ids...)})
				} else {
					err = announce(tm, pi, ids[:1])
				}
				if err != nil {
					return nil, err
				}
			}
		}
		// Bursts.
		if s%600 == 300 {
			pi := rng.IntN(nPeers)
			for k := range 20000 {
				if err := announce(sec.Add(time.Duration(k)*100*time.Microsecond), pi, []int{rng.IntN(len(routes))}); err != nil {
					return nil, err
				}
			}
		}
		if s%900 == 450 {
			pi := rng.IntN(nPeers)
			base := rng.IntN(max(1, len(routes)-5000))
			var burst []int
			for k := range min(5000, len(routes)) {
				burst = append(burst, base+k)
				if err := withdraw(sec.Add(time.Duration(k)*200*time.Microsecond), pi, []int{base + k}); err != nil {
					return nil, err
				}
			}
			reannounce = append(reannounce, pend{at: sec.Add(30 * time.Second), pi: pi, ids: burst})
		}
		// Re-announcements due in this second (written at the second's end,
		// so the stream stays in time order).
		keep := reannounce[:0]
		end := sec.Add(time.Second - time.Microsecond)
		for _, p := range reannounce {
			if p.at.Before(end) {
				for _, id := range p.ids {
					if withdrawn[p.pi][id] {
						if err := announce(end, p.pi, []int{id}); err != nil {
							return nil, err
						}
					}
				}
				continue
			}
			keep = append(keep, p)
		}
		reannounce = keep
	}
	if err := uw.Flush(); err != nil {
		return nil, err
	}
	in.upd = upd.Bytes()
	return in, nil
})

// BenchmarkPipeline replays a generated RIB dump (mrtgen: 1,000,000 IPv4
// prefixes x 40 peers, about 97% coverage) and an hour of updates at
// realistic rates (about 15 messages/s per peer, with bursts of 10^4/s),
// uncompressed MRT from memory, through the whole pipeline (MRT decoding,
// merge, view, signals, detector). It reports route events per second
// and memory: peak HeapInuse during the run minus the heap before it
// (which holds the MRT input), and the peak HeapSys of the process.
// Issue 4's target: at least 1,000,000 events/s on one core.
//
//	go test ./internal/pipeline -run '^$' -bench 'Pipeline$' -benchtime 1x -cpu 1
//
// The full size needs about 6 GB and a few minutes (generation included).
// BLACKOUT_BENCH_PREFIXES=100000 makes a quick run.
func BenchmarkPipeline(b *testing.B) {
	if testing.Short() {
		b.Skip("large: skipped under -short")
	}
	in, err := benchData()
	if err != nil {
		b.Fatal(err)
	}
	db, err := geo.Default()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("input: %d prefixes x %d peers: %d RIB routes (%.0f MB), %d update messages with %d routes (%.0f MB); RIB decoding alone: %.0f entries/s",
		in.prefixes, in.peers, in.ribRoutes, float64(len(in.rib))/1e6, in.updMsgs, in.updRoutes, float64(len(in.upd))/1e6, in.decodeRate)
	var events int64
	var peakInuse, peakSys uint64
	var elapsed, cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		opts := pipeline.Options{Config: pipeline.DefaultConfig(db)}
		var peakI, peakS uint64
		opts.Sinks = []pipeline.Sink{progressFunc(func(n int64) {
			if n&(1<<20-1) != 0 {
				return
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peakI, peakS = max(peakI, ms.HeapInuse), max(peakS, ms.HeapSys)
		})}
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		p := pipeline.New(opts.Config, opts.Sinks...)
		res, err := p.Run(context.Background(), source.Merge([]source.Source{
			source.NewFile(bytes.NewReader(in.rib), "bview", "rrc00"),
			source.NewFile(bytes.NewReader(in.upd), "updates", "rrc00"),
		}), opts)
		elapsed += time.Since(start)
		cpu += cpuTime() - cpu0
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		peakI, peakS = max(peakI, ms.HeapInuse), max(peakS, ms.HeapSys)
		if res.Errors != 0 || res.FullFeed[0] != in.peers {
			b.Fatalf("%d errors, %d full-feed peers", res.Errors, res.FullFeed[0])
		}
		events += res.RouteEvents
		peakInuse, peakSys = max(peakInuse, peakI-base), max(peakSys, peakS)
		if i == 0 {
			kinds := map[event.Kind]int{}
			for _, ev := range res.Events {
				kinds[ev.Kind]++
			}
			b.Logf("run: %d route events in %v; events found: %v", res.RouteEvents, time.Since(start).Round(time.Millisecond), kinds)
		}
		runtime.KeepAlive(p)
		b.StartTimer()
	}
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	// The same per second of CPU time used by the process (user+system),
	// which a busy machine does not distort as it does the wall clock.
	b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(peakInuse)/1e6, "peak-pipeline-MB")
	b.ReportMetric(float64(peakSys)/1e6, "peak-heapsys-MB")
}

// cpuTime returns the CPU time (user+system) used by the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// progressFunc is a pipeline sink that only watches the progress.
type progressFunc func(routeEvents int64)

func (progressFunc) Notify(event.Notice)             {}
func (f progressFunc) Progress(_ time.Time, n int64) { f(n) }
