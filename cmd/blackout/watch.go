package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/cliflag"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/report"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/record"
	"github.com/blackout-bgp/blackout/internal/source/rislive"
)

func init() {
	register(command{name: "watch", summary: "watch live BGP (RIS Live, BGP sessions, BMP) and print events as they are detected", run: runWatch})
}

// liveEnv is what a live source's builder may use of the command that runs
// it: where to log. Logf writes one line (no trailing newline needed) and
// is safe for concurrent use.
type liveEnv struct {
	Logf func(format string, args ...any)
}

// liveSourceFlag registers the flags of one kind of live source on fs and
// returns the function that, once fs is parsed, builds the sources those
// flags ask for (none, and no error, when its flags were not given).
//
// `blackout watch` and `blackout serve` accept the same source flags: each
// kind of source appends its liveSourceFlag to liveSourceFlags from an init
// function in its own file, and both commands call registerLiveSources.
type liveSourceFlag func(fs *flag.FlagSet) func(env liveEnv) ([]source.Runner, error)

// liveSourceFlags is the hook through which live sources add their flags to
// `watch` and `serve` (see liveSourceFlag).
var liveSourceFlags []liveSourceFlag

// registerLiveSources registers every live source's flags on fs and returns
// the function that builds all the sources asked for after fs.Parse.
func registerLiveSources(fs *flag.FlagSet) func(env liveEnv) ([]source.Runner, error) {
	builds := make([]func(liveEnv) ([]source.Runner, error), 0, len(liveSourceFlags))
	for _, f := range liveSourceFlags {
		builds = append(builds, f(fs))
	}
	return func(env liveEnv) ([]source.Runner, error) {
		var all []source.Runner
		for _, b := range builds {
			srcs, err := b(env)
			if err != nil {
				return nil, err
			}
			all = append(all, srcs...)
		}
		return all, nil
	}
}

// lineLogger returns a Logf that prints "prefix: message" lines to w, one
// at a time.
func lineLogger(w io.Writer, prefix string) func(format string, args ...any) {
	var mu sync.Mutex
	return func(format string, args ...any) {
		msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%s: %s\n", prefix, msg)
	}
}

func runWatch(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "watch", "[--ris-live[=URL]] [--ris-filter KEY=VALUE]... [--record DIR] [--json] [flags]")
	var af analysisFlags
	af.register(fs, false)
	build := registerLiveSources(fs)
	rec := registerRecordFlags(fs)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: watch takes no file arguments (got %q); use `blackout replay` for files", errUsage, rest[0])
	}
	logf := lineLogger(env.stderr, "blackout watch")
	srcs, err := build(liveEnv{Logf: logf})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(srcs) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no live source: give --ris-live (or another source's flags)", errUsage)
	}
	ents, err := af.entities()
	if err != nil {
		return err
	}
	db, err := loadGeoTo(env.stderr, af.geo)
	if err != nil {
		return err
	}
	ns := &noticeSink{w: env.stdout, json: af.json, ents: ents}
	opts := pipeline.Options{Config: af.pipelineConfig(db), Sinks: []pipeline.Sink{ns}, ForgetEvents: true,
		OnError:    func(err error) { logf("%v", err) },
		OnCoverage: func(c event.Coverage) { logf("%s", strings.Join(c.Statements(), " ")) }}

	names := make([]string, len(srcs))
	for i, s := range srcs {
		names[i] = s.Name()
	}
	logf("watching %s", strings.Join(names, ", "))

	// The sources stop when runCtx ends: on SIGINT, or when the pipeline
	// stops for another reason.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := source.Join(runCtx, srcs, 4096, func(s source.Runner, err error) {
		logf("source %s stopped: %v", s.Name(), err)
	})
	var recorder *recording
	if rec.dir != "" {
		recorder, err = rec.start(runCtx, events, logf)
		if err != nil {
			return err
		}
		events = recorder.events
	}
	res, err := pipeline.Run(runCtx, source.FromChannel(events), opts)
	cancel()
	if recorder != nil {
		if cerr := recorder.close(); cerr != nil {
			logf("record: %v", cerr)
		}
	}
	if ns.err != nil {
		return fmt.Errorf("writing events: %w", ns.err)
	}
	logf("stopped: %d route events, %d events", res.RouteEvents, ns.n)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// noticeSink prints the detector's notices as they happen: one readable
