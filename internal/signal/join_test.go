package signal_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/view"
)

// quietSink is a sink that says it ignores upstream changes: the tracker
// then takes peers that join the full-feed set together, prefix by prefix.
type quietSink struct{ sink }

func (*quietSink) QuietUpstreams(bgp.Family) bool { return true }

// joinRun feeds a RIB dump of peers that each see a random part of the
// prefixes (so that an origin or a country is first met at a later peer,
// or at a later prefix of an earlier one) and closes a bin; it returns the
// tracker's states in their order, with their counts, upstreams and
// transit counts (the sink keeps the bins).
func joinRun(t *testing.T, db *geo.DB, s signal.Sink, seed uint64) (states []string) {
	rng := rand.New(rand.NewPCG(seed, 3))
	cfg := view.DefaultConfig()
	cfg.Paths = view.NewPaths()
	tr := signal.New(db, 5*time.Minute, cfg.Paths, s)
	v := view.New(cfg, tr)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var peers []bgp.Peer
	for i := range 8 {
		peers = append(peers, bgp.Peer{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)}), AS: bgp.ASN(64500 + i)})
	}
	upstreams := []bgp.ASN{174, 1299, 3356, 2914, 6939, 9002}
	for p := range 4000 {
		a := rng.Uint32N(200<<24) + 1<<24
		pfx := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), 0}), 24)
		origin := bgp.ASN(1000 + rng.IntN(600))
		for pi, peer := range peers {
			if rng.IntN(4) == 0 {
				continue
			}
			asns := []bgp.ASN{peer.AS, upstreams[(pi+p)%len(upstreams)], upstreams[rng.IntN(len(upstreams))], origin}
			if rng.IntN(20) == 0 {
				asns[3] = origin + 1 // another origin now and then
			}
			tr.Advance(t0)
			v.Apply(&bgp.Event{Time: t0, Kind: bgp.Announce, Peer: peer, Prefix: pfx, RIB: true,
				Attrs: &bgp.Attrs{Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: asns}}}}})
		}
	}
	v.Refresh()
	if n, _ := v.FullFeed(); n < 2 {
		t.Fatalf("%d full-feed peers: the joins are not tested", n)
	}
	end := t0.Add(10 * time.Minute)
	tr.Advance(end)
	tr.Each(func(e signal.Entity, f bgp.Family, st *signal.State) {
		var ups []string
		st.Upstreams(func(a bgp.ASN, n int32) { ups = append(ups, fmt.Sprint(a, ":", n)) })
		slices.Sort(ups)
		line := fmt.Sprint(e, f, st.Prefixes, st.Space, st.Origins(), st.Routes(), ups)
		for _, a := range upstreams {
			then, now := tr.Transit(a, f, geo.Country{}, end)
			line += fmt.Sprint(" ", a, "=", then, "/", now)
		}
		states = append(states, line)
	})
	return states
}

// TestJoinsSameAsPeerByPeer checks that taking the peers that join the
// full-feed set at a RIB dump's end together, prefix by prefix, leaves the
// tracker as taking them peer by peer does: the same states in the same
// order (which orders the bins, hence the detector's work), the same
// counts, upstreams and transit counts, and the same bins.
func TestJoinsSameAsPeerByPeer(t *testing.T) {
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(3) {
		plain, quiet := &sink{}, &quietSink{}
		a := joinRun(t, db, plain, seed)
		b := joinRun(t, db, quiet, seed)
		if len(a) < 100 {
			t.Fatalf("seed %d: only %d states", seed, len(a))
		}
		if !slices.Equal(a, b) {
			for i := range min(len(a), len(b)) {
				if a[i] != b[i] {
					t.Fatalf("seed %d: state %d: peer by peer %s, together %s", seed, i, a[i], b[i])
				}
			}
			t.Fatalf("seed %d: %d states peer by peer, %d together", seed, len(a), len(b))
		}
		if !slices.Equal(plain.bins, quiet.bins) {
			t.Fatalf("seed %d: %d bins peer by peer, %d together (or they differ)", seed, len(plain.bins), len(quiet.bins))
		}
		if len(plain.ups) == 0 {
			t.Fatalf("seed %d: no upstream seen", seed)
		}
		t.Logf("seed %d: %d states, %d bins, %d upstream notices", seed, len(a), len(plain.bins), len(plain.ups))
	}
}
