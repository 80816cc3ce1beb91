package scenario

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
)

// Background is the realistic background of a world (Config.Background):
// what a full-feed collector sees of the Internet when nothing happens.
// On top of the classic churn (Config.ChurnRate) it adds
//
//   - big countries of hundreds of prefixes (Big), drawn before the other
//     countries and counted in Config.Countries;
//   - in each big country, about FlapsPerHour times an hour, a single small
//     prefix (FlapShare of the country's space of its family, at most
//     FlapASShare of its AS's) withdrawn by ALL peers and re-announced
//     FlapDown later, one flap at a time per country;
//   - path changes (PathChangeRate) seen by a few peers or by all peers:
//     another tier-1 or an upstream prepend, never another upstream;
//   - duplicate announcements (DuplicateRate): a peer re-announces a
//     prefix, or every prefix of its AS, with the path it already had.
//
// None of it is an event: the truth has nothing for it. Zero fields take
// the defaults of withDefaults.
type Background struct {
	// Big are the big countries; nil: DefaultBigCountries. A country of
	// the list that the geo DB cannot fill is skipped.
	Big []BigCountry
	// FlapsPerHour is the mean number of all-peer single-prefix flaps per
	// big country per hour; default 1; negative: none.
	FlapsPerHour float64
	// FlapShare is the range of the flapped prefix's share of its
	// country's space (of its family); default 0.0005-0.007.
	FlapShare [2]float64
	// FlapASShare is the largest share of its AS's space (of its family)
	// a flapped prefix may hold; default 0.02.
	FlapASShare float64
	// FlapDown is the range of a flap's down time; default 1m-3m.
	FlapDown [2]time.Duration
	// PathChangeRate is in changes per prefix per hour, half of them seen
	// by a few peers (1 to a fifth of them), half by all; default 0.02;
	// negative: none.
	PathChangeRate float64
	// DuplicateRate is in duplicate announcements per prefix per hour (one
	// peer; one time in five, a burst of up to 16 prefixes of the AS at
	// once); default 0.05; negative: none.
	DuplicateRate float64
	// ImpliedMin is the smallest share of an entity's space for which an
	// implied partial outage is written (the country of a small AS that
	// goes dark): below it the entity has no event at all; default 0.05.
	ImpliedMin float64
}

// BigCountry is one big country of a Background: V4 IPv4 and V6 IPv6
// prefixes over ASes origin ASes (0: 6 + V4/100), of which the first are
// ASNs when the geo DB registers them in the country. Two more, small
// ASes hold 1.2-1.8 % of the country's IPv4 space each.
type BigCountry struct {
	Country string
	V4, V6  int
	ASes    int
	ASNs    []uint32
}

// DefaultBigCountries are the big countries of a realistic world: about
// 4,500 IPv4 and 580 IPv6 prefixes in all, their best-known networks
// first.
var DefaultBigCountries = []BigCountry{
	{Country: "US", V4: 900, V6: 120, ASNs: []uint32{7018, 7922, 209, 20115}},
	{Country: "CN", V4: 600, V6: 80, ASNs: []uint32{9808, 4808, 56040}},
	{Country: "DE", V4: 500, V6: 70, ASNs: []uint32{3209, 6805, 8881}},
	{Country: "JP", V4: 450, V6: 60, ASNs: []uint32{4713, 17676, 2516}},
	{Country: "GB", V4: 450, V6: 60, ASNs: []uint32{2856, 5089, 5607}},
	{Country: "BR", V4: 450, V6: 50, ASNs: []uint32{28573, 18881, 26599}},
	{Country: "RU", V4: 450, V6: 50, ASNs: []uint32{8359, 31133, 8402}},
	{Country: "FR", V4: 350, V6: 50, ASNs: []uint32{3215, 12322, 15557}},
	{Country: "IN", V4: 350, V6: 40, ASNs: []uint32{9829, 55836, 24560}},
}

func (b Background) withDefaults() Background {
	if b.Big == nil {
		b.Big = DefaultBigCountries
	}
	if b.FlapsPerHour == 0 {
		b.FlapsPerHour = 1
	}
	if b.FlapShare == [2]float64{} {
		b.FlapShare = [2]float64{0.0005, 0.007}
	}
	if b.FlapASShare == 0 {
		b.FlapASShare = 0.02
	}
	if b.FlapDown == [2]time.Duration{} {
		b.FlapDown = [2]time.Duration{time.Minute, 3 * time.Minute}
	}
	if b.PathChangeRate == 0 {
		b.PathChangeRate = 0.02
	}
	if b.DuplicateRate == 0 {
		b.DuplicateRate = 0.05
	}
	if b.ImpliedMin == 0 {
		b.ImpliedMin = 0.05
	}
	return b
}

