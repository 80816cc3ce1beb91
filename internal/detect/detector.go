package detect

import (
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
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
	// Instability: at least InstabilityLosses prefix visibility losses
	// within InstabilityWindow, at least InstabilityFactor times the
	// entity's normal hourly losses, with reachability coming back; it
	// ends after InstabilityQuiet without a loss.
	InstabilityLosses int
	InstabilityWindow time.Duration
	InstabilityFactor float64
	InstabilityQuiet  time.Duration
	// UpstreamShare: an upstream carrying at least this share of an
	// entity's routes that disappears, or a new one that reaches it, is
	// an upstream change once it has lasted UpstreamConfirm.
	UpstreamShare   float64
	UpstreamConfirm time.Duration
}

// DefaultConfig returns the default thresholds.
func DefaultConfig() Config {
	return Config{
		OutageShare: 0.9, PartialShare: 0.2, PartialConfirm: 5 * time.Minute, CriticalShare: 0.5,
		RecoverShare: 0.1, MinBaseline: 0, WarmUp: time.Hour,
		InstabilityLosses: 4, InstabilityWindow: time.Hour, InstabilityFactor: 5, InstabilityQuiet: 30 * time.Minute,
		UpstreamShare: 0.2, UpstreamConfirm: 10 * time.Minute,
	}
}

type efKey struct {
	e signal.Entity
	f signal.Family
}

// track is the detector's state for one entity and family.
type track struct {
	key      efKey
	hours    []float64 // hourly baseline values, oldest first (at most 24)
	hourBins []float64 // the current hour's bin values
	lossH    []float64 // hourly visibility losses
	lossBins int
	churnH   []float64
	churnBin int
	initial  float64
	warm     bool

	ev            *Event // open outage or partial outage
	pending       *Event // partial outage waiting for confirmation
	evOpenedInBin bool
	inst          *Event // open instability
	lastInst      *Event

	losses     []time.Time // recent visibility losses
	recoveries []time.Time
	lost       map[view.PrefixID]time.Time // prefixes lost and not back

	upSnap    map[bgp.ASN]float64 // upstream shares at the last normal bin
	upPending *Event
	upConfirm time.Time
}

// Detector turns signals into events. It implements signal.Sink; the
// pipeline also calls Peer with the view's peer events and Tick with the
// data time.
type Detector struct {
	cfg     Config
	db      *geo.DB
	v       *view.View
	tr      *signal.Tracker
	sink    Sink
	tracks  map[efKey]*track
	pending []*track // tracks with a pending partial outage or upstream change
	peers   map[int]*Event
	nextID  int
	warm    bool
	warmAt  time.Time
	first   time.Time
	now     time.Time
	events  []*Event
}

// New returns a Detector. v and tr are used for explanations.
func New(cfg Config, db *geo.DB, v *view.View, tr *signal.Tracker, sink Sink) *Detector {
	if sink == nil {
		sink = SinkFunc(func(Notice) {})
	}
	return &Detector{cfg: cfg, db: db, v: v, tr: tr, sink: sink, tracks: map[efKey]*track{}, peers: map[int]*Event{}}
}

// Events returns every event emitted so far, in the order they started.
func (d *Detector) Events() []*Event { return d.events }

func (d *Detector) track(e signal.Entity, f signal.Family) *track {
	k := efKey{e, f}
	t := d.tracks[k]
	if t == nil {
		t = &track{key: k, lost: map[view.PrefixID]time.Time{}}
		d.tracks[k] = t
	}
	return t
}

// Tick advances the detector's clock to now: it confirms pending partial
// outages and upstream changes and ends quiet instability.
func (d *Detector) Tick(now time.Time) {
	if now.After(d.now) {
		d.now = now
	}
	if d.first.IsZero() {
		d.first = now
	}
	if !d.warm && (d.v.SawRIB() && !d.v.Now().IsZero() && d.fullFeed() || now.Sub(d.first) >= d.cfg.WarmUp) && d.fullFeed() {
		d.warm, d.warmAt = true, now
	}
	if len(d.pending) == 0 {
		return
	}
	keep := d.pending[:0]
	for _, t := range d.pending {
		if t.pending != nil && !now.Before(t.pending.Start.Add(d.cfg.PartialConfirm)) {
			d.open(t, t.pending, now)
			t.pending = nil
		}
		if t.upPending != nil && !now.Before(t.upConfirm) {
			d.confirmUpstream(t, now)
		}
		if t.inst != nil {
			if last := t.lastLoss(); !last.IsZero() && now.Sub(last) >= d.cfg.InstabilityQuiet {
				end := last
				if n := len(t.recoveries); n > 0 && t.recoveries[n-1].After(end) {
					end = t.recoveries[n-1]
				}
				d.endInstability(t, end)
			}
		}
		if t.pending != nil || t.upPending != nil || t.inst != nil {
			keep = append(keep, t)
		}
	}
	clear(d.pending[len(keep):])
	d.pending = keep
}

