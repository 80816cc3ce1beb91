package cluster

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/source"
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
			if _, err := bus.EnsureStream(ctx, js, StreamConfig(3, 0)); err != nil {
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
