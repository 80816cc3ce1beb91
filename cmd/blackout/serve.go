package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/alert"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/metrics"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/server"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store"
)

func init() {
	register(command{name: "serve", summary: "run the pipeline continuously with a store, an HTTP API, a live dashboard and alerts", run: runServe})
}

// speedFlag is --speed: a factor (data seconds per wall second) or "max".
type speedFlag float64

func (s *speedFlag) String() string {
	if *s == 0 {
		return "max"
	}
	return strconv.FormatFloat(float64(*s), 'g', -1, 64)
}

func (s *speedFlag) Set(v string) error {
	if v == "max" {
		*s = 0
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return errors.New("want a positive number (3600 = an hour of data a second) or max")
	}
	*s = speedFlag(f)
	return nil
}

// parseRetention reads "90d", "12h", "0" (forever).
func parseRetention(v string) (time.Duration, error) {
	if v == "0" || v == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("retention %q: want e.g. 90d", v)
		}
		return time.Duration(n * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("retention %q: want e.g. 90d or 720h", v)
	}
	return d, nil
}

func runServe(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "serve", "[flags] [--replay FILE... | --demo | live source flags (as watch)]")
	var (
		dataDir   = fs.String("data", "./blackout-data", "directory of the store (SQLite database)")
		listen    = fs.String("listen", "127.0.0.1:8080", "address to serve HTTP on (port 0 picks a free port)")
		config    = fs.String("config", "", "configuration file (JSON) with the alert rules and sinks")
		replay    multiFlag
		speed     speedFlag
		demoFlag  = fs.Bool("demo", false, "replay the embedded North Korea 2014 scenario")
		retention = fs.String("retention", "90d", "keep signal bins this long behind the data time (0: forever); events are kept forever")
		geoPaths  multiFlag
		bin       = fs.Duration("bin", 5*time.Minute, "signal time bin")
		logJSON   = fs.Bool("log-json", false, "write logs as JSON lines")
	)
	speed = 3600
	build := registerLiveSources(fs)
	rec := registerRecordFlags(fs)
	warmUp := fs.Duration("warm-up", time.Hour, "without a RIB dump, start detecting after this much data (live sources)")
	fs.Var(&replay, "replay", "MRT file to replay (repeatable; further file arguments are added)")
	fs.Var(&speed, "speed", "replay pace: data seconds per wall second (3600 = an hour a second) or max")
	fs.Var(&geoPaths, "geo", "registry data file to stack over the default (repeatable)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	replay = append(replay, rest...)
	if *demoFlag && len(replay) > 0 {
		return fmt.Errorf("%w: --demo and --replay exclude each other", errUsage)
	}
	logf := lineLogger(env.stderr, "blackout serve")
	live, err := build(liveEnv{Logf: logf})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(live) > 0 && (*demoFlag || len(replay) > 0) {
		return fmt.Errorf("%w: live sources exclude --demo and --replay", errUsage)
	}
	ret, err := parseRetention(*retention)
	if err != nil {
		return fmt.Errorf("%w: --%v", errUsage, err)
	}
	var h slog.Handler = slog.NewTextHandler(env.stderr, nil)
	if *logJSON {
		h = slog.NewJSONHandler(env.stderr, nil)
	}
	log := slog.New(h)

	var alerts alert.Config
	if *config != "" {
		fc, err := alert.LoadFile(*config)
		if err != nil {
			return fmt.Errorf("%w: --config %v", errUsage, err)
		}
		alerts = fc.Alerts
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

	disp, err := alert.New(alerts, alert.Options{Outbox: st, Logger: log, Delivered: mets.AlertDelivered, Dead: func(string) { mets.DeadLetter() }})
	if err != nil {
		return fmt.Errorf("%w: --config %s: %v", errUsage, *config, err)
	}
	if err := disp.Start(ctx); err != nil {
		return err
	}

	opts := pipeline.Options{Config: pipeline.DefaultConfig(db), Speed: float64(speed)}
	opts.Bin = *bin
	opts.Detect.WarmUp = *warmUp
	eng, err := engine.New(ctx, engine.Config{Store: st, Geo: db, Alerts: disp, Logger: log, Metrics: mets,
		Writer: store.WriterOptions{Retention: ret}})
	if err != nil {
		return err
	}
	if t := eng.ResumedTo(); !t.IsZero() {
		log.Info("store holds data", "path", st.Path(), "data_time", t, "resume", "replaying the sources again; bins already stored are skipped, events are upserted, alerts resume after that time")
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
		events := source.Join(liveCtx, live, 4096, func(s source.Runner, err error) {
			log.Error("source stopped", "source", s.Name(), "error", err)
		})
		if rec.dir != "" {
			recorder, err := rec.start(liveCtx, events, logf)
			if err != nil {
				return err
			}
			defer func() {
				if err := recorder.close(); err != nil {
					log.Error("record", "error", err)
				}
			}()
			events = recorder.events
		}
		src = source.FromChannel(events)
		inputs = len(live)
		opts.Speed = 0
	}

	if src != nil {
		eng.MarkRunning()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("%w: --listen %s: %v", errUsage, *listen, err)
	}
	srv := &http.Server{Handler: server.New(server.Options{Store: st, Status: eng, Hub: eng.Hub(), Geo: db, Version: versionString(), Logger: log, Metrics: mets}),
		ReadHeaderTimeout: 10 * time.Second}
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
			log.Info("replay started", "inputs", inputs, "speed", speed.String())
			res, err := eng.Run(runCtx, src, opts)
			if err == nil {
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
	disp.Close(shCtx)
	log.Info("stopped", "data_time", eng.DataTime())
	return failed
}
