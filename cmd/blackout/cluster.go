package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/cluster"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/server"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
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

func init() {
	register(command{name: "node", summary: "run cluster roles (ingest, view/detect, api) over a bus and a PostgreSQL store", run: runNode})
}

func runNode(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlags(env, "node", "--role R[,R...] --bus URL[,URL...] [--store DSN] [--listen ADDR] [serve's source flags]")
	var (
		roles    = fs.String("role", "", "roles to run, comma separated: ingest, view (= detect), detect, api")
		busURLs  = fs.String("bus", "nats://127.0.0.1:4222", "the bus nodes' client `URL`s, comma separated")
		dsn      = fs.String("store", "", "the shared PostgreSQL store `URL` (detect, api)")
		listen   = fs.String("listen", "127.0.0.1:8080", "address of the HTTP API (api)")
		name     = fs.String("name", "", "node name, shown in the detector's lease (default host:pid)")
		replicas = fs.Int("replicas", 0, "replicas of the stream and the lease bucket (default 3 on a clustered bus, else 1)")
		ttl      = fs.Duration("lease-ttl", 10*time.Second, "a dead detector's lease expires after this; a standby then takes over")
		parts    = fs.Int("partitions", cluster.DefaultPartitions, "route event partitions (by collector and peer)")
		bin      = fs.Duration("bin", 5*time.Minute, "signal time bin (detect)")
		warmUp   = fs.Duration("warm-up", time.Hour, "without a RIB dump, start detecting after this much data (detect)")
		logJSON  = fs.Bool("log-json", false, "write logs as JSON lines")
		geoPaths multiFlag
	)
	fs.Var(&geoPaths, "geo", "registry data file to stack over the default (repeatable)")
	srcs := registerServeSources(fs)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	logf := lineLogger(env.stderr, "blackout node")
	if err := srcs.check(rest, logf); err != nil {
		return err
	}
	cfg := cluster.NodeConfig{Name: *name, Bus: []string{*busURLs}, Replicas: *replicas, LeaseTTL: *ttl, Listen: *listen}
	if cfg.Roles, err = cluster.ParseRoles(*roles); err != nil {
		return fmt.Errorf("%w: --role: %v", errUsage, err)
	}
	if cfg.Name == "" {
		h, _ := os.Hostname()
		cfg.Name = fmt.Sprintf("%s:%d", h, os.Getpid())
	}
	cfg.Logger = newLogger(env, *logJSON).With("node", cfg.Name)
	db, err := loadGeoTo(env.stderr, geoPaths)
	if err != nil {
		return err
	}
	if (cfg.Roles[cluster.RoleDetect] || cfg.Roles[cluster.RoleAPI]) && !pgstore.IsDSN(*dsn) {
		return fmt.Errorf("%w: the detect and api roles need --store postgres://...", errUsage)
	}
	spec := srcs.spec(logf, cfg.Logger)
	cfg.StoreDSN, cfg.Inputs, cfg.Ingest = *dsn, &spec, cluster.IngestConfig{Speed: float64(srcs.speed), Partitions: *parts}
	cfg.Pipeline = pipeline.Options{Config: pipeline.DefaultConfig(db)}
	cfg.Pipeline.Bin, cfg.Pipeline.Detect.WarmUp = *bin, *warmUp
	cfg.Engine = engine.Config{Geo: db}
	cfg.Server = server.Options{Geo: db, Version: versionString()}
	return cluster.RunNode(ctx, cfg)
}
