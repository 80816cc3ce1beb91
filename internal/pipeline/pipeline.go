// Package pipeline runs route events through blackout's stages: the routing
// view, the signals per entity and time bin, and the detector, and hands the
// detector's notices to sinks. `replay` and `demo` are this one pipeline
// fed from MRT files; live sources feed the same Run.
package pipeline

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"regexp"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/detect"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/view"
)

// Config configures a pipeline.
type Config struct {
	Geo    *geo.DB
	Bin    time.Duration // signal bin width (default 5 minutes)
	View   view.Config
	Detect detect.Config
	// Record lists the entities whose series are kept in the Result (for
	// charts); others only feed the detector.
	Record []signal.Entity
	// Sink receives the detector's notices as they happen (may be nil).
	Sink event.Sink
	// OnError receives non-fatal input errors (may be nil).
	OnError func(error)
	// Progress, if set, is called about every 2^16 events with the data time.
	Progress func(events int64, now time.Time)
	// OnBin, if set, receives every closed bin of every entity and family
	// that changed during it, with the detector's baseline after it (for a
	// store). Bins without a call kept the previous bin's values.
	OnBin func(e signal.Entity, f bgp.Family, b signal.Bin, baseline float64)
}

// DefaultConfig returns a configuration with the defaults of every stage.
func DefaultConfig(db *geo.DB) Config {
	return Config{Geo: db, Bin: 5 * time.Minute, View: view.DefaultConfig(), Detect: detect.DefaultConfig()}
}

// Point is one bin of a recorded series.
type Point struct {
	Time     time.Time `json:"time"`
	Space    float64   `json:"space"`
	MinSpace float64   `json:"min_space"`
	Baseline float64   `json:"baseline"`
	Prefixes int32     `json:"prefixes"`
	Origins  int32     `json:"origins"`
	Churn    int32     `json:"churn"`
}

// Series is the recorded signal of one entity and family.
type Series struct {
	Entity signal.Entity
	Family bgp.Family
	Points []Point
}

// Result is what a run found.
type Result struct {
	Events      []*event.Event
	Series      []*Series
	RouteEvents int64
	First, Last time.Time
	Peers       int
	FullFeed    [2]int
	Prefixes    int
	Errors      int
}

// Pipeline is one instance of the stages, fed with Feed.
type Pipeline struct {
	cfg    Config
	view   *view.View
	track  *signal.Tracker
	det    *detect.Detector
	res    Result
	series map[[2]uint64]*Series
}

// New builds the stages.
func New(cfg Config) *Pipeline {
	if cfg.Bin <= 0 {
		cfg.Bin = 5 * time.Minute
	}
	if cfg.OnError == nil {
		cfg.OnError = func(error) {}
	}
	p := &Pipeline{cfg: cfg, series: map[[2]uint64]*Series{}}
	obs := &fanout{p: p}
	p.track = signal.New(cfg.Geo, cfg.Bin, obs)
	p.view = view.New(cfg.View, obs)
	p.track.Attach(p.view)
	p.det = detect.New(cfg.Detect, cfg.Geo, p.view, p.track, cfg.Sink)
	for _, e := range cfg.Record {
		for _, f := range []bgp.Family{bgp.IPv4, bgp.IPv6} {
			s := &Series{Entity: e, Family: f}
			p.track.Watch(e, f)
			p.series[seriesKey(e, f)] = s
			p.res.Series = append(p.res.Series, s)
		}
	}
	return p
}

func seriesKey(e signal.Entity, f bgp.Family) [2]uint64 {
	return [2]uint64{uint64(e.Type)<<32 | uint64(e.Code), uint64(f)}
}

// View returns the routing view (for queries between events).
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
	p.view.Apply(ev)
	p.det.Tick(ev.Time)
	if p.cfg.Progress != nil && p.res.RouteEvents&0xffff == 0 {
		p.cfg.Progress(p.res.RouteEvents, p.view.Now())
	}
}

// Finish closes the last bin and returns the result.
func (p *Pipeline) Finish() *Result {
	p.track.Flush()
	p.det.Flush()
	p.res.Events = p.det.Events()
	p.res.Peers = p.view.Peers()
	v4, v6 := p.view.FullFeed()
	p.res.FullFeed = [2]int{v4, v6}
	p.res.Prefixes = p.view.Prefixes()
	return &p.res
}