func (b *Background) validate() error {
	if b.FlapShare[0] <= 0 || b.FlapShare[1] < b.FlapShare[0] || b.FlapASShare <= 0 ||
		b.FlapDown[0] <= 0 || b.FlapDown[1] < b.FlapDown[0] {
		return fmt.Errorf("scenario: background: bad flap ranges")
	}
	for _, c := range b.Big {
		if _, err := geo.ParseCountry(c.Country); err != nil || c.V4 < 10 || c.V6 < 0 {
			return fmt.Errorf("scenario: background: big country %q: needs a country code and 10 or more IPv4 prefixes", c.Country)
		}
	}
	return nil
}

// Search bounds of the geo DB for realistic worlds.
const (
	bigBlocks, bigNodes     = 512, 60000
	smallBlocks, smallNodes = 96, 10000
)

// spaceAlloc hands out disjoint prefixes carved at random from a set of
// address blocks: free blocks by length, best fit first.
type spaceAlloc struct {
	free [129][]netip.Prefix
	leaf int // the longest prefix handed out: 24 or 48
}

func newAlloc(blocks []netip.Prefix, leaf int) *spaceAlloc {
	a := &spaceAlloc{leaf: leaf}
	for _, b := range blocks {
		a.free[b.Bits()] = append(a.free[b.Bits()], b)
	}
	return a
}

// units returns the free space, in /leaf units.
func (a *spaceAlloc) units() uint64 {
	var n uint64
	for bits, l := range a.free {
		if bits <= a.leaf {
			n += uint64(len(l)) << (a.leaf - bits)
		}
	}
	return n
}

// take returns a free prefix of the given length carved from the longest
// free block that holds it, or, when none does, a whole smaller block; false
// when the space is exhausted.
func (a *spaceAlloc) take(bits int, rng *rand.Rand) (netip.Prefix, bool) {
	bits = min(bits, a.leaf)
	pick := func(b int) netip.Prefix {
		l := a.free[b]
		i := rng.IntN(len(l))
		p := l[i]
		l[i] = l[len(l)-1]
		a.free[b] = l[:len(l)-1]
		return p
	}
	for b := bits; b >= 0; b-- {
		if len(a.free[b]) == 0 {
			continue
		}
		p := pick(b)
		for p.Bits() < bits {
			lo, hi := halves(p)
			if rng.IntN(2) == 1 {
				lo, hi = hi, lo
			}
			a.free[hi.Bits()] = append(a.free[hi.Bits()], hi)
			p = lo
		}
		return p, true
	}
	for b := bits + 1; b <= a.leaf; b++ {
		if len(a.free[b]) > 0 {
			return pick(b), true
		}
	}
	return netip.Prefix{}, false
}

// Prefix lengths of realistic worlds, about as often as in the global
// table: most IPv4 prefixes are /24s, most IPv6 ones /48s.
var (
	realV4Lens = []int{24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 23, 23, 22, 22, 22, 21, 21, 20, 19, 18, 16}
	realV6Lens = []int{48, 48, 48, 48, 48, 48, 48, 44, 40, 40, 36, 32, 32}
)

// carveN takes up to n prefixes from al with lengths drawn from lens,
// keeping big ones for when the space allows (a prefix takes at most three
// times the mean space left per prefix, less keep units).
func carveN(al *spaceAlloc, n int, lens []int, rng *rand.Rand, keep uint64) []netip.Prefix {
	var out []netip.Prefix
	for i := range n {
		bits := lens[rng.IntN(len(lens))]
		left := al.units()
		if left <= keep {
			break
		}
		most := max(1, 3*(left-keep)/uint64(n-i))
		for bits < al.leaf && uint64(1)<<(al.leaf-bits) > most {
			bits++
		}
		p, ok := al.take(bits, rng)
		if !ok {
			break
		}
		out = append(out, p)
	}
	return out
}

