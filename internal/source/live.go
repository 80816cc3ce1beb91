package source

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// LiveSource is the events of live feeds in arrival order (see Join and
// FromChannel).
type LiveSource struct {
	ch   <-chan bgp.Event
	ev   bgp.Event
	wall func() time.Time
}

// Join runs every runner and delivers all their events on one channel, in
// arrival order; the channel is closed when all runners have returned.
// Errors of runners that fail go to onError (which may be nil).
// FromChannel makes the channel a Source (after the recorder's tee, if
// any).
func Join(ctx context.Context, runners []Runner, buffer int, onError func(Runner, error)) <-chan bgp.Event {
	out := make(chan bgp.Event, buffer)
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func(r Runner) {
			defer wg.Done()
			if err := r.Run(ctx, out); err != nil && ctx.Err() == nil && onError != nil {
				onError(r, err)
			}
		}(r)
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}

// FromChannel returns a Source of the events of ch, in order, until ch is
// closed (for tests, and for feeds joined elsewhere).
func FromChannel(ch <-chan bgp.Event) *LiveSource { return &LiveSource{ch: ch, wall: time.Now} }

// Idle reports whether no event is waiting: the consumer is up to date.
func (l *LiveSource) Idle() bool { return len(l.ch) == 0 }

// Next returns the next event, valid until the next call. An event dated
// before 1990 or more than MaxFuture ahead of the wall clock is dropped:
// Next returns a *TimeError naming its collector and peer (skippable), and
// no clock moves.
func (l *LiveSource) Next() (*bgp.Event, error) {
	ev, ok := <-l.ch
	if !ok {
		return nil, io.EOF
	}
	if why := CheckTime(ev.Time, time.Time{}, l.wall()); why != "" {
		name := ev.Peer.Collector
		if name == "" {
			name = "live feed"
		}
		return nil, &TimeError{Source: name, Offset: -1, Peer: ev.Peer, Time: ev.Time, Reason: why}
	}
	l.ev = ev
	return &l.ev, nil
}
