package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/partview"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/store"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
	"github.com/blackout-bgp/blackout/internal/view"
)

// DetectConfig configures the detect role.
type DetectConfig struct {
	Node     string        // this worker's name, held in the lease
	LeaseTTL time.Duration // a dead holder's lease expires after this (default 10s)
	Replicas int           // of the lease bucket
	Engine   engine.Config // the store and sinks (Store must be set)
	Pipeline pipeline.Options
	Logger   *slog.Logger
	// OnTenure, if set, is called when this worker takes the lease, with
	// the time since the previous holder last renewed it (the blind time;
	// zero when there was none).
	OnTenure func(blind time.Duration)
	// OnEngine, if set, is called with each tenure's engine (for status).
	OnEngine func(*engine.Engine)
	// FromView makes the detector read the view workers' table deltas
	// (RunView) instead of keeping the peers' tables itself: it keeps the
	// view's state across peers only (partview's Reducer), and rebuilds a
	// peer's table from its partition when the peer joins or leaves the
	// full-feed set. Partitions is the ingest's partition count.
	FromView   bool
	Partitions int
	// Warm makes a standby follow the route stream while it waits for the
	// lease, keeping what it would write (engine.Config.Standby), so that
	// taking over is a promotion, not a rebuild from the stream's start:
	// the blind time is the lease's expiry and the promotion. It costs a
	// standby the holder's CPU and memory.
	Warm bool
}

// Lease is a key in a JetStream key-value bucket whose entries expire
// after the bucket's TTL unless renewed: its holder renews it every TTL/3;
// another worker can create it only once it is gone.
type Lease struct {
	kv    jetstream.KeyValue
	key   string
	node  string
	ttl   time.Duration
	rev   uint64
	token uint64
}

// Token returns the lease's fencing token: the revision at which this
// holder created the key. The bucket's revisions only grow, so a later
// holder's token is higher than every earlier one's; the store refuses
// the writes of a holder whose token is no longer the highest
// (pgstore's Store.Fenced).
func (l *Lease) Token() uint64 { return l.token }

// OpenLeases returns the lease bucket (created if needed).
func OpenLeases(ctx context.Context, js jetstream.JetStream, ttl time.Duration, replicas int) (jetstream.KeyValue, error) {
	return bus.EnsureKV(ctx, js, jetstream.KeyValueConfig{Bucket: LeaseBucket, TTL: ttl, Replicas: max(replicas, 1), Storage: jetstream.FileStorage,
		History: 1, Description: "blackout role leases (entries expire when not renewed)"})
}

// Acquire waits until it holds the lease on key, or ctx is done. It
// returns the lease and how long the key had gone unrenewed by its last
// holder when it was taken (zero if it was free from the start).
func Acquire(ctx context.Context, kv jetstream.KeyValue, key, node string, ttl time.Duration, logf func(string, ...any)) (*Lease, time.Duration, error) {
	var lastSeen time.Time
	var holder string
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		rev, err := kv.Create(actx, key, []byte(node))
		cancel()
		if err == nil {
			var blind time.Duration
			if !lastSeen.IsZero() {
				blind = time.Since(lastSeen)
			}
			return &Lease{kv: kv, key: key, node: node, ttl: ttl, rev: rev, token: rev}, blind, nil
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			e, gerr := kv.Get(gctx, key)
			cancel()
			if gerr == nil {
				if h := string(e.Value()); h != holder {
					holder = h
					if logf != nil {
						logf("standby: lease %q held by %s", key, h)
					}
				}
				lastSeen = e.Created()
			}
		}
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-time.After(max(ttl/10, 50*time.Millisecond)):
		}
	}
}

