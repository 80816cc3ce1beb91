package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/partview"
	"github.com/blackout-bgp/blackout/internal/view"
)

// The view workers' names on the bus.
const (
	DeltaStream  = "BLACKOUT_DELTAS"
	SubjectDelta = "bo.dv" // bo.dv.<partition>: the table deltas of a partition's route events
	HeaderRawSeq = "Bo-Raw-Seq"
	leaseView    = "view." // + partition
)

// ViewConfig configures a view worker.
type ViewConfig struct {
	Node       string
	Partitions int           // the ingest's --partitions
	MaxOwned   int           // at most this many partitions at once (0: all)
	LeaseTTL   time.Duration // a dead worker's partitions are free after this
	Replicas   int
	View       view.Config
	Logger     *slog.Logger
}

// wirePath and wireDelta are a partview.Delta on the bus (JSON).
type wirePath struct {
	A []bgp.ASN `json:"a,omitempty"`
	O bgp.ASN   `json:"o,omitempty"`
}

type wireRoute struct {
	P netip.Prefix `json:"p"`
	wirePath
}

type wireDelta struct {
	K  partview.DeltaKind `json:"k,omitempty"`
	O  *wirePath          `json:"old,omitempty"`
	N  *wirePath          `json:"new,omitempty"`
	R  []wireRoute        `json:"r,omitempty"`
	F  bgp.Family         `json:"f,omitempty"`
	S  [2]int             `json:"s"`
	B  int                `json:"b,omitempty"`
	U  bool               `json:"up,omitempty"`
	Sg bool               `json:"sig,omitempty"`
	L  [2]bool            `json:"ld"`
	LP bool               `json:"long,omitempty"`
}

func toWire(p *partview.Path) *wirePath {
	if p == nil {
		return nil
	}
	return &wirePath{A: p.ASes, O: p.Origin}
}

func fromWire(p *wirePath) *partview.Path {
	if p == nil {
		return nil
	}
	return &partview.Path{ASes: p.A, Origin: p.O}
}

// encodeDelta and decodeDelta put a delta on the bus and back.
func encodeDelta(d *partview.Delta) ([]byte, error) {
	w := wireDelta{K: d.Kind, O: toWire(d.Old), N: toWire(d.New), F: d.Family, S: d.Size, B: d.Before, U: d.Up, Sg: d.Signals, L: d.Loading, LP: d.LongPath}
	for _, r := range d.Routes {
		w.R = append(w.R, wireRoute{P: r.Prefix, wirePath: *toWire(r.Path)})
	}
	return json.Marshal(&w)
}

func decodeDelta(b []byte) (partview.Delta, error) {
	var w wireDelta
	if err := json.Unmarshal(b, &w); err != nil {
		return partview.Delta{}, fmt.Errorf("table delta: %w", err)
	}
	d := partview.Delta{Kind: w.K, Old: fromWire(w.O), New: fromWire(w.N), Family: w.F, Size: w.S, Before: w.B, Up: w.U, Signals: w.Sg, Loading: w.L, LongPath: w.LP}
	for _, r := range w.R {
		d.Routes = append(d.Routes, partview.PrefixPath{Prefix: r.P, Path: fromWire(&r.wirePath)})
	}
	return d, nil
}

