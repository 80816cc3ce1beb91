package detect

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/view"
)

// Config holds the detector's thresholds. Shares are of the baseline.
type Config struct {
	// OutageShare: an entity that lost at least this share of its
	// visible address space is in an outage (near total).
	OutageShare float64
	// PartialShare: losing at least this share is a partial outage ...
	PartialShare float64
	// ... once it has lasted PartialConfirm (its start stays the moment
	// the loss crossed the threshold). Shorter losses are instability.
	PartialConfirm time.Duration
	// OutageConfirm: a near-total loss of an entity that was unstable just
	// before (visibility losses within InstabilityWindow) must last this
	// long to be an outage; shorter falls are part of the instability. A
	// stable entity's outage is reported at once.
	OutageConfirm time.Duration
	// TransientOutage: an outage that ends within this time is retracted
	// (a "retract" notice) and counts as instability instead.
	TransientOutage time.Duration
	// BreadthShare: the prefixes lost must have been withdrawn by at least
	// this share of the full-feed peers, so that a prefix that one peer's
	// withdrawal tips below the visibility threshold is not an outage.
	BreadthShare float64
	// CriticalShare: a loss of at least this share is critical (IODA:
	// below 50% of the baseline); a smaller one a warning.
	CriticalShare float64
	// RecoverShare: an event ends when the loss falls below this share.
	RecoverShare float64
	// MinBaseline ignores entities whose baseline is below this many units
	// (/24 or /48).
	MinBaseline float64
	// WarmUp: without a RIB dump, detection starts after this much data.
	WarmUp time.Duration
	// MaxGap: a gap in the data longer than this (no route event at all)
	// is not judged across: after it, every family warms up again.
	MaxGap time.Duration
	// Instability is the entity's own anomaly: within InstabilityWindow,
	// at least InstabilityLosses flaps (see FlapMax), at some moment at least
	// InstabilityShare of a family's baseline space lost at once, and so
	// many losses that they are improbable at the entity's own recent
	// rate: the Poisson tail probability of that count at the mean rate
	// of the last 24 hours outside its events is at most InstabilityP.
	// It ends after InstabilityQuiet without a loss.
	InstabilityLosses int
	InstabilityWindow time.Duration
	InstabilityShare  float64
	InstabilityP      float64
	InstabilityQuiet  time.Duration
	// FlapMax: a prefix that lost visibility and came back within this
	// time (outside the entity's outages) flapped; longer losses are not
	// flaps.
	FlapMax time.Duration
	// ChainGap: a fall is dated back to the first loss of a chain of
	// losses (of the prefixes that end up lost) no further apart than
	// this, and its end to the first recovery of the chain of recoveries
	// that brought it back.
	ChainGap time.Duration
	// UpstreamShare: an upstream carrying at least this share of an
	// entity's routes that disappears, or a new one that reaches it, is
	// an upstream change once it has lasted UpstreamConfirm.
	UpstreamShare   float64
	UpstreamConfirm time.Duration
}

// DefaultConfig returns the default thresholds.
func DefaultConfig() Config {
	return Config{
		OutageShare: 0.95, PartialShare: 0.2, PartialConfirm: 5 * time.Minute, CriticalShare: 0.5,
		OutageConfirm: 3 * time.Minute, BreadthShare: 0.3, TransientOutage: 3 * time.Minute,
		RecoverShare: 0.1, MinBaseline: 0, WarmUp: time.Hour, MaxGap: 2 * time.Hour,
		InstabilityLosses: 4, InstabilityWindow: 2 * time.Hour, InstabilityShare: 0.05, InstabilityP: 1e-3, InstabilityQuiet: 2 * time.Hour, FlapMax: 30 * time.Minute,
		ChainGap:      time.Hour,
		UpstreamShare: 0.2, UpstreamConfirm: 10 * time.Minute,
	}
}

type efKey struct {
	e signal.Entity
	f bgp.Family
}

// track is the detector's state for one entity and family: a family's
// track (IPv4, IPv6) has the baseline part (famPart), the entity's
// all-family track the instability part (allPart); the other is nil.
type track struct {
	key     efKey
	all     *track                      // the entity's all-family track (itself for that one)
	lost    map[view.PrefixID]time.Time // prefixes lost and not back (nil until one is)
	lostVer int                         // changes of lost
	// What only an entity with an event, an instability or an upstream
	// change uses: zeroCold (shared, never written) until then; w()
	// gives a track its own before a write.
	c *trackCold
	*famPart
	ap *allPart // the all-family track's; nil until it has a loss, a recovery or a flap to keep (read through ar)
}

// famPart is what a family's track has of its own: the baseline.
//
// There is one per entity and family (tens of thousands): its hourly
// histories are apart (h, nil until an hour has closed) and its fields
// are laid out to fit a 176-byte size class.
type famPart struct {
	h          *hourly
	hourBins   []float64 // the current hour's bin values
	level      float64   // the share of the baseline lost now (from the last change)
	initial    float64
	lastVal    float64 // visible space at the end of the last bin fed to the baseline
	base       float64 // baseline() while baseOK
	lastBin    int64   // start of that bin (unix nanoseconds), if hasLastBin
	churnBin   int
	lossBins   int32
	hourBusy   bool // the current hour had a bin inside one of the entity's events
	baseOK     bool
	hasLastBin bool

	// Cause evidence: the route events of the last bins (the starts of
	// earlier outages and when the upstreams last changed are in the
	// cold part).
	churnRing  [12]int32
	churnRingI int

	upSnap   upShares // upstream shares at the last normal bin
	upRoutes int32    // full-feed routes at that bin
}

// hourly is a family track's history by hour, oldest first, at most 24
// hours each.
type hourly struct {
	hours  []float64 // hourly baseline values
	lossH  []float64 // hourly visibility losses, hours outside the entity's events
	churnH []float64 // hourly route events, hours outside the entity's events
}

// noHourly is what hr returns before an hour has closed: empty, shared,
// never written.
var noHourly hourly

// hr returns the track's hourly histories, to read.
func (f *famPart) hr() *hourly {
	if f.h == nil {
		return &noHourly
	}
	return f.h
}

