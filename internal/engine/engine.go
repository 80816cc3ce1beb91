// Package engine joins the pipeline to what blackout serve keeps and
// tells: the store (bins, entities, events, and the outbox of notices,
// each written in the same transaction as its event change), the live hub
// (the notices once stored, with their sequence numbers, and the data
// clock for the event stream) and the alert dispatcher (woken when
// notices are stored; it reads them from the outbox). It is a set
// of pipeline sinks and the status the HTTP server reports; it runs the one
// run loop of package pipeline and has none of its own.
package engine

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blackout-bgp/blackout/internal/alert"
	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/hub"
	"github.com/blackout-bgp/blackout/internal/metrics"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store"
)

// Config wires the sinks.
type Config struct {
	Store  store.Store
	Writer store.WriterOptions
	Geo    *geo.DB           // names of upstream ASes
	Alerts *alert.Dispatcher // may be nil
	// AlertConfig, if set and Alerts is nil, makes New start a dispatcher
	// on it with the store as outbox (Close closes it).
	AlertConfig *alert.Config
	Logger      *slog.Logger     // default slog.Default()
	Metrics     *metrics.Metrics // may be nil
	// Standby makes the engine a warm standby's: it runs the pipeline and
	// keeps what it would write (store.WriterOptions.Hold) without writing
	// it, and starts no alerts, until Promote.
	Standby bool
}

// Engine records what the pipeline finds in the store, publishes notices
// and ticks to the hub, and hands notices to the alerts. Its sink methods
// run on the pipeline's goroutine; the status methods are safe from any
// goroutine.
type Engine struct {
	cfg    Config
	w      *store.Writer
	hub    *hub.Hub
	log    *slog.Logger
	m      *metrics.Metrics
	resume time.Time // data time an earlier run reached
	// outboxFrom: in a store from before the outbox, the data time up to
	// which the notices were announced by the older version.
	outboxFrom time.Time
	ownAlerts  bool // New started cfg.Alerts: Close closes it
	writerStop context.CancelFunc
	writerDone chan struct{}

	dataTime    atomic.Int64 // unix nanoseconds
	routeEvents atomic.Int64
	events      atomic.Int64 // events started and not retracted
	running     atomic.Bool
	covMu       sync.Mutex
	coverage    event.Coverage // what the detector judges, as it last changed

	// The pipeline's goroutine only.
	open    map[*event.Event]*openEvent // by the detector's event
	lastBin time.Time
}

// openEvent is an open event's natural key (as it started), stored id, and
// the state last handed to the store.
type openEvent struct {
	last *event.Event
	key  store.EventKey
	id   int64
}

// New opens the store writer and reads where an earlier run stopped.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, m: cfg.Metrics, hub: hub.New(), open: map[*event.Event]*openEvent{}}
	wo := cfg.Writer
	committed := wo.Committed
	wo.Committed = func(ns []store.Notice) {
		for i := range ns {
			e.hub.PublishNotice(ns[i].Seq, ns[i].Type, &ns[i].Event)
		}
		e.cfg.Alerts.Wake()
		if committed != nil {
			committed(ns)
		}
	}
	obs := wo.Observe
	wo.Observe = func(d time.Duration, rows int, err error) {
		if e.m != nil {
			e.m.StoreWrite.Observe(d.Seconds())
			if err != nil {
				e.m.StoreErrors.Inc()
			}
		}
		if err != nil {
			e.log.Error("store write failed", "error", err, "rows", rows)
		}
		if obs != nil {
			obs(d, rows, err)
		}
	}
	if !cfg.Standby {
		if err := e.startAlerts(ctx); err != nil {
			return nil, err
		}
	}
	wo.Hold = cfg.Standby
	w, err := store.NewWriter(ctx, cfg.Store, wo)
	if err != nil {
		e.closeAlerts(ctx)
		return nil, err
	}
	e.w = w
	e.resume = w.ResumedTo()
	if v, ok, err := cfg.Store.Meta(ctx, store.MetaOutboxFrom); err != nil {
		return nil, err
	} else if ok {
		e.outboxFrom, _ = time.Parse(time.RFC3339Nano, v)
	}
	// The writer runs until Close, beyond the end of a replay: a write
	// that fails is retried until it succeeds.
	wctx, stop := context.WithCancel(context.Background())
	e.writerStop, e.writerDone = stop, make(chan struct{})
	go func() { w.Run(wctx); close(e.writerDone) }()
	if !e.resume.IsZero() {
		e.dataTime.Store(e.resume.UnixNano())
	}
	if e.m != nil {
		if n, err := cfg.Store.CountOpen(ctx); err == nil {
			e.m.EventsOpen.Set(float64(n))
		}
	}
	return e, nil
}