// Keep renews the lease every TTL/3 until ctx is done (it then deletes
// the key, so a standby takes over at once) or the lease is lost: renewed
// by nobody for a TTL, or taken by another worker. It returns why it
// stopped.
func (l *Lease) Keep(ctx context.Context) error {
	last := time.Now()
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = l.kv.Delete(dctx, l.key, jetstream.LastRevision(l.rev))
			cancel()
			return ctx.Err()
		case <-t.C:
		}
		uctx, cancel := context.WithTimeout(ctx, l.ttl/3)
		rev, err := l.kv.Update(uctx, l.key, []byte(l.node), l.rev)
		cancel()
		switch {
		case err == nil:
			l.rev, last = rev, time.Now()
		case ctx.Err() != nil:
			continue
		case isWrongRevision(err):
			// An update that timed out here may have been applied by the
			// bus all the same (a slow bus): the key then holds this
			// node's name at a later revision. Go on from it.
			gctx, cancel := context.WithTimeout(ctx, l.ttl/3)
			e, gerr := l.kv.Get(gctx, l.key)
			cancel()
			if gerr == nil && string(e.Value()) == l.node && e.Revision() > l.rev {
				l.rev, last = e.Revision(), e.Created()
				continue
			}
			return fmt.Errorf("lease %q taken by another worker: %w", l.key, err)
		case time.Since(last) >= l.ttl:
			return fmt.Errorf("lease %q not renewed for %s: %w", l.key, l.ttl, err)
		}
	}
}

func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return true
	}
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound)
}

// Detect runs the detect role until ctx is done: it waits for the
// detector's lease, and while it holds it, rebuilds the detector from the
// route stream (read from the start; the store's writer skips the bins
// already stored and upserts the events, so a new holder writes the same
// rows as the last one) and follows the stream. When the lease is lost the
// run stops and the worker becomes a standby again.
func Detect(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, cfg DetectConfig) error {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	logf := func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...)) }
	kv, err := OpenLeases(ctx, js, cfg.LeaseTTL, cfg.Replicas)
	if err != nil {
		return err
	}
	if cfg.Warm {
		return detectWarm(ctx, nc, js, kv, cfg, log)
	}
	for {
		lease, blind, err := Acquire(ctx, kv, LeaseDetect, cfg.Node, cfg.LeaseTTL, logf)
		if err != nil {
			return err
		}
		log.Info("detector lease taken; rebuilding from the route stream", blindTime(blind, 0))
		if cfg.OnTenure != nil {
			cfg.OnTenure(blind)
		}
		err = tenure(ctx, nc, js, lease, blind, cfg, log)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("detector lease lost; standing by", "error", err)
	}
}

// everySecond calls fn until it succeeds or ctx is done, a second apart,
// logging each failure ("<what> failed; trying again"), and returns its
// last error when ctx ends first. Unlike bus.Retry it sets no timeout of
// its own: fn's requests keep theirs (a store write, a bucket listing).
func everySecond(ctx context.Context, log *slog.Logger, what string, fn func() error) error {
	for {
		err := fn()
		if err == nil || ctx.Err() != nil {
			return err
		}
		log.Warn(what+" failed; trying again", "error", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

// blindTime is the log attribute of a takeover's blind time: the time the
// lease went unrenewed (blind, from Acquire) plus since, the time since it
// was taken. When the lease was free at this worker's first request
// (blind zero: a first start, or a worker asking again after losing it),
// how long it had been free is not known, and the attribute says so.
func blindTime(blind, since time.Duration) slog.Attr {
	if blind == 0 {
		return slog.String("blind_time", fmt.Sprintf("unknown+%s (the lease was free when this worker asked)", since.Round(time.Millisecond)))
	}
	return slog.Duration("blind_time", (blind + since).Round(time.Millisecond))
}

// fence returns st fenced with the lease's token, when it is PostgreSQL:
// once a later holder took over, this one's writes are refused.
func fence(ctx context.Context, st store.Store, lease *Lease, log *slog.Logger) (store.Store, error) {
	pg, ok := st.(*pgstore.Store)
	if !ok {
		return st, nil
	}
	f, err := pg.Fenced(ctx, LeaseDetect, int64(lease.Token()))
	if err != nil {
		return nil, err
	}
	log.Info("store fenced", "fence", LeaseDetect, "token", lease.Token())
	return f, nil
}

// endOnFenced wraps a writer's Observe so that a write refused by the
// fence (a newer holder) ends the tenure through stop.
func endOnFenced(observe func(time.Duration, int, error), stop context.CancelCauseFunc) func(time.Duration, int, error) {
	return func(d time.Duration, rows int, err error) {
		if errors.Is(err, store.ErrFenced) {
			stop(fmt.Errorf("lease %q: %w", LeaseDetect, err))
		}
		if observe != nil {
			observe(d, rows, err)
		}
	}
}

// forwardHub sends the engine's notices and ticks to the api roles until
// ctx is done; the function it returns stops it.
func forwardHub(ctx context.Context, nc *nats.Conn, eng *engine.Engine) func() {
	sub := eng.Hub().Subscribe()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-sub.C():
				msg := &nats.Msg{Subject: SubjectNotice + "." + m.Event, Data: m.Data}
				if m.ID != 0 {
					msg.Header = nats.Header{HeaderSeq: []string{strconv.FormatInt(m.ID, 10)}}
				}
				_ = nc.PublishMsg(msg)
				if m.Event == "tick" {
					if b, err := json.Marshal(eng.Coverage()); err == nil {
						_ = nc.Publish(SubjectCoverage, b)
					}
				}
			}
		}
	}()
	return sub.Close
}

