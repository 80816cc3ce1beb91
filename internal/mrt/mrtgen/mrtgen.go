// Package mrtgen generates realistic synthetic MRT data with mrt.Writer:
// full-size RIB dumps and update streams for benchmarks and scenario tests.
//
// The data come from a synthetic AS graph of tier-1, transit and stub
// networks: each prefix has an origin stub, reached from each collector peer
// through the peer's upstreams, a tier-1 and the origin's providers, for AS
// paths of 3 to 7 hops with some prepending, plus a few communities. The
// output depends only on the options: the same seed gives the same bytes.
package mrtgen

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/mrt"
)

// Options describe the data to generate.
type Options struct {
	Seed     uint64    // random seed
	Prefixes int       // IPv4 prefixes in the RIB
	Peers    int       // collector peers (full feeds); at most 65535
	Time     time.Time // dump time; zero means 2025-01-01 00:00 UTC
	// Coverage is the chance that a peer has a route to a given prefix;
	// zero means 0.97.
	Coverage float64
}

func (o *Options) defaults() {
	if o.Time.IsZero() {
		o.Time = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Coverage == 0 {
		o.Coverage = 0.97
	}
	if o.Peers <= 0 {
		o.Peers = 40
	}
}

// Graph is a synthetic AS graph.
type Graph struct {
	Tier1   []bgp.ASN
	Transit []transit
	Stubs   []stub
}

type transit struct {
	as       bgp.ASN
	upstream int // index in Tier1
}

type stub struct {
	as        bgp.ASN
	providers [2]int // indices in Transit; the second is -1 when single-homed
}

// NewGraph returns a graph of about 17 tier-1s, nTransit transits and
// nStubs stubs, a realistic mix of 2- and 4-byte ASNs.
func NewGraph(rng *rand.Rand, nTransit, nStubs int) *Graph {
	g := &Graph{Tier1: []bgp.ASN{174, 209, 286, 701, 1239, 1299, 2828, 2914, 3257, 3320, 3356, 3491, 5511, 6453, 6461, 6762, 7018}}
	for i := range nTransit {
		as := bgp.ASN(7000 + i*3)
		if i%4 == 3 {
			as = bgp.ASN(262144 + i)
		}
		g.Transit = append(g.Transit, transit{as: as, upstream: rng.IntN(len(g.Tier1))})
	}
	for i := range nStubs {
		as := bgp.ASN(20000 + i)
		if i%2 == 1 {
			as = bgp.ASN(196608 + i)
		}
		s := stub{as: as, providers: [2]int{rng.IntN(nTransit), -1}}
		if rng.IntN(3) == 0 {
			s.providers[1] = rng.IntN(nTransit)
		}
		g.Stubs = append(g.Stubs, s)
	}
	return g
}

// peer is a collector peer and the upstream chain it reaches a tier-1 by.
type peer struct {
	bgp.Peer
	chain []bgp.ASN // from the peer itself towards its tier-1 (inclusive)
	tier1 int
	comms int // how many communities this peer tags
	large bool
	med   bool
	attrs bgp.Attrs // reusable
	path  []bgp.ASN // reusable: the AS path of attrs
}

// newPeers returns n collector peers: some tier-1s, some transits, some
// stubs with transit.
func newPeers(rng *rand.Rand, g *Graph, n int) []*peer {
	ps := make([]*peer, n)
	for i := range ps {
		p := &peer{comms: rng.IntN(4), large: rng.IntN(8) == 0, med: rng.IntN(3) == 0}
		switch i % 3 {
		case 0: // a tier-1
			p.tier1 = i / 3 % len(g.Tier1)
			p.chain = []bgp.ASN{g.Tier1[p.tier1]}
		case 1: // a transit
			t := g.Transit[rng.IntN(len(g.Transit))]
			p.tier1 = t.upstream
			p.chain = []bgp.ASN{t.as, g.Tier1[t.upstream]}
		default: // a network behind a transit
			t := g.Transit[rng.IntN(len(g.Transit))]
			p.tier1 = t.upstream
			p.chain = []bgp.ASN{bgp.ASN(30000 + i), t.as, g.Tier1[t.upstream]}
		}
		p.Addr = netip.AddrFrom4([4]byte{192, 0, byte(2 + i/250), byte(1 + i%250)})
		p.AS = p.chain[0]
		ps[i] = p
	}
	return ps
}

// Peers returns the peers of a RIB generated with opt.
func Peers(opt Options) []bgp.Peer {
	opt.defaults()
	rng := rand.New(rand.NewPCG(opt.Seed, 1))
	g := NewGraph(rng, 1500, 70000)
	var out []bgp.Peer
	for _, p := range newPeers(rng, g, opt.Peers) {
		out = append(out, p.Peer)
	}
	return out
}

// prefixGen yields unique IPv4 prefixes in RIB dump order, with a
// realistic length mix (about 65% /24, the rest mostly /16-/23), and
// more-specific /24s after some covering prefixes, as deaggregation does.
type prefixGen struct {
	rng     *rand.Rand
	next    uint32
	pending []netip.Prefix // more-specifics of the last covering prefix
}

func (pg *prefixGen) nextPrefix() (netip.Prefix, error) {
	if len(pg.pending) > 0 {
		p := pg.pending[0]
		pg.pending = pg.pending[1:]
		return p, nil
	}
	var bits int
	switch r := pg.rng.IntN(1000); {
	case r < 650:
		bits = 24
	case r < 740:
		bits = 23
	case r < 830:
		bits = 22
	case r < 890:
		bits = 21
	case r < 940:
		bits = 20
	case r < 970:
		bits = 19
	case r < 985:
		bits = 18
	case r < 993:
		bits = 17
	case r < 999:
		bits = 16
	default:
		bits = 12 + pg.rng.IntN(4)
	}
	size := uint32(1) << (32 - bits)
	start := (pg.next + size - 1) &^ (size - 1)
	if start < pg.next || start >= 224<<24 || start+size > 224<<24 {
		return netip.Prefix{}, fmt.Errorf("mrtgen: IPv4 space exhausted")
	}
	// Leave a gap now and then, as the real table does.
	pg.next = start + size
	if pg.rng.IntN(8) == 0 {
		pg.next += 256 * uint32(pg.rng.IntN(4))
	}
	// A covering prefix is often announced with some of its /24s.
	if bits <= 22 && pg.rng.IntN(3) == 0 {
		n := size / 256
		at := uint32(0)
		for k := 1 + pg.rng.IntN(4); k > 0 && at < n; k-- {
			at += uint32(pg.rng.IntN(int(min(n-at, 8))))
			if at >= n {
				break
			}
			sub := start + at*256
			pg.pending = append(pg.pending, netip.PrefixFrom(addr4(sub), 24))
			at++
		}
	}
	return netip.PrefixFrom(addr4(start), bits), nil
}

func addr4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// appendPath appends the AS path of peer p to a prefix of stub si through
// transit prov: the peer's chain to its tier-1, the transit's tier-1 when
// it is another, the transit, the stub, and prepend more copies of the
// stub (at most 7 ASNs in all).
func (g *Graph) appendPath(dst []bgp.ASN, p *peer, si, prov, prepend int) []bgp.ASN {
	t, s := &g.Transit[prov], &g.Stubs[si]
	dst = append(dst, p.chain...)
	if t.upstream != p.tier1 {
		dst = append(dst, g.Tier1[t.upstream])
	}
	dst = append(dst, t.as, s.as)
	for range min(prepend, 7-len(dst)) {
		dst = append(dst, s.as)
	}
	return dst
}

// World is the AS graph of a generated RIB with its collector peers, for
// building routes in memory rather than as MRT (the view's benchmarks).
type World struct {
	g     *Graph
	peers []*peer
}

// NewWorld returns the graph (1,500 transits, 70,000 stubs) and nPeers
// collector peers drawn from seed.
func NewWorld(seed uint64, nPeers int) *World {
	rng := rand.New(rand.NewPCG(seed, 1))
	g := NewGraph(rng, 1500, 70000)
	return &World{g: g, peers: newPeers(rng, g, nPeers)}
}

// Peers returns the collector peers.
func (w *World) Peers() []bgp.Peer {
	out := make([]bgp.Peer, len(w.peers))
	for i, p := range w.peers {
		out[i] = p.Peer
	}
	return out
}

// Stubs returns the number of stub (origin) ASes.
func (w *World) Stubs() int { return len(w.g.Stubs) }

// AppendPath appends the AS path of peer pi to a prefix of stub si,
// through the stub's first provider, or its second (choice 1) when it is
// multi-homed, with prepend extra copies of the origin.
func (w *World) AppendPath(dst []bgp.ASN, pi, si, choice, prepend int) []bgp.ASN {
	s := &w.g.Stubs[si]
	prov := s.providers[0]
	if choice == 1 && s.providers[1] >= 0 {
		prov = s.providers[1]
	}
	return w.g.appendPath(dst, w.peers[pi], si, prov, prepend)
}

// Prefixes returns the first n prefixes of the generator's mix drawn from
// seed: unique IPv4 prefixes in dump order, about 65% /24, with
// more-specific /24s after some covering prefixes.
func Prefixes(seed uint64, n int) ([]netip.Prefix, error) {
	pg := &prefixGen{rng: rand.New(rand.NewPCG(seed, 3)), next: 1 << 24}
	out := make([]netip.Prefix, 0, n)
	for len(out) < n {
		p, err := pg.nextPrefix()
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// WriteRIB writes a TABLE_DUMP_V2 RIB dump: the PEER_INDEX_TABLE, then one
// RIB_IPV4_UNICAST record per prefix. It returns the number of RIB entries
// written. The caller flushes w.
func WriteRIB(w *mrt.Writer, opt Options) (int64, error) {
	opt.defaults()
	rng := rand.New(rand.NewPCG(opt.Seed, 1))
	g := NewGraph(rng, 1500, 70000)
	peers := newPeers(rng, g, opt.Peers)
	bps := make([]bgp.Peer, len(peers))
	for i, p := range peers {
		bps[i] = p.Peer
	}
	if err := w.WritePeerIndex(opt.Time, netip.AddrFrom4([4]byte{10, 0, 0, 1}), "", bps); err != nil {
		return 0, err
	}
	pg := &prefixGen{rng: rng, next: 1 << 24}
	entries := make([]mrt.RIBEntryOut, 0, len(peers))
	var total int64
	for seq := range opt.Prefixes {
		pfx, err := pg.nextPrefix()
		if err != nil {
			return total, err
		}
		// The origin: a Zipf-like choice so that some stubs announce many prefixes.
		si := int(float64(len(g.Stubs)) * rng.Float64() * rng.Float64())
		s := &g.Stubs[si]
		prepend := 0
		if rng.IntN(10) == 0 {
			prepend = 1 + rng.IntN(3)
		}
		incomplete := rng.IntN(20) == 0
		entries = entries[:0]
		for pi, p := range peers {
			if rng.Float64() >= opt.Coverage {
				continue
			}
			// Which provider of a multi-homed stub this peer goes through.
			prov := s.providers[0]
			if s.providers[1] >= 0 && rng.IntN(2) == 0 {
				prov = s.providers[1]
			}
			t := &g.Transit[prov]
			path := g.appendPath(p.path[:0], p, si, prov, prepend)
			p.path = path
			a := &p.attrs
			a.Reset()
			a.Set(bgp.AttrOrigin)
			if incomplete {
				a.Origin = bgp.OriginIncomplete
			}
			a.Set(bgp.AttrASPath)
			a.Path.Segments = append(a.Path.Segments, bgp.Segment{Type: bgp.ASSequence, ASNs: path})
			a.NextHop = p.Addr
			if p.med {
				a.Set(bgp.AttrMED)
				a.MED = uint32(rng.IntN(100))
			}
			for c := range p.comms {
				a.Communities = append(a.Communities, bgp.Community(uint32(p.AS&0xffff)<<16|uint32(1000+c*100+int(t.upstream))))
			}
			if p.large {
				a.LargeCommunities = append(a.LargeCommunities, bgp.LargeCommunity{Global: uint32(p.AS), Local1: 1, Local2: uint32(s.as)})
			}
			entries = append(entries, mrt.RIBEntryOut{PeerIndex: uint16(pi), Originated: opt.Time.Add(-time.Duration(rng.IntN(30*86400)) * time.Second), Attrs: a})
		}
		if err := w.WriteRIB(opt.Time, uint32(seq), pfx, entries); err != nil {
			return total, err
		}
		total += int64(len(entries))
	}
	return total, nil
}

// WriteUpdates writes n BGP4MP_ET update messages from the peers of opt,
// starting at opt.Time, one every 10 ms: mostly announcements of 1-5
// prefixes, a quarter withdrawals, a tenth IPv6. It returns the number of
// routes (announced and withdrawn prefixes) written.
func WriteUpdates(w *mrt.Writer, opt Options, n int) (int64, error) {
	opt.defaults()
	rng := rand.New(rand.NewPCG(opt.Seed, 2))
	g := NewGraph(rng, 1500, 70000)
	peers := newPeers(rng, g, opt.Peers)
	local := netip.AddrFrom4([4]byte{192, 0, 2, 254})
	local6 := netip.MustParseAddr("2001:db8::fe")
	var routes int64
	var pfx, wd []netip.Prefix
	for i := range n {
		p := peers[rng.IntN(len(peers))]
		tm := opt.Time.Add(time.Duration(i) * 10 * time.Millisecond)
		v6 := rng.IntN(10) == 0
		pfx, wd = pfx[:0], wd[:0]
		k := 1 + rng.IntN(5)
		for range k {
			var q netip.Prefix
			if v6 {
				q = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(rng.IntN(256)), byte(rng.IntN(256))}), 48)
			} else {
				q = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.IntN(256)), byte(rng.IntN(256)), 0}), 24)
			}
			pfx = append(pfx, q)
		}
		peer, loc := p.Peer, local
		if v6 {
			peer.Addr = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(1 + rng.IntN(250))})
			loc = local6
		}
		if rng.IntN(4) == 0 {
			if err := w.WriteUpdate(tm, peer, loc, 12654, pfx, nil, nil); err != nil {
				return routes, err
			}
			routes += int64(len(pfx))
			continue
		}
		s := &g.Stubs[int(float64(len(g.Stubs))*rng.Float64()*rng.Float64())]
		t := &g.Transit[s.providers[0]]
		path := append(p.path[:0], p.chain...)
		if t.upstream != p.tier1 {
			path = append(path, g.Tier1[t.upstream])
		}
		path = append(path, t.as, s.as)
		p.path = path
		a := &p.attrs
		a.Reset()
		a.Set(bgp.AttrOrigin)
		a.Set(bgp.AttrASPath)
		a.Path.Segments = append(a.Path.Segments, bgp.Segment{Type: bgp.ASSequence, ASNs: path})
		a.NextHop = peer.Addr
		for c := range p.comms {
			a.Communities = append(a.Communities, bgp.Community(uint32(p.AS&0xffff)<<16|uint32(1000+c)))
		}
		if err := w.WriteUpdate(tm, peer, loc, 12654, wd, a, pfx); err != nil {
			return routes, err
		}
		routes += int64(len(pfx))
	}
	return routes, nil
}

