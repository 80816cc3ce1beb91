package main

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/pipeline"
)

func init() {
	register(command{name: "demo", summary: "replay the embedded North Korea outage of December 2014 and explain it", run: runDemo})
}

func runDemo(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "demo", "[flags]")
	var af analysisFlags
	af.register(fs)
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
	srcs, closeAll, err := demoSources()
	if err != nil {
		return err
	}
	defer closeAll()
	if !af.json {
		fmt.Fprintln(env.stdout, "North Korea, December 2014: AS131279 (Star Joint Venture) and its four /24s, reached only through")
		fmt.Fprintln(env.stdout, "AS4837 (China Unicom), seen by 30 route-collector peers beside 30 other countries. The data is")
		fmt.Fprintln(env.stdout, "generated from the public facts by `blackout scenario --case northkorea` and embedded in the binary.")
		fmt.Fprintln(env.stdout)
	}
	return analyse(ctx, env, "blackout demo", &af, srcs)
}

// demoSources opens the embedded demo files as event sources (one
// collector, rrc00); call closeAll when done.
func demoSources() (srcs []pipeline.EventSource, closeAll func(), err error) {
	var closers []io.Closer
	closeAll = func() {
		for _, c := range closers {
			c.Close()
		}
	}
	for _, f := range demo.Files() {
		rc, _, err := compress.NewReader(bytes.NewReader(f.Data))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("embedded %s: %w", f.Name, err)
		}
		closers = append(closers, rc)
		srcs = append(srcs, mrt.NewRouteReader(rc, "demo/"+f.Name, "rrc00"))
	}
	return srcs, closeAll, nil
}
