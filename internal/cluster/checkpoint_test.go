package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/partview"
	"github.com/blackout-bgp/blackout/internal/view"
)

// deltaKey is a delta as text, its routes sorted (a down delta's come in
// no order).
func deltaKey(d *partview.Delta) string {
	b, err := encodeDelta(d) // sorts the routes
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s new=%v", b, d.NewPeer)
}

// TestViewCheckpointTakeover: the demo on the bus; view worker A owns
// every partition, writes a checkpoint of each every 2,000 route stream
// sequences, and is killed mid-way. The checkpoints of the partition with
// the most are then corrupted. Worker B takes every partition over: each one from its newest
// checkpoint at or before its last published delta, reading only the
// stream after it, except the one whose corrupt checkpoints are
// refused (the error names the partition, the checkpoint and the byte
// offset) and is rebuilt from the stream's start, writing them again. Every delta A and
// B make equals the delta one worker per partition makes over the whole
// stream, and a table-less reducer fed from the bus (tables from
// checkpoints plus the stream after them) makes the view's observer calls.
// Then the same reducer with no checkpoints reads more of the stream.
func TestViewCheckpointTakeover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	urls, js := demoOnBus(t, ctx)
	// The reference: one worker per partition over the whole stream.
	ref := map[uint64]string{}
	upTo := map[int][]uint64{} // each partition's route sequences
	ws := map[int]*partview.Worker{}
	eachStreamEvent(t, ctx, js, func(ev *bgp.Event, seq uint64, p int) {
		if ws[p] == nil {
			ws[p] = partview.NewWorker(view.DefaultConfig())
		}
		d := ws[p].Apply(ev)
		ref[seq] = deltaKey(&d)
		upTo[p] = append(upTo[p], seq)
	})
	const every, ttl = 2000, 2 * time.Second
	var mu sync.Mutex
	var compared, mismatches int
	var rebuilt []RebuildInfo
	start := func(name string) (kill func(), done chan error) {
		nc, wjs, err := bus.Connect(urls, name)
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithCancel(ctx)
		done = make(chan error, 1)
		go func() {
			done <- RunView(wctx, wjs, ViewConfig{Node: name, LeaseTTL: ttl, Replicas: 1, View: view.DefaultConfig(), Logger: workerLogger(t),
				CheckpointEvery: every, CheckpointKeep: 100,
				OnDelta: func(p int, seq uint64, d *partview.Delta) {
					k := deltaKey(d)
					mu.Lock()
					defer mu.Unlock()
					compared++
					if k != ref[seq] {
						if mismatches++; mismatches < 5 {
							t.Errorf("%s, partition %d, route event %d: delta %s, one worker's %s", name, p, seq, k, ref[seq])
						}
					}
				},
				OnRebuilt: func(in RebuildInfo) {
					mu.Lock()
					defer mu.Unlock()
					if name == "view-b" {
						rebuilt = append(rebuilt, in)
					}
				}})
		}()
		return func() { nc.Close(); wcancel() }, done
	}
	killA, doneA := start("view-a")
	waitFor(t, "worker a to publish 25,000 deltas", 60*time.Second, func() bool { return deltaCount(ctx, js) >= 25000 })
	killA()
	<-doneA
	atKill := deltaCount(ctx, js)

	obs, err := openCheckpoints(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The partition with the most checkpoints has them all corrupted.
	have := map[int][]uint64{}
	victim := 0
	for p := range DefaultPartitions {
		if have[p], err = listCheckpoints(ctx, obs, p, 0); err != nil {
			t.Fatal(err)
		}
		if len(have[p]) > len(have[victim]) {
			victim = p
		}
	}
	seqs := have[victim]
	if len(seqs) == 0 {
		t.Fatal("no checkpoint written")
	}
	for _, seq := range seqs {
		name := checkpointName(victim, seq)
		b, err := obs.GetBytes(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x10
		if _, err := obs.PutBytes(ctx, name, b); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("worker a killed after %d deltas; partition %d's %d checkpoints corrupted", atKill, victim, len(seqs))

	killB, doneB := start("view-b")
	defer func() { killB(); <-doneB }()
	waitFor(t, "worker b to publish the rest", 90*time.Second, func() bool { return deltaCount(ctx, js) >= 44453 })
	waitFor(t, "worker b to rebuild 16 partitions", 30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(rebuilt) == DefaultPartitions })
	mu.Lock()
	slices.SortFunc(rebuilt, func(a, b RebuildInfo) int { return a.Partition - b.Partition })
	var read, whole, fromCk int
	var longest time.Duration
	for _, in := range rebuilt {
		n := 0 // the partition's route events up to the published one
		for _, s := range upTo[in.Partition] {
			if s <= in.Published {
				n++
			}
		}
		read, whole, longest = read+in.Read, whole+n, max(longest, in.Took)
		var last uint64 // the newest checkpoint B can start from
		for _, c := range have[in.Partition] {
			if c <= in.Published {
				last = max(last, c)
			}
		}
		switch {
		case in.Partition == victim:
			if in.Checkpoint != 0 || len(in.Refused) != len(seqs) || in.Read < n {
				t.Errorf("partition %d (corrupt checkpoints): %+v; want a replay from the start (%d events) and %d refused", victim, in, n, len(seqs))
			}
			for _, err := range in.Refused {
				if want := fmt.Sprintf("view partition %d: checkpoint view.%d.", victim, victim); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "byte offset") {
					t.Errorf("refused checkpoint: %v", err)
				}
			}
			t.Logf("partition %d: refused %v", victim, in.Refused[0])
		case in.Checkpoint != last || last > 0 && in.Read >= n:
			t.Errorf("partition %d: %+v; want checkpoint %d and fewer than %d events read", in.Partition, in, last, n)
		case last > 0:
			fromCk++
		}
	}
	if fromCk < 4 || read >= whole/2 {
		t.Errorf("%d partitions taken over from a checkpoint, reading %d route messages of %d", fromCk, read, whole)
	}
	if compared < 44453 || mismatches > 0 {
		t.Errorf("%d deltas compared, %d differ", compared, mismatches)
	}
	t.Logf("worker b rebuilt 16 partitions, %d from a checkpoint, reading %d route messages (the whole partitions up to the published deltas: %d), the longest in %s; %d deltas equal one worker's",
		fromCk, read, whole, longest.Round(time.Millisecond), compared)
	mu.Unlock()

	// The reducer: tables from checkpoints plus the tail, then from the
	// stream's start.
	// B wrote the corrupt partition's checkpoints again (the same route
	// sequences: they are keyed by them).
	for _, seq := range seqs {
		b, err := obs.GetBytes(ctx, checkpointName(victim, seq))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := partview.DecodeCheckpoint(b, view.DefaultConfig(), nil); err != nil {
			t.Errorf("checkpoint %s not written again: %v", checkpointName(victim, seq), err)
		}
	}
	with := reducerEqualsView(t, ctx, js)
	if err := js.DeleteObjectStore(ctx, CheckpointBucket); err != nil {
		t.Fatal(err)
	}
	without := reducerEqualsView(t, ctx, js)
	if with.FromCheckpoint == 0 || with.Read >= without.Read || with.Replays != without.Replays {
		t.Errorf("tables rebuilt with checkpoints %+v, without %+v", with, without)
	}
	t.Logf("reducer's tables: with checkpoints %d route messages read, without %d", with.Read, without.Read)
}

