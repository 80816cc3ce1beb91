package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/blackout-bgp/blackout/internal/admin"
	"github.com/blackout-bgp/blackout/internal/alert"
)

func init() {
	register(command{name: "store check", summary: "check the store's database file (PRAGMA integrity_check)", run: func(ctx context.Context, env *cmdEnv, args []string) error {
		fs := newFlags(env, "store check", "--data DIR")
		dir := fs.String("data", "./blackout-data", "the store's directory `DIR`")
		if err := noArgs(parseInterspersed(fs, args)); err != nil {
			return err
		}
		return admin.Check(ctx, env.stdout, *dir)
	}})
	register(command{name: "store rebuild", summary: "move a damaged store aside and replay the sources into a new one", run: func(ctx context.Context, env *cmdEnv, args []string) error {
		fs := newFlags(env, "store rebuild", "--data DIR [--demo | FILE...]")
		dir, demoFlag := fs.String("data", "./blackout-data", "the store's directory `DIR`"), fs.Bool("demo", false, "replay the embedded scenario")
		files, err := parseInterspersed(fs, args)
		if err != nil {
			return err
		}
		return admin.Rebuild(ctx, env.stdout, admin.RebuildOptions{Dir: *dir, Demo: *demoFlag, Files: files, Logger: slog.New(slog.NewTextHandler(env.stderr, nil))})
	}})
	register(command{name: "alerts dead", summary: "list the alerts given up on (dead letters)", run: func(ctx context.Context, env *cmdEnv, args []string) error {
		fs := newFlags(env, "alerts dead", "--data DIR [--sink NAME] [--limit N] [--json]")
		dir, sink := fs.String("data", "./blackout-data", "the store's directory `DIR`"), fs.String("sink", "", "only this sink's")
		limit, asJSON := fs.Int("limit", 100, "at most this many, the latest first"), fs.Bool("json", false, "JSON output")
		if err := noArgs(parseInterspersed(fs, args)); err != nil {
			return err
		}
		return admin.Dead(ctx, env.stdout, *dir, *sink, *limit, *asJSON)
	}})
	register(command{name: "alerts resend", summary: "send dead letters again (--id N... or --all)", run: func(ctx context.Context, env *cmdEnv, args []string) error {
		fs := newFlags(env, "alerts resend", "--data DIR --config FILE (--id N... | --all) [--sink NAME]")
		dir, config := fs.String("data", "./blackout-data", "the store's directory `DIR`"), fs.String("config", "", "the configuration `FILE` with the sinks (serve's)")
		sink, all, ids := fs.String("sink", "", "only this sink's dead letters"), fs.Bool("all", false, "every dead letter"), &admin.IDs{}
		fs.Var(ids, "id", "a dead letter's id `N` (repeatable)")
		if err := noArgs(parseInterspersed(fs, args)); err != nil {
			return err
		}
		if *config == "" || (len(*ids) == 0) == !*all {
			return fmt.Errorf("%w: want --config FILE and either --id N... or --all", errUsage)
		}
		fc, err := alert.LoadFile(*config)
		if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			return fmt.Errorf("--config: %w", err) // unreadable: not a usage error
		} else if err != nil {
			return fmt.Errorf("%w: --config %v", errUsage, err)
		}
		return admin.Resend(ctx, env.stdout, *dir, fc.Alerts, *ids, *sink, slog.New(slog.NewTextHandler(env.stderr, nil)))
	}})
}

// noArgs turns arguments left after the flags into a usage error.
func noArgs(rest []string, err error) error {
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}
	return err
}
