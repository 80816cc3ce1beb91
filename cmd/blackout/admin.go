package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/blackout-bgp/blackout/internal/admin"
	"github.com/blackout-bgp/blackout/internal/alert"
	"github.com/blackout-bgp/blackout/internal/pipeline"
)

func init() {
	register(command{name: "store check", summary: "check the store's database file (PRAGMA integrity_check)", run: func(ctx context.Context, env *cmdEnv, args []string) error {
		fs := newFlags(env, "store check", "--data DIR")
		dir := fs.String("data", "./blackout-data", "directory of the store")
		if _, err := parseInterspersed(fs, args); err != nil {
			return err
		}
		return admin.Check(ctx, env.stdout, *dir)
	}})
	register(command{name: "store rebuild", summary: "move a damaged store aside and replay the sources into a new one", run: func(ctx context.Context, env *cmdEnv, args []string) error {
		fs := newFlags(env, "store rebuild", "--data DIR [--demo | FILE...]")
		dir, demoFlag := fs.String("data", "./blackout-data", "directory of the store"), fs.Bool("demo", false, "replay the embedded scenario")
		files, err := parseInterspersed(fs, args)
		if err != nil {
			return err
		}
		o := admin.RebuildOptions{Dir: *dir, Logger: slog.New(slog.NewTextHandler(env.stderr, nil))}
		if *demoFlag || len(files) > 0 {
			if o.Geo, err = loadGeoTo(env.stderr, nil); err != nil {
				return err
			}
			o.Options = pipeline.Options{Config: pipeline.DefaultConfig(o.Geo)}
			var closeAll func()
			if o.Source, _, closeAll, err = replaySource(ctx, *demoFlag, files); err != nil {
				return err
			}
			defer closeAll()
		}
		return admin.Rebuild(ctx, env.stdout, o)
	}})
	register(command{name: "alerts dead", summary: "list the alerts given up on (dead letters)", run: func(ctx context.Context, env *cmdEnv, args []string) error {
		fs := newFlags(env, "alerts dead", "--data DIR [--sink NAME] [--limit N] [--json]")
		dir, sink := fs.String("data", "./blackout-data", "directory of the store"), fs.String("sink", "", "only this sink's")
		limit, asJSON := fs.Int("limit", 100, "at most this many, the latest first"), fs.Bool("json", false, "JSON output")
		if _, err := parseInterspersed(fs, args); err != nil {
			return err
		}
		return admin.Dead(ctx, env.stdout, *dir, *sink, *limit, *asJSON)
	}})
	register(command{name: "alerts resend", summary: "send dead letters again (--id N... or --all)", run: func(ctx context.Context, env *cmdEnv, args []string) error {
		fs := newFlags(env, "alerts resend", "--data DIR --config FILE (--id N... | --all) [--sink NAME]")
		dir, config := fs.String("data", "./blackout-data", "directory of the store"), fs.String("config", "", "the configuration file with the sinks (as serve's)")
		sink, all := fs.String("sink", "", "only this sink's dead letters"), fs.Bool("all", false, "every dead letter")
		var ids admin.IDs
		fs.Var(&ids, "id", "a dead letter's id (repeatable)")
		if _, err := parseInterspersed(fs, args); err != nil {
			return err
		}
		if *config == "" || (len(ids) == 0) == !*all {
			return fmt.Errorf("%w: want --config FILE and either --id N... or --all", errUsage)
		}
		fc, err := alert.LoadFile(*config)
		if err != nil {
			return fmt.Errorf("%w: --config %v", errUsage, err)
		}
		return admin.Resend(ctx, env.stdout, *dir, fc.Alerts, ids, *sink, slog.New(slog.NewTextHandler(env.stderr, nil)))
	}})
}
