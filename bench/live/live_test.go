// Package live is the latency and load harness of blackout's live sources:
// real exabgp peers on loopback feed the BGP session source, and the
// pipeline's detector is timed from the moment a withdrawal leaves exabgp
// to the moment the outage event is emitted.
//
// Normal test runs use small numbers (TestLatencySmall: 3 peers, 12
// countries and 2,000 background prefixes, 3 trials; TestLoad: 2 peers at
// 2,000 updates/s each and a 20,000-prefix table); BLACKOUT_LIVE=big runs
// the full harness (5 peers, 30 countries and 20,000 background prefixes,
// 10 trials; 4 peers at 12,500 updates/s and a 1,000,000-prefix table).
// BLACKOUT_LIVE_PEERS, _COUNTRIES, _TRIALS, _EXTRA and BLACKOUT_LOAD_PEERS,
// _RATE, _SECONDS, _TABLE override each number. BLACKOUT_LIVE_SEND_DELAY
// (a duration, e.g. 3s) gives each exabgp its world that long after it
// started: its session is up and its End-of-RIB sent before the table, so
// the peers are ready by the quiet rule (what a loaded machine does by
// chance; each family is then ready at its own last route + 5 s). The figures are logged (go test -v); the
// harness fails only on gross breakage: no outage event at all, or an
// outage reported for one peer's session reset.
//
// The latency harness runs the detector with its defaults: live data time
// is wall time, and detection starts when the peers' tables are complete
// (End-of-RIB, or a table quiet for 5 s; the time from the world's
// announcement to judging is logged); the bins are the default 5 minutes.
// The load harness sets the warm-up to 2 s and the view's full-feed
// re-evaluation to 1 s (it does not wait for readiness).
package live

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/scenario"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/bgpsession"
	"github.com/blackout-bgp/blackout/internal/source/peertest"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// notice is a detector notice with the wall clock when the sink got it.
type notice struct {
	at time.Time
	n  event.Notice
}

// harness is a running collector + pipeline with exabgp peers.
type harness struct {
	t       *testing.T
	port    int
	peers   []*peertest.Exabgp
	addrs   []string
	world   scenario.World
	extra   int // background /24s per peer
	mu      sync.Mutex
	notices []notice
	events  int64
	judged  time.Time // when the detector started judging every family of the world
	judgedF [2]time.Time
	// sendDelay, if set, is how long after starting exabgp the world is
	// given to it (BLACKOUT_LIVE_SEND_DELAY).
	sendDelay time.Duration
}

// countryRoutes returns the exabgp announce (or withdraw) commands of
// country i for peer p.
func (h *harness) countryRoutes(ci, p int, withdraw bool) []string {
	var out []string
	peerAS := 65100 + p
	for _, a := range h.world.Countries[ci].ASes {
		up := a.ASN
		if len(a.Upstreams) > 0 {
			up = a.Upstreams[p%len(a.Upstreams)]
		}
		for _, pfx := range a.Prefixes {
			nh := fmt.Sprintf("198.51.100.%d", p+2)
			if pfx.Addr().Is6() {
				nh = fmt.Sprintf("2001:db8::%d", p+2)
			}
			if withdraw {
				out = append(out, fmt.Sprintf("withdraw route %s next-hop %s", pfx, nh))
			} else {
				out = append(out, fmt.Sprintf("announce route %s next-hop %s as-path [ %d %d %d ]", pfx, nh, peerAS, up, a.ASN))
			}
		}
	}
	return out
}

func (h *harness) startPeer(p int) *peertest.Exabgp {
	ex := peertest.StartExabgp(h.t, peertest.ExabgpConfig{Local: h.addrs[p], Peer: "127.0.0.1", Port: h.port, LocalAS: uint32(65100 + p), PeerAS: 65000})
	var all []string
	for ci := range h.world.Countries {
		all = append(all, h.countryRoutes(ci, p, false)...)
	}
	// Background: /24s from 11.0.0.0 on (the United States in the geo
	// data), so that the world has thousands of prefixes.
	for i := range h.extra {
		a := 0x0B000000 + uint32(i)<<8
		all = append(all, fmt.Sprintf("announce route %d.%d.%d.0/24 next-hop 198.51.100.%d as-path [ %d 3356 %d ]",
			byte(a>>24), byte(a>>16), byte(a>>8), p+2, 65100+p, 64512+i%1000))
	}
	if h.sendDelay > 0 {
		// The session comes up, exabgp sends its End-of-RIB, and the
		// table comes after it: readiness by the quiet rule.
		time.Sleep(h.sendDelay)
	}
	ex.Send(h.t, all)
	return ex
}

