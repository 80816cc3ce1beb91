package signal_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt/mrtgen"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/view"
)

// BenchmarkRIBEnd times the end of a RIB dump of 20,000 prefixes x 40
// peers (mrtgen's AS graph): every peer joins the full-feed set and the
// tracker counts each route's upstreams. "together" is the tracker as it
// runs before the detector judges (the joins prefix by prefix), "peer by
// peer" the Membership calls of a sink that does not say it is quiet.
//
//	go test ./internal/signal -run '^$' -bench RIBEnd -benchmem
func BenchmarkRIBEnd(b *testing.B) {
	db, err := geo.Default()
	if err != nil {
		b.Fatal(err)
	}
	const nPeers = 40
	w := mrtgen.NewWorld(1, nPeers)
	pfxs, err := mrtgen.Prefixes(1, 20_000)
	if err != nil {
		b.Fatal(err)
	}
	peers := w.Peers()
	for _, mode := range []string{"together", "peer by peer"} {
		b.Run(mode, func(b *testing.B) {
			routes := 0
			for b.Loop() {
				b.StopTimer()
				var s signal.Sink = &sink{}
				if mode == "together" {
					s = &quietSink{}
				}
				cfg := view.DefaultConfig()
				cfg.Paths = view.NewPaths()
				tr := signal.New(db, 5*time.Minute, cfg.Paths, s)
				v := view.New(cfg, tr)
				rng := rand.New(rand.NewPCG(7, 7))
				attrs := &bgp.Attrs{Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence}}}}
				ev := bgp.Event{Kind: bgp.Announce, RIB: true, Attrs: attrs, Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
				routes = 0
				for _, p := range pfxs {
					si := int(float64(w.Stubs()) * rng.Float64() * rng.Float64())
					ev.Prefix = p
					for pi := range peers {
						seg := &attrs.Path.Segments[0]
						seg.ASNs = w.AppendPath(seg.ASNs[:0], pi, si, rng.IntN(2), 0)
						ev.Peer = peers[pi]
						tr.Advance(ev.Time)
						v.Apply(&ev)
						routes++
					}
				}
				v.Sync()
				b.StartTimer()
				v.Refresh()
				if n, _ := v.FullFeed(); n != nPeers {
					b.Fatalf("%d full-feed peers", n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(routes)/float64(b.N), "ns/route")
		})
	}
}
