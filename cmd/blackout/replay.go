package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/cliflag"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/progress"
	"github.com/blackout-bgp/blackout/internal/report"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/view"
)

func init() {
	register(command{name: "replay", summary: "replay MRT files (RIBs and updates) and report outages with explanations", run: runReplay})
}

// analysisFlags are the flags shared by replay and demo.
type analysisFlags struct {
	geo       multiFlag
	bin       time.Duration
	countries multiFlag
	asns      multiFlag
	json      bool
	chart     string
	visible   float64
	partial   float64
	warmUp    time.Duration
	maxPath   int
	// ownProgress is set by callers that print a progress line of their
	// own (replay from the archives): analyse then prints none.
	ownProgress bool
}

// register registers the flags on fs; chart: --chart too (replay, demo).
func (a *analysisFlags) register(fs *flag.FlagSet, chart bool) {
	fs.Var(&a.geo, "geo", "registry data file to stack over the default: `PATH` of a delegated, .mmdb or CSV file (repeatable)")
	cliflag.DurationVar(fs, &a.bin, "bin", 5*time.Minute, false, "signal time bin, a positive `duration`")
	fs.Var(&a.countries, "country", "report only this country, an ISO 3166 code `CC` (repeatable)")
	fs.Var(&a.asns, "asn", "report only this origin AS `N` (repeatable)")
	fs.BoolVar(&a.json, "json", false, "print one JSON object per event (watch: per notice) instead of the readable text")
	if chart {
		fs.StringVar(&a.chart, "chart", "", "write an SVG chart of the chosen entity's visible address space to `FILE.svg`")
	}
	cliflag.ShareVar(fs, &a.visible, "visible-share", 0.5, "a prefix is visible when more than this `share` (over 0, at most 1) of full-feed peers see it")
	cliflag.ShareVar(fs, &a.partial, "partial-share", 0.2, "lost `share` (over 0, at most 1) of an entity's address space that makes a partial outage")
	cliflag.DurationVar(fs, &a.warmUp, "warm-up", time.Hour, true, "without a RIB dump, start detecting after this `duration` of data (the time to learn the peers' full tables; 0 or more)")
	fs.IntVar(&a.maxPath, "max-path-len", view.DefaultMaxPathLen, "drop (and count) announcements whose AS path has more than `N` ASes, prepending removed; 0: no limit")
}

// pipelineConfig returns the pipeline configuration the flags describe.
func (a *analysisFlags) pipelineConfig(db *geo.DB) pipeline.Config {
	cfg := pipeline.DefaultConfig(db)
	cfg.Bin = a.bin
	cfg.View.VisibleShare = a.visible
	cfg.Detect.PartialShare = a.partial
	cfg.Detect.RecoverShare = a.partial / 2
	cfg.Detect.WarmUp = a.warmUp
	cfg.View.MaxPathLen = a.maxPath
	return cfg
}

// entities returns the entities named by --country and --asn.
func (a *analysisFlags) entities() ([]signal.Entity, error) {
	var out []signal.Entity
	for _, c := range a.countries {
		cc, err := geo.ParseCountry(c)
		if err == nil && !cc.Known() {
			err = errors.New("not an ISO 3166 country code")
		}
		if err != nil {
			return nil, fmt.Errorf("%w: --country %q: %v", errUsage, c, err)
		}
		out = append(out, signal.CountryEntity(cc))
	}
	for _, s := range a.asns {
		e, err := signal.ParseEntity("AS" + strings.TrimPrefix(strings.TrimPrefix(s, "AS"), "as"))
		if err != nil || e.Type != event.OriginAS {
			return nil, fmt.Errorf("%w: --asn %q: not an AS number", errUsage, s)
		}
		out = append(out, e)
	}
	return out, nil
}

func runReplay(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "replay", "[flags] FILE... | --from TIME --until TIME [flags]")
	var af analysisFlags
	af.register(fs, true)
	var arch archiveFlags
	arch.register(fs, true)
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if _, err := af.entities(); err != nil {
		return err // before any file is opened or downloaded
	}
	if arch.requested() {
		if len(files) > 0 {
			return fmt.Errorf("%w: give either files or --from/--until (the archives), not both", errUsage)
		}
		return replayArchive(ctx, env, &af, &arch)
	}
	if len(files) == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no input files", errUsage)
	}
	srcs, err := source.OpenFiles(ctx, files)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	es := make([]source.Source, len(srcs))
	for i, s := range srcs {
		es[i] = s
	}
	return analyse(ctx, env, "blackout replay", &af, es)
}

// analyse runs the pipeline over the sources, merged in time order, and
// prints the report.
func analyse(ctx context.Context, env *cmdEnv, title string, af *analysisFlags, srcs []source.Source) error {
	db, err := loadGeoTo(env.stderr, af.geo)
	if err != nil {
		return err
	}
	ents, err := af.entities()
	if err != nil {
		return err
	}
	if af.chart != "" && len(ents) == 0 {
		return fmt.Errorf("%w: --chart needs the entity to draw: --country CC or --asn N", errUsage)
	}
	opts := pipeline.Options{Config: af.pipelineConfig(db)}
	opts.Record = ents
	var errs int
	opts.OnError = func(err error) {
		errs++
		if errs <= 20 {
			fmt.Fprintf(env.stderr, "blackout: %v\n", err)
		} else if errs == 21 {
			fmt.Fprintln(env.stderr, "blackout: more input errors follow; counting only")
		}
	}
	if line := progress.New(env.stderr); !af.ownProgress && line.On() {
		opts.Sinks = append(opts.Sinks, &progress.Sink{Line: line, Title: title})
		defer line.Clear()
	}
	res, err := pipeline.Run(ctx, source.Merge(srcs), opts)
	if err != nil {
		return err
	}
	shown, hidden := report.FilterEvents(res.Events, ents)
	out := bufio.NewWriterSize(env.stdout, 1<<16)
	if af.json {
		err = report.WriteJSON(out, shown)
		// What was not judged goes beside the events, on stderr.
		for _, st := range res.Coverage.Statements() {
			if !strings.Contains(st, ": judged from") || strings.Contains(st, "; ") {
				fmt.Fprintf(env.stderr, "blackout: %s\n", st)
			}
		}
	} else {
		sum := report.Summary{Title: title, Inputs: len(srcs), RouteEvents: res.RouteEvents, First: res.First, Last: res.Last,
			Peers: res.Peers, FullFeed: res.FullFeed, Prefixes: res.Prefixes, Errors: res.Errors, Hidden: hidden, Coverage: &res.Coverage}
		if len(ents) > 0 {
			var names []string
			for _, e := range ents {
				names = append(names, e.String())
			}
			sum.Filter = strings.Join(names, ", ")
		}
		err = report.WriteText(out, sum, shown)
	}
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		return err
	}
	if af.chart != "" {
		if err := report.WriteChartFile(af.chart, res.Series, ents[0], shown); err != nil {
			return err
		}
		if !af.json {
			fmt.Fprintf(env.stdout, "\nchart: %s\n", af.chart)
		}
	}
	if res.Errors > 0 || len(res.Coverage.Undecoded) > 0 {
		fmt.Fprintf(env.stderr, "blackout: %d input error(s), %d kind(s) of records not decoded; the report covers everything that could be read\n", res.Errors, len(res.Coverage.Undecoded))
		return exitError{code: 1}
	}
	return nil
}