func (d *Detector) fullFeed() bool {
	v4, v6 := d.v.FullFeed()
	return v4+v6 > 0
}

func (t *track) lastLoss() time.Time {
	if n := len(t.losses); n > 0 {
		return t.losses[n-1]
	}
	return time.Time{}
}

func (d *Detector) addPending(t *track) {
	if !slices.Contains(d.pending, t) {
		d.pending = append(d.pending, t)
	}
}

// baseline returns the entity's normal visible space.
func (t *track) baseline() float64 {
	vals := make([]float64, 0, 48)
	vals = append(vals, t.hours...)
	if len(t.hours) < 3 {
		vals = append(vals, t.hourBins...)
	}
	if len(vals) == 0 {
		return t.initial
	}
	return median(vals)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Changed implements signal.Sink: it compares the entity's visible space
// with its baseline at once.
func (d *Detector) Changed(now time.Time, e signal.Entity, f signal.Family, s *signal.State) {
	t := d.track(e, f)
	if !d.warm {
		t.initial = s.Space
		return
	}
	if !t.warm {
		t.warm = true
		if t.initial == 0 && len(t.hourBins) == 0 && len(t.hours) == 0 {
			t.initial = s.Space
		}
	}
	base := t.baseline()
	if base <= 0 || base < d.cfg.MinBaseline {
		return
	}
	lost := max(0, 1-s.Space/base)
	switch {
	case t.ev != nil:
		d.update(t, lost, s, now)
		if lost < d.cfg.RecoverShare {
			d.end(t, now)
		}
	case t.pending != nil:
		if lost < d.cfg.RecoverShare {
			t.pending = nil // a short dip: instability's business
			return
		}
		d.fill(t, t.pending, lost, s, base)
		if lost >= d.cfg.OutageShare {
			d.open(t, t.pending, now)
			t.pending = nil
		}
	case lost >= d.cfg.OutageShare:
		ev := d.newEvent(t, KindOutage, now)
		d.fill(t, ev, lost, s, base)
		d.open(t, ev, now)
	case lost >= d.cfg.PartialShare:
		ev := d.newEvent(t, KindPartialOutage, now)
		d.fill(t, ev, lost, s, base)
		t.pending = ev
		d.addPending(t)
	}
}

func (d *Detector) newEvent(t *track, kind string, start time.Time) *Event {
	ev := &Event{Kind: kind, Start: start, Family: t.key.f.String(), Unit: t.key.f.Unit()}
	ev.EntityType = t.key.e.Type.String()
	ev.EntityCode = t.key.e.CodeString()
	ev.EntityName = d.entityName(t.key.e)
	return ev
}

func (d *Detector) entityName(e signal.Entity) string {
	if e.Type == signal.Country {
		return e.Country().Name()
	}
	info, _ := d.db.ASN(e.Code)
	return info.Name
}

// fill sets the loss figures of an outage event.
func (d *Detector) fill(t *track, ev *Event, lost float64, s *signal.State, base float64) {
	if lost > ev.FractionLost || ev.Baseline == 0 {
		ev.FractionLost = round(lost, 4)
		ev.Lowest = round(s.Space, 3)
	}
	ev.Baseline = round(base, 3)
	ev.Severity = SeverityWarning
	if ev.FractionLost >= d.cfg.CriticalShare {
		ev.Severity = SeverityCritical
	}
	if ev.Kind == KindPartialOutage && ev.FractionLost >= d.cfg.OutageShare {
		ev.Kind = KindOutage
	}
}

func round(x float64, digits int) float64 {
	p := 1.0
	for i := 0; i < digits; i++ {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}

func (d *Detector) open(t *track, ev *Event, now time.Time) {
	d.nextID++
	ev.ID = d.nextID
	t.ev = ev
	t.evOpenedInBin = true
	if t.inst != nil {
		d.endInstability(t, ev.Start)
	}
	d.explain(t, ev)
	d.events = append(d.events, ev)
	d.sink.Notify(Notice{Type: "start", Event: ev, Time: now})
}

func (d *Detector) update(t *track, lost float64, s *signal.State, now time.Time) {
	ev := t.ev
	kind, sev := ev.Kind, ev.Severity
	d.fill(t, ev, lost, s, ev.Baseline)
	if lost > 0 {
		d.collectAffected(t, ev)
	}
	if ev.Kind != kind || ev.Severity != sev {
		d.explain(t, ev)
		d.sink.Notify(Notice{Type: "escalate", Event: ev, Time: now})
	}
}

func (d *Detector) end(t *track, now time.Time) {
	ev := t.ev
	end := now
	ev.End = &end
	t.ev = nil
	d.explain(t, ev)
	d.sink.Notify(Notice{Type: "end", Event: ev, Time: now})
}

// PrefixVisibility implements signal.Sink: it tracks the lost prefixes
// and the flapping that makes instability.
func (d *Detector) PrefixVisibility(now time.Time, e signal.Entity, f signal.Family, id view.PrefixID, visible bool) {
	t := d.track(e, f)
	if visible {
		delete(t.lost, id)
		t.recoveries = append(t.recoveries, now)
	} else {
		t.lost[id] = now
		t.losses = append(t.losses, now)
		t.lossBins++
	}
	if !d.warm {
		t.losses, t.recoveries = t.losses[:0], t.recoveries[:0]
		return
	}
	cut := now.Add(-d.cfg.InstabilityWindow)
	t.losses = dropBefore(t.losses, cut)
	t.recoveries = dropBefore(t.recoveries, cut)
	if t.inst != nil {
		if !visible {
			t.inst.Flaps++
		}
		return
	}
	if t.ev != nil || visible {
		return
	}
	normal := 0.0
	if len(t.lossH) > 0 {
		normal = median(t.lossH)
	}
	need := max(float64(d.cfg.InstabilityLosses), d.cfg.InstabilityFactor*normal)
	if float64(len(t.losses)) >= need && len(t.recoveries) >= d.cfg.InstabilityLosses/2 {
		ev := d.newEvent(t, KindInstability, t.losses[0])
		ev.Severity = SeverityWarning
		ev.Flaps = len(t.losses)
		d.nextID++
		ev.ID = d.nextID
		t.inst = ev
		d.explainInstability(t, ev)
		d.events = append(d.events, ev)
		d.addPending(t)
		d.sink.Notify(Notice{Type: "start", Event: ev, Time: now})
	}
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
	ev := t.inst
	if end.Before(ev.Start) {
		end = ev.Start
	}
	ev.End = &end
	t.inst, t.lastInst = nil, ev
	d.explainInstability(t, ev)
	d.sink.Notify(Notice{Type: "end", Event: ev, Time: d.now})
}

// Upstream implements signal.Sink.
func (d *Detector) Upstream(now time.Time, e signal.Entity, f signal.Family, asn bgp.ASN, present bool) {
	if !d.warm {
		return
	}
	t := d.track(e, f)
	if t.upSnap == nil || t.ev != nil || t.pending != nil {
		return
	}
	share, known := t.upSnap[asn]
	if !present && (!known || share < d.cfg.UpstreamShare) {
		return
	}
	if present && known {
		return
	}
	if t.upPending == nil {
		t.upPending = d.newEvent(t, KindUpstreamChange, now)
		t.upPending.Severity = SeverityWarning
		d.addPending(t)
	}
	ev := t.upPending
	if present {
		ev.Gained = appendUnique(ev.Gained, uint32(asn))
	} else {
		ev.Lost = appendUnique(ev.Lost, uint32(asn))
	}
	end := now
	ev.End = &end
	t.upConfirm = now.Add(d.cfg.UpstreamConfirm)
}

func appendUnique(s []uint32, v uint32) []uint32 {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func (d *Detector) confirmUpstream(t *track, now time.Time) {
	ev := t.upPending
	t.upPending = nil
	s := d.tr.State(t.key.e, t.key.f)
	if s == nil || t.ev != nil || t.pending != nil || s.Routes() == 0 {
		return
	}
	cur := shares(s)
	var lost, gained []uint32
	for _, a := range ev.Lost {
		if cur[bgp.ASN(a)] < d.cfg.UpstreamShare/4 {
			lost = append(lost, a)
		}
	}
	for _, a := range ev.Gained {
		if cur[bgp.ASN(a)] >= d.cfg.UpstreamShare {
			gained = append(gained, a)
		}
	}
	if len(lost) == 0 && len(gained) == 0 {
		return
	}
	ev.Lost, ev.Gained = lost, gained
	d.nextID++
	ev.ID = d.nextID
	d.explainUpstream(t, ev, cur)
	t.upSnap = cur
	d.events = append(d.events, ev)
	d.sink.Notify(Notice{Type: "start", Event: ev, Time: now})
	d.sink.Notify(Notice{Type: "end", Event: ev, Time: now})
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
func (d *Detector) BinClosed(e signal.Entity, f signal.Family, b signal.Bin, s *signal.State) {
	t := d.track(e, f)
	if !d.warm {
		t.initial = s.Space
		return
	}
	val := b.Space
	inEvent := t.ev != nil || t.evOpenedInBin || t.pending != nil
	if inEvent {
		val = t.baseline()
	}
	t.evOpenedInBin = false
	if t.ev != nil {
		d.explain(t, t.ev)
	}
	t.hourBins = append(t.hourBins, val)
	t.churnBin += int(b.Announcements + b.Withdrawals)
	if !inEvent && s.Routes() > 0 {
		t.upSnap = shares(s)
	}
	binsPerHour := int(time.Hour / d.tr.BinWidth())
	if binsPerHour < 1 {
		binsPerHour = 1
	}
	if len(t.hourBins) >= binsPerHour {
		t.hours = pushRing(t.hours, median(t.hourBins), 24)
		t.lossH = pushRing(t.lossH, float64(t.lossBins), 24)
		t.churnH = pushRing(t.churnH, float64(t.churnBin), 24)
		t.hourBins, t.lossBins, t.churnBin = t.hourBins[:0], 0, 0
	}
	// Forget lost prefixes that never came back within a day.
	if t.ev == nil && len(t.lost) > 0 {
		cut := b.Start.Add(-24 * time.Hour)
		for id, at := range t.lost {
			if at.Before(cut) {
				delete(t.lost, id)
			}
		}
	}
}

func pushRing(r []float64, v float64, n int) []float64 {
	if len(r) >= n {
		copy(r, r[1:])
		r = r[:n-1]
	}
	return append(r, v)
}

// Peer handles a vantage point's event: shown, never counted as an outage.
func (d *Detector) Peer(pe view.PeerEvent) {
	switch pe.Kind {
	case view.PeerDown, view.PeerFlush:
		if d.peers[pe.Index] != nil {
			return
		}
		start := pe.Time
		if pe.Kind == view.PeerFlush && !pe.Start.IsZero() {
			start = pe.Start
		}
		ev := &Event{ID: d.nextID + 1, EntityType: "peer", EntityCode: pe.Peer.Addr.String(), Kind: KindPeerEvent,
			Family: "all", Start: start, Severity: SeverityWarning, PeerAS: uint32(pe.Peer.AS), PeerCollector: pe.Peer.Collector,
			PeerRoutes: pe.Routes, Cause: pe.Kind.String(), Prefixes: []string{}, Origins: []uint32{}, UpstreamsBefore: []uint32{}}
		ev.EntityName = "AS" + pe.Peer.AS.String()
		if info, ok := d.db.ASN(uint32(pe.Peer.AS)); ok && info.Name != "" {
			ev.EntityName += " " + info.Name
		}
		d.nextID++
		d.peers[pe.Index] = ev
		d.explainPeer(ev, pe)
		d.events = append(d.events, ev)
		d.sink.Notify(Notice{Type: "start", Event: ev, Time: pe.Time})
	case view.PeerFullFeed, view.PeerUp:
		ev := d.peers[pe.Index]
		if ev == nil || (pe.Kind == view.PeerUp && ev.PeerRoutes > 0) {
			return
		}
		end := pe.Time
		ev.End = &end
		delete(d.peers, pe.Index)
		d.explainPeer(ev, pe)
		d.sink.Notify(Notice{Type: "end", Event: ev, Time: pe.Time})
	}
}

// Flush ends nothing (events still open at the end of the data stay
// ongoing) but refreshes the explanations of open events.
func (d *Detector) Flush() {
	for _, t := range d.tracks {
		if t.ev != nil {
			d.explain(t, t.ev)
		}
		if t.inst != nil {
			d.explainInstability(t, t.inst)
		}
		if t.pending != nil && !d.now.Before(t.pending.Start.Add(d.cfg.PartialConfirm)) {
			d.open(t, t.pending, d.now)
			t.pending = nil
		}
	}
}

// prefixList returns the affected prefixes of a track, sorted.
func (d *Detector) prefixList(t *track) []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(t.lost))
	for id := range t.lost {
		ps = append(ps, d.v.Prefix(id))
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
func (d *Detector) Baseline(e signal.Entity, f signal.Family) float64 {
	t := d.tracks[efKey{e, f}]
	if t == nil {
		return 0
	}
	return t.baseline()
}

// Warm reports whether detection has started.
func (d *Detector) Warm() bool { return d.warm }
