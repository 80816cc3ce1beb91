// Package source holds blackout's live sources of route events: RIPE RIS
// Live, BGP sessions (blackout as a passive route collector), and BMP, plus
// the recorder that writes what a live source received into rotating MRT
// files, so that any live period can be replayed exactly.
//
// Every source delivers bgp.Events on a channel; the events are its own
// copies (they alias no buffer of the source), so the pipeline can keep
// them. Files and archives are not sources in this sense: the pipeline reads
// them directly (package pipeline) because replay is the live path fed
// faster.
package source

import (
	"context"
	"sync"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// Source is a live source of route events.
type Source interface {
	// Name names the source in logs and errors ("ris-live", "bgp 127.0.0.2").
	Name() string
	// Run delivers events to out until ctx is done (it then returns
	// ctx.Err()) or the source fails for good. Sessions that end are
	// reported as PeerState events, never as withdrawals.
	Run(ctx context.Context, out chan<- bgp.Event) error
}

// Merge runs every source and delivers all their events on one channel, in
// arrival order; the channel is closed when all sources have returned.
// Errors of sources that fail go to onError (which may be nil).
func Merge(ctx context.Context, srcs []Source, buffer int, onError func(Source, error)) <-chan bgp.Event {
	out := make(chan bgp.Event, buffer)
	var wg sync.WaitGroup
	for _, s := range srcs {
		wg.Add(1)
		go func(s Source) {
			defer wg.Done()
			if err := s.Run(ctx, out); err != nil && ctx.Err() == nil && onError != nil {
				onError(s, err)
			}
		}(s)
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}
