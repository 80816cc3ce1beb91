// Command pipeprof runs the whole pipeline (MRT decoding, merge, view,
// signals, detector) over MRT files, as `blackout replay` does, and
// reports what it holds: live heap bytes per route (runtime/metrics'
// /gc/heap/live:bytes after a GC, with the pipeline alive, minus the live
// heap before it), CPU time and routes per CPU-second. It can write CPU and
// heap profiles of the run.
//
//	pipeprof [-cpuprofile FILE] [-heapprofile FILE] FILE...
//
// The heap profile is written after the run and a GC, with the pipeline
// alive: its in-use figures are what the routing state costs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"
	"time"

	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/offheap"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
)

func main() {
	cpuProf := flag.String("cpuprofile", "", "write a CPU profile to `FILE`")
	heapProf := flag.String("heapprofile", "", "write a heap profile after the run to `FILE`")
	traceOut := flag.String("trace", "", "write an execution trace of the run to `FILE` (go tool trace)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: pipeprof [-cpuprofile FILE] [-heapprofile FILE] FILE...")
		os.Exit(2)
	}
	if *traceOut != "" {
		f, err := os.Create(*traceOut)
		if err == nil {
			err = trace.Start(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "pipeprof:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer trace.Stop()
	}
	if err := run(*cpuProf, *heapProf, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "pipeprof:", err)
		os.Exit(1)
	}
}

// liveHeap returns the live heap after a GC.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	// The view's tables and paths are off the Go heap (package offheap).
	return s[0].Value.Uint64() + uint64(offheap.InUse())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func run(cpuProf, heapProf string, files []string) error {
	ctx := context.Background()
	db, err := geo.Default()
	if err != nil {
		return err
	}
	base := liveHeap()
	if cpuProf != "" {
		f, err := os.Create(cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	fs, err := source.OpenFiles(ctx, files)
	if err != nil {
		return err
	}
	srcs := make([]source.Source, len(fs))
	for i, f := range fs {
		srcs[i] = f
		defer f.Close()
	}
	opts := pipeline.Options{Config: pipeline.DefaultConfig(db)}
	p := pipeline.New(opts.Config)
	start, cpu0 := time.Now(), cpuTime()
	res, err := p.Run(ctx, source.Merge(srcs), opts)
	if err != nil {
		return err
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	if cpuProf != "" {
		pprof.StopCPUProfile()
	}
	live := liveHeap() - base
	mem := p.View().Memory()
	routes := mem.Routes
	fmt.Printf("route events %d, routes held %d, prefixes %d, peers %d, full-feed %v, events %d, errors %d\n",
		res.RouteEvents, routes, res.Prefixes, res.Peers, res.FullFeed, len(res.Events), res.Errors)
	fmt.Printf("live heap %.1f MB = %.2f bytes/route; cpu %.2fs (%.2f M route events/cpu-s); wall %.2fs\n",
		float64(live)/1e6, float64(live)/float64(max(routes, 1)), cpu.Seconds(), float64(res.RouteEvents)/cpu.Seconds()/1e6, wall.Seconds())
	fmt.Printf("view estimate: tables %.1f MB, prefixes %.1f MB, paths %.1f MB (%d trie nodes)\n",
		float64(mem.Tables)/1e6, float64(mem.Prefixes)/1e6, float64(mem.Paths)/1e6, mem.DistinctPath)
	// Where the process's memory is, from the runtime's own accounts.
	var classes []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") && d.Kind == metrics.KindUint64 {
			classes = append(classes, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(classes)
	fmt.Print("runtime memory (MB):")
	for _, c := range classes {
		if v := c.Value.Uint64(); v >= 1<<20 {
			fmt.Printf(" %s %.1f", strings.TrimSuffix(strings.TrimPrefix(c.Name, "/memory/classes/"), ":bytes"), float64(v)/1e6)
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		fmt.Printf("; peak RSS %.1f MB", float64(ru.Maxrss)/1e3)
	}
	fmt.Println()
	if heapProf != "" {
		f, err := os.Create(heapProf)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			return err
		}
	}
	runtime.KeepAlive(p)
	return nil
}
