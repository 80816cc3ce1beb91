package scenario

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
)

// Tier-1 networks: the second hop of every path.
var tier1s = []bgp.ASN{3356, 1299, 174, 2914, 6762, 3257, 6453, 701}

// International upstreams: the transit a country's networks buy, all
// registered elsewhere than the world's countries.
var upstreamPool = []bgp.ASN{4837, 4134, 3491, 4637, 7473, 1273, 9002, 12389, 20485, 3320, 6939, 5511, 2497, 6830}

// The collector's side of the sessions (RIPE NCC's RIS AS; documentation addresses).
var (
	collectorID = netip.MustParseAddr("203.0.113.254")
	local4      = netip.MustParseAddr("203.0.113.254")
	local6      = netip.MustParseAddr("2001:db8::fffe")
	localAS     = bgp.ASN(12654)
)

// World describes a generated world (part of Generated).
type World struct {
	Countries []WorldCountry `json:"countries"`
	Peers     []bgp.Peer     `json:"peers"`
}

// WorldCountry is one country of a World.
type WorldCountry struct {
	Country string    `json:"country"`
	ASes    []WorldAS `json:"ases"`
	Big     bool      `json:"big,omitempty"` // a big country of a realistic background
}

// WorldAS is one origin AS of a World.
type WorldAS struct {
	ASN       uint32         `json:"asn"`
	Name      string         `json:"name"`
	Prefixes  []netip.Prefix `json:"prefixes"`  // IPv4 then IPv6
	Upstreams []uint32       `json:"upstreams"` // at the start of the data
}

type wPrefix struct {
	p       netip.Prefix
	v6      bool
	as      *wAS
	prepend int    // extra copies of the origin
	late    bool   // not announced at the start (other_origin's more-specifics)
	size    uint64 // in /24 (IPv4) or /48 (IPv6) units... see units
}

type wAS struct {
	asn    bgp.ASN
	name   string
	cc     *wCountry
	ups    []bgp.ASN
	prefix []int // indices into world.prefixes
}

type wCountry struct {
	cc   geo.Country
	ases []*wAS
	big  bool // a big country of a realistic background
}

type world struct {
	countries []*wCountry
	ases      []*wAS
	prefixes  []*wPrefix
	peers     []bgp.Peer
	nh4, nh6  []netip.Addr // next hops per peer
}

// units returns the size of p in the unit the fractions use: addresses
// for IPv4 (/24 units scaled), /64 blocks for IPv6.
func units(p netip.Prefix) uint64 {
	if p.Addr().Is4() {
		return 1 << (32 - p.Bits())
	}
	if p.Bits() <= 64 {
		return 1 << (64 - p.Bits())
	}
	return 1
}

func makePeers(n int, collector string) ([]bgp.Peer, []netip.Addr, []netip.Addr) {
	peers := make([]bgp.Peer, n)
	nh4 := make([]netip.Addr, n)
	nh6 := make([]netip.Addr, n)
	n4 := (n*2 + 2) / 3
	for i := range n {
		var addr netip.Addr
		switch {
		case i < n4 && i < 100:
			addr = netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)})
		case i < n4:
			addr = netip.AddrFrom4([4]byte{198, 51, 100, byte(i - 90)})
		default:
			addr = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1), 14: byte((i + 1) >> 8)})
		}
		var as bgp.ASN
		switch k := i % 32; {
		case k < 16:
			as = bgp.ASN(64496 + k) // RFC 5398 documentation ASNs
		default:
			as = bgp.ASN(65536 + k - 16)
		}
		peers[i] = bgp.Peer{Collector: collector, Addr: addr, AS: as}
		if addr.Is4() {
			nh4[i] = addr
			nh6[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 15: byte(i + 1), 14: byte((i + 1) >> 8)})
		} else {
			nh6[i] = addr
			nh4[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(100 + i%150)})
		}
	}
	return peers, nh4, nh6
}