// line each, or the event's JSON object as `replay --json` prints it.
type noticeSink struct {
	w    io.Writer
	json bool
	ents []signal.Entity
	n    int
	err  error
}

// Notify prints one notice (the event as it is at that moment).
func (s *noticeSink) Notify(n event.Notice) {
	if s.err != nil {
		return
	}
	if shown, _ := filterEvents([]*event.Event{n.Event}, s.ents); len(shown) == 0 {
		return
	}
	s.n++
	if s.json {
		s.err = report.WriteJSON(s.w, []*event.Event{n.Event})
		return
	}
	_, s.err = io.WriteString(s.w, report.NoticeLine(n)+"\n")
}

// recordFlags are the --record flags of watch and serve.
type recordFlags struct {
	dir   string
	every time.Duration
}

func registerRecordFlags(fs *flag.FlagSet) *recordFlags {
	r := &recordFlags{}
	fs.StringVar(&r.dir, "record", "", "record what the live sources receive into rotating MRT files in `DIR` (updates.YYYYMMDD.HHMM, bview.YYYYMMDD.HHMM)")
	cliflag.DurationVar(fs, &r.every, "record-every", 15*time.Minute, false, "rotate the recorded files every `D` of data time")
	return r
}

// recording tees the live events into the recorder.
type recording struct {
	events <-chan bgp.Event
	close  func() error
}

// start tees events into a recorder writing into r.dir.
func (r *recordFlags) start(ctx context.Context, events <-chan bgp.Event, logf func(string, ...any)) (*recording, error) {
	rec, err := record.New(record.Config{Dir: r.dir, Every: r.every, OnError: func(err error) { logf("%v", err) }})
	if err != nil {
		return nil, err
	}
	out, wait := record.Tee(ctx, events, rec, 1<<16)
	logf("recording into %s (rotating every %s of data time)", r.dir, r.every)
	return &recording{events: out, close: wait}, nil
}

func init() {
	liveSourceFlags = append(liveSourceFlags, risLiveFlags)
}

// risLiveURL is the --ris-live flag: a boolean that may carry a URL.
type risLiveURL struct{ url string }

func (u *risLiveURL) String() string   { return u.url }
func (u *risLiveURL) IsBoolFlag() bool { return true }
func (u *risLiveURL) Set(v string) error {
	switch v {
	case "true":
		u.url = rislive.DefaultURL
	case "false":
		u.url = ""
	default:
		if !strings.HasPrefix(v, "ws://") && !strings.HasPrefix(v, "wss://") {
			return fmt.Errorf("%q is not a ws:// or wss:// URL", v)
		}
		u.url = v
	}
	return nil
}

// risLiveFlags registers --ris-live, --ris-filter and --ris-max-backoff.
func risLiveFlags(fs *flag.FlagSet) func(env liveEnv) ([]source.Runner, error) {
	var u risLiveURL
	var filter rislive.Filter
	var filters int
	var maxBackoff time.Duration
	fs.Var(&u, "ris-live", "follow RIPE RIS Live (--ris-live alone: "+rislive.DefaultURL+"; --ris-live=URL: another endpoint)")
	fs.Func("ris-filter", "RIS Live subscription filter `KEY=VALUE` (host, prefix, moreSpecific, lessSpecific, path, peer, type, require; repeatable; implies --ris-live)", func(kv string) error {
		filters++
		return filter.Set(kv)
	})
	cliflag.DurationVar(fs, &maxBackoff, "ris-max-backoff", time.Minute, false, "longest wait between two RIS Live reconnection attempts, a positive `duration`")
	return func(env liveEnv) ([]source.Runner, error) {
		if u.url == "" && filters > 0 {
			u.url = rislive.DefaultURL
		}
		if u.url == "" {
			return nil, nil
		}
		cfg := rislive.Config{URL: u.url, MaxBackoff: maxBackoff, Logf: env.Logf}
		if filters > 0 {
			cfg.Filters = []rislive.Filter{filter}
		}
		return []source.Runner{rislive.New(cfg)}, nil
	}
}
