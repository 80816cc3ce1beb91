package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blackout-bgp/blackout/internal/alert"
	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/store"
)

// EngineConfig wires the pipeline to the store, the live stream and the alerts.
type EngineConfig struct {
	Pipeline pipeline.Config // Sink and OnBin are set by the engine
	Store    store.Store
	Writer   store.WriterOptions
	Alerts   *alert.Dispatcher // may be nil
	Logger   *slog.Logger
	Metrics  *Metrics // may be nil
}

// Engine runs the pipeline for `blackout serve`: it records bins, events
// and entities in the store, publishes notices and ticks to the live
// stream, and hands notices to the alert dispatcher. All its pipeline
// callbacks run on the feeding goroutine; readers use the store and the
// atomic counters.
type Engine struct {
	cfg    EngineConfig
	geo    *geo.DB
	p      *pipeline.Pipeline
	w      *store.Writer
	hub    *Hub
	log    *slog.Logger
	m      *Metrics
	resume time.Time // data time an earlier run reached: no alerts up to it

	dataTime    atomic.Int64 // unix nanoseconds
	routeEvents atomic.Int64
	running     atomic.Bool

	// Feeding goroutine only.
	open     map[*event.Event]*openEvent
	lastBin  time.Time
	entities map[signal.Entity]*entityInfo
	ctx      context.Context
}

type openEvent struct {
	key  store.EventKey
	id   int64
	snap []byte // the JSON last written
}

type entityInfo struct {
	fams [2]bool
	ups  [2]map[bgp.ASN]int32
	tot  [2]int32
	sig  string // what was written last
}

// NewEngine builds the pipeline and reads where an earlier run stopped.
func NewEngine(ctx context.Context, cfg EngineConfig) (*Engine, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := &Engine{cfg: cfg, geo: cfg.Pipeline.Geo, log: cfg.Logger, m: cfg.Metrics, hub: NewHub(),
		open: map[*event.Event]*openEvent{}, entities: map[signal.Entity]*entityInfo{}, ctx: ctx}
	wo := cfg.Writer
	obs := wo.Observe
	wo.Observe = func(d time.Duration, rows int, err error) {
		if e.m != nil {
			e.m.storeWrite.Observe(d.Seconds())
			if err != nil {
				e.m.storeErrors.Inc()
			}
		}
		if err != nil {
			e.log.Error("store write failed", "error", err, "rows", rows)
		}
		if obs != nil {
			obs(d, rows, err)
		}
	}
	w, err := store.NewWriter(ctx, cfg.Store, wo)
	if err != nil {
		return nil, err
	}
	e.w = w
	e.resume = w.ResumedTo()
	if !e.resume.IsZero() {
		e.dataTime.Store(e.resume.UnixNano())
	}
	pc := cfg.Pipeline
	pc.Sink = event.SinkFunc(e.notify)
	pc.OnBin = e.onBin
	e.p = pipeline.New(pc)
	e.w.SetMeta(store.MetaBin, pc.Bin.String())
	if e.m != nil {
		e.m.eventsOpen.Set(float64(e.openCount(ctx)))
	}
	return e, nil
}

// Hub returns the live stream's hub.
func (e *Engine) Hub() *Hub { return e.hub }

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

// RouteEvents returns the route events fed.
func (e *Engine) RouteEvents() int64 { return e.routeEvents.Load() }

// MarkRunning says a source is about to be fed (Run says it too), so that
// health reports running from the first request on.
func (e *Engine) MarkRunning() { e.running.Store(true) }

// Running reports whether a source is being fed.
func (e *Engine) Running() bool { return e.running.Load() }

func (e *Engine) openCount(ctx context.Context) int {
	n, err := e.cfg.Store.CountOpen(ctx)
	if err != nil {
		return 0
	}
	return n
}

// snapshot copies an event (the detector keeps changing its own).
func snapshot(ev *event.Event) (event.Event, []byte) {
	b, _ := json.Marshal(ev)
	var c event.Event
	_ = json.Unmarshal(b, &c)
	return c, b
}