// RunView runs a view worker until ctx is done: it claims free
// partitions (a lease "view.<n>" each, up to MaxOwned), and for each one
// it holds, keeps the tables of that partition's peers (a
// partview.Worker) from the route stream's start and publishes each
// route event's table delta on bo.dv.<n>, with the event's stream
// sequence as its message id, so that a worker taking a partition over
// rebuilds it from the stream and goes on after the last delta published.
func RunView(ctx context.Context, js jetstream.JetStream, cfg ViewConfig) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = DefaultPartitions
	}
	if cfg.MaxOwned <= 0 {
		cfg.MaxOwned = cfg.Partitions
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	kv, err := OpenLeases(ctx, js, cfg.LeaseTTL, cfg.Replicas)
	if err != nil {
		return err
	}
	ds, err := bus.EnsureStream(ctx, js, jetstream.StreamConfig{Name: DeltaStream, Subjects: []string{SubjectDelta + ".>"},
		Replicas: max(cfg.Replicas, 1), Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	owned := map[int]bool{}
	errc := make(chan error, cfg.Partitions)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(max(cfg.LeaseTTL/5, 50*time.Millisecond))
	defer t.Stop()
	for {
		for p := range cfg.Partitions {
			mu.Lock()
			n, mine := len(owned), owned[p]
			mu.Unlock()
			if mine || n >= cfg.MaxOwned {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			rev, err := kv.Create(cctx, leaseView+strconv.Itoa(p), []byte(cfg.Node))
			cancel()
			if err != nil {
				continue // held by another worker (or the bus is busy: next round)
			}
			lease := &Lease{kv: kv, key: leaseView + strconv.Itoa(p), node: cfg.Node, ttl: cfg.LeaseTTL, rev: rev, token: rev}
			mu.Lock()
			owned[p] = true
			mu.Unlock()
			log.Info("view partition taken", "partition", p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				pctx, stop := context.WithCancelCause(ctx)
				go func() { stop(lease.Keep(pctx)) }()
				err := viewPartition(pctx, js, ds, p, cfg.View)
				stop(err)
				mu.Lock()
				delete(owned, p)
				mu.Unlock()
				if ctx.Err() == nil {
					log.Warn("view partition lost", "partition", p, "error", context.Cause(pctx))
				}
				if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
					errc <- err
				}
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-t.C:
		}
	}
}

// viewPartition keeps partition p's tables and publishes its deltas
// until ctx is done.
func viewPartition(ctx context.Context, js jetstream.JetStream, ds jetstream.Stream, p int, cfg view.Config) error {
	subj := SubjectDelta + "." + strconv.Itoa(p)
	var published uint64
	if m, err := ds.GetLastMsgForSubject(ctx, subj); err == nil {
		published, _ = strconv.ParseUint(m.Header.Get(HeaderRawSeq), 10, 64)
	} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("view partition %d: last delta: %w", p, err)
	}
	src, err := openStream(ctx, js)
	if err != nil {
		return err
	}
	defer src.Close()
	src.filter = []string{SubjectRoute + "." + strconv.Itoa(p), SubjectEOF}
	w := partview.NewWorker(cfg)
	for {
		ev, err := src.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var sk skippable
			if errors.As(err, &sk) {
				continue
			}
			if errors.Is(err, io.EOF) {
				<-ctx.Done() // the replay ended: hold the partition
				return ctx.Err()
			}
			return err
		}
		d := w.Apply(ev)
		seq := src.lastSeq
		if seq <= published {
			continue // published by an earlier owner: rebuilding only
		}
		b, err := encodeDelta(&d)
		if err != nil {
			return err
		}
		msg := &nats.Msg{Subject: subj, Data: b, Header: nats.Header{HeaderRawSeq: []string{strconv.FormatUint(seq, 10)}}}
		if err := bus.Retry(ctx, "publish a delta", func(ctx context.Context) error {
			_, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(subj+"-"+strconv.FormatUint(seq, 10)))
			return err
		}); err != nil {
			return err
		}
	}
}

// deltaFollower feeds a partview.Reducer from the bus: the route stream
// gives the events in order, each partition's deltas what its worker made
// of them, and a peer's table is rebuilt on request by replaying its
// partition.
type deltaFollower struct {
	ctx        context.Context
	js         jetstream.JetStream
	ds, rs     jetstream.Stream
	err        error // of a table request
	resets     int   // delta consumers read again after an error
	partitions int
	red        *partview.Reducer
	cfg        view.Config
	deltas     map[int]jetstream.MessagesContext
	upTo       uint64 // the route events a table request sees
	replays    int
}

// apply takes route event ev at stream sequence seq.
func (f *deltaFollower) apply(ev *bgp.Event, seq uint64, partition int) error {
	f.upTo = seq - 1
	f.red.Begin(ev)
	d, err := f.delta(partition, seq)
	if err != nil {
		return err
	}
	f.upTo = seq
	f.red.Apply(d)
	return nil
}

// delta returns the delta of the event at seq from its partition's deltas.
func (f *deltaFollower) delta(p int, seq uint64) (partview.Delta, error) {
	for {
		it := f.deltas[p]
		if it == nil {
			err := bus.Retry(f.ctx, "consumer on "+DeltaStream, func(ctx context.Context) error {
				c, err := f.ds.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{SubjectDelta + "." + strconv.Itoa(p)}})
				if err == nil {
					it, err = c.Messages(jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(2*time.Second))
				}
				return err
			})
			if err != nil {
				return partview.Delta{}, err
			}
			f.deltas[p] = it
			stop := it
			go func() { <-f.ctx.Done(); stop.Stop() }()
		}
		m, err := it.Next()
		if err != nil {
			if f.ctx.Err() != nil {
				return partview.Delta{}, f.ctx.Err()
			}
			// A failover: read the partition's deltas again (the ones
			// before seq are skipped).
			it.Stop()
			f.deltas[p] = nil
			f.resets++
			select {
			case <-f.ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		got, _ := strconv.ParseUint(m.Headers().Get(HeaderRawSeq), 10, 64)
		switch {
		case got < seq:
			continue // seen before a reset, or published twice by a takeover
		case got > seq:
			return partview.Delta{}, fmt.Errorf("deltas of partition %d: route event %d has none (next is for %d)", p, seq, got)
		}
		return decodeDelta(m.Data())
	}
}

