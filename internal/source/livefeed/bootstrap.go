package livefeed

import (
	"context"
	"flag"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/rislive"
)

// bootstrapFlags are the flags of the RIS Live bootstrap.
type bootstrapFlags struct{}

func (b *bootstrapFlags) register(fs *flag.FlagSet) {}
func (b *bootstrapFlags) set() bool                 { return false }
func (b *bootstrapFlags) build([]rislive.Filter, func(string, ...any)) (*bootstrap, error) {
	return nil, nil
}

// bootstrap is RIS Live with a starting table.
type bootstrap struct {
	live source.Runner
}

func (b *bootstrap) Name() string                                        { return b.live.Name() }
func (b *bootstrap) Run(ctx context.Context, out chan<- bgp.Event) error { return b.live.Run(ctx, out) }
