package view_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/mrt/mrtgen"
	"github.com/blackout-bgp/blackout/internal/view"
)

// BenchmarkRIBLoad loads a RIB dump into a view (BLACKOUT_VIEW_PREFIXES,
// default 50,000, x BLACKOUT_VIEW_PEERS, default 40, mrtgen's AS graph)
// and ends it (Refresh: every peer joins the full-feed set), reporting
// routes per second: "batched" is the view as it runs (RIB announcements
// queued, interned in lock step on a second goroutine), "one-by-one" the
// same view with the queue off (a MaxPrefixes no table reaches), for the
// comparison.
//
//	go test ./internal/view -run '^$' -bench RIBLoad -benchmem
func BenchmarkRIBLoad(b *testing.B) {
	nPfx := envInt("BLACKOUT_VIEW_PREFIXES", 50_000)
	nPeers := envInt("BLACKOUT_VIEW_PEERS", 40)
	w := mrtgen.NewWorld(1, nPeers)
	pfxs, err := mrtgen.Prefixes(1, nPfx)
	if err != nil {
		b.Fatal(err)
	}
	type route struct {
		pfx                   int32
		peer, si, prov, prepd int32
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var routes []route
	for i := range pfxs {
		si := int32(float64(w.Stubs()) * rng.Float64() * rng.Float64())
		for pi := range nPeers {
			if rng.Float64() < 0.97 {
				routes = append(routes, route{int32(i), int32(pi), si, int32(rng.IntN(2)), int32(rng.IntN(10) / 9)})
			}
		}
	}
	peers := w.Peers()
	for _, mode := range []string{"batched", "one-by-one"} {
		b.Run(mode, func(b *testing.B) {
			cfg := view.DefaultConfig()
			if mode == "one-by-one" {
				cfg.MaxPrefixes = [2]int{1 << 30, 1 << 30}
			}
			attrs := &bgp.Attrs{Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: make([]bgp.ASN, 0, 16)}}}}
			ev := bgp.Event{Kind: bgp.Announce, RIB: true, Attrs: attrs, Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
			b.ResetTimer()
			for b.Loop() {
				v := view.New(cfg, nil)
				for _, r := range routes {
					seg := &attrs.Path.Segments[0]
					seg.ASNs = w.AppendPath(seg.ASNs[:0], int(r.peer), int(r.si), int(r.prov), int(r.prepd))
					ev.Prefix, ev.Peer = pfxs[r.pfx], peers[r.peer]
					v.Apply(&ev)
				}
				v.Refresh()
				if v4, _ := v.FullFeed(); v4 != nPeers {
					b.Fatalf("%d full-feed peers, want %d", v4, nPeers)
				}
			}
			b.ReportMetric(float64(len(routes))*float64(b.N)/b.Elapsed().Seconds(), "routes/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(len(routes))/float64(b.N), "ns/route")
		})
	}
}
