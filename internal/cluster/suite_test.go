package cluster

import (
	"bytes"
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/scenario"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
	"github.com/blackout-bgp/blackout/internal/store/pgstore/pgtest"
	"github.com/blackout-bgp/blackout/internal/store/storetest"
)

func generatedSource(t *testing.T, g *scenario.Generated) source.Source {
	t.Helper()
	var srcs []source.Source
	for _, f := range g.Files {
		rc, _, err := compress.NewReader(bytes.NewReader(f.Data))
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, source.NewFile(rc, f.Name, source.CollectorOf(f.Name)))
	}
	return source.Merge(srcs)
}

// countries returns the country codes a store knows.
func countries(t *testing.T, st store.Store) []string {
	t.Helper()
	ents, err := st.Entities(context.Background(), event.Country)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Code)
	}
	return out
}

// TestSuiteDifferential: on one case of each kind of the generated
// scenario suite (three kinds and a combined case; all with
// BLACKOUT_CLUSTER_E2E=1), the route events through the bus
// (ingest, then a detect worker writing to PostgreSQL) give the same store
// as one engine over the same files into SQLite.
func TestSuiteDifferential(t *testing.T) {
	pgtest.DB(t) // skips without PostgreSQL
	nodes, err := bus.StartLocal(t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer nodes[0].Shutdown()
	nc, js, err := bus.Connect(bus.URLs(nodes), "suite")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	db := testGeo(t)
	// Three kinds and a combined case in a normal run (seconds); every kind with
	// BLACKOUT_CLUSTER_E2E=1.
	some := map[string]bool{scenario.CaseOutage: true, scenario.CaseIPv6Outage: true, scenario.CasePeerReset: true, "combined": true}
	seen := map[string]bool{}
	for _, c := range scenario.Suite(1) {
		if seen[c.Kind] || !some[c.Kind] && os.Getenv("BLACKOUT_CLUSTER_E2E") == "" {
			continue
		}
		seen[c.Kind] = true
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			g, err := scenario.GenerateInMemory(ctx, c.Config, db)
			if err != nil {
				t.Fatal(err)
			}
			// One node.
			sq, err := store.OpenSQLite(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer sq.Close()
			eng, err := engine.New(ctx, engine.Config{Store: sq, Geo: db, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := eng.Run(ctx, generatedSource(t, g), pipeline.Options{Config: pipeline.DefaultConfig(db)}); err != nil {
				t.Fatal(err)
			}
			if err := eng.Close(ctx); err != nil {
				t.Fatal(err)
			}
			codes := countries(t, sq)
			want := storetest.Dump(t, sq, codes...)

			// Through the bus, into PostgreSQL.
			_ = js.DeleteStream(ctx, StreamName)
			if _, err := Ingest(ctx, js, IngestConfig{Source: generatedSource(t, g), Describe: c.Name, Replay: true}); err != nil {
				t.Fatal(err)
			}
			st, err := pgstore.Open(ctx, pgtest.DB(t))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			wctx, stop := context.WithCancel(ctx)
			engs := make(chan *engine.Engine, 1)
			done := make(chan error, 1)
			go func() {
				done <- Detect(wctx, nc, js, DetectConfig{Node: c.Name, LeaseTTL: 2 * time.Second, Engine: engine.Config{Store: st, Geo: db},
					Pipeline: pipeline.Options{Config: pipeline.DefaultConfig(db)}, Logger: quiet(), OnEngine: func(e *engine.Engine) { engs <- e }})
			}()
			ce := <-engs
			waitFor(t, "the detector to finish the stream", 30*time.Second, func() bool {
				return !ce.Running() && ce.RouteEvents() > 0 && ce.DataTime().Equal(eng.DataTime())
			})
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			got := storetest.Dump(t, st, codes...)
			if !slices.Equal(got, want) {
				t.Errorf("%s: the cluster's store differs from one node's (%d vs %d lines)\n%s", c.Name, len(got), len(want), diff(got, want))
			}
			n := 0
			for _, l := range want {
				if len(l) > 6 && l[:6] == "event " {
					n++
				}
			}
			t.Logf("%s: %d events, %d lines equal", c.Name, n, len(want))
		})
	}
}
