package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/partview"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
	"github.com/blackout-bgp/blackout/internal/store/pgstore/pgtest"
	"github.com/blackout-bgp/blackout/internal/store/storetest"
	"github.com/blackout-bgp/blackout/internal/view"
)

// callLog writes down a view observer's calls, paths as their ASes.
type callLog struct {
	calls []string
	path  func(view.PathID) string
}

func (r *callLog) Visibility(t time.Time, id view.PrefixID, p netip.Prefix, origin bgp.ASN, visible bool) {
	r.calls = append(r.calls, fmt.Sprintf("V %s %d %s %d %v", t.Format(time.RFC3339Nano), id, p, origin, visible))
}
func (r *callLog) Route(t time.Time, id view.PrefixID, p netip.Prefix, peer int, old, new view.PathID) {
	r.calls = append(r.calls, fmt.Sprintf("R %s %d %s %d [%s] [%s]", t.Format(time.RFC3339Nano), id, p, peer, r.path(old), r.path(new)))
}
func (r *callLog) Membership(t time.Time, id view.PrefixID, p netip.Prefix, peer int, path view.PathID, joined bool) {
	r.calls = append(r.calls, fmt.Sprintf("M %s %d %s %d [%s] %v", t.Format(time.RFC3339Nano), id, p, peer, r.path(path), joined))
}
func (r *callLog) Peer(ev view.PeerEvent) { r.calls = append(r.calls, fmt.Sprintf("P %+v", ev)) }

// TestViewWorkersEqualView: the demo on the bus; view worker A owns every
// partition and publishes table deltas, and is killed (connection cut, no
// goodbye) mid-way; worker B takes its partitions when their leases
// expire, rebuilds those peers' tables from the stream and publishes the
// rest. A reducer without tables, fed from the bus (the route stream's
// order, each partition's deltas, peers' tables rebuilt by replay when
// their membership changes), makes exactly the calls the single view
// makes over the same stream, and gives the same answers.
func TestViewWorkersEqualView(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	urls, js := demoOnBus(t, ctx)
	const ttl = 2 * time.Second
	start := func(name string) (kill func(), done chan error) {
		nc, wjs, err := bus.Connect(urls, name)
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithCancel(ctx)
		done = make(chan error, 1)
		go func() {
			done <- RunView(wctx, wjs, ViewConfig{Node: name, LeaseTTL: ttl, Replicas: 1, View: view.DefaultConfig(), Logger: workerLogger(t)})
		}()
		return func() { nc.Close(); wcancel() }, done
	}
	killA, doneA := start("view-a")
	waitFor(t, "worker a to publish 10,000 deltas", 60*time.Second, func() bool { return deltaCount(ctx, js) >= 10000 })
	killA()
	<-doneA
	atKill := deltaCount(ctx, js)
	killB, doneB := start("view-b")
	defer func() { killB(); <-doneB }()
	waitFor(t, "worker b to publish the rest", 90*time.Second, func() bool { return deltaCount(ctx, js) >= 44453 })
	t.Logf("worker a killed after %d deltas; worker b published the rest: %d in the stream", atKill, deltaCount(ctx, js))

	stats := reducerEqualsView(t, ctx, js)
	t.Logf("%d tables rebuilt by replay", stats.Replays)
}

