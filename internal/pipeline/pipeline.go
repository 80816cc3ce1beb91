// Package pipeline is blackout's one run loop: it feeds a source's route
// events through the stages (the routing view, the signals per entity and
// time bin, the detector) and hands what they find to sinks. `replay`,
// `demo`, `watch` and `serve` all run Run; they differ only in their
// source (files merged in time order, or live feeds) and their sinks (a
// report, printed lines, the store, the live stream, the alerts).
//
// The stages are built in one pass, downstream first: the detector reads
// the view and the signals through an evidence interface, the tracker
// observes the view, the view is fed the events. Nothing is attached
// afterwards.
package pipeline

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/detect"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/view"
)

// Config configures the stages.
type Config struct {
	Geo    *geo.DB
	Bin    time.Duration // signal bin width (default 5 minutes)
	View   view.Config
	Detect detect.Config
	// Record lists the entities whose series are kept in the Result (for
	// charts); others only feed the detector.
	Record []signal.Entity
	// NewView, if set, builds the routing view stage in place of
	// view.New: it is given the view configuration (with the path table
	// the tracker reads, Paths) and the tracker to report to. The cluster
	// uses it to run the stages on the view workers' deltas.
	NewView func(cfg view.Config, obs view.Observer) ViewStage
}

// ViewStage is the routing view as the stages use it: a *view.View, or
// another that makes the same observer calls and gives the same answers
// (partview's Reducer over the cluster's view workers).
type ViewStage interface {
	Apply(ev *bgp.Event)
	Prefix(id view.PrefixID) netip.Prefix
	Lookup(p netip.Prefix) (view.PrefixID, bool)
	Origin(id view.PrefixID) bgp.ASN
	LastWithdrawnPath(id view.PrefixID) []bgp.ASN
	FullFeed() (v4, v6 int)
	FamilyState(f bgp.Family) (lastRIB, first time.Time, fullFeed int)
	Readiness(f bgp.Family) (peers, ready int)
	Peers() int
	Prefixes() int
	LongPaths() int64
	// Sync applies whatever the stage holds back (the view's queued RIB
	// announcements); it is called at the end of the input.
	Sync()
}

// DefaultConfig returns a configuration with the defaults of every stage.
func DefaultConfig(db *geo.DB) Config {
	return Config{Geo: db, Bin: 5 * time.Minute, View: view.DefaultConfig(), Detect: detect.DefaultConfig()}
}

// Sink receives what the pipeline finds, on the pipeline's goroutine, in
// data-time order. A sink must not block for long: it holds up the stages.
// A sink may also implement BinSink, EntitySink, ProgressSink and
// FinishSink.
type Sink interface {
	// Notify receives the detector's notices (start, escalate, end,
	// retract). The event is the detector's own and keeps changing while
	// it is open: a sink that keeps it copies it (event.Event.Clone).
	Notify(n event.Notice)
}

// BinSink receives every closed bin of every entity and family that
// changed during it, with the detector's baseline after it. A bin without
// a call kept the previous bin's values.
type BinSink interface {
	Bin(e signal.Entity, f bgp.Family, b signal.Bin)
}

// EntityInfo is what is known of an entity at a bin's end: its families
// and the upstream ASes it is reached through, with their share of its
// routes (largest first).
type EntityInfo struct {
	Entity    signal.Entity
	Families  []bgp.Family
	Upstreams []event.AS // ASN and Share (names are the sink's business)
	Time      time.Time  // the bin's start
}

// EntitySink receives an entity's families and upstreams when they change
// (checked at each closed bin).
type EntitySink interface {
	Entity(info EntityInfo)
}

// ProgressSink receives the data time reached and the route events fed,
// about every 1,024 events, after every event when paced or when a live
// source has nothing more waiting, and at the end.
type ProgressSink interface {
	Progress(dataTime time.Time, routeEvents int64)
}

// FinishSink is told when the source has ended and the last bin closed.
type FinishSink interface {
	Finish(res *Result)
}

// EndSink is a Sink told when the input ended, before the last bins close:
// what it is handed from then on is the run's final state.
type EndSink interface {
	EndOfInput()
}

