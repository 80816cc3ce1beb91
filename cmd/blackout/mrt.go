package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/progress"
)

func init() {
	register(command{name: "mrt dump", summary: "print the route events of MRT files (-m: as bgpdump -m; --json)", run: runMRTDump})
	register(command{name: "mrt stats", summary: "count the records, peers, prefixes and routes of MRT files", run: runMRTStats})
}

// openMRT opens name ("-" is standard input, named "stdin", an http(s)
// URL, or a file; gzip, bzip2 and zstd are undone) and returns a route
// reader of it and the closer of the input.
func openMRT(ctx context.Context, env *cmdEnv, name, collector string) (*mrt.RouteReader, io.Closer, error) {
	var rc io.ReadCloser
	var err error
	if name == "-" {
		if rc, _, err = compress.NewReader(env.stdin); err != nil {
			return nil, nil, fmt.Errorf("stdin: %w", err)
		}
		name = "stdin"
	} else if rc, err = compress.Open(ctx, name); err != nil {
		return nil, nil, err
	}
	rr := mrt.NewRouteReader(rc, name, collector)
	rr.IncludeMulticast = true // printed, as bgpdump does
	return rr, rc, nil
}

// eachEvent reads every event of rr and calls fn for it. Errors are not
// fatal: each is printed on stderr (after flushing out, so that the
// lines before it come first) and counted. It returns the number of errors,
// and ctx's error if ctx ended the reading.
func eachEvent(ctx context.Context, env *cmdEnv, out *bufio.Writer, rr *mrt.RouteReader, fn func(ev *bgp.Event) error) (int64, error) {
	var errs int64
	for n := 0; ; n++ {
		if n&4095 == 0 && ctx.Err() != nil {
			return errs, ctx.Err()
		}
		ev, err := rr.Next()
		if err == io.EOF {
			return errs, nil
		}
		if err != nil {
			errs++
			if out != nil {
				out.Flush()
			}
			// A skippable record error leaves the reader going; after
			// another error (decompression, network) its next call returns
			// io.EOF.
			fmt.Fprintf(env.stderr, "blackout: %v\n", err)
			continue
		}
		if err := fn(ev); err != nil {
			return errs, err
		}
	}
}

// runMRTDump implements `blackout mrt dump`.
//
// The default output is one line per route event, for people
// (mrt.AppendEventText). With -m it is that of `bgpdump -m` (bgpdump 1.6),
// line for line (mrt.AppendBgpdumpLine). With --json each event is one
// JSON object on its own line, JSON Lines (mrt.AppendEventJSON).
//
// Errors in the input (a truncated file, a corrupt record) are printed on
// standard error naming the input and byte offset; every route before and
// after is still printed. At the end a summary line per input goes to
// standard error, with a line per type of record not decoded, and the exit
// status is 1 if any error happened or any record was not decoded.
func runMRTDump(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "mrt dump", "[-m] [--json] [--collector NAME] FILE...")
	bgpdumpMode := fs.Bool("m", false, "print what bgpdump -m prints, line for line")
	jsonMode := fs.Bool("json", false, "print one JSON object per route event (JSON Lines)")
	collector := fs.String("collector", "", "name of the route collector, shown in the events' peers")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no input file (use - for standard input)", errUsage)
	}
	if *bgpdumpMode && *jsonMode {
		return fmt.Errorf("%w: -m and --json exclude each other", errUsage)
	}
	out := bufio.NewWriterSize(env.stdout, 1<<20)
	defer out.Flush()
	var collectorJSON []byte
	if *collector != "" {
		collectorJSON, _ = json.Marshal(*collector)
	}
	format := mrt.AppendEventText
	if *jsonMode {
		format = func(b []byte, rr *mrt.RouteReader, ev *bgp.Event) []byte {
			return mrt.AppendEventJSON(b, rr, ev, collectorJSON)
		}
	}
	var total int64
	var line []byte
	for _, name := range files {
		rr, rc, err := openMRT(ctx, env, name, *collector)
		if err != nil {
			out.Flush()
			fmt.Fprintf(env.stderr, "blackout: %v\n", err)
			total++
			continue
		}
		var errs int64
		if *bgpdumpMode { // decoded and formatted on every core, written in order
			errs, err = mrt.WriteBgpdump(ctx, out, rr, runtime.GOMAXPROCS(0), func(err error) { fmt.Fprintf(env.stderr, "blackout: %v\n", err) })
		} else {
			errs, err = eachEvent(ctx, env, out, rr, func(ev *bgp.Event) error {
				line = format(line[:0], rr, ev)
				_, err := out.Write(line)
				return err
			})
		}
		rc.Close()
		total += errs
		if err != nil {
			return err
		}
		if err := out.Flush(); err != nil {
			return err
		}
		total += mrt.WriteSummary(env.stderr, rr, errs).NotDecoded
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if total > 0 {
		return exitError{1}
	}
	return nil
}

// runMRTStats implements `blackout mrt stats`: the counts of
// mrt.StatsCollector over every input, printed by mrt.WriteStatsText or as
// JSON.
func runMRTStats(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "mrt stats", "[--json] FILE...")
	jsonMode := fs.Bool("json", false, "print the report as one JSON object")
	collector := fs.String("collector", "", "name of the route collector, shown in the peers")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no input file (use - for standard input)", errUsage)
	}
	stats := mrt.NewStatsCollector()
	line := progress.New(env.stderr)
	for _, name := range files {
		rr, rc, err := openMRT(ctx, env, name, *collector)
		if err != nil {
			fmt.Fprintf(env.stderr, "blackout: %v\n", err)
			stats.Failed(name)
			continue
		}
		var n int64
		errs, err := eachEvent(ctx, env, nil, rr, func(ev *bgp.Event) error {
			if n++; n&0xffff == 0 {
				line.Showf("%s: %s read", name, progress.Bytes(rr.Offset()))
			}
			stats.Event(ev)
			return nil
		})
		line.Clear()
		rc.Close()
		stats.File(mrt.WriteSummary(env.stderr, rr, errs), rr.Stats())
		if err != nil {
			return err
		}
	}
	rep := stats.Report()
	if *jsonMode {
		err = json.NewEncoder(env.stdout).Encode(rep)
	} else {
		err = mrt.WriteStatsText(env.stdout, rep)
	}
	if err != nil {
		return err
	}
	if rep.Errors > 0 || rep.NotDecoded > 0 {
		return exitError{1}
	}
	return nil
}
