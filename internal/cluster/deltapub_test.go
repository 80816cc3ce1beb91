package cluster

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/partview"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
	"github.com/blackout-bgp/blackout/internal/store/pgstore/pgtest"
	"github.com/blackout-bgp/blackout/internal/store/storetest"
	"github.com/blackout-bgp/blackout/internal/view"
)

// flakyJS is a real JetStream connection whose publishes of deltas fail
// now and then, in the ways a bus fails: an asynchronous publish that
// never reached the stream (its acknowledgement is an error), one that
// was stored but whose acknowledgement was lost, one refused at once
// (the connection is down), and synchronous publishes (the resends)
// refused before they reach the stream. Everything else (leases, the
// route stream, checkpoints) goes to the bus untouched.
type flakyJS struct {
	jetstream.JetStream
	mu                                  sync.Mutex
	async, sync                         int // delta publishes seen
	lost, ackLost, refused, syncRefused int // failures injected
}

// failedAck is the future of a publish that failed.
type failedAck struct {
	msg *nats.Msg
	err chan error
}

func (f failedAck) Ok() <-chan *jetstream.PubAck { return nil }
func (f failedAck) Err() <-chan error            { return f.err }
func (f failedAck) Msg() *nats.Msg               { return f.msg }

func failed(m *nats.Msg, err error) failedAck {
	c := make(chan error, 1)
	c <- err
	return failedAck{m, c}
}

// PublishMsgAsync implements jetstream.JetStream.
func (j *flakyJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if !strings.HasPrefix(m.Subject, SubjectDelta+".") {
		return j.JetStream.PublishMsgAsync(m, opts...)
	}
	j.mu.Lock()
	j.async++
	n := j.async
	j.mu.Unlock()
	count := func(c *int) { j.mu.Lock(); *c++; j.mu.Unlock() }
	switch n % 53 {
	case 0: // lost on the way: not stored
		count(&j.lost)
		return failed(m, errors.New("injected: publish lost")), nil
	case 17: // stored, the acknowledgement lost
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := j.JetStream.PublishMsg(ctx, m, opts...); err != nil {
			return nil, err
		}
		count(&j.ackLost)
		return failed(m, errors.New("injected: acknowledgement lost")), nil
	case 31: // refused at once
		count(&j.refused)
		return nil, errors.New("injected: connection down")
	}
	return j.JetStream.PublishMsgAsync(m, opts...)
}

// PublishMsg implements jetstream.JetStream: every third synchronous
// publish of a delta is refused before it reaches the stream.
func (j *flakyJS) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if strings.HasPrefix(m.Subject, SubjectDelta+".") {
		j.mu.Lock()
		j.sync++
		refuse := j.sync%3 == 1
		if refuse {
			j.syncRefused++
		}
		j.mu.Unlock()
		if refuse {
			return nil, errors.New("injected: synchronous publish refused")
		}
	}
	return j.JetStream.PublishMsg(ctx, m, opts...)
}

