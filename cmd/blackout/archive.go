package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/archive"
)

func init() {
	register(command{name: "archive list", summary: "list the RIS and RouteViews archive files a time range needs", run: runArchiveList})
	register(command{name: "archive fetch", summary: "download the archive files of a time range into the cache", run: runArchiveFetch})
}

// archiveFlags choose a time range of the public archives: shared by
// `archive list`, `archive fetch` and `replay --from --until`.
type archiveFlags struct {
	from, until string
	collectors  string
	risBase     string
	rvBase      string
	cache       string
	cacheSize   string
	downloads   int
}

func (a *archiveFlags) register(fs *flag.FlagSet, fetching bool) {
	fs.StringVar(&a.from, "from", "", "start of the time range (RFC 3339, e.g. 2014-12-22T12:00Z)")
	fs.StringVar(&a.until, "until", "", "end of the time range (exclusive)")
	fs.StringVar(&a.collectors, "collectors", "", "collectors, comma separated (rrc03,route-views.linx), or all, ris, routeviews (default "+strings.Join(archive.DefaultCollectors, ",")+")")
	fs.StringVar(&a.risBase, "ris-base", archive.DefaultRISBase, "base URL of the RIPE RIS archive (or a mirror)")
	fs.StringVar(&a.rvBase, "routeviews-base", archive.DefaultRouteViewsBase, "base URL of the RouteViews archive (or a mirror)")
	if fetching {
		fs.StringVar(&a.cache, "cache", "", "cache directory for archive files (default $BLACKOUT_ARCHIVE_CACHE or <user cache dir>/blackout/archive)")
		fs.StringVar(&a.cacheSize, "cache-size", "20G", "bound of the cache; least recently used files are removed after a run")
		fs.IntVar(&a.downloads, "downloads", 4, "concurrent downloads")
	}
}

// requested reports whether a time range was given.
func (a *archiveFlags) requested() bool { return a.from != "" || a.until != "" }

// plan parses the range and the collectors and lists the files; warnings
// go to env.stderr.
func (a *archiveFlags) plan(env *cmdEnv) (from, until time.Time, cols []archive.Collector, files []archive.File, err error) {
	if a.from == "" || a.until == "" {
		return from, until, nil, nil, fmt.Errorf("%w: give both --from and --until", errUsage)
	}
	if from, err = archive.ParseTime(a.from); err != nil {
		return from, until, nil, nil, fmt.Errorf("%w: --from: %v", errUsage, err)
	}
	if until, err = archive.ParseTime(a.until); err != nil {
		return from, until, nil, nil, fmt.Errorf("%w: --until: %v", errUsage, err)
	}
	if !until.After(from) {
		return from, until, nil, nil, fmt.Errorf("%w: --until %s is not after --from %s", errUsage, a.until, a.from)
	}
	cols, warnings, err := archive.Select(a.collectors, from, until)
	if err != nil {
		return from, until, nil, nil, fmt.Errorf("%w: --collectors: %v", errUsage, err)
	}
	for _, w := range warnings {
		fmt.Fprintf(env.stderr, "blackout: warning: %s\n", w)
	}
	files, err = archive.Plan(from, until, cols, archive.Bases{RIS: a.risBase, RouteViews: a.rvBase})
	return from, until, cols, files, err
}

// fetcher returns a fetcher on the cache directory and the cache bound.
func (a *archiveFlags) fetcher() (*archive.Fetcher, int64, error) {
	dir := a.cache
	if dir == "" {
		d, err := archive.DefaultCacheDir()
		if err != nil {
			return nil, 0, err
		}
		dir = d
	}
	size, err := archive.ParseSize(a.cacheSize)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: --cache-size: %v", errUsage, err)
	}
	if a.downloads < 1 {
		return nil, 0, fmt.Errorf("%w: --downloads must be at least 1", errUsage)
	}
	return &archive.Fetcher{Dir: dir, Workers: a.downloads}, size, nil
}

// evict bounds the cache after a run, keeping the run's files.
func evict(env *cmdEnv, f *archive.Fetcher, maxBytes int64, ds []*archive.Download) {
	keep := map[string]bool{}
	for _, d := range ds {
		keep[f.LocalPath(d.File)] = true
	}
	n, b, err := archive.Evict(f.Dir, maxBytes, keep)
	if err != nil {
		fmt.Fprintf(env.stderr, "blackout: %v\n", err)
	} else if n > 0 && isTerminal(env.stderr) {
		fmt.Fprintf(env.stderr, "blackout: cache over its bound: removed %d least recently used files (%s)\n", n, humanBytes(b))
	}
}

func runArchiveList(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "archive list", "--from TIME --until TIME [flags]")
	var a archiveFlags
	a.register(fs, false)
	asJSON := fs.Bool("json", false, "one JSON object per file")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, rest)
	}
	_, _, _, files, err := a.plan(env)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		for _, f := range files {
			v := struct {
				Collector string    `json:"collector"`
				Project   string    `json:"project"`
				Kind      string    `json:"kind"`
				Time      time.Time `json:"time"`
				End       time.Time `json:"end"`
				URL       string    `json:"url"`
			}{f.Collector, f.Project.String(), string(f.Kind), f.Time, f.Time.Add(f.Span), f.URL}
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range files {
		if _, err := fmt.Fprintf(env.stdout, "%-22s %-7s %s  %s\n", f.Collector, f.Kind, f.Time.Format("2006-01-02 15:04"), f.URL); err != nil {
			return err
		}
	}
	return nil
}