// waitNotice waits until a notice after index from matches, up to d; it
// returns it and its index, or ok false.
func (h *harness) waitNotice(from int, d time.Duration, match func(event.Notice) bool) (notice, int, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for i := from; i < len(h.notices); i++ {
			if match(h.notices[i].n) {
				n := h.notices[i]
				h.mu.Unlock()
				return n, i, true
			}
		}
		h.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	return notice{}, 0, false
}

func (h *harness) noticeCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.notices)
}

func (h *harness) eventCount() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.events
}

func TestLatencySmall(t *testing.T) {
	peertest.Need(t, "exabgp", "exabgp")
	big := os.Getenv("BLACKOUT_LIVE") == "big"
	nPeers, nCountries, trials, extra := 3, 12, 3, 2000
	if big {
		nPeers, nCountries, trials, extra = 5, 30, 10, 20000
	}
	extra = envInt("BLACKOUT_LIVE_EXTRA", extra)
	nPeers = envInt("BLACKOUT_LIVE_PEERS", nPeers)
	nCountries = envInt("BLACKOUT_LIVE_COUNTRIES", nCountries)
	trials = min(envInt("BLACKOUT_LIVE_TRIALS", trials), nCountries)

	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	wcfg := scenario.NorthKorea2014()
	wcfg.Countries, wcfg.Duration, wcfg.ChurnRate, wcfg.Events, wcfg.Peers = nCountries, time.Hour, -1, nil, 2
	wcfg.V4PerAS, wcfg.ASesPerCountry = [2]int{5, 40}, [2]int{2, 6}
	if big {
		wcfg.V4PerAS, wcfg.ASesPerCountry = [2]int{20, 80}, [2]int{4, 12}
	}
	gen, err := scenario.GenerateInMemory(context.Background(), wcfg, db)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, port: peertest.FreePort(t), world: gen.World, extra: extra}
	if d, err := time.ParseDuration(os.Getenv("BLACKOUT_LIVE_SEND_DELAY")); err == nil && d > 0 {
		h.sendDelay = d
	}
	prefixes := extra
	families := [2]bool{extra > 0, false} // the world's families: the background is IPv4
	kpIndex := -1
	for i, c := range h.world.Countries {
		for _, a := range c.ASes {
			prefixes += len(a.Prefixes)
			for _, p := range a.Prefixes {
				families[bgp.FamilyOf(p)] = true
			}
		}
		if c.Country == "KP" {
			kpIndex = i
		}
	}
	// KP first, then the other countries in order.
	order := []int{kpIndex}
	for i := range h.world.Countries {
		if i != kpIndex {
			order = append(order, i)
		}
	}
	t.Logf("world: %d countries, %d prefixes, %d exabgp peers (%d routes)", len(h.world.Countries), prefixes, nPeers, prefixes*nPeers)

	var accept []netip.Prefix
	for p := range nPeers {
		h.addrs = append(h.addrs, fmt.Sprintf("127.0.0.%d", p+2))
	}
	accept = append(accept, netip.MustParsePrefix("127.0.0.0/24"))
	src, err := bgpsession.New(bgpsession.Config{
		Listen:  netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(h.port)),
		LocalAS: 65000, Accept: accept, Collector: "harness",
	})
	if err != nil {
		t.Fatal(err)
	}
	pcfg := pipeline.DefaultConfig(db)
	opts := pipeline.Options{Config: pcfg, Sinks: []pipeline.Sink{event.SinkFunc(func(n event.Notice) {
		at := time.Now()
		h.mu.Lock()
		h.notices = append(h.notices, notice{at: at, n: n})
		h.mu.Unlock()
	})}, OnCoverage: func(c event.Coverage) {
		h.mu.Lock()
		defer h.mu.Unlock()
		// The trials withdraw every family of a country: wait for each
		// family of the world to be judged (a family still learning
		// learns a withdrawn country's baseline as what is left).
		all := true
		for _, fc := range c.Families {
			if f := fc.Family; f <= bgp.IPv6 && fc.JudgedFrom != nil && h.judgedF[f].IsZero() {
				h.judgedF[f] = time.Now()
			}
		}
		for f, has := range families {
			all = all && (!has || !h.judgedF[f].IsZero())
		}
		if all && h.judged.IsZero() {
			h.judged = time.Now()
		}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	events := source.Join(ctx, []source.Runner{src}, 1<<16, func(s source.Runner, err error) { t.Errorf("%s: %v", s.Name(), err) })
	counted := make(chan bgp.Event, 1<<16)
	go func() {
		for ev := range events {
			h.mu.Lock()
			h.events++
			h.mu.Unlock()
			counted <- ev
		}
		close(counted)
	}()
	plDone := make(chan struct{})
	pl := pipeline.New(opts.Config, opts.Sinks...)
	go func() { defer close(plDone); _, _ = pl.Run(ctx, source.FromChannel(counted), opts) }()
	t.Cleanup(func() { cancel(); <-plDone })

	for p := range nPeers {
		h.peers = append(h.peers, h.startPeer(p))
	}
	want := int64(prefixes * nPeers)
	start := time.Now()
	for h.eventCount() < want+int64(nPeers) {
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("only %d of %d announcements after 5 minutes", h.eventCount(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	announced := time.Now()
	t.Logf("world announced by %d peers in %v", nPeers, announced.Sub(start).Round(time.Millisecond))
	// Readiness: the detector starts once every peer's table is complete.
	for {
		h.mu.Lock()
		j := h.judged
		h.mu.Unlock()
		if !j.IsZero() {
			h.mu.Lock()
			jf := h.judgedF
			h.mu.Unlock()
			for f, at := range jf {
				if !at.IsZero() {
					t.Logf("READY %s judged %v after the first announcement was sent, %v after the last one arrived", bgp.Family(f), at.Sub(start).Round(time.Millisecond), at.Sub(announced).Round(time.Millisecond))
				}
			}
			break
		}
		if time.Since(announced) > time.Minute {
			t.Fatal("not judging a minute after the world was announced")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Trials: withdraw one country's prefixes on every peer (a different,
	// so far stable, country each time: repeated falls of one country
	// would be instability and wait for confirmation), time the outage
	// notice, re-announce.
	var lat []time.Duration
	for tr := 0; tr < trials && tr < len(order); tr++ {
		ci := order[tr]
		cc := h.world.Countries[ci].Country
		from := h.noticeCount()
		nsent := make([]int, nPeers)
		for p, ex := range h.peers {
			nsent[p] = len(ex.SentTimes())
			ex.Send(t, h.countryRoutes(ci, p, true))
		}
		n, _, ok := h.waitNotice(from, 20*time.Second, func(n event.Notice) bool {
			return n.Type == "start" && n.Event.Kind == "outage" && n.Event.EntityType == event.Country && n.Event.EntityCode == cc
		})
		if !ok {
			// Say what the detector did say of the country, for whoever
			// reads the failure.
			h.mu.Lock()
			for _, n := range h.notices {
				if n.n.Event.EntityCode == cc {
					t.Logf("notice for %s: %s %s %s from %v, lost %.2f, baseline %.1f", cc, n.n.Type, n.n.Event.Kind, n.n.Event.Family, n.n.Event.Start, n.n.Event.FractionLost, n.n.Event.Baseline)
				}
			}
			h.mu.Unlock()
			t.Errorf("trial %d: no outage event for %s within 20 s", tr, cc)
			continue
		}
		var first time.Time
		for p, ex := range h.peers {
			ts := ex.SentTimes()
			if len(ts) > nsent[p] && (first.IsZero() || ts[nsent[p]].Before(first)) {
				first = ts[nsent[p]]
			}
		}
		d := n.at.Sub(first)
		lat = append(lat, d)
		t.Logf("trial %d: %s (%d prefixes) outage event %v after the first withdrawal left exabgp", tr, cc, len(h.countryRoutes(ci, 0, true)), d.Round(time.Microsecond))
		for p, ex := range h.peers {
			ex.Send(t, h.countryRoutes(ci, p, false))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(lat) == 0 {
		h.mu.Lock()
		for _, n := range h.notices {
			t.Logf("notice %s %s %s %s %s", n.n.Type, n.n.Event.Kind, n.n.Event.EntityType, n.n.Event.EntityCode, n.n.Event.Family)
		}
		h.mu.Unlock()
		v4, v6 := pl.View().FullFeed()
		t.Logf("view: %d peers, full feed %d/%d, %d prefixes", pl.View().Peers(), v4, v6, pl.View().Prefixes())
		t.Fatal("no outage event in any trial")
	}
	slices.Sort(lat)
	pct := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	t.Logf("LATENCY withdrawal -> outage event over %d trials: p50 %v, p99 %v, max %v (default 5-minute bins)",
		len(lat), pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))

	// A reset of one peer's session while the others stay: a peer event at
	// most, never an outage.
	from := h.noticeCount()
	time.Sleep(time.Second)
	h.peers[nPeers-1].Kill()
	time.Sleep(3 * time.Second)
	h.peers[nPeers-1] = h.startPeer(nPeers - 1)
	time.Sleep(5 * time.Second)
	h.mu.Lock()
	var kinds []string
	for _, n := range h.notices[from:] {
		kinds = append(kinds, string(n.n.Type)+" "+string(n.n.Event.Kind)+" "+n.n.Event.EntityCode)
		if n.n.Type == "start" && (n.n.Event.Kind == "outage" || n.n.Event.Kind == "partial_outage") {
			t.Errorf("peer reset reported as %s of %s %s", n.n.Event.Kind, n.n.Event.EntityType, n.n.Event.EntityCode)
		}
	}
	h.mu.Unlock()
	t.Logf("peer reset of %s: notices %v", h.addrs[nPeers-1], kinds)
}