// TestDeltaPublishFailures: the demo on the bus, one view worker
// publishing its deltas asynchronously through a bus whose delta
// publishes fail now and then (lost, stored with the acknowledgement
// lost, refused at once; the resends refused too, every third), with a
// checkpoint every 5,000 route sequences; a detector keeping no tables
// (FromView) over PostgreSQL. The delta stream ends with every route
// event's delta exactly once; some are stored after later ones (the
// resent), and the reader gives them in the route stream's order, each
// equal to what one Worker per partition makes; the store equals a
// single node's: events, bins, entities, progress.
func TestDeltaPublishFailures(t *testing.T) {
	dsn := pgtest.DB(t)
	want := single(t)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	urls, js := demoOnBus(t, ctx)
	// The route stream: each event's partition and sequence.
	var evs []routeEv
	eachStreamEvent(t, ctx, js, func(ev *bgp.Event, seq uint64, p int) { evs = append(evs, routeEv{seq, p, ev.Clone()}) })

	nc, wjs, err := bus.Connect(urls, "view-flaky")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	flaky := &flakyJS{JetStream: wjs}
	vctx, vcancel := context.WithCancel(ctx)
	vdone := make(chan error, 1)
	go func() {
		vdone <- RunView(vctx, flaky, ViewConfig{Node: "view-flaky", LeaseTTL: 5 * time.Second, Replicas: 1, View: view.DefaultConfig(),
			CheckpointEvery: 5000, Logger: workerLogger(t)})
	}()
	defer func() { vcancel(); <-vdone }()

	d := startWorker(t, "detect", urls, dsn, 5*time.Second, func(c *DetectConfig) { c.FromView, c.Partitions, c.Replicas = true, DefaultPartitions, 1 })
	eng := <-d.eng
	waitFor(t, "the detector to finish the stream", 150*time.Second, func() bool {
		return !eng.Running() && eng.DataTime().After(time.Date(2014, 12, 23, 23, 0, 0, 0, time.UTC))
	})
	if err := eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	flaky.mu.Lock()
	t.Logf("delta publishes: %d asynchronous (%d lost, %d stored with the acknowledgement lost, %d refused at once), %d synchronous (%d refused)",
		flaky.async, flaky.lost, flaky.ackLost, flaky.refused, flaky.sync, flaky.syncRefused)
	if flaky.lost == 0 || flaky.ackLost == 0 || flaky.refused == 0 || flaky.syncRefused == 0 {
		t.Errorf("not every kind of failure was injected")
	}
	flaky.mu.Unlock()

	// Every delta once in the stream, some stored after later ones.
	ds, err := js.Stream(ctx, DeltaStream)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ds.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[uint64]int{}
	last := map[string]uint64{}
	late := 0
	for len(stored) < len(evs) {
		batch, err := c.Fetch(4096, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			seq, err := strconv.ParseUint(m.Headers().Get(HeaderRawSeq), 10, 64)
			if err != nil || m.Headers().Get(HeaderPart) != "" {
				t.Fatalf("delta message %q part %q", m.Headers().Get(HeaderRawSeq), m.Headers().Get(HeaderPart))
			}
			stored[seq]++
			if seq < last[m.Subject()] {
				late++
			}
			last[m.Subject()] = max(last[m.Subject()], seq)
		}
		if n == 0 {
			break
		}
	}
	info, err := ds.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(evs)) {
		t.Errorf("the delta stream holds %d messages for %d route events", info.State.Msgs, len(evs))
	}
	if rs, err := js.Stream(ctx, StreamName); err == nil {
		if ri, err := rs.Info(ctx); err == nil {
			t.Logf("stored: route stream %.0f bytes per message, delta stream %.0f (payload, subject, headers, the store's framing)",
				float64(ri.State.Bytes)/float64(ri.State.Msgs), float64(info.State.Bytes)/float64(info.State.Msgs))
		}
	}
	for _, e := range evs {
		if stored[e.seq] != 1 {
			t.Errorf("route event %d: its delta is stored %d times", e.seq, stored[e.seq])
		}
	}
	if late == 0 {
		t.Errorf("no delta was stored after a later one: the resends were not exercised out of order")
	}
	t.Logf("%d deltas stored once each, %d of them after a later one of their partition", len(stored), late)

	// The reader gives them in the route stream's order, equal to what
	// one Worker per partition makes.
	f := &deltaFollower{ctx: ctx, js: js, ds: ds, deltas: map[int]*watched{}}
	readerEqualsWorkers(t, f, evs)
	if f.stats.Ahead == 0 {
		t.Errorf("the reader kept no delta ahead")
	}

	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := storetest.Dump(t, st, "KP", "CN"); !slices.Equal(got, want) {
		t.Errorf("store with a flaky delta bus differs from the single node's (%d vs %d lines)\n%s", len(got), len(want), diff(got, want))
	}
}

// routeEv is a route event of the stream with its sequence and partition.
type routeEv struct {
	seq uint64
	p   int
	ev  bgp.Event
}

// readerEqualsWorkers reads each event's delta through f, in the route
// stream's order, and checks it equals what one partview.Worker per
// partition makes of the events.
func readerEqualsWorkers(t *testing.T, f *deltaFollower, evs []routeEv) {
	t.Helper()
	workers := map[int]*partview.Worker{}
	for _, e := range evs {
		w := workers[e.p]
		if w == nil {
			w = partview.NewWorker(view.DefaultConfig())
			workers[e.p] = w
		}
		want := w.Apply(&e.ev)
		got, err := f.delta(e.p, e.seq)
		if err != nil {
			t.Fatal(err)
		}
		if deltaKey(&got) != deltaKey(&want) {
			t.Fatalf("route event %d (partition %d): delta %+v, a Worker makes %+v", e.seq, e.p, got, want)
		}
	}
}
