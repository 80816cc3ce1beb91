package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/inputs"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/server"
	"github.com/blackout-bgp/blackout/internal/store"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
)

// Roles of a node.
const (
	RoleIngest = "ingest"
	RoleView   = "view" // view workers: peers' tables by partition, table deltas out
	RoleDetect = "detect"
	RoleAPI    = "api"
)

// ParseRoles parses "ingest,view,detect,api".
func ParseRoles(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, r := range strings.Split(s, ",") {
		switch r = strings.TrimSpace(r); r {
		case RoleIngest, RoleView, RoleDetect, RoleAPI:
			out[r] = true
		case "":
		default:
			return nil, fmt.Errorf("role %q: want ingest, view, detect or api", r)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no role: want one or more of ingest, view, detect, api")
	}
	return out, nil
}

// NodeConfig configures a node.
type NodeConfig struct {
	Name     string
	Roles    map[string]bool
	Bus      []string    // client URLs of the bus
	Store    store.Store // detect and api (or StoreDSN)
	StoreDSN string      // a PostgreSQL store to open when Store is nil
	// Inputs, if set, are opened for the ingest role as its source (a
	// replay unless they are live feeds, which are not paced).
	Inputs   *inputs.Spec
	Replicas int // of the stream and the lease bucket (0: 3 on a clustered bus, else 1)
	LeaseTTL time.Duration
	Ingest   IngestConfig // Source etc. (ingest)
	Engine   engine.Config
	Pipeline pipeline.Options
	// FromView makes the detect role read the view workers' deltas
	// instead of keeping the peers' tables (DetectConfig.FromView).
	FromView bool
	// WarmStandby makes a detect role that waits for the lease follow the
	// route stream meanwhile (DetectConfig.Warm).
	WarmStandby bool
	// CheckpointEvery is ViewConfig.CheckpointEvery (view).
	CheckpointEvery int64
	// CheckpointKeep is ViewConfig.CheckpointKeep (view).
	CheckpointKeep int
	Listen         string // api
	Server         server.Options
	Logger         *slog.Logger
	OnReady        func(url string) // api: called with the URL
}

// RunNode runs the node's roles until ctx is done or a role fails. An
// ingest role over a replay ends when it has published the replay; the
// others run until ctx is done.
func RunNode(ctx context.Context, cfg NodeConfig) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if (cfg.Roles[RoleDetect] || cfg.Roles[RoleAPI]) && cfg.Store == nil {
		if cfg.StoreDSN == "" {
			return errors.New("node: the detect and api roles need a store")
		}
		st, err := pgstore.Open(ctx, cfg.StoreDSN)
		if err != nil {
			return err
		}
		defer st.Close()
		cfg.Store = st
	}
	if cfg.Roles[RoleIngest] && cfg.Inputs != nil {
		in, err := inputs.Open(ctx, *cfg.Inputs)
		if err != nil {
			return err
		}
		defer in.Close()
		if in.Source == nil {
			return errors.New("node: the ingest role needs a source: --demo, --replay FILE... or a live source's flags")
		}
		cfg.Ingest.Source, cfg.Ingest.Describe, cfg.Ingest.Replay = in.Source, cfg.Inputs.Describe(), len(cfg.Inputs.Live) == 0
		if !cfg.Ingest.Replay {
			cfg.Ingest.Speed = 0
		}
	}
	if cfg.Ingest.OnError == nil {
		cfg.Ingest.OnError = func(err error) { log.Warn("input error", "role", RoleIngest, "error", err) }
	}
	nc, js, err := bus.Connect(cfg.Bus, "blackout "+cfg.Name)
	if err != nil {
		return err
	}
	defer nc.Close()
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
		if err := bus.Retry(ctx, "connect", func(context.Context) error {
			if !nc.IsConnected() {
				return errors.New("not connected")
			}
			return nil
		}); err != nil {
			return err
		}
		if nc.ConnectedClusterName() != "" {
			cfg.Replicas = 3
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	run := func(role string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil && ctx.Err() == nil {
				cancel(fmt.Errorf("%s: %w", role, err))
			}
		}()
	}
	if cfg.Roles[RoleIngest] {
		run(RoleIngest, func() error {
			ic := cfg.Ingest
			ic.Replicas = cfg.Replicas
			ic.Logf = func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...), "role", RoleIngest) }
			start := time.Now()
			res, err := Ingest(ctx, js, ic)
			if err == nil {
				took := time.Since(start)
				log.Info("ingest finished", "source", ic.Describe, "published", res.Published, "skipped", res.Skipped,
					"retries", res.Retries, "took", took.Round(time.Millisecond), "per_second", int(float64(res.Published)/max(took.Seconds(), 1e-3)))
			}
			return err
		})
	}
	if cfg.Roles[RoleView] {
		run(RoleView, func() error {
			return RunView(ctx, js, ViewConfig{Node: cfg.Name, Partitions: cfg.Ingest.Partitions, LeaseTTL: cfg.LeaseTTL, Replicas: cfg.Replicas,
				View: cfg.Pipeline.View, Logger: log.With("role", RoleView), CheckpointEvery: cfg.CheckpointEvery, CheckpointKeep: cfg.CheckpointKeep})
		})
	}
	if cfg.Roles[RoleDetect] {
		run(RoleDetect, func() error {
			ec := cfg.Engine
			ec.Store = cfg.Store
			return Detect(ctx, nc, js, DetectConfig{Node: cfg.Name, LeaseTTL: cfg.LeaseTTL, Replicas: cfg.Replicas,
				Engine: ec, Pipeline: cfg.Pipeline, Logger: log.With("role", RoleDetect), FromView: cfg.FromView, Partitions: cfg.Ingest.Partitions, Warm: cfg.WarmStandby})
		})
	}
	if cfg.Roles[RoleAPI] {
		run(RoleAPI, func() error {
			return API(ctx, nc, APIConfig{Listen: cfg.Listen, Store: cfg.Store, Server: cfg.Server, Logger: log.With("role", RoleAPI), OnReady: cfg.OnReady})
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
