package main

import (
	"cmp"
	"context"
	"fmt"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise
// the module version from the build info is used.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

func init() {
	register(command{name: "version", summary: "print the version", run: func(ctx context.Context, env *cmdEnv, args []string) error {
		if rest, err := parseInterspersed(newFlags(env, "version", ""), args); err != nil || len(rest) > 0 {
			return cmp.Or(err, fmt.Errorf("%w: version takes no arguments", errUsage))
		}
		fmt.Fprintln(env.stdout, "blackout", versionString())
		return nil
	}})
}
