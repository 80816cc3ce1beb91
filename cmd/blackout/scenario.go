package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/scenario"
)

func init() {
	register(command{name: "scenario", summary: "generate MRT test scenarios (outages, resets, ...) with their ground truth", run: runScenario})
}

func runScenario(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "scenario", "[--case KIND|suite|realistic|northkorea] [--seed N] [--out DIR]")
	kind := fs.String("case", "northkorea", "what to generate: northkorea (the December 2014 demo), suite (every case), realistic (the realistic suite: Internet-like worlds of 20 peers, 30 countries, ~6,850 prefixes, 30 h to 7 days; about 600 MB, use --gzip), causes (one world per cause code, see the README), or one kind of the suite: "+strings.Join(scenario.Kinds, ", ")+", combined")
	seed := fs.Int64("seed", 1, "seed of the suite (northkorea has its own fixed seed unless this is set)")
	out := fs.String("out", "scenario-out", "output directory (suite and kinds: one subdirectory per case)")
	gz := fs.Bool("gzip", false, "gzip the MRT files (.gz)")
	single := fs.Bool("single", false, "one updates file for the whole span instead of one per hour (a day for northkorea)")
	quiet := fs.Bool("q", false, "print only the summary line of each case")
	var geoPaths multiFlag
	fs.Var(&geoPaths, "geo", "registry data stacked over the embedded snapshot (repeatable); default: the snapshot alone, so that output is the same on every machine")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	seedSet := false
	fs.Visit(func(f *flag.Flag) { seedSet = seedSet || f.Name == "seed" })

	cases, err := scenarioCases(*kind, *seed, seedSet)
	if err != nil {
		return err
	}
	db, err := geo.Open(geoPaths, geo.WithoutCache())
	if err != nil {
		return err
	}
	for _, c := range cases {
		cfg := c.Config
		cfg.Gzip = *gz
		if *single {
			cfg.FileEvery = -1
		}
		dir := *out
		if c.Kind != "northkorea" {
			dir = filepath.Join(*out, c.Name)
		}
		start := time.Now()
		g, err := scenario.Generate(ctx, cfg, db, dir)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		var size int64
		for _, f := range g.Files {
			size += f.Size
		}
		prefixes := 0
		for _, cc := range g.World.Countries {
			for _, a := range cc.ASes {
				prefixes += len(a.Prefixes)
			}
		}
		fmt.Fprintf(env.stdout, "%s: %d files (%d bytes), %s: %d countries, %d prefixes, %d peers; %d RIB entries, %d announcements, %d withdrawals, %d state changes; %d truth events (%v)\n",
			c.Name, len(g.Files), size, dir, len(g.World.Countries), prefixes, len(g.World.Peers),
			g.RIBEntries, g.Announcements, g.Withdrawals, g.StateChanges, len(g.Truth), time.Since(start).Round(time.Millisecond))
		if *quiet {
			continue
		}
		for _, f := range g.Files {
			fmt.Fprintf(env.stdout, "  %-28s %9d bytes\n", f.Name, f.Size)
		}
		fmt.Fprintf(env.stdout, "  %-28s %d events\n", scenario.TruthFile, len(g.Truth))
		for _, e := range g.Truth {
			fmt.Fprintf(env.stdout, "    %s\n", e)
		}
	}
	return nil
}

// scenarioCases returns the cases that --case kind names.
func scenarioCases(kind string, seed int64, seedSet bool) ([]scenario.Case, error) {
	switch kind {
	case "northkorea", "nk":
		cfg := scenario.NorthKorea2014()
		if seedSet {
			cfg.Seed = seed
		}
		return []scenario.Case{{Name: cfg.Name, Kind: "northkorea", Config: cfg}}, nil
	case "suite":
		return scenario.Suite(seed), nil
	case "realistic":
		return scenario.RealisticSuite(seed), nil
	case "causes":
		var cs []scenario.Case
		for _, c := range scenario.CauseSuite(seed) {
			cs = append(cs, c.Case)
		}
		return cs, nil
	}
	var cases []scenario.Case
	for _, c := range scenario.Suite(seed) {
		if c.Kind == kind {
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("%w: unknown case %q", errUsage, kind)
	}
	return cases, nil
}
