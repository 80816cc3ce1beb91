package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/progress"
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
	n, b, err := f.EvictExcept(maxBytes, ds)
	if err != nil {
		fmt.Fprintf(env.stderr, "blackout: %v\n", err)
	} else if n > 0 && progress.IsTerminal(env.stderr) {
		fmt.Fprintf(env.stderr, "blackout: cache over its bound: removed %d least recently used files (%s)\n", n, progress.Bytes(b))
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
	return archive.WriteList(env.stdout, files, *asJSON)
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
	stop := fetchProgress(env, "blackout archive fetch", f, nil)
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
	fmt.Fprintf(env.stdout, "%s\n", f.Summary())
	if bad > 0 {
		return exitError{code: 1}
	}
	return nil
}

// replayArchive is `replay --from --until`: the files of the range are
// fetched in time order while each collector's are parsed as they arrive,
// and the collectors are merged in time order into the analysis.
func replayArchive(ctx context.Context, env *cmdEnv, af *analysisFlags, a *archiveFlags) error {
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
	if progress.IsTerminal(env.stderr) {
		fmt.Fprintf(env.stderr, "blackout replay: %s\n", archive.RangeLine(from, until, cols, len(files), f.Dir))
	}
	ds := f.Start(ctx, files)
	ps := &archive.ParseStats{}
	srcs := archive.NewSources(ctx, ds, ps)
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	stop := fetchProgress(env, "blackout replay", f, ps)
	defer stop()
	af.ownProgress = progress.IsTerminal(env.stderr)
	// The progress line goes when the last source ends, before the report.
	es := archive.WhenAllEnd(srcs, stop)
	err = analyse(ctx, env, "blackout replay", af, es)
	stop()
	evict(env, f, maxBytes, ds)
	if progress.IsTerminal(env.stderr) {
		fmt.Fprintf(env.stderr, "blackout replay: %s\n", f.Summary())
	}
	return err
}

// fetchProgress shows, on a terminal, the progress line of f's downloads
// and (ps not nil) of their parsing; the returned stop clears it and may
// be called more than once.
func fetchProgress(env *cmdEnv, title string, f *archive.Fetcher, ps *archive.ParseStats) (stop func()) {
	line := progress.New(env.stderr)
	return line.Poll(func() string { return archive.ProgressText(title, &f.Stats, ps, line.Elapsed()) })
}