// buildWorld draws the countries, ASes and prefixes of cfg from db.
func buildWorld(cfg *Config, db *geo.DB, rng *rand.Rand) (*world, error) {
	w := &world{}
	w.peers, w.nh4, w.nh6 = makePeers(cfg.Peers, cfg.Collector)
	ix := indexFor(db)

	reserved := map[uint32]bool{uint32(localAS): true}
	excluded := map[geo.Country]bool{}
	for _, a := range slices.Concat(tier1s, upstreamPool) {
		reserved[uint32(a)] = true
		if info, ok := db.ASN(uint32(a)); ok && !info.Country.IsZero() {
			excluded[info.Country] = true
		}
	}
	for _, p := range w.peers {
		reserved[uint32(p.AS)] = true
	}
	used := map[netip.Prefix]bool{}

	// Fixed countries first.
	for _, fc := range cfg.Fixed {
		cc, err := geo.ParseCountry(fc.Country)
		if err != nil {
			return nil, fmt.Errorf("scenario: fixed country: %w", err)
		}
		c := &wCountry{cc: cc}
		for _, fa := range fc.ASes {
			if len(fa.Prefixes) == 0 || len(fa.Upstreams) == 0 {
				return nil, fmt.Errorf("scenario: fixed AS%d: needs prefixes and upstreams", fa.ASN)
			}
			info, _ := db.ASN(fa.ASN)
			a := &wAS{asn: bgp.ASN(fa.ASN), name: info.Name, cc: c}
			for _, u := range fa.Upstreams {
				a.ups = append(a.ups, bgp.ASN(u))
			}
			reserved[fa.ASN] = true
			for _, p := range fa.Prefixes {
				p = p.Masked()
				if used[p] {
					return nil, fmt.Errorf("scenario: fixed prefix %s given twice", p)
				}
				used[p] = true
				w.addPrefix(a, p, 0)
			}
			c.ases = append(c.ases, a)
			w.ases = append(w.ases, a)
		}
		excluded[cc] = true
		w.countries = append(w.countries, c)
	}

	if cfg.Background != nil {
		if err := buildRealistic(cfg, w, ix, rng, reserved, excluded); err != nil {
			return nil, err
		}
		return w, nil
	}

	// Background countries, in a seeded order.
	var cands []geo.Country
	for _, cc := range geo.Countries() {
		s := cc.String()
		if excluded[cc] || s == "EU" || s == "AP" || s == "ZZ" || s == "AC" || s == "TA" || s == "XK" {
			continue
		}
		if len(ix.ASNs(cc)) < 1 {
			continue
		}
		cands = append(cands, cc)
	}
	rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	for _, cc := range cands {
		if len(w.countries)-len(cfg.Fixed) >= cfg.Countries {
			break
		}
		c := w.drawCountry(cfg, ix, cc, rng, reserved, used)
		if c != nil {
			w.countries = append(w.countries, c)
		}
	}
	if len(w.countries)-len(cfg.Fixed) < cfg.Countries {
		return nil, fmt.Errorf("scenario: the geo DB has only %d usable countries, %d wanted", len(w.countries)-len(cfg.Fixed), cfg.Countries)
	}
	return w, nil
}

func (w *world) addPrefix(a *wAS, p netip.Prefix, prepend int) {
	w.prefixes = append(w.prefixes, &wPrefix{p: p, v6: p.Addr().Is6(), as: a, prepend: prepend, size: units(p)})
	a.prefix = append(a.prefix, len(w.prefixes)-1)
}

var v4Lens = []int{24, 24, 24, 24, 24, 23, 23, 22, 22, 22, 21, 20, 20, 20, 19, 18, 16}
var v6Lens = []int{48, 48, 48, 48, 44, 44, 40, 40, 36, 32, 32}