// table rebuilds peer's table as of route event upTo, from its partition
// (retrying while the bus fails over).
func (f *deltaFollower) table(peer bgp.Peer) []partview.PrefixPath {
	f.replays++
	if f.upTo == 0 {
		return nil
	}
	var out []partview.PrefixPath
	err := bus.Retry(f.ctx, "table of "+peer.String(), func(ctx context.Context) error {
		var err error
		out, err = f.replay(f.ctx, peer) // not the attempt's 2 s: a replay may take longer
		return err
	})
	if err != nil {
		f.err = err
	}
	return out
}

// replay reads peer's partition up to upTo through a fresh Worker.
func (f *deltaFollower) replay(ctx context.Context, peer bgp.Peer) ([]partview.PrefixPath, error) {
	w := partview.NewWorker(f.cfg)
	c, err := f.rs.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{SubjectRoute + "." + strconv.Itoa(Partition(peer, f.partitions))}})
	if err != nil {
		return nil, err
	}
	if c.CachedInfo().NumPending == 0 {
		return nil, nil
	}
	for {
		batch, err := c.Fetch(1024, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			if meta.Sequence.Stream > f.upTo {
				return w.Table(peer), nil
			}
			if ev, err := Decode(m.Data()); err == nil && ev.Peer == peer {
				w.Apply(&ev)
			}
			if meta.NumPending == 0 || meta.Sequence.Stream == f.upTo {
				return w.Table(peer), nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("partition of %s: no message up to route event %d", peer, f.upTo)
		}
	}
}

// newDeltaFollower returns a follower feeding a new Reducer reporting to obs.
func newDeltaFollower(ctx context.Context, js jetstream.JetStream, partitions int, cfg view.Config, obs view.Observer) (*deltaFollower, error) {
	var ds, rs jetstream.Stream
	err := bus.Retry(ctx, "streams "+DeltaStream+" and "+StreamName, func(ctx context.Context) error {
		var err error
		if ds, err = js.Stream(ctx, DeltaStream); err != nil {
			return err
		}
		rs, err = js.Stream(ctx, StreamName)
		return err
	})
	if err != nil {
		return nil, err
	}
	if partitions <= 0 {
		partitions = DefaultPartitions
	}
	f := &deltaFollower{ctx: ctx, js: js, ds: ds, rs: rs, partitions: partitions, cfg: cfg, deltas: map[int]jetstream.MessagesContext{}}
	f.red = partview.NewReducer(cfg, obs, f.table)
	return f, nil
}

// busView is the pipeline's view stage on the view workers' deltas: the
// reducer's answers, and Apply taking each route event's delta from the
// bus (the event's stream position is src's).
type busView struct {
	*partview.Reducer
	f      *deltaFollower
	src    *streamSource
	fail   func(error)
	failed bool
}

// Apply implements pipeline.ViewStage.
func (b *busView) Apply(ev *bgp.Event) {
	if b.failed {
		return
	}
	p, ok := partitionOf(b.src.subject)
	err := b.f.err
	if !ok {
		err = fmt.Errorf("route event %d on subject %q", b.src.lastSeq, b.src.subject)
	} else if err == nil {
		err = b.f.apply(ev, b.src.lastSeq, p)
		if err == nil {
			err = b.f.err
		}
	}
	if err != nil {
		b.failed = true
		b.fail(err)
	}
}

// FollowDeltas feeds a partview.Reducer reporting to obs from the bus
// until the end of a replay or ctx: the route stream, read from the
// start, gives the events in order; each event's delta comes from its
// partition's deltas; a peer's table, when the reducer asks for it, is
// rebuilt by replaying its partition up to that event. started, if set,
// is given the reducer before the first event (for its queries and path
// ids). It returns the reducer and the number of tables rebuilt.
func FollowDeltas(ctx context.Context, js jetstream.JetStream, partitions int, cfg view.Config, obs view.Observer, started func(*partview.Reducer)) (*partview.Reducer, int, error) {
	f, err := newDeltaFollower(ctx, js, partitions, cfg, obs)
	if err != nil {
		return nil, 0, err
	}
	if started != nil {
		started(f.red)
	}
	src, err := openStream(ctx, js)
	if err != nil {
		return nil, 0, err
	}
	defer src.Close()
	for {
		ev, err := src.Next()
		if errors.Is(err, io.EOF) {
			return f.red, f.replays, nil
		}
		var sk skippable
		if errors.As(err, &sk) {
			continue
		}
		if err != nil {
			return f.red, f.replays, err
		}
		p, ok := partitionOf(src.subject)
		if !ok {
			return f.red, f.replays, fmt.Errorf("route event %d on subject %q", src.lastSeq, src.subject)
		}
		if err := f.apply(ev, src.lastSeq, p); err != nil {
			return f.red, f.replays, err
		}
		if f.err != nil {
			return f.red, f.replays, f.err
		}
	}
}

// partitionOf returns the partition of a route event's subject.
func partitionOf(subject string) (int, bool) {
	rest, ok := strings.CutPrefix(subject, SubjectRoute+".")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}
