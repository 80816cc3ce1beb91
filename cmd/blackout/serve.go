package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/blackout-bgp/blackout/internal/alert"
	"github.com/blackout-bgp/blackout/internal/cliflag"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/metrics"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/server"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/livefeed"
	"github.com/blackout-bgp/blackout/internal/store"
)

func init() {
	register(command{name: "serve", summary: "run the pipeline continuously with a store, an HTTP API, a live dashboard and alerts", run: runServe})
}

func runServe(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "serve", "[flags] [--replay FILE... | --demo | live source flags (as watch)]")
	var (
		dataDir           = fs.String("data", "./blackout-data", "the store's directory `DIR` (an SQLite database in it)")
		listen            = fs.String("listen", "127.0.0.1:8080", "serve HTTP on `ADDR` (host:port; port 0 picks a free port)")
		config            = fs.String("config", "", "configuration `FILE` (JSON) with the alert rules and sinks")
		replay            multiFlag
		speed             = cliflag.Speed(3600)
		demoFlag          = fs.Bool("demo", false, "replay the embedded North Korea 2014 scenario")
		ret               = cliflag.Retention(90 * 24 * time.Hour)
		geoPaths          multiFlag
		bin, warmUp       time.Duration
		logJSON           = fs.Bool("log-json", false, "write logs as JSON lines")
		maxConns, maxSubs int
	)
	cliflag.DurationVar(fs, &bin, "bin", 5*time.Minute, false, "signal time bin, a positive `duration`")
	lf := livefeed.Register(fs)
	cliflag.DurationVar(fs, &warmUp, "warm-up", time.Hour, true, "without a RIB dump, start detecting after this `duration` of data (live sources; 0 or more)")
	cliflag.PositiveVar(fs, &maxConns, "max-connections", server.DefaultMaxConnections, "at most `N` HTTP connections open at a time; one more is answered 503")
	cliflag.PositiveVar(fs, &maxSubs, "max-subscribers", server.DefaultMaxSubscribers, "at most `N` subscribers of the event stream (/api/v1/stream) at a time; one more is answered 503")
	fs.Var(&ret, "retention", "keep signal bins for this `duration` behind the data time (e.g. 90d, 720h; 0: forever); events are kept forever")
	fs.Var(&replay, "replay", "MRT `FILE` to replay (repeatable; further file arguments are added)")
	fs.Var(&speed, "speed", "replay pace: data seconds per wall second, a `factor` (3600 = an hour a second), or max")
	fs.Var(&geoPaths, "geo", "registry data file `PATH` to stack over the default (repeatable)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	replay = append(replay, rest...)
	if *demoFlag && len(replay) > 0 {
		return fmt.Errorf("%w: --demo and --replay exclude each other", errUsage)
	}
	logf := lineLogger(env.stderr, "blackout serve")
	feed, err := lf.Build(logf)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	live := feed.Runners
	if len(live) > 0 && (*demoFlag || len(replay) > 0) {
		return fmt.Errorf("%w: live sources exclude --demo and --replay", errUsage)
	}
	var h slog.Handler = slog.NewTextHandler(env.stderr, nil)
	if *logJSON {
		h = slog.NewJSONHandler(env.stderr, nil)
	}
	log := slog.New(h)

	alerts := &alert.Config{}
	if *config != "" {
		fc, err := alert.LoadFile(*config)
		if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			return fmt.Errorf("--config: %w", err) // unreadable: not a usage error
		} else if err != nil {
			return fmt.Errorf("%w: --config %v", errUsage, err)
		}
		alerts = &fc.Alerts
	}
	db, err := loadGeoTo(env.stderr, geoPaths)
	if err != nil {
		return err
	}
	st, err := store.OpenSQLite(*dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	mets := metrics.New()

	opts := pipeline.Options{Config: pipeline.DefaultConfig(db), Speed: float64(speed)}
	opts.Bin = bin
	opts.Detect.WarmUp = warmUp
	eng, err := engine.New(ctx, engine.Config{Store: st, Geo: db, AlertConfig: alerts, Logger: log, Metrics: mets,
		Writer: store.WriterOptions{Retention: time.Duration(ret)}})
	if err != nil {
		return err
	}
	if t := eng.ResumedTo(); !t.IsZero() {
		log.Info("store holds data", "path", st.Path(), "data_time", t, "resume", "replaying the sources again; bins already stored are skipped, events are upserted, alerts resume from the outbox")
	}

	var src source.Source
	inputs := 0
	switch {
	case *demoFlag:
		ds := demo.Sources()
		inputs = len(ds)
		src = source.Merge(ds)
	case len(replay) > 0:
		files, err := source.OpenFiles(ctx, replay)
		if err != nil {
			return err
		}
		var fs []source.Source
		for _, f := range files {
			defer f.Close()
			fs = append(fs, f)
		}
		inputs = len(fs)
		src = source.Merge(fs)
	case len(live) > 0:
		// Live: the events as they come (no pacing), optionally recorded.
		liveCtx, stopLive := context.WithCancel(ctx)
		defer stopLive()
		ls, closeRec, err := feed.Start(liveCtx, func(s source.Runner, err error) {
			log.Error("source stopped", "source", s.Name(), "error", err)
		})
		if err != nil {
			return err
		}
		defer func() {
			if err := closeRec(); err != nil {
				log.Error("record", "error", err)
			}
		}()
		src, inputs, opts.Speed = ls, len(live), 0
		opts.View.MaxPrefixes, opts.View.OnMaxPrefix = feed.MaxPrefixes()
		mets.Live(func(f int) (peers, ready, full int) {
			for _, fc := range eng.Coverage().Families {
				if int(fc.Family) == f {
					return fc.LivePeers, fc.ReadyPeers, fc.FullFeedPeers
				}
			}
			return 0, 0, 0
		}, eng.DataTime, feed.Sessions)
	}

	if src != nil {
		eng.MarkRunning()
	}
	ln, err := server.Listen(*listen, maxConns, log)
	if ae := (*net.AddrError)(nil); errors.As(err, &ae) {
		return fmt.Errorf("%w: --listen %s: %v", errUsage, *listen, err) // malformed
	} else if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err) // in use: an environment failure, exit 1
	}
	srv := server.NewHTTPServer(server.New(server.Options{Store: st, Status: eng, Hub: eng.Hub(), Geo: db, Version: versionString(),
		Logger: log, Metrics: mets, MaxSubscribers: maxSubs}), log)
	log.Info("listening on http://"+ln.Addr().String(), "data", st.Path(), "version", versionString())
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()

	// The run stops with ctx (SIGINT) or when the HTTP server fails.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runDone := make(chan error, 1)
	if src != nil {
		go func() {
			start := time.Now()
			if len(live) > 0 {
				log.Info("live sources started", "sources", feed.Names())
			} else {
				log.Info("replay started", "inputs", inputs, "speed", speed.String())
			}
			res, err := eng.Run(runCtx, src, opts)
			if len(live) > 0 {
				log.Info("live sources stopped", "route_events", res.RouteEvents, "events", eng.Events(), "input_errors", res.Errors)
			} else if err == nil {
				log.Info("replay finished; still serving", "route_events", res.RouteEvents, "data_time", eng.DataTime(),
					"events", eng.Events(), "input_errors", res.Errors, "took", time.Since(start).Round(time.Millisecond))
			}
			runDone <- err
		}()
	}

	var failed error
	select {
	case <-ctx.Done():
	case err := <-srvErr:
		log.Error("HTTP server failed", "error", err)
		failed = fmt.Errorf("HTTP server on %s failed: %w", ln.Addr(), err)
	}
	stopRun()
	log.Info("shutting down")
	shCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shCtx)
	if src != nil {
		select {
		case <-runDone:
		case <-shCtx.Done():
		}
	}
	if err := eng.Close(shCtx); err != nil {
		log.Error("store flush failed", "error", err)
	}
	log.Info("stopped", "data_time", eng.DataTime())
	return failed
}
