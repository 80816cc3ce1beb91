package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/blackout-bgp/blackout/internal/alert"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/inputs"
	"github.com/blackout-bgp/blackout/internal/metrics"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/server"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
)

func init() {
	register(command{name: "serve", summary: "run the pipeline continuously with a store, an HTTP API, a live dashboard and alerts", run: runServe})
}

func runServe(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "serve", "[flags] [--replay FILE... | --demo | live source flags (as watch)]")
	var (
		dataDir   = fs.String("data", "./blackout-data", "directory of the store (SQLite database)")
		dsn       = fs.String("store", "", "a PostgreSQL store `URL` (postgres://USER@HOST:PORT/DB?sslmode=disable) instead of --data")
		listen    = fs.String("listen", "127.0.0.1:8080", "address to serve HTTP on (port 0 picks a free port)")
		config    = fs.String("config", "", "configuration file (JSON) with the alert rules and sinks")
		retention = fs.String("retention", "90d", "keep signal bins this long behind the data time (0: forever); events are kept forever")
		geoPaths  multiFlag
		bin       = fs.Duration("bin", 5*time.Minute, "signal time bin")
		logJSON   = fs.Bool("log-json", false, "write logs as JSON lines")
	)
	srcs := registerServeSources(fs)
	warmUp := fs.Duration("warm-up", time.Hour, "without a RIB dump, start detecting after this much data (live sources)")
	fs.Var(&geoPaths, "geo", "registry data file to stack over the default (repeatable)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	logf := lineLogger(env.stderr, "blackout serve")
	if err := srcs.check(rest, logf); err != nil {
		return err
	}
	ret, err := store.ParseRetention(*retention)
	if err != nil {
		return fmt.Errorf("%w: --%v", errUsage, err)
	}
	log := newLogger(env, *logJSON)

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
	st, err := openStore(ctx, *dataDir, *dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	mets := metrics.New()

	disp, err := alert.New(alerts, alert.Options{Logger: log,
		Delivered: mets.AlertDelivered,
		DeadLetter: func(d alert.DeadLetter) {
			mets.DeadLetter()
			if err := st.AddDeadLetter(context.Background(), store.DeadLetter{Sink: d.Sink, Payload: d.Payload, Error: d.Error, Attempts: d.Attempts}); err != nil {
				log.Error("dead letter not stored", "error", err)
			}
		}})
	if err != nil {
		return fmt.Errorf("%w: --config %s: %v", errUsage, *config, err)
	}

	opts := pipeline.Options{Config: pipeline.DefaultConfig(db), Speed: float64(srcs.speed)}
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

	in, err := inputs.Open(ctx, srcs.spec(logf, log))
	if err != nil {
		return err
	}
	defer func() {
		if err := in.Close(); err != nil {
			log.Error("record", "error", err)
		}
	}()
	src := in.Source
	if len(srcs.built) > 0 {
		opts.Speed = 0 // live: the events as they come
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
			log.Info("replay started", "inputs", in.N, "speed", srcs.speed.String())
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

// serveSources are the source flags of serve and of the ingest role of
// node: --demo, --replay FILE..., --speed, and the live sources (as watch),
// optionally recorded.
type serveSources struct {
	replay multiFlag
	speed  pipeline.Speed
	demo   *bool
	build  func(liveEnv) ([]source.Runner, error)
	rec    *recordFlags
	built  []source.Runner
}

func registerServeSources(fs *flag.FlagSet) *serveSources {
	s := &serveSources{speed: 3600}
	s.demo = fs.Bool("demo", false, "replay the embedded North Korea 2014 scenario")
	s.build = registerLiveSources(fs)
	s.rec = registerRecordFlags(fs)
	fs.Var(&s.replay, "replay", "MRT file to replay (repeatable; further file arguments are added)")
	fs.Var(&s.speed, "speed", "replay pace: data seconds per wall second (3600 = an hour a second) or max")
	return s
}

// check takes the file arguments and builds the live sources asked for.
func (s *serveSources) check(files []string, logf func(string, ...any)) error {
	s.replay = append(s.replay, files...)
	if *s.demo && len(s.replay) > 0 {
		return fmt.Errorf("%w: --demo and --replay exclude each other", errUsage)
	}
	var err error
	if s.built, err = s.build(liveEnv{Logf: logf}); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if len(s.built) > 0 && (*s.demo || len(s.replay) > 0) {
		return fmt.Errorf("%w: live sources exclude --demo and --replay", errUsage)
	}
	return nil
}

// spec returns the inputs the flags ask for.
func (s *serveSources) spec(logf func(string, ...any), log *slog.Logger) inputs.Spec {
	return inputs.Spec{Demo: *s.demo, Files: s.replay, Live: s.built, RecordDir: s.rec.dir, RecordEvery: s.rec.every, Logf: logf,
		OnStop: func(r source.Runner, err error) { log.Error("source stopped", "source", r.Name(), "error", err) }}
}

// newLogger returns the structured logger of serve and node.
func newLogger(env *cmdEnv, jsonLines bool) *slog.Logger {
	if jsonLines {
		return slog.New(slog.NewJSONHandler(env.stderr, nil))
	}
	return slog.New(slog.NewTextHandler(env.stderr, nil))
}

// openStore opens the PostgreSQL store at dsn, or else the SQLite store
// in dataDir.
func openStore(ctx context.Context, dataDir, dsn string) (interface {
	store.Store
	Path() string
}, error) {
	if dsn != "" {
		if !pgstore.IsDSN(dsn) {
			return nil, fmt.Errorf("%w: --store %q: want a postgres:// URL", errUsage, dsn)
		}
		return pgstore.Open(ctx, dsn)
	}
	return store.OpenSQLite(dataDir)
}