// WriteChurn writes n BGP4MP_ET update messages of the peers of opt about
// the prefixes of the RIB dump read from rib (one WriteRIB wrote with
// opt), from opt.Time on, 10 ms apart: a quarter withdrawals, the rest
// path changes through another transit that keep the prefix's origin. It
// returns the number of routes written.
func WriteChurn(w *mrt.Writer, rib io.Reader, opt Options, n int) (int64, error) {
	opt.defaults()
	type route struct {
		p    netip.Prefix
		tail []bgp.ASN // the origin's provider and the origin
	}
	var routes []route
	rr := mrt.NewRouteReader(rib, "rib", "")
	var last netip.Prefix
	for {
		ev, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if ev.Prefix != last {
			last = ev.Prefix
			flat := ev.Attrs.Path.AppendFlat(nil)
			routes = append(routes, route{p: ev.Prefix, tail: flat[max(0, len(flat)-2):]})
		}
	}
	peers := Peers(opt)
	rng := rand.New(rand.NewPCG(opt.Seed, 7))
	local := netip.AddrFrom4([4]byte{192, 0, 2, 254})
	transit := []bgp.ASN{174, 1299, 2914, 3257, 3356, 6453, 6762, 7018, 7000, 7003, 262147, 7009}
	t0 := opt.Time
	attrs := &bgp.Attrs{}
	var total int64
	for i := range n {
		tm := t0.Add(time.Second + time.Duration(i)*10*time.Millisecond)
		pi := rng.IntN(len(peers))
		r := routes[rng.IntN(len(routes))]
		pfx := []netip.Prefix{r.p}
		total++
		if rng.IntN(4) == 0 {
			if err := w.WriteUpdate(tm, peers[pi], local, 12654, pfx, nil, nil); err != nil {
				return total, err
			}
			continue
		}
		path := append([]bgp.ASN{peers[pi].AS, transit[rng.IntN(len(transit))]}, r.tail...)
		attrs.Reset()
		attrs.Set(bgp.AttrOrigin)
		attrs.Set(bgp.AttrASPath)
		attrs.Set(bgp.AttrNextHop)
		attrs.NextHop = peers[pi].Addr
		attrs.Path.Segments = append(attrs.Path.Segments, bgp.Segment{Type: bgp.ASSequence, ASNs: path})
		if err := w.WriteUpdate(tm, peers[pi], local, 12654, nil, attrs, pfx); err != nil {
			return total, err
		}
	}
	return total, nil
}
