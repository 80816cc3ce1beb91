package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/mrt"
)

func init() {
	register(command{name: "mrt dump", summary: "print the route events of MRT files (-m: as bgpdump -m; --json)", run: runMRTDump})
	register(command{name: "mrt stats", summary: "count the records, peers, prefixes and routes of MRT files", run: runMRTStats})
}

// outBufSize is the size of the buffer in front of standard output.
const outBufSize = 1 << 20

// mrtInput is one MRT input being read.
type mrtInput struct {
	name string // as given on the command line
	rc   io.ReadCloser
	rr   *mrt.RouteReader
}

// openMRT opens name ("-" is standard input, an http(s) URL, or a file;
// gzip, bzip2 and zstd are undone) and returns a route reader of it.
func openMRT(ctx context.Context, env *cmdEnv, name, collector string) (*mrtInput, error) {
	var rc io.ReadCloser
	var err error
	display := name
	if name == "-" {
		display = "stdin"
		rc, _, err = compress.NewReader(env.stdin)
		if err != nil {
			err = fmt.Errorf("stdin: %w", err)
		}
	} else {
		rc, err = compress.Open(ctx, name)
	}
	if err != nil {
		return nil, err
	}
	rr := mrt.NewRouteReader(rc, display, collector)
	rr.IncludeMulticast = true // printed, as bgpdump does
	return &mrtInput{name: display, rc: rc, rr: rr}, nil
}

// eachEvent reads every event of in and calls fn for it. Errors are not
// fatal: each is printed on stderr (after flushing out, so that the
// lines before it come first) and counted. It returns the number of errors,
// and ctx's error if ctx ended the reading.
func eachEvent(ctx context.Context, env *cmdEnv, out *bufio.Writer, in *mrtInput, fn func(ev *bgp.Event) error) (int64, error) {
	var errs int64
	for n := 0; ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return errs, err
			}
		}
		ev, err := in.rr.Next()
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
// standard error, and the exit status is 1 if any error happened.
func runMRTDump(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "mrt dump", "[-m] [--json] [--collector NAME] FILE...")
	bgpdumpMode := fs.Bool("m", false, "print what `bgpdump -m` prints, line for line")
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
	out := bufio.NewWriterSize(env.stdout, outBufSize)
	defer out.Flush()
	var collectorJSON []byte
	if *collector != "" {
		collectorJSON, _ = json.Marshal(*collector)
	}
	var total int64
	var line []byte
	for _, name := range files {
		in, err := openMRT(ctx, env, name, *collector)
		if err != nil {
			out.Flush()
			fmt.Fprintf(env.stderr, "blackout: %v\n", err)
			total++
			continue
		}
		var fn func(ev *bgp.Event) error
		switch {
		case *bgpdumpMode:
			fn = func(ev *bgp.Event) error {
				line = mrt.AppendBgpdumpLine(line[:0], in.rr, ev)
				_, err := out.Write(line)
				return err
			}
		case *jsonMode:
			fn = func(ev *bgp.Event) error {
				line = mrt.AppendEventJSON(line[:0], in.rr, ev, collectorJSON)
				_, err := out.Write(line)
				return err
			}
		default:
			fn = func(ev *bgp.Event) error {
				line = mrt.AppendEventText(line[:0], in.rr, ev)
				_, err := out.Write(line)
				return err
			}
		}
		errs, err := eachEvent(ctx, env, out, in, fn)
		in.rc.Close()
		total += errs
		if err != nil {
			return err
		}
		if err := out.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(env.stderr, in.rr.Summary(errs))
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if total > 0 {
		return exitError{1}
	}
	return nil
}

// mrtStats is the report of `blackout mrt stats` (its JSON form).
type mrtStats = mrt.StatsReport

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
	progress := newProgress(env)
	for _, name := range files {
		in, err := openMRT(ctx, env, name, *collector)
		if err != nil {
			fmt.Fprintf(env.stderr, "blackout: %v\n", err)
			stats.Failed(name)
			continue
		}
		var n int64
		errs, err := eachEvent(ctx, env, nil, in, func(ev *bgp.Event) error {
			if n++; n&0xffff == 0 {
				progress.show(in.name, in.rr.Offset())
			}
			stats.Event(ev)
			return nil
		})
		progress.clear()
		in.rc.Close()
		sum := in.rr.Summary(errs)
		fmt.Fprintln(env.stderr, sum)
		stats.File(sum, in.rr.Stats())
		if err != nil {
			return err
		}
	}
	rep := stats.Report()
	if *jsonMode {
		enc := json.NewEncoder(env.stdout)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := mrt.WriteStatsText(env.stdout, rep); err != nil {
		return err
	}
	if rep.Errors > 0 {
		return exitError{1}
	}
	return nil
}

// progress shows how far a long read has come on a terminal's stderr, and
// stays silent otherwise.
type progress struct {
	w    io.Writer
	on   bool
	last time.Time
}

func newProgress(env *cmdEnv) *progress {
	p := &progress{w: env.stderr}
	if isTerminal(env.stderr) {
		p.on = true
	}
	return p
}

func (p *progress) show(name string, offset int64) {
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r%s: %d MB read\x1b[K", name, offset>>20)
}

func (p *progress) clear() {
	if p.on && !p.last.IsZero() {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.last = time.Time{}
	}
}