func runArchiveFetch(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "archive fetch", "--from TIME --until TIME [flags]")
	var a archiveFlags
	a.register(fs, true)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, rest)
	}
	_, _, _, files, err := a.plan(env)
	if err != nil {
		return err
	}
	f, maxBytes, err := a.fetcher()
	if err != nil {
		return err
	}
	stop := startProgress(env, "blackout archive fetch", f, nil)
	ds := f.Fetch(ctx, files)
	stop()
	if err := ctx.Err(); err != nil {
		return err
	}
	bad := 0
	for _, d := range ds {
		if err := d.Err(); err != nil {
			bad++
			fmt.Fprintf(env.stderr, "blackout: %v\n", err)
		}
	}
	evict(env, f, maxBytes, ds)
	fmt.Fprintf(env.stdout, "%s\n", fetchSummary(f))
	if bad > 0 {
		return exitError{code: 1}
	}
	return nil
}

// fetchSummary is one line on what a fetcher did.
func fetchSummary(f *archive.Fetcher) string {
	s := &f.Stats
	return fmt.Sprintf("%d files: %d downloaded (%s in %s), %d from the cache, %d missing from the archive, %d failed; cache %s",
		s.FilesTotal.Load(), s.FilesDone.Load()-s.FromCache.Load()-s.Gaps.Load()-s.Failed.Load(), humanBytes(s.Bytes.Load()),
		s.Elapsed().Round(time.Millisecond), s.FromCache.Load(), s.Gaps.Load(), s.Failed.Load(), f.Dir)
}

// replayArchive is `replay --from --until`: the files of the range are
// fetched in time order while each collector's are parsed as they arrive,
// and the collectors are merged in time order into the analysis.
func replayArchive(ctx context.Context, env *cmdEnv, af *analysisFlags, a *archiveFlags) error {
	if _, err := af.entities(); err != nil {
		return err // before any download
	}
	from, until, cols, files, err := a.plan(env)
	if err != nil {
		return err
	}
	f, maxBytes, err := a.fetcher()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if isTerminal(env.stderr) {
		var names []string
		for _, c := range cols {
			names = append(names, c.Name)
		}
		fmt.Fprintf(env.stderr, "blackout replay: %s to %s from %s: %d files; cache %s\n", from.Format(time.RFC3339), until.Format(time.RFC3339),
			strings.Join(names, ", "), len(files), f.Dir)
	}
	ds := f.Start(ctx, files)
	ps := &archive.ParseStats{}
	srcs := archive.NewSources(ctx, ds, ps)
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	stop := startProgress(env, "blackout replay", f, ps)
	defer stop()
	af.ownProgress = isTerminal(env.stderr)
	// The progress line goes when the last source ends, before the report
	// (the sources are read by one goroutine: no lock needed).
	left := len(srcs)
	es := make([]source.Source, len(srcs))
	for i, s := range srcs {
		es[i] = &endHook{Source: s, end: func() {
			if left--; left == 0 {
				stop()
			}
		}}
	}
	err = analyse(ctx, env, "blackout replay", af, es)
	stop()
	evict(env, f, maxBytes, ds)
	if isTerminal(env.stderr) {
		fmt.Fprintf(env.stderr, "blackout replay: %s\n", fetchSummary(f))
	}
	return err
}

// endHook calls end once, when its source first returns io.EOF.
type endHook struct {
	source.Source
	end  func()
	done bool
}

func (h *endHook) Next() (*bgp.Event, error) {
	ev, err := h.Source.Next()
	if errors.Is(err, io.EOF) && !h.done {
		h.done = true
		h.end()
	}
	return ev, err
}

// isTerminal reports whether w is a terminal (progress lines go there only).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startProgress prints, on a terminal, a progress line twice a second:
// files and bytes fetched, download rate, and (ps not nil) route events
// parsed, their rate and the data's clock. The returned stop clears the
// line; it may be called more than once. Nothing is printed when stderr is
// not a terminal.
func startProgress(env *cmdEnv, title string, f *archive.Fetcher, ps *archive.ParseStats) (stop func()) {
	if !isTerminal(env.stderr) {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				fmt.Fprint(env.stderr, "\r\033[K")
				return
			case <-tick.C:
			}
			el := time.Since(start).Seconds()
			s := &f.Stats
			line := fmt.Sprintf("%s: files %d/%d (%d cached, %d missing), %s at %s/s", title, s.FilesDone.Load(), s.FilesTotal.Load(),
				s.FromCache.Load(), s.Gaps.Load(), humanBytes(s.Bytes.Load()), humanBytes(int64(float64(s.Bytes.Load())/el)))
			if ps != nil {
				n := ps.Events.Load()
				line += fmt.Sprintf("; parsed %d files, %d events (%.0f/s)", ps.FilesParsed.Load(), n, float64(n)/el)
				if c := ps.Clock(); !c.IsZero() {
					line += ", data clock " + c.Format("2006-01-02 15:04:05")
				}
			}
			fmt.Fprintf(env.stderr, "\r\033[K%s", line)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit); <-done })
	}
}

// humanBytes formats a byte count ("1.2 MB").
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n), 0
	for v >= unit && u < 4 {
		v /= unit
		u++
	}
	return fmt.Sprintf("%.1f %cB", v, "kMGT"[u-1])
}
