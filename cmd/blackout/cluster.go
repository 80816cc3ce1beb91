package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/blackout-bgp/blackout/internal/bus"
)

func init() {
	register(command{name: "bus", summary: "run a message bus node (embedded NATS JetStream; three form a replicated cluster)", run: runBus})
}

func runBus(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "bus", "--listen ADDR [--cluster-listen ADDR --routes URL,URL,...] --dir DIR")
	o := bus.Options{Logf: lineLogger(env.stderr, "blackout bus")}
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:4222", "`HOST:PORT` for clients (the roles' --bus)")
	fs.StringVar(&o.ClusterListen, "cluster-listen", "", "`HOST:PORT` for the other bus nodes (none: a node alone)")
	routes := fs.String("routes", "", "the other nodes' cluster addresses, `nats://HOST:PORT,...`")
	fs.StringVar(&o.Dir, "dir", "./blackout-bus", "storage `DIR` of the streams")
	fs.StringVar(&o.Name, "name", "", "node name, unique in the cluster (default from --listen)")
	if rest, err := parseInterspersed(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("%w: bus takes no arguments (got %q)", errUsage, strings.Join(rest, " "))
	}
	var err error
	if o.Routes, err = bus.ParseRoutes(*routes); err != nil {
		return fmt.Errorf("%w: --routes: %v", errUsage, err)
	}
	return bus.Run(ctx, o)
}