// allPart is what an entity's all-family track has of its own: what
// instability is judged on.
type allPart struct {
	judge      bool        // a loss came: judge instability at the next change
	losses     []time.Time // recent visibility losses
	recoveries []time.Time
	flaps      []flap    // recent losses that came back, in the order they came back
	levels     []levelAt // recent shares lost at once, by family
}

// noAll is what ar returns for a track without an allPart: empty, shared,
// never written.
var noAll allPart

// ar returns the all-family track's instability part, to read.
func (t *track) ar() *allPart {
	if t.ap == nil {
		return &noAll
	}
	return t.ap
}

// aw returns the all-family track's instability part, to write: its own,
// made on the first write. Most entities never lose a prefix once their
// family is warm, so most never have one.
func (t *track) aw() *allPart {
	if t.ap == nil {
		t.ap = &allPart{}
	}
	return t.ap
}

// trackCold is the part of a track that few tracks use (see track.c).
type trackCold struct {
	instIDs       map[view.PrefixID]struct{} // the prefixes that flapped in the open instability (all-family track)
	broadVer      int                        // lostVer when breadth was last judged
	broadAt       time.Time                  // and when
	lastFlap      time.Time                  // when the last flapping prefix came back (all-family track)
	instRate      float64                    // the losses per hour the open instability is judged against
	crossed       time.Time                  // when the open outage crossed its threshold
	ev            *event.Event               // open outage or partial outage
	pending       *event.Event               // outage or partial outage waiting for confirmation
	confirm       time.Time
	evOpenedInBin bool
	inst          *event.Event // open instability
	lastInst      *event.Event
	recov         []time.Time            // recoveries of the open outage's prefixes
	eventLost     map[view.PrefixID]bool // lost in an outage: not flaps (all-family track)
	past          []time.Time
	upChangedAt   time.Time
	upPending     *event.Event
	upConfirm     time.Time
}

// zeroCold is every track's cold part until it writes one: read only.
var zeroCold trackCold

// w returns the track's own cold part, for writing.
func (t *track) w() *trackCold {
	if t.c == &zeroCold {
		t.c = new(trackCold)
	}
	return t.c
}