// buildRealistic draws the big countries and then the other countries of a
// realistic world (after the fixed ones) into w.
func buildRealistic(cfg *Config, w *world, ix *geoIndex, rng *rand.Rand, reserved map[uint32]bool, excluded map[geo.Country]bool) error {
	bg := cfg.Background
	taken := map[geo.Country]bool{}
	for _, c := range w.countries {
		taken[c.cc] = true
	}
	drawn := 0
	for _, bc := range bg.Big {
		if drawn >= cfg.Countries {
			break
		}
		cc := geo.MustCountry(bc.Country)
		if taken[cc] {
			continue
		}
		if c := w.drawBig(bc, cc, ix, rng, reserved); c != nil {
			w.countries = append(w.countries, c)
			taken[cc] = true
			drawn++
		}
	}
	var cands []geo.Country
	for _, cc := range geo.Countries() {
		s := cc.String()
		if taken[cc] || excluded[cc] || s == "EU" || s == "AP" || s == "ZZ" || s == "AC" || s == "TA" || s == "XK" || len(ix.ASNs(cc)) < 1 {
			continue
		}
		cands = append(cands, cc)
	}
	rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	for _, cc := range cands {
		if drawn >= cfg.Countries {
			break
		}
		if c := w.drawMany(cfg, ix, cc, rng, reserved); c != nil {
			w.countries = append(w.countries, c)
			drawn++
		}
	}
	if drawn < cfg.Countries {
		return fmt.Errorf("scenario: the geo DB has only %d usable countries, %d wanted", drawn, cfg.Countries)
	}
	return nil
}

// bigUpstreams returns n upstreams of the pool not registered in cc (so
// that the country's upstream, the first AS of a path not registered in
// it, is the upstream), in a seeded order.
func bigUpstreams(ix *geoIndex, cc geo.Country, rng *rand.Rand, n int) []bgp.ASN {
	var pool []bgp.ASN
	for _, u := range upstreamPool {
		if info, _ := ix.db.ASN(uint32(u)); info.Country != cc {
			pool = append(pool, u)
		}
	}
	rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	return pool[:min(n, len(pool))]
}

// newAS adds an AS of c with upstreams drawn from cups.
func (w *world) newAS(c *wCountry, asn uint32, ix *geoIndex, cups []bgp.ASN, nUp int, rng *rand.Rand) *wAS {
	info, _ := ix.db.ASN(asn)
	a := &wAS{asn: bgp.ASN(asn), name: info.Name, cc: c}
	for _, i := range rng.Perm(len(cups))[:min(nUp, len(cups))] {
		a.ups = append(a.ups, cups[i])
	}
	return a
}

// drawBig draws a big country: ASes of Zipf-like sizes (the first with the
// known ASNs), then two small ASes of 1.2-1.8 % of its IPv4 space each.
func (w *world) drawBig(bc BigCountry, cc geo.Country, ix *geoIndex, rng *rand.Rand, reserved map[uint32]bool) *wCountry {
	al4 := newAlloc(ix.blocksN(cc, false, bigBlocks, bigNodes), leafBits4)
	al6 := newAlloc(ix.blocksN(cc, true, bigBlocks, bigNodes), leafBits6)
	if al4.units() < uint64(bc.V4) {
		return nil
	}
	nAS := bc.ASes
	if nAS <= 0 {
		nAS = 6 + bc.V4/100
	}
	var asns []uint32
	for _, a := range bc.ASNs {
		if info, ok := ix.db.ASN(a); ok && info.Country == cc && !reserved[a] && !slices.Contains(asns, a) {
			asns = append(asns, a)
		}
	}
	all := ix.ASNs(cc)
	for tries := 0; len(asns) < nAS+2 && tries < 50*nAS; tries++ {
		if a := all[rng.IntN(len(all))]; !reserved[a] && !slices.Contains(asns, a) {
			asns = append(asns, a)
		}
	}
	if len(asns) < 3 {
		return nil
	}
	nAS = min(nAS, len(asns)-2)
	cups := bigUpstreams(ix, cc, rng, 4)
	c := &wCountry{cc: cc, big: true}
	var weights []float64
	var sum float64
	for k := range nAS {
		weights = append(weights, 1/math.Pow(float64(k+1), 0.9))
		sum += weights[k]
	}
	// Carve all the IPv4 prefixes of the big ASes at once (so that the
	// sizes fit the space), then deal them out in the weights' shares.
	v4 := carveN(al4, bc.V4, realV4Lens, rng, al4.units()/16)
	v6 := carveN(al6, bc.V6, realV6Lens, rng, 0)
	deal := func(ps []netip.Prefix, k int) []netip.Prefix {
		var cum float64
		for j := range k {
			cum += weights[j]
		}
		lo := int(math.Round(cum / sum * float64(len(ps))))
		hi := int(math.Round((cum + weights[k]) / sum * float64(len(ps))))
		return ps[lo:hi]
	}
	var space4 uint64
	for k := range nAS {
		a := w.newAS(c, asns[k], ix, cups, 1+min(2, (nAS-k)/3)+rng.IntN(2), rng)
		mine := deal(v4, k)
		if len(mine) == 0 {
			continue
		}
		for _, p := range mine {
			w.addPrefix(a, p, prependOf(rng))
			space4 += units(p)
		}
		for _, p := range deal(v6, k) {
			w.addPrefix(a, p, prependOf(rng))
		}
		reserved[asns[k]] = true
		c.ases = append(c.ases, a)
		w.ases = append(w.ases, a)
	}
	// Two small ASes.
	for k := nAS; k < nAS+2; k++ {
		f := 0.012 + 0.006*rng.Float64()
		target := uint64(f / (1 - f) * float64(space4))
		a := w.newAS(c, asns[k], ix, cups, 1, rng)
		var got uint64
		for got < target {
			bits := 24
			if target-got >= 4*256 && rng.IntN(2) == 0 {
				bits = 22
			} else if target-got >= 2*256 && rng.IntN(2) == 0 {
				bits = 23
			}
			p, ok := al4.take(bits, rng)
			if !ok || got+units(p) > target*3/2+256 {
				break
			}
			w.addPrefix(a, p, prependOf(rng))
			got += units(p)
		}
		if len(a.prefix) == 0 {
			continue
		}
		if p, ok := al6.take(48, rng); ok {
			w.addPrefix(a, p, prependOf(rng))
		}
		reserved[asns[k]] = true
		c.ases = append(c.ases, a)
		w.ases = append(w.ases, a)
	}
	if len(c.ases) == 0 {
		return nil
	}
	return c
}