// Options are a run's stages, pace and sinks.
type Options struct {
	Config
	// Speed paces the events by their data time: Speed seconds of data per
	// second of wall time; 0 is as fast as possible.
	Speed float64
	Sinks []Sink
	// OnError receives the non-fatal input errors (may be nil); they are
	// counted in Result.Errors.
	OnError func(error)
	// ForgetEvents leaves Result.Events empty: a long run (serve, watch)
	// hands its events to its sinks and keeps none of them.
	ForgetEvents bool
	// OnCoverage, if set, receives what the detector judges when that
	// changes (a family starts being judged, loses its full-feed peers),
	// checked at every progress point.
	OnCoverage func(c event.Coverage)
}

// Result is what a run found.
type Result struct {
	Events      []*event.Event // every event that started and was not retracted, by start
	Series      []*signal.Series
	RouteEvents int64
	First, Last time.Time
	Peers       int
	FullFeed    [2]int
	Prefixes    int
	Errors      int
	// Coverage is what could be judged, and why not the rest.
	Coverage event.Coverage
}

// Pipeline is one instance of the stages, fed with Feed.
type Pipeline struct {
	cfg    Config
	view   *view.View // nil with Config.NewView
	stage  ViewStage  // view, or what Config.NewView built
	track  *signal.Tracker
	det    *detect.Detector
	out    *fanout
	res    Result
	series map[seriesKey]*signal.Series
}

type seriesKey struct {
	e signal.Entity
	f bgp.Family
}

// New builds the stages, reporting to sinks.
func New(cfg Config, sinks ...Sink) *Pipeline {
	if cfg.Bin <= 0 {
		cfg.Bin = 5 * time.Minute
	}
	p := &Pipeline{cfg: cfg, series: map[seriesKey]*signal.Series{}}
	p.out = newFanout(p, sinks)
	paths := view.NewPaths()
	cfg.View.Paths = paths
	// Downstream first: each stage is given the next one, and the detector
	// reads the view and the tracker through p (evidence).
	p.det = detect.New(cfg.Detect, cfg.Geo, evidence{p}, p.out)
	p.track = signal.New(cfg.Geo, cfg.Bin, paths, p.det)
	if cfg.NewView != nil {
		p.stage = cfg.NewView(cfg.View, p.track)
	} else {
		p.view = view.New(cfg.View, p.track)
		p.stage = p.view
	}
	for _, e := range cfg.Record {
		for _, f := range []bgp.Family{bgp.IPv4, bgp.IPv6} {
			s := &signal.Series{Entity: e, Family: f}
			p.track.Watch(e, f)
			p.series[seriesKey{e, f}] = s
			p.res.Series = append(p.res.Series, s)
		}
	}
	return p
}

// View returns the routing view (for queries between events); nil when
// Config.NewView built another stage.
func (p *Pipeline) View() *view.View { return p.view }

// Tracker returns the signal tracker.
func (p *Pipeline) Tracker() *signal.Tracker { return p.track }

// Detector returns the detector.
func (p *Pipeline) Detector() *detect.Detector { return p.det }

// Feed runs one route event through the stages.
func (p *Pipeline) Feed(ev *bgp.Event) {
	if p.res.First.IsZero() || ev.Time.Before(p.res.First) {
		p.res.First = ev.Time
	}
	if ev.Time.After(p.res.Last) {
		p.res.Last = ev.Time
	}
	p.res.RouteEvents++
	p.track.Advance(ev.Time)
	p.stage.Apply(ev)
	p.det.Tick(ev.Time)
}

// Finish closes the last bin and returns the result.
func (p *Pipeline) Finish() *Result {
	p.stage.Sync()
	p.track.Flush()
	p.det.Flush()
	p.res.Events = p.out.events()
	p.res.Peers = p.stage.Peers()
	v4, v6 := p.stage.FullFeed()
	p.res.FullFeed = [2]int{v4, v6}
	p.res.Prefixes = p.stage.Prefixes()
	p.res.Coverage = p.det.Coverage()
	p.res.Coverage.InputErrors = p.res.Errors
	if n := p.stage.LongPaths(); n > 0 {
		p.res.Coverage.LongPaths, p.res.Coverage.MaxPathLen = n, p.cfg.View.MaxPathLen
	}
	return &p.res
}