// TestBigDeltaInParts: a peer of 300,000 routes goes down; its delta
// (2.2 MB in the binary form, 16 MB as JSON) goes on the bus in parts under the payload limit
// and comes back whole, in order, also when a takeover sends the parts
// again after a writer cut off part-way.
func TestBigDeltaInParts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	js, ds := deltaBus(ctx, t)
	peer := bgp.Peer{Collector: "rrc00", Addr: netip.MustParseAddr("192.0.2.1"), AS: 64500}
	w := partview.NewWorker(view.DefaultConfig())
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 300_000 {
		ev := bgp.Event{Time: t0, Kind: bgp.Announce, Peer: peer, RIB: true,
			Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + i>>16), byte(i >> 8), byte(i), 0}), 24),
			Attrs:  &bgp.Attrs{Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: []bgp.ASN{64500, bgp.ASN(65000 + i%50), bgp.ASN(100 + i%7000)}}}}}}
		w.Apply(&ev)
	}
	down := w.Apply(&bgp.Event{Time: t0, Kind: bgp.PeerState, Peer: peer, OldState: bgp.StateEstablished, NewState: bgp.StateIdle})
	if down.Kind != partview.Down || len(down.Routes) != 300_000 {
		t.Fatalf("delta %d with %d routes", down.Kind, len(down.Routes))
	}
	b, err := encodeDelta(&down)
	if err != nil {
		t.Fatal(err)
	}
	limit := int(js.Conn().MaxPayload())
	if len(b) <= limit {
		t.Fatalf("the delta is %d bytes, under the payload limit %d", len(b), limit)
	}
	subj := SubjectDelta + ".3"
	maxPart := limit - 8<<10
	small := []byte(`{"k":1,"s":[0,0],"ld":[false,false]}`)
	// Route event 7: a small delta; 8: the big one, whose writer is cut
	// off part-way (after 5 parts, or all but the last if it has fewer),
	// sent again in whole by the next (outside the duplicate window: the
	// stream holds those parts twice); 9: small.
	if _, err := publishDelta(ctx, js, subj, 7, small, maxPart); err != nil {
		t.Fatal(err)
	}
	n := (len(b) + maxPart - 1) / maxPart
	cut := min(5, n-1)
	for i := range cut {
		msg := partMsg(subj, 8, b, i, n)
		if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID("other-"+fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	m, err := ds.GetLastMsgForSubject(ctx, subj)
	if err != nil {
		t.Fatal(err)
	}
	if i, k, ok := parsePart(m.Header.Get(HeaderPart)); !ok || i != cut-1 || k != n {
		t.Fatalf("last part %q", m.Header.Get(HeaderPart))
	}
	if _, err := publishDelta(ctx, js, subj, 8, b, maxPart); err != nil {
		t.Fatal(err)
	}
	if _, err := publishDelta(ctx, js, subj, 9, small, maxPart); err != nil {
		t.Fatal(err)
	}
	f := &deltaFollower{ctx: ctx, js: js, ds: ds, deltas: map[int]*watched{}}
	for _, seq := range []uint64{7, 8, 9} {
		d, err := f.delta(3, seq)
		if err != nil {
			t.Fatal(err)
		}
		if seq == 8 {
			if got := deltaKey(&d); got != deltaKey(&down) {
				t.Fatalf("the big delta came back different: %d routes", len(d.Routes))
			}
			continue
		}
		if d.Kind != partview.Same {
			t.Fatalf("route event %d: delta %+v", seq, d)
		}
	}
	t.Logf("a down delta of 300,000 routes: %d bytes in %d parts of at most %d (payload limit %d)", len(b), n, maxPart, limit)
}

// TestDeltasOutOfOrder: a delta whose asynchronous publish failed is
// sent again after later ones were stored; the reader gives the deltas
// in the route stream's order all the same, and skips a repeat.
func TestDeltasOutOfOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js, ds := deltaBus(ctx, t)
	subj := SubjectDelta + ".2"
	delta := func(n int) []byte {
		return fmt.Appendf(nil, `{"k":2,"new":{"a":[%d],"o":%d},"s":[%d,0],"ld":[false,false]}`, n, n, n)
	}
	for _, seq := range []uint64{7, 9, 10, 8, 9, 11} { // 8 sent again after 9 and 10; 9 twice
		if _, err := publishDelta(ctx, js, subj, seq, delta(int(seq)), 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	f := &deltaFollower{ctx: ctx, js: js, ds: ds, deltas: map[int]*watched{}}
	for _, seq := range []uint64{7, 8, 9, 10, 11} {
		d, err := f.delta(2, seq)
		if err != nil {
			t.Fatal(err)
		}
		if d.Kind != partview.Route || d.New == nil || d.New.Origin != bgp.ASN(seq) || d.Size[0] != int(seq) {
			t.Fatalf("route event %d: delta %+v", seq, d)
		}
	}
	if f.stats.Ahead != 2 {
		t.Errorf("%d deltas kept ahead, want 2 (9 and 10)", f.stats.Ahead)
	}
}

// deltaBus starts a one-node bus with a delta stream of one partition.
func deltaBus(ctx context.Context, t *testing.T) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	js := jsOf(t, startBus(t, 1))
	ds, err := bus.EnsureStream(ctx, js, deltaStreamConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	return js, ds
}