// drawMany draws a country of a realistic world like drawCountry, but
// carves several prefixes from a block (so that an AS can have tens of
// them) with the realistic lengths.
func (w *world) drawMany(cfg *Config, ix *geoIndex, cc geo.Country, rng *rand.Rand, reserved map[uint32]bool) *wCountry {
	b4 := ix.blocksN(cc, false, smallBlocks, smallNodes)
	if len(b4) < 4 {
		return nil
	}
	al4 := newAlloc(b4, leafBits4)
	al6 := newAlloc(ix.blocksN(cc, true, smallBlocks, smallNodes), leafBits6)
	asns := ix.ASNs(cc)
	nAS := cfg.ASesPerCountry[0] + rng.IntN(cfg.ASesPerCountry[1]-cfg.ASesPerCountry[0]+1)
	nAS = min(nAS, len(asns))
	pool := slices.Clone(upstreamPool)
	rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	cups := pool[:2+rng.IntN(2)]
	c := &wCountry{cc: cc}
	for tries := 0; len(c.ases) < nAS && tries < 50; tries++ {
		asn := asns[rng.IntN(len(asns))]
		if reserved[asn] {
			continue
		}
		a := w.newAS(c, asn, ix, cups, 1+rng.IntN(2), rng)
		n4 := cfg.V4PerAS[0] + rng.IntN(cfg.V4PerAS[1]-cfg.V4PerAS[0]+1)
		n6 := cfg.V6PerAS[0] + rng.IntN(cfg.V6PerAS[1]-cfg.V6PerAS[0]+1)
		v4 := carveN(al4, n4, realV4Lens, rng, 0)
		if len(v4) == 0 {
			break
		}
		for _, p := range v4 {
			w.addPrefix(a, p, prependOf(rng))
		}
		for _, p := range carveN(al6, n6, realV6Lens, rng, 0) {
			w.addPrefix(a, p, prependOf(rng))
		}
		reserved[asn] = true
		c.ases = append(c.ases, a)
		w.ases = append(w.ases, a)
	}
	if len(c.ases) == 0 {
		return nil
	}
	return c
}

