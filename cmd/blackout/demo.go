package main

import (
	"context"
	"fmt"

	"github.com/blackout-bgp/blackout/internal/demo"
)

func init() {
	register(command{name: "demo", summary: "replay the embedded North Korea outage of December 2014 and explain it", run: runDemo})
}

func runDemo(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "demo", "[flags]")
	var af analysisFlags
	af.register(fs, true)
	fs.Lookup("chart").DefValue = "northkorea-2014.svg"
	af.chart = "northkorea-2014.svg"
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: demo takes no files (use replay)", errUsage)
	}
	if len(af.countries) == 0 && len(af.asns) == 0 {
		af.countries = multiFlag{"KP"}
		af.asns = multiFlag{"131279"}
	}
	if _, err := af.entities(); err != nil {
		return err
	}
	srcs := demo.Sources()
	if !af.json {
		fmt.Fprintln(env.stdout, "North Korea, December 2014: AS131279 (Star Joint Venture) and its four /24s, reached only through")
		fmt.Fprintln(env.stdout, "AS4837 (China Unicom), seen by 30 route-collector peers beside 30 other countries. The data is")
		fmt.Fprintln(env.stdout, "generated from the public facts by `blackout scenario --case northkorea` and embedded in the binary.")
		fmt.Fprintln(env.stdout)
	}
	return analyse(ctx, env, "blackout demo", &af, srcs)
}