// pipelineOptions returns the detector's pipeline options over the route
// stream src; stop ends the run on a failure of the view deltas.
func pipelineOptions(ctx context.Context, js jetstream.JetStream, cfg DetectConfig, src *streamSource, stop context.CancelCauseFunc) pipeline.Options {
	opts := cfg.Pipeline
	opts.Speed = 0 // the ingest role paced the events
	if cfg.FromView {
		opts.NewView = func(vc view.Config, obs view.Observer) pipeline.ViewStage {
			f, err := newDeltaFollower(ctx, js, cfg.Partitions, vc, obs)
			if err != nil {
				stop(err)
				f = &deltaFollower{err: err}
				f.red = partview.NewReducer(vc, obs, func(bgp.Peer) []partview.PrefixPath { return nil })
			}
			return &busView{Reducer: f.red, f: f, src: src, fail: func(err error) { stop(fmt.Errorf("view deltas: %w", err)) }}
		}
	}
	return opts
}

// logCaughtUp logs, once the new holder has read the route stream as far
// as it was at the takeover, the whole blind time: the lease's expiry plus
// the catch-up (the re-read of a cold takeover; for a warm one, what the
// standby had not read yet). The stream's later messages were published
// during the catch-up. The stream's state is asked for in the background,
// again while the bus fails over; a late answer makes the catch-up an
// upper bound.
func logCaughtUp(ctx context.Context, src *streamSource, log *slog.Logger, blind time.Duration, took time.Time) {
	go func() {
		var last uint64
		err := bus.Retry(ctx, "stream "+StreamName, func(ctx context.Context) error {
			info, err := src.st.Info(ctx)
			if err == nil {
				last = info.State.LastSeq
			}
			return err
		})
		if err != nil || last == 0 {
			return
		}
		src.onReach(last, func() {
			log.Info("detector caught up with the route stream", blindTime(blind, time.Since(took)),
				"catch_up", time.Since(took).Round(time.Millisecond), "stream_seq", last)
		})
	}()
}

