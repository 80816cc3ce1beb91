package cluster

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/blackout-bgp/blackout/internal/alert"
	"github.com/blackout-bgp/blackout/internal/cliflag"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/server"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
)

// NodeFlags are the flags of `blackout node` (beside serve's source
// flags, which the command registers itself).
type NodeFlags struct {
	roles, bus, dsn, listen, name string
	config                        string
	fromView, warm                bool
	replicas, partitions          int
	checkpointKeep                int
	checkpointEvery               int64
	ttl, bin, warmUp              time.Duration
}

// RegisterNodeFlags registers the node flags on fs.
func RegisterNodeFlags(fs *flag.FlagSet) *NodeFlags {
	f := &NodeFlags{}
	fs.StringVar(&f.roles, "role", "", "`ROLES` to run, comma separated: ingest, view, detect, api")
	fs.BoolVar(&f.warm, "warm-standby", false, "a standby detector follows the route stream while it waits for the lease, so that taking over is a promotion instead of a rebuild from the stream's start (costs a standby the holder's CPU and memory) (detect)")
	fs.BoolVar(&f.fromView, "from-view", false, "the detector keeps no peer tables: it reads the view workers' table deltas (run node --role view) (detect)")
	fs.StringVar(&f.bus, "bus", "nats://127.0.0.1:4222", "the bus nodes' client `URLs`, comma separated")
	fs.StringVar(&f.dsn, "store", "", "the shared PostgreSQL store `URL` (detect, api)")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "serve the HTTP API on `ADDR` (api)")
	fs.StringVar(&f.name, "name", "", "node `NAME`, shown in the detector's lease and the logs (default host:pid)")
	fs.IntVar(&f.replicas, "replicas", 0, "replicas (`N`) of the stream and the lease bucket (default 3 on a clustered bus, else 1)")
	fs.StringVar(&f.config, "config", "", "configuration `FILE` (JSON, as serve's) with the alert rules and sinks: the detector's lease holder sends the alerts (detect)")
	fs.Int64Var(&f.checkpointEvery, "checkpoint-every", DefaultCheckpointEvery, "write a checkpoint of each view partition every `N` route stream sequences; a worker taking a partition over, and a detector rebuilding a peer's table, read the stream after it (0: none) (view)")
	cliflag.PositiveVar(fs, &f.checkpointKeep, "checkpoint-keep", DefaultCheckpointKeep, "keep the newest `N` checkpoints of each view partition, at least 1 (view)")
	cliflag.PositiveVar(fs, &f.partitions, "partitions", DefaultPartitions, "route event partitions (`N`, by collector and peer; fix it up front)")
	cliflag.DurationVar(fs, &f.ttl, "lease-ttl", 10*time.Second, false, "a dead detector's lease expires after this `duration`; a standby then takes over")
	cliflag.DurationVar(fs, &f.bin, "bin", 5*time.Minute, false, "signal time bin, a positive `duration` (detect)")
	cliflag.DurationVar(fs, &f.warmUp, "warm-up", time.Hour, true, "without a RIB dump, start detecting after this `duration` of data (detect)")
	return f
}

// Config returns the node's configuration from the flags; an error is a
// usage error. The caller sets Logger, Inputs and Ingest.Speed.
func (f *NodeFlags) Config(db *geo.DB, version string) (NodeConfig, error) {
	cfg := NodeConfig{Name: f.name, Bus: []string{f.bus}, Replicas: f.replicas, LeaseTTL: f.ttl, Listen: f.listen, StoreDSN: f.dsn,
		Ingest: IngestConfig{Partitions: f.partitions}, Engine: engine.Config{Geo: db}, Server: server.Options{Geo: db, Version: version},
		Pipeline: pipeline.Options{Config: pipeline.DefaultConfig(db)}}
	cfg.Pipeline.Bin, cfg.Pipeline.Detect.WarmUp = f.bin, f.warmUp
	cfg.FromView = f.fromView
	cfg.WarmStandby = f.warm
	cfg.CheckpointEvery = f.checkpointEvery
	cfg.CheckpointKeep = f.checkpointKeep
	if f.checkpointEvery == 0 {
		cfg.CheckpointEvery = -1
	}
	if f.checkpointEvery < 0 {
		return cfg, errors.New("--checkpoint-every: want 0 (none) or more")
	}
	var err error
	if cfg.Roles, err = ParseRoles(f.roles); err != nil {
		return cfg, fmt.Errorf("--role: %w", err)
	}
	if (cfg.Roles[RoleDetect] || cfg.Roles[RoleAPI]) && !pgstore.IsDSN(f.dsn) {
		return cfg, errors.New("the detect and api roles need --store postgres://...")
	}
	if f.warm && !cfg.Roles[RoleDetect] {
		return cfg, errors.New("--warm-standby is for the detect role")
	}
	if f.fromView && !cfg.Roles[RoleDetect] {
		return cfg, errors.New("--from-view is for the detect role")
	}
	if f.config != "" {
		if !cfg.Roles[RoleDetect] {
			return cfg, errors.New("--config (alerts) is for the detect role")
		}
		fc, err := alert.LoadFile(f.config)
		if err != nil {
			return cfg, fmt.Errorf("--config %w", err)
		}
		cfg.Engine.AlertConfig = &fc.Alerts
	}
	if cfg.Name == "" {
		h, _ := os.Hostname()
		cfg.Name = fmt.Sprintf("%s:%d", h, os.Getpid())
	}
	return cfg, nil
}