// drawCountry picks origin ASes and prefixes of cc, or returns nil when the
// geo DB has too little of it.
func (w *world) drawCountry(cfg *Config, ix *geoIndex, cc geo.Country, rng *rand.Rand, reserved map[uint32]bool, used map[netip.Prefix]bool) *wCountry {
	b4 := slices.Clone(ix.Blocks(cc, false))
	b6 := slices.Clone(ix.Blocks(cc, true))
	if len(b4) < 4 {
		return nil
	}
	rng.Shuffle(len(b4), func(i, j int) { b4[i], b4[j] = b4[j], b4[i] })
	rng.Shuffle(len(b6), func(i, j int) { b6[i], b6[j] = b6[j], b6[i] })
	asns := ix.ASNs(cc)
	nAS := cfg.ASesPerCountry[0] + rng.IntN(cfg.ASesPerCountry[1]-cfg.ASesPerCountry[0]+1)
	nAS = min(nAS, len(asns))
	// The country's international upstreams: 2 or 3 of the pool.
	pool := slices.Clone(upstreamPool)
	rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	cups := pool[:2+rng.IntN(2)]

	c := &wCountry{cc: cc}
	nPfx0 := len(w.prefixes)
	nAS0 := len(w.ases)
	for tries := 0; len(c.ases) < nAS && tries < 50; tries++ {
		asn := asns[rng.IntN(len(asns))]
		if reserved[asn] {
			continue
		}
		info, _ := ix.db.ASN(asn)
		a := &wAS{asn: bgp.ASN(asn), name: info.Name, cc: c}
		a.ups = []bgp.ASN{cups[rng.IntN(len(cups))]}
		if rng.IntN(10) < 3 {
			if u := cups[rng.IntN(len(cups))]; u != a.ups[0] {
				a.ups = append(a.ups, u)
			}
		}
		n4 := cfg.V4PerAS[0] + rng.IntN(cfg.V4PerAS[1]-cfg.V4PerAS[0]+1)
		n6 := cfg.V6PerAS[0] + rng.IntN(cfg.V6PerAS[1]-cfg.V6PerAS[0]+1)
		for range n4 {
			if len(b4) == 0 {
				break
			}
			p := carve(b4[0], v4Lens[rng.IntN(len(v4Lens))], rng)
			b4 = b4[1:]
			used[p] = true
			w.addPrefix(a, p, prependOf(rng))
		}
		for range n6 {
			if len(b6) == 0 {
				break
			}
			p := carve(b6[0], v6Lens[rng.IntN(len(v6Lens))], rng)
			b6 = b6[1:]
			used[p] = true
			w.addPrefix(a, p, prependOf(rng))
		}
		if len(a.prefix) == 0 || w.prefixes[a.prefix[0]].v6 {
			// No IPv4: give the prefixes back (rare: only when the pool ran dry).
			w.prefixes = w.prefixes[:len(w.prefixes)-len(a.prefix)]
			break
		}
		reserved[asn] = true
		c.ases = append(c.ases, a)
		w.ases = append(w.ases, a)
	}
	if len(c.ases) == 0 {
		w.prefixes, w.ases = w.prefixes[:nPfx0], w.ases[:nAS0]
		return nil
	}
	return c
}

func prependOf(rng *rand.Rand) int {
	if rng.IntN(10) == 0 {
		return 1 + rng.IntN(2)
	}
	return 0
}

// carve returns a random subprefix of block with the given length (or the
// block itself when it is longer).
func carve(block netip.Prefix, bits int, rng *rand.Rand) netip.Prefix {
	if bits <= block.Bits() {
		return block
	}
	a := block.Addr().AsSlice()
	for bit := block.Bits(); bit < bits; bit++ {
		if rng.IntN(2) == 1 {
			a[bit/8] |= 0x80 >> (bit % 8)
		}
	}
	addr, _ := netip.AddrFromSlice(a)
	return netip.PrefixFrom(addr, bits)
}

// info returns the exported description of w.
func (w *world) info() World {
	var out World
	out.Peers = slices.Clone(w.peers)
	for _, c := range w.countries {
		wc := WorldCountry{Country: c.cc.String(), Big: c.big}
		for _, a := range c.ases {
			wa := WorldAS{ASN: uint32(a.asn), Name: a.name}
			for _, i := range a.prefix {
				wa.Prefixes = append(wa.Prefixes, w.prefixes[i].p)
			}
			for _, u := range a.ups {
				wa.Upstreams = append(wa.Upstreams, uint32(u))
			}
			wc.ASes = append(wc.ASes, wa)
		}
		out.Countries = append(out.Countries, wc)
	}
	return out
}