// Run feeds every event of the sources, merged in time order, and returns
// the result. Non-fatal errors go to Config.OnError.
func (p *Pipeline) Run(ctx context.Context, srcs []EventSource) (*Result, error) {
	onErr := func(err error) {
		p.res.Errors++
		p.cfg.OnError(err)
	}
	m := Merge(srcs, onErr)
	for n := 0; ; n++ {
		if n&0xfff == 0 {
			if err := ctx.Err(); err != nil {
				return p.Finish(), err
			}
		}
		ev, err := m.Next()
		if err != nil {
			break
		}
		p.Feed(ev)
	}
	return p.Finish(), nil
}

// RunEvents feeds the events of a channel (a live source's, cloned) until
// it is closed or ctx is done, and returns the result so far.
func (p *Pipeline) RunEvents(ctx context.Context, events <-chan bgp.Event) (*Result, error) {
	for {
		select {
		case <-ctx.Done():
			return p.Finish(), ctx.Err()
		case ev, ok := <-events:
			if !ok {
				return p.Finish(), nil
			}
			p.Feed(&ev)
		}
	}
}

// fanout dispatches the view's and tracker's callbacks to the stages.
type fanout struct{ p *Pipeline }

func (o *fanout) Visibility(t time.Time, id view.PrefixID, pfx netip.Prefix, origin bgp.ASN, visible bool) {
	o.p.track.Visibility(t, id, pfx, origin, visible)
}

func (o *fanout) Route(t time.Time, id view.PrefixID, pfx netip.Prefix, peer int, old, new view.PathID) {
	o.p.track.Route(t, id, pfx, peer, old, new)
}

func (o *fanout) Membership(t time.Time, id view.PrefixID, pfx netip.Prefix, peer int, path view.PathID, joined bool) {
	o.p.track.Membership(t, id, pfx, peer, path, joined)
}

func (o *fanout) Peer(ev view.PeerEvent) { o.p.det.Peer(ev) }

func (o *fanout) Changed(t time.Time, e signal.Entity, f bgp.Family, s *signal.State) {
	o.p.det.Changed(t, e, f, s)
}

func (o *fanout) PrefixVisibility(t time.Time, e signal.Entity, f bgp.Family, id view.PrefixID, visible bool) {
	o.p.det.PrefixVisibility(t, e, f, id, visible)
}

func (o *fanout) Upstream(t time.Time, e signal.Entity, f bgp.Family, asn bgp.ASN, present bool) {
	o.p.det.Upstream(t, e, f, asn, present)
}

func (o *fanout) BinClosed(e signal.Entity, f bgp.Family, b signal.Bin, s *signal.State) {
	o.p.det.BinClosed(e, f, b, s)
	if o.p.cfg.OnBin != nil {
		o.p.cfg.OnBin(e, f, b, o.p.det.Baseline(e, f))
	}
	if sr := o.p.series[seriesKey(e, f)]; sr != nil {
		sr.Points = append(sr.Points, Point{Time: b.Start, Space: b.Space, MinSpace: b.MinSpace,
			Baseline: o.p.det.Baseline(e, f), Prefixes: b.Prefixes, Origins: b.Origins, Churn: b.Announcements + b.Withdrawals})
	}
}

// collectorRE matches RIS names (rrc00) and RouteViews names: route-views2,
// route-views6, route-views.linx, route-views.sydney, ...
var collectorRE = regexp.MustCompile(`(rrc\d\d|route-views(?:\d+|\.[a-z][a-z0-9]*)?)(?:[./_-]|$)`)

// CollectorOf guesses the route collector from a file path ("rrc06",
// "route-views2"), or "" when the path does not name one. Files of one
// collector must map to the same name so their peers are the same
// vantage points.
func CollectorOf(path string) string {
	m := collectorRE.FindStringSubmatch(filepath.ToSlash(path))
	if m == nil {
		return ""
	}
	return m[1]
}

// FileSource is an MRT file (or URL, or "-") opened as an EventSource.
type FileSource struct {
	*mrt.RouteReader
	rc io.ReadCloser
}

// OpenFile opens an MRT file of any compression as an EventSource.
func OpenFile(ctx context.Context, name, collector string) (*FileSource, error) {
	rc, err := compress.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return &FileSource{RouteReader: mrt.NewRouteReader(rc, name, collector), rc: rc}, nil
}

// Close closes the file.
func (f *FileSource) Close() error { return f.rc.Close() }

// OpenFiles opens every file; on an error it closes those opened.
func OpenFiles(ctx context.Context, names []string) ([]*FileSource, error) {
	var out []*FileSource
	for _, n := range names {
		fs, err := OpenFile(ctx, n, CollectorOf(n))
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("open %s: %w", n, err)
		}
		out = append(out, fs)
	}
	return out, nil
}