// startAlerts starts the dispatcher of cfg.AlertConfig, if set, with the
// store as outbox.
func (e *Engine) startAlerts(ctx context.Context) error {
	if e.cfg.Alerts != nil || e.cfg.AlertConfig == nil {
		return nil
	}
	ao := alert.Options{Outbox: e.cfg.Store, Logger: e.cfg.Logger}
	if m := e.cfg.Metrics; m != nil {
		ao.Delivered, ao.Dead = m.AlertDelivered, func(string) { m.DeadLetter() }
	}
	d, err := alert.New(*e.cfg.AlertConfig, ao)
	if err == nil {
		err = d.Start(ctx)
	}
	if err != nil {
		return err
	}
	e.cfg.Alerts, e.ownAlerts = d, true
	return nil
}

// Promote makes a standby's engine (Config.Standby) write to st from now
// on: its writer drops what st holds of what it kept and writes the rest
// (store.Writer.Promote), and its alerts start, with st as outbox. It
// must not run beside Store or Close. An error leaves it a standby.
func (e *Engine) Promote(ctx context.Context, st store.Store) error {
	if !e.w.Holding() {
		return nil
	}
	if err := e.w.Promote(ctx, st); err != nil {
		return err
	}
	e.cfg.Store = st
	if v, ok, err := st.Meta(ctx, store.MetaOutboxFrom); err == nil && ok {
		e.outboxFrom, _ = time.Parse(time.RFC3339Nano, v)
	}
	return e.startAlerts(ctx)
}

// Standby reports whether the engine is a standby's that was not promoted.
func (e *Engine) Standby() bool { return e.w.Holding() }

// Hub returns the live stream's hub.
func (e *Engine) Hub() *hub.Hub { return e.hub }

// Store returns the store.
func (e *Engine) Store() store.Store { return e.cfg.Store }

// ResumedTo returns the data time an earlier run over this store reached.
func (e *Engine) ResumedTo() time.Time { return e.resume }