// tenure runs the detector while the lease is held; blind is the time
// from the last holder's last renewal to this worker's taking the lease.
func tenure(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, lease *Lease, blind time.Duration, cfg DetectConfig, log *slog.Logger) error {
	took := time.Now()
	tctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	kept := make(chan error, 1)
	go func() {
		err := lease.Keep(tctx)
		stop(err)
		kept <- err
	}()
	defer func() { stop(nil); <-kept }()

	ecfg := cfg.Engine
	ecfg.Logger = log
	// Fence the store with the lease's token: once a later holder took
	// over, this one's writes are refused (if it was paused and lost the
	// lease without knowing), and a refused write ends this tenure.
	fenced, err := fence(tctx, ecfg.Store, lease, log)
	if err != nil {
		return err
	}
	ecfg.Store = fenced
	ecfg.Writer.Observe = endOnFenced(ecfg.Writer.Observe, stop)
	eng, err := engine.New(tctx, ecfg)
	if err != nil {
		return err
	}
	if cfg.OnEngine != nil {
		cfg.OnEngine(eng)
	}
	defer forwardHub(tctx, nc, eng)()
	src, err := openStream(tctx, js)
	if err != nil {
		return err
	}
	defer src.Close()
	logCaughtUp(tctx, src, log, blind, took)
	opts := pipelineOptions(tctx, js, cfg, src, stop)
	start := time.Now()
	res, err := eng.Run(tctx, src, opts)
	if err == nil {
		log.Info("route stream ended (end of the replay); holding the lease", "route_events", res.RouteEvents,
			"events", eng.Events(), "data_time", eng.DataTime(), "took", time.Since(start).Round(time.Millisecond), "consumer_resets", src.resets, "consumer_stalls", src.stalls.Load())
		// The engine stays open while the lease is held: its writer
		// retries what failed, and its alert dispatcher sends what the
		// outbox holds.
		<-tctx.Done()
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if cerr := eng.Close(cctx); cerr != nil && err == nil && context.Cause(tctx) == nil {
		err = cerr
	}
	if c := context.Cause(tctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	if err != nil {
		return err
	}
	return context.Cause(tctx)
}

// detectWarm is Detect with a warm standby (DetectConfig.Warm): each
// round runs a standby's engine over the route stream from its start, then
// takes the lease, fences the store and promotes the engine, which writes
// from then on what the last holder had not stored. When the lease is
// lost, or the standby's run fails, the round ends and a new one begins.
func detectWarm(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, kv jetstream.KeyValue, cfg DetectConfig, log *slog.Logger) error {
	logf := func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...)) }
	for {
		err := warmRound(ctx, nc, js, kv, cfg, log, logf)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("detector lease lost or standby failed; standing by again, following the stream from its start", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// warmRound is one standby and tenure of detectWarm.
func warmRound(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, kv jetstream.KeyValue, cfg DetectConfig, log *slog.Logger, logf func(string, ...any)) error {
	rctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	ecfg := cfg.Engine
	ecfg.Logger = log
	ecfg.Standby = true
	ecfg.Writer.Observe = endOnFenced(ecfg.Writer.Observe, stop)
	eng, err := engine.New(rctx, ecfg)
	if err != nil {
		return err
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = eng.Close(cctx)
	}()
	ran := make(chan struct{})
	opened := make(chan *streamSource, 1)
	go func() {
		defer close(ran)
		// The stream is opened here: it may not exist yet (no ingest
		// so far), and the lease is taken meanwhile.
		src, err := openStream(rctx, js)
		if err != nil {
			stop(fmt.Errorf("route stream: %w", err))
			return
		}
		defer src.Close()
		opened <- src
		opts := pipelineOptions(rctx, js, cfg, src, stop)
		start := time.Now()
		res, err := eng.Run(rctx, src, opts)
		if err != nil {
			stop(fmt.Errorf("detector run: %w", err))
			return
		}
		log.Info("route stream ended (end of the replay)", "standby", eng.Standby(), "route_events", res.RouteEvents,
			"events", eng.Events(), "data_time", eng.DataTime(), "took", time.Since(start).Round(time.Millisecond))
	}()
	defer func() { stop(nil); <-ran }()
	log.Info("warm standby: following the route stream while waiting for the detector lease")
	lease, blind, err := Acquire(rctx, kv, LeaseDetect, cfg.Node, cfg.LeaseTTL, logf)
	if err != nil {
		if c := context.Cause(rctx); c != nil && !errors.Is(c, context.Canceled) {
			return c
		}
		return err
	}
	kept := make(chan error, 1)
	go func() {
		err := lease.Keep(rctx)
		stop(err)
		kept <- err
	}()
	defer func() { stop(nil); <-kept }()
	took := time.Now()
	st, err := fence(rctx, ecfg.Store, lease, log)
	if err != nil {
		return err
	}
	defer forwardHub(rctx, nc, eng)() // before the promotion's first notices
	// The store may be briefly unreachable: try the promotion again.
	if err := everySecond(rctx, log, "promotion", func() error { return eng.Promote(rctx, st) }); err != nil {
		return err
	}
	log.Info("detector lease taken; warm standby promoted", blindTime(blind, time.Since(took)),
		"promotion", time.Since(took).Round(time.Millisecond), "data_time", eng.DataTime(), "route_events", eng.RouteEvents())
	select {
	case src := <-opened:
		logCaughtUp(rctx, src, log, blind, took)
	default: // the stream is not there yet: nothing to catch up with
	}
	if cfg.OnTenure != nil {
		cfg.OnTenure(blind + time.Since(took))
	}
	if cfg.OnEngine != nil {
		cfg.OnEngine(eng)
	}
	<-rctx.Done()
	return context.Cause(rctx)
}
