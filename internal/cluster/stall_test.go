package cluster

import (
	"context"
	"slices"
	"strconv"
	"strings"
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
	key := strings.Join(cfg.FilterSubjects, " ")
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

	f := &deltaFollower{ctx: ctx, js: js, ds: &stallStream{Stream: ds, created: map[string]int{}}, deltas: map[int]*watched{}, stallAfter: 300 * time.Millisecond}
	readerEqualsWorkers(t, f, evs)
	if n := f.stalls.Load(); n != int64(len(parts)) {
		t.Errorf("%d stalled consumers stopped, want one per partition with route events (%d)", n, len(parts))
	}
	t.Logf("%d deltas read over %d partitions, each partition's first consumer stalled and was replaced", len(evs), len(parts))
}

// TestRouteConsumerStall: a partition's reader of the route stream whose
// first consumer stalls (delivers nothing, no error) is given a new one
// by the watchdog once it has waited stallAfter while the partition's
// subject holds later events, and reads every event of the partition,
// in order, then the end mark.
func TestRouteConsumerStall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	_, js := demoOnBus(t, ctx)
	var want []uint64
	p := -1
	eachStreamEvent(t, ctx, js, func(_ *bgp.Event, seq uint64, q int) {
		if p < 0 {
			p = q
		}
		if q == p {
			want = append(want, seq)
		}
	})
	src, err := openStream(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	src.st = &stallStream{Stream: src.st, created: map[string]int{}}
	src.filter = []string{SubjectRoute + "." + strconv.Itoa(p), SubjectEOF}
	defer src.Close()
	var got []uint64
	eachEvent(t, src, func(_ *bgp.Event, seq uint64, _ int) { got = append(got, seq) })
	if !slices.Equal(got, want) {
		t.Errorf("partition %d: read %d events, want %d", p, len(got), len(want))
	}
	if n := src.stalls.Load(); n != 1 {
		t.Errorf("%d stalled consumers stopped, want 1", n)
	}
}