func (e *Engine) notify(n event.Notice) {
	ev := n.Event
	snap, js := snapshot(ev)
	oe := e.open[ev]
	if oe == nil {
		oe = &openEvent{key: store.KeyOf(ev)}
		if n.Type == "start" {
			e.open[ev] = oe
		}
	}
	op := store.EventOp{Key: oe.key, DetID: ev.ID, Event: snap, Delete: n.Type == "retract"}
	id := e.w.Event(op)
	// Written at once, so that the stored form can be read back below.
	if err := e.w.Flush(e.ctx); err != nil {
		e.log.Error("store: event not written", "error", err, "entity", ev.EntityCode, "kind", ev.Kind)
	}
	if id != 0 {
		oe.id = id
	}
	oe.snap = js
	if n.Type == "end" || n.Type == "retract" {
		delete(e.open, ev)
	}
	if e.m != nil {
		e.m.notices.WithLabelValues(string(n.Type)).Inc()
		e.m.eventsOpen.Set(float64(e.openCount(e.ctx)))
	}
	// What readers see: the stored form (its id, and preceded_by mapped).
	out := snap
	if oe.id != 0 {
		if se, err := e.cfg.Store.Event(e.ctx, oe.id); err == nil {
			out = se.Event
		} else {
			out.ID = int(oe.id)
		}
	}
	if n.Type == "retract" {
		out.ID = int(oe.id)
	}
	e.hub.PublishNotice(n.Type, &out)
	if e.cfg.Alerts != nil && n.Time.After(e.resume) {
		e.cfg.Alerts.Notify(alert.Notice{Type: n.Type, Event: out, Time: n.Time})
	}
	e.log.Info("event "+string(n.Type), "id", out.ID, "entity_type", ev.EntityType, "entity_code", ev.EntityCode,
		"kind", ev.Kind, "family", ev.Family, "severity", ev.Severity, "start", ev.Start, "data_time", n.Time)
}

func (e *Engine) onBin(ent signal.Entity, f bgp.Family, b signal.Bin, baseline float64) {
	if !b.Start.Equal(e.lastBin) {
		e.lastBin = b.Start
		e.refreshOpen()
	}
	e.w.AddBin(store.Bin{EntityType: ent.Type, EntityCode: ent.CodeString(), Family: f, Time: b.Start,
		Space: b.Space, MinSpace: b.MinSpace, Baseline: baseline, Prefixes: b.Prefixes, Origins: b.Origins,
		Churn: b.Announcements + b.Withdrawals})
	e.noteEntity(ent, f, b.Start)
}

// refreshOpen writes the open events again when the detector changed them
// without a notice (more prefixes lost, a fresher explanation).
func (e *Engine) refreshOpen() {
	for ev, oe := range e.open {
		snap, js := snapshot(ev)
		if bytes.Equal(js, oe.snap) {
			continue
		}
		oe.snap = js
		e.w.Event(store.EventOp{Key: oe.key, DetID: ev.ID, Event: snap})
	}
}

// noteEntity records the families and upstreams of an entity when they change.
func (e *Engine) noteEntity(ent signal.Entity, f bgp.Family, t time.Time) {
	info := e.entities[ent]
	if info == nil {
		info = &entityInfo{}
		e.entities[ent] = info
	}
	info.fams[f] = true
	st := e.p.Tracker().State(ent, f)
	ups := map[bgp.ASN]int32{}
	var tot int32
	if st != nil {
		st.Upstreams(func(a bgp.ASN, routes int32) {
			if routes > 0 {
				ups[a] = routes
			}
		})
		tot = st.Routes()
	}
	info.ups[f], info.tot[f] = ups, tot
	// Upstreams over both families, with their share of the routes.
	sum := map[bgp.ASN]int32{}
	var all int32
	for i := 0; i < 2; i++ {
		for a, n := range info.ups[i] {
			sum[a] += n
		}
		all += info.tot[i]
	}
	var list []event.AS
	for a, n := range sum {
		share := 0.0
		if all > 0 {
			share = float64(int(float64(n)/float64(all)*1000+0.5)) / 1000
		}
		list = append(list, event.AS{ASN: uint32(a), Share: share})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Share != list[j].Share {
			return list[i].Share > list[j].Share
		}
		return list[i].ASN < list[j].ASN
	})
	var fams []bgp.Family
	for i, ok := range info.fams {
		if ok {
			fams = append(fams, bgp.Family(i))
		}
	}
	sigb, _ := json.Marshal(struct {
		F []bgp.Family
		U []event.AS
	}{fams, list})
	if string(sigb) == info.sig {
		return
	}
	info.sig = string(sigb)
	for i := range list {
		if inf, ok := e.geo.ASN(list[i].ASN); ok {
			list[i].Name = inf.Name
			if !inf.Country.IsZero() {
				list[i].Country = inf.Country.String()
			}
		}
	}
	e.w.AddEntity(store.Entity{Type: ent.Type, Code: ent.CodeString(), Families: fams, Upstreams: list, Updated: t})
}

