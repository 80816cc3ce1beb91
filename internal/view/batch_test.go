package view_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/view"
)

// batchEvents is a RIB dump of several peers (each seeing a random part of
// the prefixes, some twice, some with a path over the length limit, some
// with ADD-PATH ids) and then updates: what the view queues and applies in
// batches, and what it must apply at once.
func batchEvents(seed uint64) []bgp.Event {
	rng := rand.New(rand.NewPCG(seed, 2))
	var peers []bgp.Peer
	for i := range 9 {
		peers = append(peers, bgp.Peer{Collector: "rrc00", Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)}), AS: bgp.ASN(64500 + i)})
	}
	path := func(pi int) *bgp.Attrs {
		n := 2 + rng.IntN(4)
		if rng.IntN(300) == 0 {
			n = 80 // over the default MaxPathLen
		}
		asns := []bgp.ASN{peers[pi].AS}
		for range n {
			asns = append(asns, bgp.ASN(100+rng.IntN(40)))
		}
		return &bgp.Attrs{Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: asns}}}}
	}
	var evs []bgp.Event
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for p := range 3000 {
		pfx := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(p >> 8), byte(p), 0}), 24)
		for pi := range peers {
			if rng.IntN(10) == 0 {
				continue
			}
			ev := bgp.Event{Time: t, Kind: bgp.Announce, Peer: peers[pi], Prefix: pfx, Attrs: path(pi), RIB: true}
			if rng.IntN(50) == 0 {
				ev.PathID = uint32(1 + rng.IntN(2))
			}
			evs = append(evs, ev)
			if rng.IntN(40) == 0 { // the same route again, another path
				ev.Attrs = path(pi)
				evs = append(evs, ev)
			}
		}
	}
	for i := range 4000 {
		t = t.Add(50 * time.Millisecond)
		p := rng.IntN(3000)
		pfx := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(p >> 8), byte(p), 0}), 24)
		pi := rng.IntN(len(peers))
		if i%4 == 0 {
			evs = append(evs, bgp.Event{Time: t, Kind: bgp.Withdraw, Peer: peers[pi], Prefix: pfx})
		} else {
			evs = append(evs, bgp.Event{Time: t, Kind: bgp.Announce, Peer: peers[pi], Prefix: pfx, Attrs: path(pi)})
		}
	}
	return evs
}

// pathRecorder records what an observer is told, paths as AS lists.
type pathRecorder struct {
	v     *view.View
	calls []string
}

func (r *pathRecorder) Visibility(_ time.Time, id view.PrefixID, p netip.Prefix, origin bgp.ASN, visible bool) {
	r.calls = append(r.calls, fmt.Sprint("vis ", p, origin, visible))
}

func (r *pathRecorder) Route(_ time.Time, _ view.PrefixID, p netip.Prefix, peer int, old, new view.PathID) {
	r.calls = append(r.calls, fmt.Sprint("route ", p, peer, r.v.Path(old), r.v.Path(new)))
}

func (r *pathRecorder) Membership(_ time.Time, _ view.PrefixID, p netip.Prefix, peer int, path view.PathID, joined bool) {
	r.calls = append(r.calls, fmt.Sprint("member ", p, peer, r.v.Path(path), joined))
}

func (r *pathRecorder) Peer(ev view.PeerEvent) {
	r.calls = append(r.calls, fmt.Sprint("peer ", ev.Kind, ev.Index, ev.Routes, ev.Time))
}

// TestBatchedRIBSameAsOneByOne feeds the same events to a view that queues
// RIB announcements and applies them in batches on another goroutine, and
// to one that cannot (a MaxPrefixes no table reaches turns the queue off):
// the observers hear the same calls and the tables end the same.
func TestBatchedRIBSameAsOneByOne(t *testing.T) {
	for seed := range uint64(3) {
		evs := batchEvents(seed)
		run := func(batched bool) (*view.View, *pathRecorder) {
			cfg := view.DefaultConfig()
			if !batched {
				cfg.MaxPrefixes = [2]int{1 << 30, 1 << 30}
			}
			rec := &pathRecorder{}
			v := view.New(cfg, rec)
			rec.v = v
			for i := range evs {
				ev := evs[i]
				v.Apply(&ev)
			}
			v.Sync()
			return v, rec
		}
		vb, rb := run(true)
		vo, ro := run(false)
		if !slices.Equal(rb.calls, ro.calls) {
			t.Fatalf("seed %d: %d observer calls batched, %d one by one (or they differ)", seed, len(rb.calls), len(ro.calls))
		}
		if vb.Peers() != vo.Peers() || vb.Prefixes() != vo.Prefixes() || vb.LongPaths() != vo.LongPaths() {
			t.Fatalf("seed %d: peers %d/%d, prefixes %d/%d, long paths %d/%d", seed, vb.Peers(), vo.Peers(), vb.Prefixes(), vo.Prefixes(), vb.LongPaths(), vo.LongPaths())
		}
		if vb.LongPaths() == 0 {
			t.Fatalf("seed %d: no path over the limit: the test does not test that", seed)
		}
		mb, mo := vb.Memory(), vo.Memory()
		if mb.Routes != mo.Routes || mb.DistinctPath != mo.DistinctPath {
			t.Fatalf("seed %d: routes %d/%d, trie nodes %d/%d", seed, mb.Routes, mo.Routes, mb.DistinctPath, mo.DistinctPath)
		}
		for i := range vb.Peers() {
			for id := range vb.Prefixes() {
				a, b := vb.Path(vb.PeerRoute(i, view.PrefixID(id))), vo.Path(vo.PeerRoute(i, view.PrefixID(id)))
				if !slices.Equal(a, b) {
					t.Fatalf("seed %d: peer %d prefix %v: %v batched, %v one by one", seed, i, vb.Prefix(view.PrefixID(id)), a, b)
				}
			}
		}
		t.Logf("seed %d: %d events, %d observer calls, %d routes, %d long paths", seed, len(evs), len(rb.calls), mb.Routes, vb.LongPaths())
	}
}