// lossTimes returns the loss times of the track's lost prefixes up to
// until, sorted.
func lossTimes(t *track, until time.Time) []time.Time {
	ts := make([]time.Time, 0, len(t.lost))
	for _, at := range t.lost {
		if !at.After(until) {
			ts = append(ts, at)
		}
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	return ts
}

// chainStart returns the first time of the last chain of sorted times
// whose consecutive times are at most gap apart (zero if ts is empty).
func chainStart(ts []time.Time, gap time.Duration) time.Time {
	if len(ts) == 0 {
		return time.Time{}
	}
	i := len(ts) - 1
	for i > 0 && ts[i].Sub(ts[i-1]) <= gap {
		i--
	}
	return ts[i]
}

// levelAt is the share of a family's baseline lost at a moment.
type levelAt struct {
	t     time.Time
	level float64
}

// Evidence is what the detector reads of the routing view and the signals
// while it judges and explains: the view's prefixes, origins, last paths
// and full-feed peers, and the tracker's withdrawal spread, live states and
// bins. The pipeline gives the real view and tracker; tests give their own.
type Evidence interface {
	// Prefix returns the prefix of id.
	Prefix(id view.PrefixID) netip.Prefix
	// Origin returns the origin AS the prefix was last announced with.
	Origin(id view.PrefixID) bgp.ASN
	// LastWithdrawnPath returns the AS path the prefix had at the last
	// full-feed peer that withdrew it (nil if unknown).
	LastWithdrawnPath(id view.PrefixID) []bgp.ASN
	// FullFeed returns the numbers of full-feed peers, IPv4 and IPv6.
	FullFeed() (v4, v6 int)
	// FamilyState tells when the latest RIB dump entry of family f was
	// applied (zero: never), when its first route event came, and how many
	// full-feed peers it has.
	FamilyState(f bgp.Family) (lastRIB, first time.Time, fullFeed int)
	// Withdrawals returns the first and last withdrawal of the prefix by a
	// full-feed peer since it was last visible, and how many there were.
	Withdrawals(id view.PrefixID) (first, last time.Time, n int)
	// State returns the live signal state of an entity and family (nil
	// if none).
	State(e signal.Entity, f bgp.Family) *signal.State
	// BinStart returns the start of the open bin; BinWidth its width.
	BinStart() time.Time
	BinWidth() time.Duration
	// Transit returns how many full-feed routes of family f (to prefixes of
	// country cc; zero: of any) had AS a as the origin's neighbour just
	// before the bin holding before, and now.
	Transit(a bgp.ASN, f bgp.Family, cc geo.Country, before time.Time) (then, now int32)
	// PathHunting returns the path changes full-feed peers made to the
	// prefix around its fall.
	PathHunting(id view.PrefixID) int
	// OtherRoutes calls fn for each visible prefix equal to p or inside
	// it, with its origin and since when it has been visible.
	OtherRoutes(p netip.Prefix, fn func(q netip.Prefix, origin bgp.ASN, since time.Time))
}

// Detector turns signals into events. It implements signal.Sink; the
// pipeline also calls Peer with the view's peer events and Tick with the
// data time.
type Detector struct {
	cfg      Config
	db       *geo.DB
	evidence Evidence
	sink     event.Sink
	tracks   map[efKey]*track
	// affected holds the prefixes each open outage has lost so far.
	affected map[*event.Event]map[view.PrefixID]struct{}
	pending  []*track // tracks with a pending partial outage or upstream change
	peers    map[int]*event.Event
	nextID   int
	warm     [2]bool // detection has started, by family
	warmAt   [2]time.Time
	warmLive [2]bool   // ... because the live peers' tables were complete
	gapStart time.Time // the latest gap in the data (see Config.MaxGap)
	gapEnd   time.Time
	lastScan time.Time // data time the pending tracks were last looked at
	now      time.Time
	join     *joiner
	bins     BinSink // nil: nobody wants the bins
}

// BinSink receives every closed bin the detector judged, with its
// baseline after it (signal.Bin.Baseline). A detector's event.Sink that is
// also a BinSink gets them.
type BinSink interface {
	Bin(e signal.Entity, f bgp.Family, b signal.Bin)
}

// New returns a Detector that reads ev and sends its notices to sink.
func New(cfg Config, db *geo.DB, ev Evidence, sink event.Sink) *Detector {
	if sink == nil {
		sink = event.SinkFunc(func(event.Notice) {})
	}
	bins, _ := sink.(BinSink)
	j := newJoiner(sink)
	return &Detector{cfg: cfg, db: db, evidence: ev, sink: j, join: j, bins: bins, tracks: map[efKey]*track{}, affected: map[*event.Event]map[view.PrefixID]struct{}{}, peers: map[int]*event.Event{}}
}

func (d *Detector) track(e signal.Entity, f bgp.Family) *track {
	k := efKey{e, f}
	t := d.tracks[k]
	if t == nil {
		t = &track{key: k, c: &zeroCold}
		d.tracks[k] = t
		if f == bgp.AllFamilies {
			t.all = t
		} else {
			t.all, t.famPart = d.track(e, bgp.AllFamilies), &famPart{}
		}
	}
	return t
}

// Tick advances the detector's clock to now: it confirms pending outages
// and upstream changes and ends quiet instability.
func (d *Detector) Tick(now time.Time) {
	if !d.now.IsZero() && d.cfg.MaxGap > 0 && now.Sub(d.now) > d.cfg.MaxGap {
		d.gap(d.now, now)
	}
	if now.After(d.now) {
		d.now = now
	}
	for f := 0; f < 2; f++ {
		if d.warm[f] {
			continue
		}
		lastRIB, first, full := d.evidence.FamilyState(bgp.Family(f))
		if full == 0 {
			continue // no full-feed peer: not warm yet, whatever else holds
		}
		sawRIB := !lastRIB.IsZero()
		if g := d.gapEnd; !g.IsZero() {
			// After a gap: judged again from a RIB dump after it (once a
			// bin has closed over it) or after WarmUp of updates.
			sawRIB = !lastRIB.Before(g) && now.Sub(g) >= d.evidence.BinWidth()
			first = g
		}
		// A family is warm once its full-feed peers are known: from a RIB
		// dump, when every live peer that signals it has its whole table
		// (End-of-RIB or a quiet table), or after WarmUp of updates.
		ready := !sawRIB && d.peersReady(bgp.Family(f))
		if sawRIB || ready || (!first.IsZero() && now.Sub(first) >= d.cfg.WarmUp) {
			d.warm[f] = true
			d.warmAt[f] = now
			d.warmLive[f] = ready
			for k, t := range d.tracks {
				// The value at the end of the last closed bin; before
				// any bin closed (a warm-up shorter than a bin, live),
				// the current value that Changed recorded.
				if int(k.f) == f && t.hasLastBin {
					t.setInitial(t.lastVal)
				}
			}
		}
	}
	// The pending tracks are looked at once per second of data time, not
	// at every route event (a RIB dump is millions of events in one
	// second): confirmations are a second late at most.
	if len(d.pending) == 0 || now.Sub(d.lastScan) < time.Second {
		return
	}
	d.lastScan = now
	keep := d.pending[:0]
	for _, t := range d.pending {
		if t.c.pending != nil {
			d.tryOpen(t, now)
		}
		if t.c.upPending != nil && !now.Before(t.c.upConfirm) {
			d.confirmUpstream(t, now)
		}
		if t.c.inst != nil {
			// Quiet: no flap for InstabilityQuiet. It ended when the last
			// flapping prefix came back.
			if last := t.c.lastFlap; !last.IsZero() && now.Sub(last) >= d.cfg.InstabilityQuiet {
				d.endInstability(t, last)
			}
		}
		if t.c.pending != nil || t.c.upPending != nil || t.c.inst != nil {
			keep = append(keep, t)
		}
	}
	clear(d.pending[len(keep):])
	d.pending = keep
}

// Readiness is implemented by evidence that knows live peers that signal
// when their tables are complete (BGP sessions, BMP): how many of them are
// up for family f, and how many are ready.
type Readiness interface {
	Readiness(f bgp.Family) (peers, ready int)
}

// readiness returns the evidence's readiness of f (0, 0 without).
func (d *Detector) readiness(f bgp.Family) (peers, ready int) {
	if r, ok := d.evidence.(Readiness); ok {
		return r.Readiness(f)
	}
	return 0, 0
}

// peersReady reports whether family f has live peers that signal
// readiness and all of them are ready.
func (d *Detector) peersReady(f bgp.Family) bool {
	peers, ready := d.readiness(f)
	return peers > 0 && ready == peers
}

// gap handles a gap in the data from from to to (longer than MaxGap):
// what the detector knew is stale, so nothing is judged across it. Open
// events are left as they are (their end, if any, is judged on the data
// after the gap); baselines, histories, lost prefixes and pending events
// are forgotten, and each family is judged again like at the start.
func (d *Detector) gap(from, to time.Time) {
	d.gapStart, d.gapEnd = from, to
	d.warm = [2]bool{}
	for _, t := range d.tracks {
		if t.famPart != nil {
			if h := t.h; h != nil {
				h.hours, h.lossH, h.churnH = h.hours[:0], h.lossH[:0], h.churnH[:0]
			}
			t.hourBins = t.hourBins[:0]
			t.lossBins, t.churnBin, t.hourBusy = 0, 0, false
			t.baseOK = false
			t.upSnap = nil
			t.hasLastBin = false
		}
		if t.c.pending != nil || t.c.upPending != nil {
			c := t.w()
			c.pending, c.upPending = nil, nil
		}
		if ap := t.ap; ap != nil {
			ap.losses, ap.recoveries, ap.flaps, ap.levels = ap.losses[:0], ap.recoveries[:0], ap.flaps[:0], ap.levels[:0]
		}
		if t.c.ev == nil {
			clear(t.lost)
		}
	}
	d.pending = d.pending[:0]
	for _, t := range d.tracks {
		if t.c.inst != nil || t.c.ev != nil {
			d.addPending(t)
		}
	}
}

// tryOpen opens a pending outage once it is confirmed and broad enough.
func (d *Detector) tryOpen(t *track, now time.Time) {
	if now.Before(t.c.confirm) {
		return
	}
	// The breadth of the lost prefixes is judged again only when they
	// changed, or a second of data later (more peers may have withdrawn).
	if t.c.broadVer == t.lostVer && !t.c.broadAt.IsZero() && now.Sub(t.c.broadAt) < time.Second {
		return
	}
	t.w().broadVer, t.w().broadAt = t.lostVer, now
	if !d.broad(t) {
		return
	}
	ev := t.c.pending
	t.w().pending = nil
	d.open(t, ev, now)
}

// broad reports whether the entity's lost prefixes were withdrawn by
// enough of the full-feed peers.
func (d *Detector) broad(t *track) bool {
	_, _, full := d.evidence.FamilyState(t.key.f)
	// At least two peers when there are two: one vantage point's own
	// withdrawal is never enough to call a fall.
	need := max(min(2, full), int(d.cfg.BreadthShare*float64(full)+0.5))
	for id := range t.lost {
		if _, _, n := d.evidence.Withdrawals(id); n >= need {
			return true
		}
	}
	return false
}

// unstable reports whether the entity lost visibility of some prefix in the
// instability window before the current fall.
func (d *Detector) unstable(t *track, now time.Time) bool {
	a := t.all
	if a.c.inst != nil {
		return true
	}
	before := now.Add(-2 * time.Minute)
	n := 0
	for _, l := range a.ar().losses {
		if l.Before(before) {
			n++
		}
	}
	return n >= 2
}

func (d *Detector) addPending(t *track) {
	if !slices.Contains(d.pending, t) {
		d.pending = append(d.pending, t)
	}
}

// baseline returns the entity's normal visible space. It is asked at
// every visibility change and changes only when a bin is fed or the
// initial value is set, so it is kept until then.
func (t *track) baseline() float64 {
	if !t.baseOK {
		t.base, t.baseOK = t.computeBaseline(), true
	}
	return t.base
}

// setInitial sets the value the baseline starts from.
func (t *track) setInitial(v float64) {
	t.initial, t.baseOK = v, false
}

func (t *track) computeBaseline() float64 {
	vals := make([]float64, 0, 48)
	hours := t.hr().hours
	vals = append(vals, hours...)
	if len(hours) < 3 {
		vals = append(vals, t.hourBins...)
	}
	if len(vals) == 0 {
		return t.initial
	}
	return medianInPlace(vals) // vals is this call's own copy
}

// median returns the median of v, which it leaves as it is.
func median(v []float64) float64 {
	return medianInPlace(slices.Clone(v))
}

// medianInPlace returns the median of v, sorting v.
func medianInPlace(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// Changed implements signal.Sink: it compares the entity's visible space
// with its baseline at once.
func (d *Detector) Changed(now time.Time, e signal.Entity, f bgp.Family, s *signal.State) {
	t := d.track(e, f)
	d.catchUp(t, d.evidence.BinStart())
	if !d.warm[f] {
		t.setInitial(s.Space)
		return
	}
	if d.warmLive[f] && len(t.hr().hours) == 0 && len(t.hourBins) == 0 && s.Space > t.initial {
		// Judged from the live peers' readiness, before any bin closed: a
		// table still arriving (a peer declared ready by a quiet time it
		// took to breathe) raises the starting baseline; a loss is a fall
		// from the highest value seen.
		t.setInitial(s.Space)
	}
	base := t.baseline()
	if base <= 0 || base < d.cfg.MinBaseline {
		return
	}
	lost := max(0, 1-s.Space/base)
	t.level = lost
	a := t.all
	if lost > 0 {
		ap := a.aw()
		ap.levels = append(ap.levels, levelAt{now, lost})
	}
	if ap := a.ap; ap != nil {
		ap.levels = dropLevels(ap.levels, now.Add(-d.cfg.InstabilityWindow))
	}
	if a.c.inst != nil && t.c.ev == nil && t.c.pending == nil && lost > a.c.inst.FractionLost {
		a.c.inst.FractionLost = round(lost, 4)
	}
	if a.ar().judge {
		a.ap.judge = false
		d.judgeInstability(a, now)
	}
	switch {
	case t.c.ev != nil:
		d.update(t, lost, s, now)
		if lost < d.cfg.RecoverShare {
			d.end(t, now)
		}
	case lost < d.cfg.RecoverShare:
		if t.c.pending != nil {
			t.w().pending = nil // a short dip: instability's business
		}
	case lost >= d.cfg.PartialShare || t.c.pending != nil:
		if t.c.pending == nil {
			t.w().pending = d.newEvent(t, event.PartialOutage, now)
			t.w().confirm = now.Add(d.cfg.PartialConfirm)
			d.addPending(t)
		}
		d.fill(t, t.c.pending, lost, s, base)
		if t.c.pending.Kind == event.Outage {
			wait := time.Duration(0)
			if d.unstable(t, t.c.pending.Start) {
				wait = d.cfg.OutageConfirm
			}
			if c := t.c.pending.Start.Add(wait); c.Before(t.c.confirm) {
				t.w().confirm = c
			}
		}
		d.tryOpen(t, now)
	}
}

// catchUp feeds the baseline with the bins in which the entity did not
// change, up to (not including) the bin starting at upTo.
func (d *Detector) catchUp(t *track, upTo time.Time) {
	w := d.evidence.BinWidth()
	if !t.hasLastBin || upTo.IsZero() {
		return
	}
	missed := int(time.Duration(upTo.UnixNano()-t.lastBin)/w) - 1
	if missed <= 0 {
		return
	}
	perHour := max(1, int(time.Hour/w))
	if missed > 25*perHour {
		// Over a day without change: the baseline is that value.
		skip := missed - 25*perHour
		t.lastBin += int64(skip) * int64(w)
		missed -= skip
	}
	for i := 0; i < missed; i++ {
		t.lastBin += int64(w)
		d.pushBin(t, t.lastVal, 0, 0)
	}
}

func (d *Detector) newEvent(t *track, kind event.Kind, start time.Time) *event.Event {
	ev := &event.Event{Kind: kind, Start: start, Family: t.key.f, Unit: t.key.f.Unit()}
	ev.EntityType = t.key.e.Type
	ev.EntityCode = t.key.e.CodeString()
	ev.EntityName = d.entityName(t.key.e)
	return ev
}

func (d *Detector) entityName(e signal.Entity) string {
	if e.Type == event.Country {
		return e.Country().Name()
	}
	info, _ := d.db.ASN(e.Code)
	return info.Name
}

// fill sets the loss figures of an outage event.
func (d *Detector) fill(t *track, ev *event.Event, lost float64, s *signal.State, base float64) {
	if lost > ev.FractionLost || ev.Baseline == 0 {
		ev.FractionLost = round(lost, 4)
		ev.Lowest = round(s.Space, 3)
	}
	ev.Baseline = round(base, 3)
	ev.Severity = event.Warning
	if ev.FractionLost >= d.cfg.CriticalShare {
		ev.Severity = event.Critical
	}
	if ev.Kind == event.PartialOutage && ev.FractionLost >= d.cfg.OutageShare {
		ev.Kind = event.Outage
	}
}

func round(x float64, digits int) float64 {
	p := 1.0
	for i := 0; i < digits; i++ {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}

func (d *Detector) open(t *track, ev *event.Event, now time.Time) {
	if ev.Kind == event.Outage {
		// An entity that has address space in one family only is wholly down.
		other := d.tracks[efKey{t.key.e, 1 - t.key.f}]
		if other == nil || other.baseline() <= 0 {
			ev.Family = bgp.AllFamilies
		}
	}
	// The fall began with the first loss of the chain of losses that led
	// to the crossing, not at the crossing (a gradual fall is dated back).
	t.w().crossed = ev.Start
	if st := chainStart(lossTimes(t, ev.Start), d.cfg.ChainGap); !st.IsZero() && st.Before(ev.Start) {
		ev.Start = st
	}
	t.w().recov = t.c.recov[:0]
	a := t.all
	for id := range t.lost {
		a.markEventLost(id)
	}
	d.nextID++
	ev.ID = d.nextID
	t.w().ev = ev
	t.w().evOpenedInBin = true
	if a.c.inst != nil {
		// The spotty period ends where the fall begins: at the last flap
		// before it.
		end := ev.Start
		if a.c.lastFlap.Before(ev.Start) && !a.c.lastFlap.IsZero() {
			end = a.c.lastFlap
		}
		d.endInstability(a, end)
	}
	d.explain(t, ev)
	a.recordPast(ev.Start)
	d.sink.Notify(event.Notice{Type: event.Start, Event: ev, Time: now})
}

func (d *Detector) update(t *track, lost float64, s *signal.State, now time.Time) {
	ev := t.c.ev
	kind, sev := ev.Kind, ev.Severity
	d.fill(t, ev, lost, s, ev.Baseline)
	if lost > 0 {
		d.collectAffected(t, ev)
	}
	if ev.Kind != kind || ev.Severity != sev {
		d.explain(t, ev)
		d.sink.Notify(event.Notice{Type: event.Escalate, Event: ev, Time: now})
	}
}

func (d *Detector) end(t *track, now time.Time) {
	ev := t.c.ev
	// It ended with the first recovery of the chain of recoveries that
	// brought it back within RecoverShare; it is back within its normal
	// now.
	end := now
	if st := chainStart(t.c.recov, d.cfg.ChainGap); !st.IsZero() && st.Before(end) && !st.Before(ev.Start) {
		end = st
	}
	recovered := now
	ev.End, ev.Recovered = &end, &recovered
	t.w().ev = nil
	t.w().recov = t.c.recov[:0]
	if ev.Kind == event.Outage && end.Sub(ev.Start) < d.cfg.TransientOutage {
		// Reported at once, gone within moments: a transient drop, which
		// counts as instability, not as an outage.
		a := t.all
		for id := range d.affected[ev] {
			// A transient drop: its prefixes flapped.
			delete(a.c.eventLost, id)
			ap := a.aw()
			ap.flaps = append(ap.flaps, flap{lost: ev.Start, back: now, id: id})
			a.w().lastFlap = now
			if a.c.inst != nil {
				a.w().instIDs[id] = struct{}{}
				a.c.inst.Flaps++
			}
		}
		if a.ap != nil || a.c.inst == nil {
			a.aw().judge = a.c.inst == nil
		}
		a.forgetPast(ev.Start)
		delete(d.affected, ev)
		d.sink.Notify(event.Notice{Type: event.Retract, Event: ev, Time: now})
		return
	}
	d.explain(t, ev)
	delete(d.affected, ev)
	d.sink.Notify(event.Notice{Type: event.End, Event: ev, Time: now})
}

// PrefixVisibility implements signal.Sink: it tracks the lost prefixes
// and the flapping that makes instability.
func (d *Detector) PrefixVisibility(now time.Time, e signal.Entity, f bgp.Family, id view.PrefixID, visible bool) {
	t := d.track(e, f)
	a := t.all
	if visible {
		lt, wasLost := a.lost[id]
		if wasLost && d.warm[f] && now.Sub(lt) <= d.cfg.FlapMax && !a.c.eventLost[id] {
			ap := a.aw()
			ap.flaps = append(ap.flaps, flap{lost: lt, back: now, id: id})
			a.w().lastFlap = now
			if a.c.inst != nil {
				a.w().instIDs[id] = struct{}{}
			}
		}
		delete(a.c.eventLost, id)
		if t.c.ev != nil && wasLost {
			if _, ok := d.affected[t.c.ev][id]; ok && (lt.Before(t.c.crossed) || now.Sub(lt) >= d.cfg.FlapMax) {
				t.w().recov = append(t.c.recov, now)
			}
		}
		delete(t.lost, id)
		delete(a.lost, id)
		if d.warm[f] { // before, the lists are emptied below: nothing to keep
			ap := a.aw()
			ap.recoveries = append(ap.recoveries, now)
		}
		t.lostVer++
	} else {
		if t.lost == nil {
			t.lost = map[view.PrefixID]time.Time{}
		}
		if a.lost == nil {
			a.lost = map[view.PrefixID]time.Time{}
		}
		t.lost[id] = now
		a.lost[id] = now
		t.lostVer++
		if d.warm[f] {
			ap := a.aw()
			ap.losses = append(ap.losses, now)
		}
	}
	if !d.warm[f] {
		if ap := a.ap; ap != nil {
			ap.losses, ap.recoveries, ap.flaps = ap.losses[:0], ap.recoveries[:0], ap.flaps[:0]
		}
		return
	}
	if !visible && (t.c.ev != nil || t.c.pending != nil) {
		a.markEventLost(id)
	}
	cut := now.Add(-d.cfg.InstabilityWindow)
	ap := a.aw() // warm: a loss or a recovery was kept above
	ap.losses = dropBefore(ap.losses, cut)
	ap.recoveries = dropBefore(ap.recoveries, cut)
	ap.flaps = dropFlaps(ap.flaps, cut)
	if a.c.inst != nil {
		if visible {
			a.c.inst.Flaps++
		}
		return
	}
	if visible {
		ap.judge = true // a flap ended: judged in Changed, with the share lost known
	}
}

// markEventLost notes that prefix id was lost in one of the entity's
// outages: its coming back is the outage's end, not a flap.
func (a *track) markEventLost(id view.PrefixID) {
	if a.c.eventLost == nil {
		a.w().eventLost = map[view.PrefixID]bool{}
	}
	a.w().eventLost[id] = true
}

// flap is a prefix that lost visibility and came back.
type flap struct {
	lost, back time.Time
	id         view.PrefixID
}

func dropFlaps(fs []flap, cut time.Time) []flap {
	i := 0
	for i < len(fs) && fs[i].back.Before(cut) {
		i++
	}
	if i == 0 {
		return fs
	}
	return append(fs[:0], fs[i:]...)
}

// judgeInstability opens an instability of the entity of a (its
// all-family track) when its recent losses are its own anomaly (see
// Config.InstabilityShare and InstabilityP).
func (d *Detector) judgeInstability(a *track, now time.Time) {
	e := a.key.e
	if a.c.inst != nil || d.inOutage(e) {
		return
	}
	ap := a.ar()
	k := len(ap.flaps)
	if k < d.cfg.InstabilityLosses {
		return
	}
	peak := 0.0
	for _, l := range ap.levels {
		peak = max(peak, l.level)
	}
	if peak < d.cfg.InstabilityShare {
		return
	}
	rate := 0.0 // the entity's own losses per hour, outside its events
	for _, ff := range []bgp.Family{bgp.IPv4, bgp.IPv6} {
		if ft := d.tracks[efKey{e, ff}]; ft != nil {
			if l := ft.hr().lossH; len(l) > 0 {
				rate += mean(l)
			}
		}
	}
	lambda := max(rate*d.cfg.InstabilityWindow.Hours(), minExpectedLosses)
	if poissonTail(k, lambda) > d.cfg.InstabilityP {
		return
	}
	start := ap.flaps[0].lost
	for _, fl := range ap.flaps {
		if fl.lost.Before(start) {
			start = fl.lost
		}
	}
	ev := d.newEvent(a, event.Instability, start)
	ev.Family = bgp.AllFamilies
	ev.Unit = ""
	ev.Severity = event.Warning
	ev.Flaps = k
	ev.FractionLost = round(peak, 4)
	ev.ChurnRatio = round(float64(k)/lambda, 2)
	d.nextID++
	ev.ID = d.nextID
	a.w().inst = ev
	a.w().instRate = rate
	a.w().instIDs = map[view.PrefixID]struct{}{}
	for _, fl := range ap.flaps {
		a.w().instIDs[fl.id] = struct{}{}
	}
	d.explainInstability(a, ev)
	d.addPending(a)
	d.sink.Notify(event.Notice{Type: event.Start, Event: ev, Time: now})
}

// minExpectedLosses is the least number of losses expected in a window,
// so that an entity with no history of losses is not unstable at its
// very first few.
const minExpectedLosses = 0.05

// poissonTail returns P(X >= k) for X ~ Poisson(lambda).
func poissonTail(k int, lambda float64) float64 {
	if k <= 0 {
		return 1
	}
	term := math.Exp(-lambda) // P(X = 0)
	cdf := 0.0
	for i := 0; i < k; i++ {
		cdf += term
		term *= lambda / float64(i+1)
	}
	return max(0, 1-cdf)
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// inOutage reports whether e has an open outage in either family.
func (d *Detector) inOutage(e signal.Entity) bool {
	for _, f := range []bgp.Family{bgp.IPv4, bgp.IPv6} {
		if t := d.tracks[efKey{e, f}]; t != nil && t.c.ev != nil {
			return true
		}
	}
	return false
}

func dropLevels(ls []levelAt, cut time.Time) []levelAt {
	i := 0
	for i < len(ls) && ls[i].t.Before(cut) {
		i++
	}
	if i == 0 {
		return ls
	}
	return append(ls[:0], ls[i:]...)
}

func dropBefore(ts []time.Time, cut time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(cut) {
		i++
	}
	if i == 0 {
		return ts
	}
	return append(ts[:0], ts[i:]...)
}

func (d *Detector) endInstability(t *track, end time.Time) {
	ev := t.c.inst
	if end.Before(ev.Start) {
		end = ev.Start
	}
	ev.End = &end
	t.w().inst, t.w().lastInst = nil, ev
	// What it counted is its own: a next episode is judged on new losses.
	if ap := t.ap; ap != nil {
		ap.losses, ap.recoveries, ap.levels, ap.flaps = ap.losses[:0], ap.recoveries[:0], ap.levels[:0], ap.flaps[:0]
	}
	d.explainInstability(t, ev)
	d.sink.Notify(event.Notice{Type: event.End, Event: ev, Time: d.now})
}

// QuietUpstreams implements signal.QuietSink: before the detector judges
// family f, with no peer event open, it ignores upstream changes and the
// peers' return.
func (d *Detector) QuietUpstreams(f bgp.Family) bool {
	return f <= bgp.IPv6 && !d.warm[f] && len(d.peers) == 0
}

// Upstream implements signal.Sink.
func (d *Detector) Upstream(now time.Time, e signal.Entity, f bgp.Family, asn bgp.ASN, present bool) {
	if !d.warm[f] {
		return
	}
	t := d.track(e, f)
	if t.upSnap == nil || t.c.ev != nil || t.c.pending != nil {
		return
	}
	share, known := t.upShareOf(asn)
	if !present && (!known || share < d.cfg.UpstreamShare) {
		return
	}
	if present && known {
		return
	}
	if t.c.upPending == nil {
		t.w().upPending = d.newEvent(t, event.UpstreamChange, now)
		t.c.upPending.Severity = event.Warning
		d.addPending(t)
	}
	ev := t.c.upPending
	if present {
		ev.Gained = appendUnique(ev.Gained, uint32(asn))
	} else {
		ev.Lost = appendUnique(ev.Lost, uint32(asn))
	}
	t.w().upConfirm = now.Add(d.cfg.UpstreamConfirm)
}

func appendUnique(s []uint32, v uint32) []uint32 {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func (d *Detector) confirmUpstream(t *track, now time.Time) {
	ev := t.c.upPending
	t.w().upPending = nil
	s := d.evidence.State(t.key.e, t.key.f)
	if s == nil || t.c.ev != nil || t.c.pending != nil || s.Routes() == 0 {
		return
	}
	cur := shares(s)
	// An upstream change moves routes from one upstream to another; routes
	// that vanish (or come back) with their upstream are a loss (or a
	// recovery) of reachability, not a change of upstream.
	before, now_ := float64(t.upRoutes), float64(s.Routes())
	var lost, gained []uint32
	for _, a := range ev.Lost {
		if cur[bgp.ASN(a)] < d.cfg.UpstreamShare/4 && now_ >= before*(1-t.upShare(bgp.ASN(a))/2) {
			lost = append(lost, a)
		}
	}
	for _, a := range ev.Gained {
		if x := cur[bgp.ASN(a)]; x >= d.cfg.UpstreamShare && before >= now_*(1-x/2) {
			gained = append(gained, a)
		}
	}
	if len(lost) == 0 && len(gained) == 0 {
		return
	}
	ev.Lost, ev.Gained = lost, gained
	// An upstream change is the entity's: its family is in the explanation.
	ev.Family = bgp.AllFamilies
	d.nextID++
	ev.ID = d.nextID
	d.explainUpstream(t, ev, cur)
	d.upstreamCauses(t, ev)
	t.all.w().upChangedAt = ev.Start
	t.snapUpstreams(s) // cur's shares, as counts
	d.sink.Notify(event.Notice{Type: event.Start, Event: ev, Time: now})
}

func shares(s *signal.State) map[bgp.ASN]float64 {
	m := map[bgp.ASN]float64{}
	total := float64(s.Routes())
	if total <= 0 {
		return m
	}
	s.Upstreams(func(a bgp.ASN, n int32) { m[a] = float64(n) / total })
	return m
}

// BinClosed implements signal.Sink: it feeds the baseline, in-painting the
// bins that fall inside an event.
func (d *Detector) BinClosed(e signal.Entity, f bgp.Family, b signal.Bin, s *signal.State) {
	t := d.track(e, f)
	d.binClosed(t, b, s)
	if d.bins != nil {
		b.Baseline = t.baseline()
		d.bins.Bin(e, f, b)
	}
}

func (d *Detector) binClosed(t *track, b signal.Bin, s *signal.State) {
	f := t.key.f
	d.catchUp(t, b.Start)
	t.lastBin, t.hasLastBin, t.lastVal = b.Start.UnixNano(), true, b.Space
	if !d.warm[f] {
		t.setInitial(s.Space)
		return
	}
	inEvent := t.c.ev != nil || t.c.evOpenedInBin || t.c.pending != nil
	if t.c.evOpenedInBin {
		t.w().evOpenedInBin = false
	}
	if t.c.ev != nil {
		d.explain(t, t.c.ev)
		d.join.changed(t.c.ev)
	}
	if !inEvent && t.c.upPending == nil && s.Routes() > 0 {
		// Refilled in place: a map per entity and bin was most of the
		// detector's garbage (and a map per entity a good part of its
		// memory).
		t.snapUpstreams(s)
	}
	d.pushBin(t, b.Space, int(b.Announcements+b.Withdrawals), int(b.Losses))
	// Forget lost prefixes that never came back within a day.
	if t.c.ev == nil && t.c.pending == nil && len(t.lost) > 0 {
		cut := b.Start.Add(-24 * time.Hour)
		for id, at := range t.lost {
			if at.Before(cut) {
				delete(t.lost, id)
			}
		}
	}
}

// pushBin adds one bin's value to the baseline (the baseline itself while
// an event is open: in-painting).
func (d *Detector) pushBin(t *track, val float64, churn, losses int) {
	if t.c.ev != nil || t.c.pending != nil {
		val = t.baseline()
	}
	t.hourBins = append(t.hourBins, val)
	t.baseOK = false
	if t.c.ev != nil || t.c.pending != nil {
		t.hourBusy = true
	} else if a := d.tracks[efKey{t.key.e, bgp.AllFamilies}]; a != nil && a.c.inst != nil {
		t.hourBusy = true
	}
	t.churnBin += churn
	t.churnRing[t.churnRingI%len(t.churnRing)] = int32(churn)
	t.churnRingI++
	t.lossBins += int32(losses)
	perHour := max(1, int(time.Hour/d.evidence.BinWidth()))
	if len(t.hourBins) >= perHour {
		if t.h == nil {
			t.h = &hourly{}
		}
		h := t.h
		h.hours = pushRing(h.hours, median(t.hourBins), 24)
		// The normal losses and churn are learnt from the hours outside
		// the entity's own events only: a spotty period or an outage is
		// left out, never filled in, so it does not become the normal.
		if !t.hourBusy {
			h.lossH = pushRing(h.lossH, float64(t.lossBins), 24)
			h.churnH = pushRing(h.churnH, float64(t.churnBin), 24)
		}
		t.hourBins, t.lossBins, t.churnBin, t.hourBusy = t.hourBins[:0], 0, 0, false
	}
}

// pushRing appends v to r, keeping its last n values. It grows r to n at
// most (not to append's next size), since every entity keeps three.
func pushRing(r []float64, v float64, n int) []float64 {
	if len(r) >= n {
		copy(r, r[1:])
		r = r[:n-1]
	}
	if len(r) == cap(r) {
		g := make([]float64, len(r), min(n, max(4, 2*cap(r))))
		copy(g, r)
		r = g
	}
	return append(r, v)
}

// Peer handles a vantage point's event: shown, never counted as an outage.
func (d *Detector) Peer(pe view.PeerEvent) {
	switch pe.Kind {
	case view.PeerDown, view.PeerFlush, view.PeerMaxPrefix:
		if d.peers[pe.Index] != nil {
			return
		}
		start := pe.Time
		if pe.Kind == view.PeerFlush && !pe.Start.IsZero() {
			start = pe.Start
		}
		ev := &event.Event{ID: d.nextID + 1, EntityType: event.Peer, EntityCode: pe.Peer.Addr.String(), Kind: event.PeerEvent,
			Family: bgp.AllFamilies, Start: start, Severity: event.Warning, PeerAS: uint32(pe.Peer.AS), PeerCollector: pe.Peer.Collector,
			PeerRoutes: pe.Routes, Cause: pe.Kind.String(), Prefixes: []string{}, Origins: []uint32{}, UpstreamsBefore: []uint32{}}
		ev.EntityName = "AS" + pe.Peer.AS.String()
		if info, ok := d.db.ASN(uint32(pe.Peer.AS)); ok && info.Name != "" {
			ev.EntityName += " " + info.Name
		}
		d.nextID++
		d.peers[pe.Index] = ev
		d.explainPeer(ev, pe)
		d.sink.Notify(event.Notice{Type: event.Start, Event: ev, Time: pe.Time})
	case view.PeerFullFeed, view.PeerUp:
		ev := d.peers[pe.Index]
		if ev == nil {
			return
		}
		end := pe.Time
		ev.End = &end
		delete(d.peers, pe.Index)
		d.explainPeer(ev, pe)
		d.sink.Notify(event.Notice{Type: event.End, Event: ev, Time: pe.Time})
	}
}

// Flush ends nothing (events still open at the end of the data stay
// ongoing) but refreshes the explanations of open events.
func (d *Detector) Flush() {
	for _, t := range d.tracks {
		if t.c.ev != nil {
			d.explain(t, t.c.ev)
			d.join.changed(t.c.ev)
		}
		if t.c.inst != nil {
			d.explainInstability(t, t.c.inst)
		}
		if t.c.pending != nil {
			d.tryOpen(t, d.now)
		}
	}
}

// prefixList returns the affected prefixes of a track, sorted.
func (d *Detector) prefixList(t *track) []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(t.lost))
	for id := range t.lost {
		ps = append(ps, d.evidence.Prefix(id))
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return ps
}

// Baseline returns the current baseline of e and f (0 if unknown).
func (d *Detector) Baseline(e signal.Entity, f bgp.Family) float64 {
	t := d.tracks[efKey{e, f}]
	if t == nil {
		return 0
	}
	return t.baseline()
}

// Coverage says, per family, whether detection runs (from when) or why
// not, at the detector's data time.
func (d *Detector) Coverage() event.Coverage {
	var c event.Coverage
	for f := bgp.IPv4; f <= bgp.IPv6; f++ {
		lastRIB, first, full := d.evidence.FamilyState(f)
		sawRIB := !lastRIB.IsZero()
		fc := event.FamilyCoverage{Family: f, FullFeedPeers: full, RIB: sawRIB}
		fc.LivePeers, fc.ReadyPeers = d.readiness(f)
		if !d.gapEnd.IsZero() && !d.warm[f] {
			fc.NotJudged = "a gap in the data from " + fmtTime(d.gapStart) + " to " + fmtTime(d.gapEnd) +
				": judged again from a RIB dump after it or after the warm-up (--warm-up)"
			c.Families = append(c.Families, fc)
			continue
		}
		switch {
		case d.warm[f] && !d.now.After(d.warmAt[f]) && fc.LivePeers == 0:
			fc.NotJudged = "no data after " + fmtTime(d.warmAt[f]) + " (a RIB dump alone): nothing could change"
		case d.warm[f]:
			at := d.warmAt[f]
			fc.JudgedFrom = &at
			switch {
			case d.warmLive[f]:
				fc.Note = fmt.Sprintf("from the live peers' whole tables (End-of-RIB or a quiet table); %d of %d peers ready now",
					fc.ReadyPeers, fc.LivePeers)
			case !sawRIB:
				fc.Note = "no RIB dump: the view was learnt from updates, prefixes that did not change since " +
					fmtTime(first) + " are not in it"
			}
			if full == 0 {
				fc.Note = "no full-feed peers now: changes since are not judged"
			}
		case fc.LivePeers > fc.ReadyPeers:
			fc.NotJudged = fmt.Sprintf("learning the peers' tables: %d of %d peers ready (each at its End-of-RIB, or when its table stops growing)",
				fc.ReadyPeers, fc.LivePeers)
		case first.IsZero():
			fc.NotJudged = "no route of this family in the input"
		case full == 0:
			fc.NotJudged = "no full-feed peers (no vantage point has a full table of this family)"
		default:
			fc.NotJudged = "warming up until " + fmtTime(first.Add(d.cfg.WarmUp)) +
				": no RIB dump, the peers' tables are learnt from updates (--warm-up)"
		}
		c.Families = append(c.Families, fc)
	}
	return c
}

// upShares are an entity's upstream shares at a bin: a few, so a slice
// (a map cost about 190 bytes per entity). Not nil once set, even empty.
type upShares []upShare

// upShare is an upstream's full-feed routes at a snapshot; its share is
// routes over the snapshot's total (famPart.upRoutes), computed when asked:
// the same float64 as at the snapshot, in half the bytes.
type upShare struct {
	a bgp.ASN
	n int32
}

// upShareOf returns a's share of the upstream snapshot and whether a is in it.
func (f *famPart) upShareOf(a bgp.ASN) (float64, bool) {
	for _, x := range f.upSnap {
		if x.a == a {
			return float64(x.n) / float64(f.upRoutes), true
		}
	}
	return 0, false
}

// upShare returns a's share of the upstream snapshot (0 if not in it).
func (f *famPart) upShare(a bgp.ASN) float64 {
	s, _ := f.upShareOf(a)
	return s
}

// snapUpstreams makes the upstream snapshot s's upstreams now.
func (f *famPart) snapUpstreams(s *signal.State) {
	if f.upSnap == nil {
		f.upSnap = make(upShares, 0, 2)
	}
	f.upSnap = f.upSnap[:0]
	s.Upstreams(func(a bgp.ASN, n int32) { f.upSnap = append(f.upSnap, upShare{a, n}) })
	f.upRoutes = s.Routes()
}

// upShares returns the upstream snapshot's shares by AS.
func (f *famPart) upShares() map[bgp.ASN]float64 {
	m := make(map[bgp.ASN]float64, len(f.upSnap))
	for _, x := range f.upSnap {
		m[x.a] = float64(x.n) / float64(f.upRoutes)
	}
	return m
}
