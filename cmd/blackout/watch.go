package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/report"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/livefeed"
)

func init() {
	register(command{name: "watch", summary: "watch live BGP (RIS Live, BGP sessions, BMP) and print events as they are detected", run: runWatch})
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
	fs := newFlags(env, "watch", "[--ris-live[=URL]] [--ris-filter KEY=VALUE]... [--bgp-listen ADDR:PORT ...] [--record DIR] [--json] [flags]")
	var af analysisFlags
	af.register(fs, false)
	lf := livefeed.Register(fs)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: watch takes no file arguments (got %q); use `blackout replay` for files", errUsage, rest[0])
	}
	logf := lineLogger(env.stderr, "blackout watch")
	feed, err := lf.Build(logf)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(feed.Runners) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no live source: give --ris-live, --bgp-listen or --bmp-listen", errUsage)
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
	opts.View.MaxPrefixes, opts.View.OnMaxPrefix = feed.MaxPrefixes()
	logf("watching %s", feed.Names())

	// The sources stop when runCtx ends: on SIGINT, or when the pipeline
	// stops for another reason.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	src, closeRec, err := feed.Start(runCtx, func(s source.Runner, err error) { logf("source %s stopped: %v", s.Name(), err) })
	if err != nil {
		return err
	}
	res, err := pipeline.Run(runCtx, src, opts)
	cancel()
	if cerr := closeRec(); cerr != nil {
		logf("record: %v", cerr)
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
	if shown, _ := report.FilterEvents([]*event.Event{n.Event}, s.ents); len(shown) == 0 {
		return
	}
	s.n++
	if s.json {
		s.err = report.WriteJSON(s.w, []*event.Event{n.Event})
		return
	}
	_, s.err = io.WriteString(s.w, report.NoticeLine(n)+"\n")
}
