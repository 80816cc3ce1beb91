package admin

import (
	"context"
	"io"
	"log/slog"

	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store"
)

// engineRun replays the demo into st.
func engineRun(ctx context.Context, st store.Store, db *geo.DB) (*engine.Engine, error) {
	eng, err := engine.New(ctx, engine.Config{Store: st, Geo: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	if _, err := eng.Run(ctx, source.Merge(demo.Sources()), pipeline.Options{Config: pipeline.DefaultConfig(db)}); err != nil {
		return nil, err
	}
	return eng, eng.Close(ctx)
}
