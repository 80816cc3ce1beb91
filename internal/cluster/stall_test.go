package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/view"
)

// stallStream is a real stream whose first ordered consumer of each
// filter delivers nothing, without an error, until it is stopped: a
// consumer left on a bus node that lost the stream's leadership.
type stallStream struct {
	jetstream.Stream
	mu      sync.Mutex
	created map[string]int
}

// OrderedConsumer implements jetstream.Stream.
func (s *stallStream) OrderedConsumer(ctx context.Context, cfg jetstream.OrderedConsumerConfig) (jetstream.Consumer, error) {
	c, err := s.Stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	key := ""
	for _, f := range cfg.FilterSubjects {
		key += f + " "
	}
	s.mu.Lock()
	s.created[key]++
	first := s.created[key] == 1
	s.mu.Unlock()
	if first {
		return silentConsumer{c}, nil
	}
	return c, nil
}

type silentConsumer struct{ jetstream.Consumer }

// Messages implements jetstream.Consumer: an iterator that never delivers.
func (silentConsumer) Messages(...jetstream.PullMessagesOpt) (jetstream.MessagesContext, error) {
	return &silentIter{stopped: make(chan struct{})}, nil
}

type silentIter struct {
	once    sync.Once
	stopped chan struct{}
}

func (it *silentIter) Next(...jetstream.NextOpt) (jetstream.Msg, error) {
	<-it.stopped
	return nil, jetstream.ErrMsgIteratorClosed
}
func (it *silentIter) Stop()  { it.once.Do(func() { close(it.stopped) }) }
func (it *silentIter) Drain() { it.Stop() }

// TestDeltaConsumerStall: the demo's deltas on the bus, read by a delta
// reader whose first consumer of each partition stalls (delivers nothing,
// no error). The watchdog sees the stream holding later deltas, stops the
// consumer, and the reader creates another after the last delta taken:
// every route event's delta comes, equal to what one Worker per partition
// makes, and each partition stalled once.
func TestDeltaConsumerStall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	_, js := demoOnBus(t, ctx)
	var evs []routeEv
	parts := map[int]bool{}
	eachStreamEvent(t, ctx, js, func(ev *bgp.Event, seq uint64, p int) {
		evs = append(evs, routeEv{seq, p, ev.Clone()})
		parts[p] = true
	})
	vctx, vcancel := context.WithCancel(ctx)
	vdone := make(chan error, 1)
	go func() {
		vdone <- RunView(vctx, js, ViewConfig{Node: "view", LeaseTTL: 5 * time.Second, Replicas: 1, View: view.DefaultConfig(), Logger: workerLogger(t)})
	}()
	defer func() { vcancel(); <-vdone }()
	ds, err := js.Stream(ctx, DeltaStream)
	for err != nil && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		ds, err = js.Stream(ctx, DeltaStream)
	}
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every route event's delta", 90*time.Second, func() bool {
		info, err := ds.Info(ctx)
		return err == nil && info.State.Msgs >= uint64(len(evs))
	})

	f := &deltaFollower{ctx: ctx, js: js, ds: &stallStream{Stream: ds, created: map[string]int{}}, deltas: map[int]*deltaSub{}, stallAfter: 300 * time.Millisecond}
	readerEqualsWorkers(t, f, evs)
	if n := f.stalls.Load(); n != int64(len(parts)) {
		t.Errorf("%d stalled consumers stopped, want one per partition with route events (%d)", n, len(parts))
	}
	t.Logf("%d deltas read over %d partitions, each partition's first consumer stalled and was replaced", len(evs), len(parts))
}
