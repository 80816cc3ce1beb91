package cluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
	"github.com/blackout-bgp/blackout/internal/store/pgstore/pgtest"
	"github.com/blackout-bgp/blackout/internal/store/storetest"
)

// TestPausedHolderFenced: a detector that took the lease, fenced the
// store with its token and wrote, then paused (it renews nothing: a
// stopped process, a long GC pause, a partition) loses the lease to a
// worker that runs the demo through; when the paused holder wakes, its
// late writes (a data time in 2030, a bin of its own) are refused with
// store.ErrFenced, its lease cannot be renewed, and the store equals a
// single node's.
func TestPausedHolderFenced(t *testing.T) {
	dsn := pgtest.DB(t)
	want := single(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	urls := startBus(t, 3)
	js := jsOf(t, urls)
	const ttl = 2 * time.Second
	kv, err := OpenLeases(ctx, js, ttl, 3)
	if err != nil {
		t.Fatal(err)
	}
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// The holder that will pause: lease, fence, one write.
	leaseA, _, err := Acquire(ctx, kv, LeaseDetect, "paused", ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	fa, err := st.Fenced(ctx, LeaseDetect, int64(leaseA.Token()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fa.Write(ctx, &store.Batch{Meta: map[string]string{"fence_test": "before the pause"}}); err != nil {
		t.Fatalf("the holder's write before its pause: %v", err)
	}
	pausedAt := time.Now()

	// A worker takes over when the paused holder's lease expires, and
	// runs the demo.
	b := startWorker(t, "worker-b", urls, dsn, ttl)
	select {
	case <-b.tenure:
	case <-time.After(30 * time.Second):
		t.Fatal("worker b never took the lease")
	}
	t.Logf("worker b took the lease %s after the holder paused", time.Since(pausedAt).Round(time.Millisecond))
	if err := RunNode(ctx, NodeConfig{Name: "ingest", Roles: map[string]bool{RoleIngest: true}, Bus: urls, Logger: testLogger(t),
		Ingest: IngestConfig{Source: source.Merge(demo.Sources()), Describe: "demo", Replay: true}}); err != nil {
		t.Fatal(err)
	}
	engB := <-b.eng // the engine comes after the fence
	tokB, err := st.FenceToken(ctx, LeaseDetect)
	if err != nil || tokB <= int64(leaseA.Token()) {
		t.Fatalf("fence token after the takeover %d (%v): want above the paused holder's %d", tokB, err, leaseA.Token())
	}
	waitFor(t, "worker b to finish the stream", 60*time.Second, func() bool {
		return !engB.Running() && engB.DataTime().After(time.Date(2014, 12, 23, 23, 0, 0, 0, time.UTC))
	})
	if err := engB.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// The paused holder wakes and writes what it had buffered.
	late := &store.Batch{
		Meta: map[string]string{"fence_test": "after the pause", store.MetaDataTime: "2030-01-01T00:00:00Z"},
		Bins: []store.Bin{{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: time.Date(2014, 12, 22, 17, 0, 0, 0, time.UTC), Space: 12345}},
	}
	_, err = fa.Write(ctx, late)
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("the paused holder's late write: %v, want store.ErrFenced", err)
	}
	t.Logf("late write refused: %v", err)
	if _, err := fa.PruneBins(ctx, time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, store.ErrFenced) {
		t.Errorf("the paused holder's late prune: %v, want store.ErrFenced", err)
	}
	kctx, kcancel := context.WithTimeout(ctx, 5*time.Second)
	err = leaseA.Keep(kctx)
	kcancel()
	if err == nil || !strings.Contains(err.Error(), "taken by another worker") {
		t.Errorf("the paused holder renewing its lease: %v, want it taken by another worker", err)
	}
	if v, _, _ := st.Meta(ctx, "fence_test"); v != "before the pause" {
		t.Errorf("the store holds fence_test=%q, want the write from before the pause only", v)
	}
	if got := storetest.Dump(t, st, "KP", "CN"); !slices.Equal(got, want) {
		t.Errorf("store differs from the single node's (%d vs %d lines)\n%s", len(got), len(want), diff(got, want))
	}
}