// Run feeds the sources, merged in time order, through the pipeline. With
// speed > 0 it paces them by their data time (speed seconds of data per
// second of wall time); 0 is as fast as possible. It flushes the store on
// the timer while it runs and at the end, and returns when the sources end
// or ctx is done.
func (e *Engine) Run(ctx context.Context, srcs []pipeline.EventSource, speed float64) (*pipeline.Result, error) {
	e.running.Store(true)
	defer e.running.Store(false)
	flushCtx, stopFlush := context.WithCancel(context.Background())
	flushDone := make(chan struct{})
	go func() { e.w.Run(flushCtx); close(flushDone) }()
	tickCtx, stopTick := context.WithCancel(ctx)
	go e.ticker(tickCtx)
	defer func() {
		stopTick()
		stopFlush()
		<-flushDone
	}()

	m := pipeline.Merge(srcs, func(err error) {
		if e.m != nil {
			e.m.inputErrors.Inc()
		}
		e.log.Warn("input error", "error", err)
	})
	var wallStart time.Time
	var dataStart time.Time
	var n int64
	var err error
	for {
		if n&0xff == 0 {
			if err = ctx.Err(); err != nil {
				break
			}
		}
		ev, nerr := m.Next()
		if nerr != nil {
			break
		}
		if speed > 0 {
			if wallStart.IsZero() {
				wallStart, dataStart = time.Now(), ev.Time
			}
			target := wallStart.Add(time.Duration(float64(ev.Time.Sub(dataStart)) / speed))
			if d := time.Until(target); d > 2*time.Millisecond {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
				case <-t.C:
				}
				if err = ctx.Err(); err != nil {
					break
				}
			}
		}
		e.p.Feed(ev)
		n++
		total := e.routeEvents.Add(1)
		if e.m != nil {
			e.m.routeEvents.Inc()
		}
		if t := ev.Time.UnixNano(); t > e.dataTime.Load() {
			e.dataTime.Store(t)
		}
		if n&0x3ff == 0 || speed > 0 {
			e.w.Progress(ev.Time, total)
		}
	}
	if err != nil {
		// Interrupted: what went through the pipeline is recorded; the
		// open bin is not (a restart replays and completes it).
		e.w.Progress(e.DataTime(), e.RouteEvents())
		return nil, err
	}
	res := e.p.Finish()
	e.refreshOpen()
	e.w.Progress(e.DataTime(), e.RouteEvents())
	if ferr := e.w.Flush(context.Background()); ferr != nil {
		return res, ferr
	}
	e.publishTick()
	return res, nil
}

// Close flushes the store.
func (e *Engine) Close() error { return e.w.Flush(context.Background()) }

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
		e.m.dataTime.Set(float64(dt.UnixNano()) / 1e9)
	}
	e.hub.PublishTick(dt, e.RouteEvents())
}

// Hub fans the live messages out to the stream's subscribers. A slow
// subscriber loses messages; the pipeline never waits.
type Hub struct {
	mu   sync.Mutex
	subs map[chan Message]struct{}
}

// Message is one server-sent event.
type Message struct {
	Event string // "notice" or "tick"
	Data  []byte
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[chan Message]struct{}{}} }

// Subscribe returns a channel of messages and a function that ends the subscription.
func (h *Hub) Subscribe() (<-chan Message, func()) {
	ch := make(chan Message, 256)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

func (h *Hub) publish(m Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- m:
		default:
		}
	}
}

// PublishNotice sends an event notice.
func (h *Hub) PublishNotice(typ event.NoticeType, ev *event.Event) {
	b, _ := json.Marshal(struct {
		Type  event.NoticeType `json:"type"`
		Event *event.Event     `json:"event"`
	}{typ, ev})
	h.publish(Message{Event: "notice", Data: b})
}

// PublishTick sends the data clock.
func (h *Hub) PublishTick(dataTime time.Time, routeEvents int64) {
	var dt any
	if !dataTime.IsZero() {
		dt = dataTime.UTC().Format(time.RFC3339)
	}
	b, _ := json.Marshal(map[string]any{"data_time": dt, "route_events": routeEvents})
	h.publish(Message{Event: "tick", Data: b})
}
