package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/partview"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/view"
)

// demoEvents returns the demo's route events (cloned).
func demoEvents(b testing.TB) []bgp.Event {
	b.Helper()
	src := source.Merge(demo.Sources())
	var out []bgp.Event
	for {
		ev, err := src.Next()
		if err != nil {
			break
		}
		out = append(out, ev.Clone())
	}
	return out
}

// sliceSource replays events.
type sliceSource struct {
	evs []bgp.Event
	i   int
}

func (s *sliceSource) Next() (*bgp.Event, error) {
	if s.i >= len(s.evs) {
		return nil, io.EOF
	}
	s.i++
	return &s.evs[s.i-1], nil
}

func BenchmarkCodec(b *testing.B) {
	evs := demoEvents(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := &evs[i%len(evs)]
		data, err := Encode(ev)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIngest publishes the demo's route events to an R3 stream on a
// 3-node bus in this process (per op: one route event).
func BenchmarkIngest(b *testing.B) {
	evs := demoEvents(b)
	for _, window := range []int{256, 2048} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			nodes, err := bus.StartLocal(b.TempDir(), 3)
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				for _, n := range nodes {
					n.Shutdown()
				}
			}()
			nc, js, err := bus.Connect(bus.URLs(nodes), "bench")
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if _, err := bus.EnsureStream(ctx, js, StreamConfig(3, 0, 0)); err != nil {
				b.Fatal(err)
			}
			all := make([]bgp.Event, 0, b.N)
			for len(all) < b.N {
				all = append(all, evs[:min(len(evs), b.N-len(all))]...)
			}
			b.ReportAllocs()
			b.ResetTimer()
			if _, err := Ingest(ctx, js, IngestConfig{Source: &sliceSource{evs: all}, Describe: fmt.Sprint("bench", b.N, window), Replicas: 3, Window: window}); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkEventCodec encodes and decodes the demo's route events in the
// JSON form written before and in the binary form (per op: one event).
//
//	go test -run X -bench 'EventCodec|DeltaCodec' -benchmem ./internal/cluster
func BenchmarkEventCodec(b *testing.B) {
	evs := demoEvents(b)
	forms := []struct {
		name string
		enc  func(*bgp.Event) ([]byte, error)
	}{{"json", encodeJSON}, {"binary", Encode}}
	for _, f := range forms {
		msgs := make([][]byte, len(evs))
		size := 0
		for i := range evs {
			msgs[i], _ = f.enc(&evs[i])
			size += len(msgs[i])
		}
		b.Run(f.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size / len(evs)))
			for i := 0; i < b.N; i++ {
				if _, err := f.enc(&evs[i%len(evs)]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(f.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size / len(evs)))
			var dec eventDecoder // as the stream's reader decodes them
			for i := 0; i < b.N; i++ {
				if _, err := decodeEvent(msgs[i%len(msgs)], &dec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDeltaCodec encodes and decodes the deltas one view worker
// makes of the demo (and a session down of each peer at its end) in both
// forms (per op: one delta).
func BenchmarkDeltaCodec(b *testing.B) {
	ds := demoDeltas(b)
	forms := []struct {
		name string
		enc  func(*partview.Delta) ([]byte, error)
	}{{"json", encodeDeltaJSON}, {"binary", encodeDelta}}
	for _, f := range forms {
		msgs := make([][]byte, len(ds))
		size := 0
		for i := range ds {
			msgs[i], _ = f.enc(&ds[i])
			size += len(msgs[i])
		}
		b.Run(f.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size / len(ds)))
			for i := 0; i < b.N; i++ {
				if _, err := f.enc(&ds[i%len(ds)]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(f.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size / len(ds)))
			for i := 0; i < b.N; i++ {
				if _, err := decodeDelta(msgs[i%len(msgs)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkViewWorker runs a view worker over the demo's route stream on
// a one-node bus in this process, from the stream's start until every
// delta is stored (per op: the whole demo, 44,453 route events; the
// bus's own CPU is in the profile too).
//
//	go test -run X -bench ViewWorker -benchtime 3x -cpuprofile cpu.prof ./internal/cluster
func BenchmarkViewWorker(b *testing.B) {
	evs := demoEvents(b)
	nodes, err := bus.StartLocal(b.TempDir(), 1)
	if err != nil {
		b.Fatal(err)
	}
	defer nodes[0].Shutdown()
	nc, js, err := bus.Connect(bus.URLs(nodes), "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := bus.EnsureStream(ctx, js, StreamConfig(1, 0, 0)); err != nil {
		b.Fatal(err)
	}
	if _, err := Ingest(ctx, js, IngestConfig{Source: &sliceSource{evs: evs}, Describe: "bench", Replicas: 1, Replay: true}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := js.DeleteStream(ctx, DeltaStream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			b.Fatal(err)
		}
		if err := js.DeleteKeyValue(ctx, LeaseBucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			b.Fatal(err)
		}
		b.StartTimer()
		vctx, vcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- RunView(vctx, js, ViewConfig{Node: "bench", LeaseTTL: 10 * time.Second, Replicas: 1, View: view.DefaultConfig(),
				CheckpointEvery: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		}()
		for {
			st, err := js.Stream(ctx, DeltaStream)
			if err == nil {
				if info, err := st.Info(ctx); err == nil && info.State.Msgs >= uint64(len(evs)) {
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		vcancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDetectDemo runs the demo's route events through the one
// pipeline of a single node (view, tracker, detector; no store), as the
// detect role runs it over the stream (per op: the whole demo). Its CPU
// profile says what a detector shard by entity could split: the
// detector's decisions (internal/detect) and not the tracker
// (internal/signal), which every shard would run whole.
//
//	go test -run X -bench DetectDemo -benchtime 5x -cpuprofile cpu.prof ./internal/cluster
func BenchmarkDetectDemo(b *testing.B) {
	evs := demoEvents(b)
	db, err := geo.Default()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pipeline.New(pipeline.DefaultConfig(db))
		res, err := p.Run(context.Background(), &sliceSource{evs: evs}, pipeline.Options{Config: pipeline.DefaultConfig(db)})
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			states := 0
			p.Tracker().Each(func(signal.Entity, bgp.Family, *signal.State) { states++ })
			b.Logf("%d route events, %d tracked (entity, family) states, %.0f bins of 5 min, %d events",
				res.RouteEvents, states, res.Last.Sub(res.First).Minutes()/5, len(res.Events))
		}
	}
}