// Run feeds every event of src through new stages, paced by opts.Speed,
// handing what they find to opts.Sinks, until src ends or ctx is done. It
// returns the result; when ctx ends the run, the result so far and
// ctx.Err() (the open bin is not closed then: a restart completes it).
func Run(ctx context.Context, src source.Source, opts Options) (*Result, error) {
	p := New(opts.Config, opts.Sinks...)
	return p.Run(ctx, src, opts)
}

// Run feeds src through p; see the package function Run. opts.Config and
// opts.Sinks are p's already and are not read again.
func (p *Pipeline) Run(ctx context.Context, src source.Source, opts Options) (*Result, error) {
	p.out.forget = opts.ForgetEvents
	if st, ok := src.(interface{ Stop() }); ok {
		// The run is the stream's one reader: when it ends, reading ahead ends.
		defer st.Stop()
	}
	var wallStart, dataStart time.Time
	var n int64
	idle, _ := src.(interface{ Idle() bool })
	var lastCov string
	progress := func(t time.Time) {
		p.out.progress(t, p.res.RouteEvents)
		if opts.OnCoverage != nil {
			c := p.det.Coverage()
			if k := coverageKey(&c); k != lastCov {
				lastCov = k
				opts.OnCoverage(c)
			}
		}
	}
	for {
		if n&0xff == 0 {
			if err := ctx.Err(); err != nil {
				p.out.progress(p.res.Last, p.res.RouteEvents)
				return &p.res, err
			}
		}
		ev, err := src.Next()
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				p.out.progress(p.res.Last, p.res.RouteEvents)
				return &p.res, cerr
			}
			if errors.Is(err, io.EOF) {
				break
			}
			p.res.Errors++
			if opts.OnError != nil {
				opts.OnError(err)
			}
			if !source.Skippable(err) {
				break
			}
			continue
		}
		if opts.Speed > 0 {
			if wallStart.IsZero() {
				wallStart, dataStart = time.Now(), ev.Time
			}
			target := wallStart.Add(time.Duration(float64(ev.Time.Sub(dataStart)) / opts.Speed))
			if d := time.Until(target); d > 2*time.Millisecond {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					p.out.progress(p.res.Last, p.res.RouteEvents)
					return &p.res, ctx.Err()
				case <-t.C:
				}
			}
		}
		p.Feed(ev)
		n++
		if n&0x3ff == 0 || opts.Speed > 0 || idle != nil && idle.Idle() {
			progress(ev.Time)
		}
	}
	for _, s := range p.out.sinks {
		if e, ok := s.(EndSink); ok {
			e.EndOfInput()
		}
	}
	res := p.Finish()
	if u, ok := src.(source.Undecoder); ok {
		m := map[string]int64{}
		u.Undecoded(m)
		if len(m) > 0 {
			res.Coverage.Undecoded = m
		}
	}
	progress(res.Last)
	p.out.finish(res)
	return res, nil
}

// coverageKey is what of a coverage a watcher is told again when it changes.
func coverageKey(c *event.Coverage) string {
	var b []byte
	for _, f := range c.Families {
		b = append(b, byte(f.Family), byte('0'+min(f.FullFeedPeers, 1)))
		b = strconv.AppendInt(append(b, ' '), int64(f.LivePeers), 10)
		b = strconv.AppendInt(append(b, ' '), int64(f.ReadyPeers), 10)
		if f.JudgedFrom != nil {
			b = append(b, 'j')
		}
		b = append(b, f.NotJudged...)
		b = append(b, '|')
	}
	return string(b)
}

// evidence is what the detector reads of the view and the tracker.
type evidence struct{ p *Pipeline }