// reducerEqualsView checks that a reducer fed from the bus's deltas makes
// the same observer calls as one view over the route stream, and gives the
// same answers.
func reducerEqualsView(t *testing.T, ctx context.Context, js jetstream.JetStream) FollowStats {
	t.Helper()
	// The single view over the same stream.
	var v *view.View
	want := &callLog{path: func(id view.PathID) string { return fmt.Sprintf("%v o%d", v.Path(id), v.PathOrigin(id)) }}
	v = view.New(view.DefaultConfig(), want)
	eachStreamEvent(t, ctx, js, func(ev *bgp.Event, _ uint64, _ int) { v.Apply(ev) })

	// The reducer from the bus.
	var red *partview.Reducer
	got := &callLog{}
	got.path = func(id view.PathID) string {
		if id == 0 {
			return "[] o0"
		}
		return fmt.Sprintf("%v o%d", red.Path(id), red.PathOrigin(id))
	}
	t0 := time.Now()
	red, stats, err := FollowDeltas(ctx, js, DefaultPartitions, view.DefaultConfig(), got, func(r *partview.Reducer) { red = r })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reducer followed the stream in %s, %+v", time.Since(t0).Round(time.Millisecond), stats)
	for i := range min(len(want.calls), len(got.calls)) {
		if want.calls[i] != got.calls[i] {
			t.Fatalf("call %d differs:\n view    %s\n reducer %s", i, want.calls[i], got.calls[i])
		}
	}
	if len(want.calls) != len(got.calls) || len(want.calls) < 40000 {
		t.Fatalf("the view made %d calls, the reducer %d", len(want.calls), len(got.calls))
	}
	w4, w6 := v.FullFeed()
	g4, g6 := red.FullFeed()
	if w4 != g4 || w6 != g6 || v.Prefixes() != red.Prefixes() || v.Peers() != red.Peers() {
		t.Fatalf("answers: view full %d/%d prefixes %d peers %d, reducer %d/%d %d %d", w4, w6, v.Prefixes(), v.Peers(), g4, g6, red.Prefixes(), red.Peers())
	}
	for i := range v.Prefixes() {
		id := view.PrefixID(i)
		if v.Visible(id) != red.Visible(id) || v.Origin(id) != red.Origin(id) {
			t.Fatalf("prefix %s: view visible %v origin %d, reducer %v %d", v.Prefix(id), v.Visible(id), v.Origin(id), red.Visible(id), red.Origin(id))
		}
	}
	t.Logf("%d observer calls equal", len(want.calls))
	return stats
}

// TestClusterViewWorkers: the demo through the cluster (a one-node bus) with the tables in
// view workers: worker A owns 8 of the 16 partitions, worker B the other
// 8 (and may take more); the detector keeps no table (FromView: it reads
// the route stream's order and the workers' deltas). A is killed (no
// goodbye) when the detector is mid-way; B takes A's partitions over when
// their leases expire and rebuilds those peers from the stream. The
// store equals a single node's: events, bins, entities and progress.
func TestClusterViewWorkers(t *testing.T) {
	dsn := pgtest.DB(t)
	want := single(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	urls := startBus(t, 1)
	const ttl = 5 * time.Second
	startView := func(name string, maxOwned int) (kill func(), done chan error) {
		nc, wjs, err := bus.Connect(urls, name)
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithCancel(ctx)
		done = make(chan error, 1)
		go func() {
			done <- RunView(wctx, wjs, ViewConfig{Node: name, MaxOwned: maxOwned, LeaseTTL: ttl, Replicas: 1, View: view.DefaultConfig(), Logger: workerLogger(t)})
		}()
		return func() { nc.Close(); wcancel() }, done
	}
	killA, doneA := startView("view-a", 8)
	js := jsOf(t, urls)
	kv, err := OpenLeases(ctx, js, ttl, 1)
	if err != nil {
		t.Fatal(err)
	}
	owned := func(node string) int {
		n := 0
		for p := range DefaultPartitions {
			if e, err := kv.Get(ctx, leaseView+fmt.Sprint(p)); err == nil && string(e.Value()) == node {
				n++
			}
		}
		return n
	}
	waitFor(t, "view worker a to own 8 partitions", 30*time.Second, func() bool { return owned("view-a") == 8 })
	killB, doneB := startView("view-b", 0)
	defer func() { killB(); <-doneB }()
	waitFor(t, "view worker b to own the other 8", 30*time.Second, func() bool { return owned("view-b") == 8 })

	d := startWorker(t, "detect", urls, dsn, ttl, func(c *DetectConfig) { c.FromView, c.Partitions, c.Replicas = true, DefaultPartitions, 1 })
	select {
	case <-d.tenure:
	case <-time.After(30 * time.Second):
		t.Fatal("the detector never took the lease")
	}
	ingestDone := make(chan error, 1)
	go func() {
		ingestDone <- RunNode(ctx, NodeConfig{Name: "ingest", Roles: map[string]bool{RoleIngest: true}, Bus: urls, Logger: quiet(),
			Ingest: IngestConfig{Source: source.Merge(demo.Sources()), Describe: "demo", Replay: true, Speed: 20000}})
	}()
	eng := <-d.eng
	waitFor(t, "the detector to reach 2014-12-21", 60*time.Second, func() bool {
		return eng.DataTime().After(time.Date(2014, 12, 21, 0, 0, 0, 0, time.UTC))
	})
	killA()
	<-doneA
	killed := time.Now()
	t.Logf("view worker a killed at data time %s", eng.DataTime().Format(time.RFC3339))
	waitFor(t, "view worker b to own every partition", 30*time.Second, func() bool { return owned("view-b") == DefaultPartitions })
	t.Logf("view worker b owns every partition %s after the kill", time.Since(killed).Round(time.Millisecond))
	if err := <-ingestDone; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the detector to finish the stream", 90*time.Second, func() bool {
		return !eng.Running() && eng.DataTime().After(time.Date(2014, 12, 23, 23, 0, 0, 0, time.UTC))
	})
	if err := eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := storetest.Dump(t, st, "KP", "CN"); !slices.Equal(got, want) {
		t.Errorf("store with view workers differs from the single node's (%d vs %d lines)\n%s", len(got), len(want), diff(got, want))
	}
}

