package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/cluster"
	"github.com/blackout-bgp/blackout/internal/inputs"
	"github.com/blackout-bgp/blackout/internal/source"
)

func init() {
	register(command{name: "bus", summary: "run a message bus node (embedded NATS JetStream; three form a replicated cluster)", run: runBus})
}

func runBus(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "bus", "--listen ADDR [--cluster-listen ADDR --routes URL,URL,...] --dir DIR")
	opts := bus.RegisterFlags(fs)
	if rest, err := parseInterspersed(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("%w: bus takes no arguments (got %q)", errUsage, strings.Join(rest, " "))
	}
	o, err := opts()
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	o.Logf = lineLogger(env.stderr, "blackout bus")
	return bus.Run(ctx, o)
}

func init() {
	register(command{name: "node", summary: "run cluster roles (ingest, view, detect, api) over a bus and a PostgreSQL store", run: runNode})
}

func runNode(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "node", "--role R[,R...] --bus URL[,URL...] [--store DSN] [--listen ADDR] [serve's source flags]")
	nf := cluster.RegisterNodeFlags(fs)
	logJSON := fs.Bool("log-json", false, "write logs as JSON lines")
	var geoPaths multiFlag
	fs.Var(&geoPaths, "geo", "registry data file `PATH` to stack over the default (repeatable)")
	srcs := inputs.RegisterFlags(fs)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	db, err := loadGeoTo(env.stderr, geoPaths)
	if err != nil {
		return err
	}
	cfg, err := nf.Config(db, versionString())
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var h slog.Handler = slog.NewTextHandler(env.stderr, nil)
	if *logJSON {
		h = slog.NewJSONHandler(env.stderr, nil)
	}
	cfg.Logger = slog.New(h).With("node", cfg.Name)
	spec, err := srcs.Spec(rest, lineLogger(env.stderr, "blackout node"), func(r source.Runner, err error) {
		cfg.Logger.Error("source stopped", "source", r.Name(), "error", err)
	})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg.Inputs, cfg.Ingest.Speed = &spec, float64(srcs.Speed)
	return cluster.RunNode(ctx, cfg)
}
