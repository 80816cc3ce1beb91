package signal

import (
	"iter"
	"net/netip"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/view"
)

// transitBins is how many closed bins of transit counts are remembered:
// enough to look back past a fall dated back by its chain of losses.
const transitBins = 32

// transitCount is one AS's count of full-feed routes for which it is the
// neighbour of the origin (the last AS before it), with the counts at the
// close of the last transitBins bins. The history is written lazily, when
// the count changes, so a quiet AS costs nothing per bin.
type transitCount struct {
	cur  int32
	last int64 // the last bin (Tracker.seq) the count changed in
	hist [transitBins]int32
}

// transitKey keys the transit counts: by AS, country of the routes'
// prefixes (zero: of all countries) and family.
func transitKey(a bgp.ASN, cc geo.Country, f bgp.Family) uint64 {
	return uint64(a)<<17 | uint64(cc[0])<<9 | uint64(cc[1])<<1 | uint64(f&1)
}

// noteTransit adds d to the transit count of a in family f (the origin's
// neighbour of d full-feed routes that came or went), in all and in the
// country of the route's prefix (t.routeCC).
func (t *Tracker) noteTransit(a bgp.ASN, f bgp.Family, d int32) {
	t.addTransit(transitKey(a, geo.Country{}, f), d)
	if !t.routeCC.IsZero() {
		t.addTransit(transitKey(a, t.routeCC, f), d)
	}
}

func (t *Tracker) addTransit(k uint64, d int32) {
	if t.transit == nil {
		t.transit = map[uint64]*transitCount{}
	}
	c := t.transit[k]
	if c == nil {
		c = &transitCount{last: t.seq}
		t.transit[k] = c
	}
	if c.last < t.seq {
		// The bins since the last change ended with the count as it is.
		for j := max(c.last, t.seq-transitBins); j < t.seq; j++ {
			c.hist[j%transitBins] = c.cur
		}
		c.last = t.seq
	}
	c.cur += d
}

// Transit returns how many full-feed routes of family f (to prefixes of
// country cc; zero: of any) had AS a as the origin's neighbour at the
// close of the last bin before the bin holding before (then; the oldest
// remembered count if that is too long ago), and how many have now. It is
// the health of an upstream: an upstream that fails loses many of them at
// once.
func (t *Tracker) Transit(a bgp.ASN, f bgp.Family, cc geo.Country, before time.Time) (then, now int32) {
	c := t.transit[transitKey(a, cc, f)]
	if c == nil {
		return 0, 0
	}
	k := t.seq - 1
	if before.Before(t.binStart) {
		k = t.seq - 1 - int64((t.binStart.Sub(before)+t.bin-1)/t.bin)
	}
	switch {
	case k >= c.last || k < 0:
		// No change since (or no bin closed before it: nothing known).
		return c.cur, c.cur
	case c.last-k > transitBins:
		k = max(0, c.last-transitBins)
	}
	return c.hist[k%transitBins], c.cur
}

// UpstreamRoutes returns the full-feed routes of the entity through
// upstream AS a.
func (s *State) UpstreamRoutes(a bgp.ASN) int32 { return s.upstreams.get(a) }

// VisibleWithin returns the visible prefixes equal to p or inside it, with
// the origin each was last announced with.
func (t *Tracker) VisibleWithin(p netip.Prefix) iter.Seq2[netip.Prefix, bgp.ASN] {
	return t.vis[family(p)].Subnets(p)
}

// PathHunting returns how many path changes full-feed peers made to prefix
// id around its fall: in the run of changes just before its first
// withdrawal and between its withdrawals (path hunting, as a failing link
// makes BGP converge; an announcement that stops makes none).
func (t *Tracker) PathHunting(id view.PrefixID) int {
	if int(id) >= len(t.hunt) || t.firstW[id] == 0 {
		return 0
	}
	return int(t.hunt[id])
}

// huntWindow is how close path changes must come to each other (and to
// the first withdrawal) to be one run of path hunting.
const huntWindow = 2 * time.Minute

// notePathChange counts a full-feed peer's path change to prefix id.
func (t *Tracker) notePathChange(now time.Time, id view.PrefixID) {
	t.growW(id)
	switch n := now.UnixNano(); {
	case t.firstW[id] != 0:
		t.hunt[id] = min(t.hunt[id]+1, 1<<16-1)
	case n-t.chgAt[id] <= int64(huntWindow):
		t.chgAt[id] = n
		t.chgN[id] = min(t.chgN[id]+1, 1<<16-1)
	default:
		t.chgAt[id], t.chgN[id] = n, 1
	}
}

// growW makes the per-prefix withdrawal and path-hunting arrays hold id,
// all six at once and a quarter beyond it (a zero entry is "nothing
// yet"), so that they are not regrown, and copied, one prefix at a time.
func (t *Tracker) growW(id view.PrefixID) {
	if int(id) < len(t.firstW) {
		return
	}
	n := int(id) + 1 + len(t.firstW)/4
	t.firstW, t.lastW, t.chgAt = growTo(t.firstW, n), growTo(t.lastW, n), growTo(t.chgAt, n)
	t.wPeers, t.hunt, t.chgN = growTo(t.wPeers, n), growTo(t.hunt, n), growTo(t.chgN, n)
}

// growTo returns s lengthened with zeros to n (n > len(s)).
func growTo[T any](s []T, n int) []T {
	return append(s, make([]T, n-len(s))...)
}

// VisibleSince returns when prefix id last became visible (zero if never).
func (t *Tracker) VisibleSince(id view.PrefixID) time.Time {
	if int(id) >= len(t.visSince) || t.visSince[id] == 0 {
		return time.Time{}
	}
	return time.Unix(0, t.visSince[id]).UTC()
}