// lookupFailJS is a real JetStream connection whose delta stream answers
// the first fails lookups of each partition's last delta with a timeout,
// as a bus does while it elects a new leader for the stream.
type lookupFailJS struct {
	jetstream.JetStream
	fails    int
	mu       sync.Mutex
	seen     map[string]int
	injected int
}

// CreateOrUpdateStream implements jetstream.JetStream.
func (j *lookupFailJS) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := j.JetStream.CreateOrUpdateStream(ctx, cfg)
	if err != nil || cfg.Name != DeltaStream {
		return st, err
	}
	return &lookupFailStream{Stream: st, js: j}, nil
}

type lookupFailStream struct {
	jetstream.Stream
	js *lookupFailJS
}

// GetLastMsgForSubject implements jetstream.Stream.
func (s *lookupFailStream) GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	s.js.mu.Lock()
	s.js.seen[subject]++
	fail := s.js.seen[subject] <= s.js.fails
	if fail {
		s.js.injected++
	}
	s.js.mu.Unlock()
	if fail {
		return nil, fmt.Errorf("injected: %w", context.DeadlineExceeded)
	}
	return s.Stream.GetLastMsgForSubject(ctx, subject)
}

// TestViewPartitionFailure: a view worker whose first two lookups of
// each partition's last delta time out (a bus electing a stream leader)
// gives those partitions up and takes them again (1 s, then 2 s later),
// instead of ending: it is still running, every partition is rebuilt,
// every route event's delta is published, and a reducer fed from them
// equals the single view.
func TestViewPartitionFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	urls, js := demoOnBus(t, ctx)
	nc, wjs, err := bus.Connect(urls, "view-f")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fj := &lookupFailJS{JetStream: wjs, fails: 2, seen: map[string]int{}}
	var mu sync.Mutex
	rebuilt := map[int]bool{}
	wctx, wcancel := context.WithCancel(ctx)
	ended := make(chan struct{})
	var runErr error
	go func() {
		defer close(ended)
		runErr = RunView(wctx, fj, ViewConfig{Node: "view-f", LeaseTTL: 2 * time.Second, Replicas: 1, View: view.DefaultConfig(), Logger: workerLogger(t),
			OnRebuilt: func(ri RebuildInfo) { mu.Lock(); rebuilt[ri.Partition] = true; mu.Unlock() }})
	}()
	defer func() { wcancel(); <-ended }()
	waitFor(t, "every route event's delta", 90*time.Second, func() bool {
		select {
		case <-ended:
			t.Fatalf("the view worker ended: %v", runErr)
		default:
		}
		return deltaCount(ctx, js) >= 44453
	})
	fj.mu.Lock()
	injected := fj.injected
	fj.mu.Unlock()
	mu.Lock()
	n := len(rebuilt)
	mu.Unlock()
	if want := 2 * DefaultPartitions; injected != want || n != DefaultPartitions {
		t.Errorf("%d lookups failed (want %d), %d partitions rebuilt (want %d)", injected, want, n, DefaultPartitions)
	}
	if got := deltaCount(ctx, js); got != 44453 {
		t.Errorf("%d deltas in the stream, want one per route event (44,453)", got)
	}
	reducerEqualsView(t, ctx, js)
}