// DataTime returns the data time reached (zero before any data).
func (e *Engine) DataTime() time.Time {
	n := e.dataTime.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Events returns the number of events found (started and not retracted).
func (e *Engine) Events() int64 { return e.events.Load() }

// RouteEvents returns the route events fed.
func (e *Engine) RouteEvents() int64 { return e.routeEvents.Load() }

// MarkRunning says a source is about to be fed (Run says it too), so that
// health reports running from the first request on.
func (e *Engine) MarkRunning() { e.running.Store(true) }

// Running reports whether a source is being fed.
func (e *Engine) Running() bool { return e.running.Load() }

// Coverage returns what the detector judges (families judged from when,
// or why not), as it last changed; empty before any data.
func (e *Engine) Coverage() event.Coverage {
	e.covMu.Lock()
	defer e.covMu.Unlock()
	return e.coverage
}

// StoreErr returns the error of the last store write that failed (nil once
// one succeeds).
func (e *Engine) StoreErr() error { return e.w.Err() }

// StoreHealth returns the state of the store writes: when they fail, the
// reason in plain words (no SQL internals), since when, the rows kept for
// the next try and when it comes.
func (e *Engine) StoreHealth() (ok bool, reason string, since time.Time, queued int, retry time.Time) {
	h := e.w.Health()
	if h.Err == nil {
		return true, "", time.Time{}, 0, time.Time{}
	}
	return false, "store writes are failing: " + store.Describe(h.Err), h.Since, h.Queued, h.NextRetry
}

// Run feeds src through the pipeline with the engine as a sink (beside
// opts.Sinks), the store writer and the tick publisher running beside it,
// and flushes the store at the end. It returns when src ends or ctx is
// done.
func (e *Engine) Run(ctx context.Context, src source.Source, opts pipeline.Options) (*pipeline.Result, error) {
	e.running.Store(true)
	defer e.running.Store(false)
	tickCtx, stopTick := context.WithCancel(ctx)
	go e.ticker(tickCtx)
	defer stopTick()
	e.w.SetMeta(store.MetaBin, opts.Bin.String())
	onCov := opts.OnCoverage
	opts.OnCoverage = func(c event.Coverage) {
		e.covMu.Lock()
		e.coverage = c
		e.covMu.Unlock()
		for _, st := range c.Statements() {
			e.log.Info("judging", "coverage", st)
		}
		if onCov != nil {
			onCov(c)
		}
	}
	onErr := opts.OnError
	opts.OnError = func(err error) {
		if e.m != nil {
			e.m.InputErrors.Inc()
		}
		e.log.Warn("input error", "error", err)
		if onErr != nil {
			onErr(err)
		}
	}
	opts.Sinks = append(opts.Sinks[:len(opts.Sinks):len(opts.Sinks)], e)
	opts.ForgetEvents = true // they are in the store
	res, err := pipeline.Run(ctx, src, opts)
	if err == nil {
		e.covMu.Lock()
		e.coverage = res.Coverage
		e.covMu.Unlock()
	}
	// What went through the pipeline is written now (when interrupted, the
	// open bin is not: a restart replays and completes it). A write that
	// fails stays queued and the writer retries it until Close.
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if ferr := e.w.Flush(fctx); ferr != nil {
		e.log.Error("store flush failed; what failed is kept and retried", "error", ferr)
	}
	if err != nil {
		return res, err
	}
	e.publishTick()
	return res, nil
}

// Flush returns once everything handed to the store is written (or ctx is done).
func (e *Engine) Flush(ctx context.Context) error { return e.w.Flush(ctx) }

// Close flushes the store and stops the writer, then the alerts New
// started (given until ctx is done; what is not delivered stays in the
// outbox for the next start).
func (e *Engine) Close(ctx context.Context) error {
	err := e.w.Close(ctx)
	e.writerStop()
	<-e.writerDone
	e.closeAlerts(ctx)
	return err
}

func (e *Engine) closeAlerts(ctx context.Context) {
	if e.ownAlerts {
		e.cfg.Alerts.Close(ctx)
	}
}

// Notify implements pipeline.Sink: the store, the hub and the alerts get
// the notice, each with its own copy of the event.
func (e *Engine) Notify(n event.Notice) {
	cur := n.Event.Clone()
	oe := e.open[n.Event]
	if oe == nil {
		oe = &openEvent{key: store.KeyOf(cur)}
	}
	op := store.EventOp{Key: oe.key, DetID: n.Event.ID, Event: *cur, Delete: n.Type == event.Retract}
	if n.Time.After(e.outboxFrom) {
		op.Notice = &store.NoticeOp{Type: n.Type, Time: n.Time}
	}
	if id := e.w.Event(op); id != 0 {
		oe.id = id
	}
	oe.last = cur
	switch n.Type {
	case event.Start:
		e.events.Add(1)
	case event.Retract:
		e.events.Add(-1)
	}
	switch n.Type {
	case event.End, event.Retract:
		delete(e.open, n.Event)
	default:
		e.open[n.Event] = oe
	}
	if e.m != nil {
		e.m.Notices.WithLabelValues(string(n.Type)).Inc()
		e.m.EventsOpen.Set(float64(len(e.open)))
	}
	// What readers see: the stored ids (the writer maps the detector's).
	ev := *cur
	ev.ID = int(oe.id)
	if ev.PrecededBy != nil {
		if id, ok := e.w.StoredID(*ev.PrecededBy); ok {
			p := int(id)
			ev.PrecededBy = &p
		} else {
			ev.PrecededBy = nil
		}
	}
	// The hub and the alerts hear of the notice once it is stored (Committed).
	e.log.Info("event "+string(n.Type), "id", ev.ID, "entity_type", ev.EntityType, "entity_code", ev.EntityCode,
		"kind", ev.Kind, "family", ev.Family, "severity", ev.Severity, "start", ev.Start, "data_time", n.Time)
}

// Bin implements pipeline.BinSink: the bin goes to the store; at each new
// bin the open events that changed since they were last written are
// written again (the detector refreshes their explanations without a
// notice).
func (e *Engine) Bin(ent signal.Entity, f bgp.Family, b signal.Bin) {
	if !b.Start.Equal(e.lastBin) {
		e.lastBin = b.Start
		e.rewriteOpen()
	}
	e.w.AddBin(store.Bin{EntityType: ent.Type, EntityCode: ent.CodeString(), Family: f, Time: b.Start,
		Space: b.Space, MinSpace: b.MinSpace, Baseline: b.Baseline, Prefixes: b.Prefixes, Origins: b.Origins,
		Churn: b.Churn()})
}

// Entity implements pipeline.EntitySink: what is known of an entity goes
// to the store, with its upstreams' names.
func (e *Engine) Entity(info pipeline.EntityInfo) {
	ups := make([]event.AS, len(info.Upstreams))
	copy(ups, info.Upstreams)
	if e.cfg.Geo != nil {
		for i := range ups {
			if inf, ok := e.cfg.Geo.ASN(ups[i].ASN); ok {
				ups[i].Name = inf.Name
				if !inf.Country.IsZero() {
					ups[i].Country = inf.Country.String()
				}
			}
		}
	}
	e.w.AddEntity(store.Entity{Type: info.Entity.Type, Code: info.Entity.CodeString(), Families: info.Families, Upstreams: ups, Updated: info.Time})
}

// Progress implements pipeline.ProgressSink.
func (e *Engine) Progress(t time.Time, n int64) {
	if e.m != nil {
		e.m.RouteEvents.Add(float64(n - e.routeEvents.Load()))
	}
	e.routeEvents.Store(n)
	if t.UnixNano() > e.dataTime.Load() {
		e.dataTime.Store(t.UnixNano())
	}
	e.w.Progress(e.DataTime(), n)
}

// Finish implements pipeline.FinishSink: the open events' last state is
// written.
func (e *Engine) Finish(*pipeline.Result) { e.rewriteOpen() }

// EndOfInput implements pipeline.EndSink: what comes from now on is the
// run's final state, which a standby's writer keeps until promoted.
func (e *Engine) EndOfInput() { e.w.EndOfInput() }

// rewriteOpen hands the open events that changed since they were last
// written to the store.
func (e *Engine) rewriteOpen() {
	for ev, oe := range e.open {
		if reflect.DeepEqual(ev, oe.last) {
			continue
		}
		oe.last = ev.Clone()
		e.w.Event(store.EventOp{Key: oe.key, DetID: ev.ID, Event: *oe.last})
	}
}

func (e *Engine) ticker(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.publishTick()
		}
	}
}

func (e *Engine) publishTick() {
	dt := e.DataTime()
	if e.m != nil && !dt.IsZero() {
		e.m.DataTime.Set(float64(dt.UnixNano()) / 1e9)
	}
	e.hub.PublishTick(dt, e.RouteEvents())
}