// flapCandidates returns the prefixes of big country c that a background
// flap may take (see Background).
func (pl *planner) flapCandidates(c *wCountry) []int32 {
	bg := pl.cfg.Background
	var ccTot [2]uint64
	asTot := map[*wAS]*[2]uint64{}
	fam := func(wp *wPrefix) int {
		if wp.v6 {
			return 1
		}
		return 0
	}
	for _, a := range c.ases {
		asTot[a] = &[2]uint64{}
		for _, x := range a.prefix {
			wp := pl.w.prefixes[x]
			ccTot[fam(wp)] += wp.size
			asTot[a][fam(wp)] += wp.size
		}
	}
	var out []int32
	for _, a := range c.ases {
		for _, x := range a.prefix {
			wp := pl.w.prefixes[x]
			f := fam(wp)
			share := float64(wp.size) / float64(ccTot[f])
			if share >= bg.FlapShare[0] && share <= bg.FlapShare[1] && float64(wp.size) <= bg.FlapASShare*float64(asTot[a][f]) {
				out = append(out, int32(x))
			}
		}
	}
	return out
}

// addBackground plans the realistic background (see Background), after
// the injected events (whose prefixes it leaves alone while they last) and
// before the classic churn (which leaves the flaps alone).
func (pl *planner) addBackground() {
	bg := pl.cfg.Background
	if bg == nil || len(pl.w.prefixes) == 0 {
		return
	}
	rng := pl.rng
	free := func(x int32, from, to time.Time) bool {
		iv := interval{from, to}
		for _, o := range pl.busyPfx[x] {
			if o.overlaps(iv) {
				return false
			}
		}
		return true
	}
	stop := pl.end.Add(-10 * time.Minute)
	if bg.FlapsPerHour > 0 {
		mean := time.Duration(float64(time.Hour) / bg.FlapsPerHour)
		for _, c := range pl.w.countries {
			if !c.big {
				continue
			}
			cands := pl.flapCandidates(c)
			if len(cands) == 0 {
				continue
			}
			t := pl.cfg.Start.Add(5*time.Minute + time.Duration(rng.Int64N(int64(mean))))
			for t.Before(stop) {
				span := bg.FlapDown[1] - bg.FlapDown[0]
				down := bg.FlapDown[0] + time.Duration(rng.Int64N(int64(span)/int64(time.Second)+1))*time.Second
				t = t.Truncate(time.Second)
				up := t.Add(down)
				for range 8 {
					x := cands[rng.IntN(len(cands))]
					if !free(x, t.Add(-time.Minute), up.Add(time.Minute)) {
						continue
					}
					pl.allPeers(t, opWithdraw, 0, []int32{x})
					last := pl.allPeers(up, opAnnounce, 0, []int32{x})
					pl.busy([]int32{x}, t, last)
					break
				}
				gap := time.Duration(rng.ExpFloat64() * float64(mean))
				t = up.Add(max(gap-down, 30*time.Second))
			}
		}
	}
	hours := pl.cfg.Duration.Hours()
	np := len(pl.w.prefixes)
	from := pl.cfg.Start.Add(2 * time.Minute)
	span := int64(pl.cfg.Duration - 5*time.Minute)
	if span <= 0 {
		return
	}
	if bg.PathChangeRate > 0 {
		n := int(bg.PathChangeRate * float64(np) * hours)
		few := max(1, len(pl.w.peers)/5)
		for range n {
			t := from.Add(time.Duration(rng.Int64N(span))).Truncate(time.Microsecond)
			x := int32(rng.IntN(np))
			v := uint32(rng.IntN(8))
			if !free(x, t.Add(-time.Minute), t.Add(time.Minute)) {
				continue
			}
			if rng.IntN(2) == 0 {
				for _, p := range rng.Perm(len(pl.w.peers))[:1+rng.IntN(few)] {
					pl.add(t.Add(time.Duration(rng.IntN(3000))*time.Millisecond), p, opVariant, v, []int32{x})
				}
				continue
			}
			pl.allPeers(t, opVariant, v, []int32{x})
		}
	}
	if bg.DuplicateRate > 0 {
		n := int(bg.DuplicateRate * float64(np) * hours)
		for range n {
			t := from.Add(time.Duration(rng.Int64N(span))).Truncate(time.Microsecond)
			x := int32(rng.IntN(np))
			p := rng.IntN(len(pl.w.peers))
			pfx := []int32{x}
			if rng.IntN(5) == 0 {
				// A burst: up to 16 prefixes of the AS, from a random one on.
				ps := pl.w.prefixes[x].as.prefix
				k := rng.IntN(len(ps))
				pfx = pfx[:0]
				for _, y := range ps[k:min(len(ps), k+1+rng.IntN(16))] {
					pfx = append(pfx, int32(y))
				}
			}
			pl.add(t, p, opDuplicate, 0, pfx)
		}
	}
}
