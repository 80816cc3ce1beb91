package cluster

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/nats-io/nats.go/jetstream"
)

// failingSource ends with a hard error after n events (an ingest that dies).
type failingSource struct {
	sliceSource
	n int
}

func (s *failingSource) Next() (*bgp.Event, error) {
	if s.i >= s.n {
		return nil, errors.New("the source broke")
	}
	return s.sliceSource.Next()
}

// readAll reads the route stream from the start to its end mark.
func readAll(t *testing.T, ctx context.Context, urls []string) []bgp.Event {
	t.Helper()
	_, js, err := bus.Connect(urls, "reader")
	if err != nil {
		t.Fatal(err)
	}
	var out []bgp.Event
	eachStreamEvent(t, ctx, js, func(ev *bgp.Event, _ uint64, _ int) { out = append(out, ev.Clone()) })
	return out
}

// eachStreamEvent calls fn with each event of the route stream, from the
// start to its end mark, with its stream sequence and partition (ev is
// valid until fn returns).
func eachStreamEvent(t *testing.T, ctx context.Context, js jetstream.JetStream, fn func(ev *bgp.Event, seq uint64, p int)) {
	t.Helper()
	src, err := openStream(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	eachEvent(t, src, fn)
}

// eachEvent is eachStreamEvent over src.
func eachEvent(t *testing.T, src *streamSource, fn func(ev *bgp.Event, seq uint64, p int)) {
	t.Helper()
	for {
		ev, err := src.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p, _ := partitionOf(src.subject)
		fn(ev, src.lastSeq, p)
	}
}

// TestIngestResume: an ingest that dies mid-way and is started again over
// the same replay publishes every event once, in the source's order; a
// third run finds the stream complete; another source is refused.
func TestIngestResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes, err := bus.StartLocal(t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer nodes[0].Shutdown()
	_, js, err := bus.Connect(bus.URLs(nodes), "ingest")
	if err != nil {
		t.Fatal(err)
	}
	evs := demoEvents(t)[:3000]
	cfg := IngestConfig{Describe: "demo", Replay: true, Window: 64}
	cfg.Source = &failingSource{sliceSource{evs: evs}, 1234}
	if _, err := Ingest(ctx, js, cfg); err == nil {
		t.Fatal("no error from a broken source")
	}
	cfg.Source = &sliceSource{evs: evs}
	start := time.Now()
	res, err := Ingest(ctx, js, cfg)
	t.Logf("resumed run: %+v in %s", res, time.Since(start).Round(time.Millisecond))
	if err != nil || res.Skipped != 1234 || res.Published != int64(len(evs)-1234) {
		t.Fatalf("resumed run: %+v (%v)", res, err)
	}
	got := readAll(t, ctx, bus.URLs(nodes))
	if len(got) != len(evs) {
		t.Fatalf("%d events in the stream, want %d", len(got), len(evs))
	}
	for i := range got {
		a, b := got[i], evs[i]
		ja, _ := Encode(&a)
		jb, _ := Encode(&b)
		if string(ja) != string(jb) || !a.Time.Equal(b.Time) {
			t.Fatalf("event %d differs:\n got %s\nwant %s", i, ja, jb)
		}
	}
	cfg.Source = &sliceSource{evs: evs}
	if res, err := Ingest(ctx, js, cfg); err != nil || res.Published != 0 {
		t.Errorf("third run: %+v (%v)", res, err)
	}
	cfg.Describe = "other"
	if _, err := Ingest(ctx, js, cfg); err == nil {
		t.Error("another source's ingest accepted on the same stream")
	}
}

// TestIngestPartitioning: the route stream records how its events are
// partitioned; an ingest with another --partitions, or over a stream made
// before the record (the FNV-1a partitioning alone), is refused, naming
// both, before it changes the stream; so is a view worker or a detector
// reading the stream with another --partitions.
func TestIngestPartitioning(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js := jsOf(t, startBus(t, 1))
	evs := demoEvents(t)[:500]
	cfg := IngestConfig{Describe: "demo", Replay: true, Source: &sliceSource{evs: evs}}
	if _, err := Ingest(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().Config.Metadata[MetaPartitioning]; got != Partitioning(DefaultPartitions) {
		t.Errorf("the stream's partitioning is %q, want %q", got, Partitioning(DefaultPartitions))
	}
	cfg.Partitions, cfg.Source = 8, &sliceSource{evs: evs}
	_, err = Ingest(ctx, js, cfg)
	if err == nil || !strings.Contains(err.Error(), Partitioning(16)) || !strings.Contains(err.Error(), Partitioning(8)) {
		t.Errorf("an ingest with --partitions 8 over a stream of 16: %v", err)
	}
	if err := checkPartitioning(st, 8, "detect"); err == nil {
		t.Error("a reader with --partitions 8 over a stream of 16 accepted")
	}
	if err := checkPartitioning(st, 16, "detect"); err != nil {
		t.Errorf("a reader with the stream's --partitions refused: %v", err)
	}
	// A stream made before the metadata.
	scfg := st.CachedInfo().Config
	delete(scfg.Metadata, MetaPartitioning)
	if _, err := js.UpdateStream(ctx, scfg); err != nil {
		t.Fatal(err)
	}
	cfg.Partitions, cfg.Source = 16, &sliceSource{evs: evs}
	if _, err := Ingest(ctx, js, cfg); err == nil || !strings.Contains(err.Error(), "before") {
		t.Errorf("an ingest over a stream without the partitioning record: %v", err)
	}
}

// TestPartitionSpread: peers whose addresses differ only in the high bits
// of their bytes (FNV-1a alone puts them all in one partition) spread
// over the partitions: 4,096 peers in 16, none with more than 1.25 times
// its share (4 standard deviations of a uniform draw).
func TestPartitionSpread(t *testing.T) {
	const n = 16
	counts := make([]int, n)
	peers := 0
	for a := range 16 {
		for b := range 16 {
			for c := range 16 {
				addr := netip.AddrFrom4([4]byte{byte(a << 4), byte(b << 4), byte(c << 4), 1})
				counts[Partition(bgp.Peer{Collector: "rrc00", Addr: addr, AS: 64512}, n)]++
				peers++
			}
		}
	}
	share := float64(peers) / n
	for p, c := range counts {
		if float64(c) > 1.25*share {
			t.Errorf("partition %d holds %d of %d peers (share %.0f): %v", p, c, peers, share, counts)
			break
		}
	}
}