func (e evidence) Prefix(id view.PrefixID) netip.Prefix { return e.p.stage.Prefix(id) }
func (e evidence) Origin(id view.PrefixID) bgp.ASN      { return e.p.stage.Origin(id) }
func (e evidence) LastWithdrawnPath(id view.PrefixID) []bgp.ASN {
	return e.p.stage.LastWithdrawnPath(id)
}
func (e evidence) FullFeed() (v4, v6 int) { return e.p.stage.FullFeed() }
func (e evidence) FamilyState(f bgp.Family) (time.Time, time.Time, int) {
	return e.p.stage.FamilyState(f)
}
func (e evidence) Withdrawals(id view.PrefixID) (time.Time, time.Time, int) {
	return e.p.track.Withdrawals(id)
}
func (e evidence) State(en signal.Entity, f bgp.Family) *signal.State { return e.p.track.State(en, f) }
func (e evidence) BinStart() time.Time                                { return e.p.track.BinStart() }
func (e evidence) BinWidth() time.Duration                            { return e.p.track.BinWidth() }
func (e evidence) Transit(a bgp.ASN, f bgp.Family, cc geo.Country, before time.Time) (int32, int32) {
	return e.p.track.Transit(a, f, cc, before)
}
func (e evidence) PathHunting(id view.PrefixID) int { return e.p.track.PathHunting(id) }
func (e evidence) OtherRoutes(p netip.Prefix, fn func(netip.Prefix, bgp.ASN, time.Time)) {
	for q, o := range e.p.track.VisibleWithin(p) {
		var since time.Time
		if id, ok := e.p.stage.Lookup(q); ok {
			since = e.p.track.VisibleSince(id)
		}
		fn(q, o, since)
	}
}

// fanout hands the detector's output to the sinks and keeps the result's
// events and series.
type fanout struct {
	p        *Pipeline
	sinks    []Sink
	bins     []BinSink
	ents     []EntitySink
	progs    []ProgressSink
	fins     []FinishSink
	started  []*event.Event // unless forget
	retract  map[*event.Event]bool
	forget   bool
	lastBin  time.Time
	entities map[signal.Entity]*entityState
}

func newFanout(p *Pipeline, sinks []Sink) *fanout {
	o := &fanout{p: p, sinks: sinks, retract: map[*event.Event]bool{}, entities: map[signal.Entity]*entityState{}}
	for _, s := range sinks {
		if b, ok := s.(BinSink); ok {
			o.bins = append(o.bins, b)
		}
		if e, ok := s.(EntitySink); ok {
			o.ents = append(o.ents, e)
		}
		if g, ok := s.(ProgressSink); ok {
			o.progs = append(o.progs, g)
		}
		if f, ok := s.(FinishSink); ok {
			o.fins = append(o.fins, f)
		}
	}
	return o
}

// Notify implements event.Sink for the detector.
func (o *fanout) Notify(n event.Notice) {
	switch {
	case o.forget:
	case n.Type == event.Start:
		o.started = append(o.started, n.Event)
	case n.Type == event.Retract:
		o.retract[n.Event] = true
	}
	for _, s := range o.sinks {
		s.Notify(n)
	}
}

// events returns the events that started and were not retracted, sorted
// by start (stable: in the order they started on equal starts).
func (o *fanout) events() []*event.Event {
	out := make([]*event.Event, 0, len(o.started))
	for _, ev := range o.started {
		if !o.retract[ev] {
			out = append(out, ev)
		}
	}
	slices.SortStableFunc(out, func(a, b *event.Event) int { return a.Start.Compare(b.Start) })
	return out
}

// Bin implements detect.BinSink.
func (o *fanout) Bin(e signal.Entity, f bgp.Family, b signal.Bin) {
	if len(o.p.series) > 0 {
		if sr := o.p.series[seriesKey{e, f}]; sr != nil {
			sr.Bins = append(sr.Bins, b)
		}
	}
	for _, s := range o.bins {
		s.Bin(e, f, b)
	}
	if len(o.ents) > 0 {
		o.noteEntity(e, f, b.Start)
	}
}

func (o *fanout) progress(t time.Time, n int64) {
	for _, s := range o.progs {
		s.Progress(t, n)
	}
}

func (o *fanout) finish(res *Result) {
	for _, s := range o.fins {
		s.Finish(res)
	}
}

// Readiness implements detect.Readiness: the view's live peers that
// signal when their tables are complete.
func (e evidence) Readiness(f bgp.Family) (peers, ready int) { return e.p.stage.Readiness(f) }
