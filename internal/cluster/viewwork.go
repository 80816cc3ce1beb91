package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// HeaderPart is "i/n" on the parts of a delta cut in n (0 <= i < n)
	// to stay under the bus's payload limit; a delta of one part has none.
	HeaderPart = "Bo-Part"
	leaseView  = "view." // + partition
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
	// CheckpointEvery is the route stream sequences between two
	// checkpoints of a partition (DefaultCheckpointEvery; negative: none);
	// CheckpointKeep the checkpoints kept per partition
	// (DefaultCheckpointKeep).
	CheckpointEvery int64
	CheckpointKeep  int
	// Window is the deltas in flight per partition
	// (DefaultDeltaWindow; 1: one synchronous publish each).
	Window int
	// MaxPart caps a delta message's payload (default: the bus's limit
	// less 8 KiB); a bigger delta is cut in parts.
	MaxPart int
	// OnRebuilt, if set, is called when a partition taken by this worker
	// has caught up with the deltas published before it (for tests and
	// measurements).
	OnRebuilt func(RebuildInfo)
	// OnDelta, if set, is called with every delta the worker makes
	// (published or not).
	OnDelta func(partition int, seq uint64, d *partview.Delta)
}

// RebuildInfo is how a view worker rebuilt a partition it took.
type RebuildInfo struct {
	Partition  int
	Checkpoint uint64        // the checkpoint's route sequence it started from (0: the stream's start)
	Published  uint64        // the last route sequence whose delta was published before it
	Read       int           // route stream messages read to catch up with Published
	Routes     int           // routes in its tables then
	Took       time.Duration // from taking the partition to catching up
	Refused    []error       // checkpoints that could not be used (corrupt, foreign)
}

// wirePath and wireDelta are the JSON form of a partview.Delta on the
// bus, written before the binary form and still read.
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
	if len(p.A) == 0 {
		p.A = nil // "a":[] as no ASes, as the binary form reads it
	}
	return &partview.Path{ASes: p.A, Origin: p.O}
}

// encodeDelta and decodeDelta put a delta on the bus and back: the
// binary form (binary.go) is written; the JSON form, written before it,
// is still read.
func encodeDelta(d *partview.Delta) ([]byte, error) {
	n := 32
	if len(d.Routes) > 0 {
		n += 8 * len(d.Routes)
	}
	return appendDelta(make([]byte, 0, n), d), nil
}

func decodeDelta(b []byte) (partview.Delta, error) {
	if len(b) > 0 && b[0] == tagDeltaV1 {
		return decodeBinaryDelta(b)
	}
	if len(b) > 0 && b[0] >= 0x80 {
		return partview.Delta{}, fmt.Errorf("table delta: byte offset 0: format tag %#x, not %#x (binary, version 1) nor JSON", b[0], tagDeltaV1)
	}
	return decodeDeltaJSON(b)
}

// encodeDeltaJSON is the JSON form of a delta, as encodeDelta wrote it
// before the binary form (for tests and benchmarks of the readers).
func encodeDeltaJSON(d *partview.Delta) ([]byte, error) {
	w := wireDelta{K: d.Kind, O: toWire(d.Old), N: toWire(d.New), F: d.Family, S: d.Size, B: d.Before, U: d.Up, Sg: d.Signals, L: d.Loading, LP: d.LongPath}
	for _, r := range d.Routes {
		w.R = append(w.R, wireRoute{P: r.Prefix, wirePath: *toWire(r.Path)})
	}
	// In prefix order: the bytes are the same whoever makes them, so the
	// parts of a cut delta fit together whichever worker sent each.
	slices.SortFunc(w.R, func(a, b wireRoute) int { return a.P.Compare(b.P) })
	return json.Marshal(&w)
}

func decodeDeltaJSON(b []byte) (partview.Delta, error) {
	var w wireDelta
	if err := json.Unmarshal(b, &w); err != nil {
		return partview.Delta{}, fmt.Errorf("table delta: %w", err)
	}
	if w.K > partview.Ready || w.F > bgp.IPv6 {
		return partview.Delta{}, fmt.Errorf("table delta: kind %d, family %d", w.K, w.F)
	}
	d := partview.Delta{Kind: w.K, Old: fromWire(w.O), New: fromWire(w.N), Family: w.F, Size: w.S, Before: w.B, Up: w.U, Signals: w.Sg, Loading: w.L, LongPath: w.LP}
	for _, r := range w.R {
		if !r.P.IsValid() {
			return partview.Delta{}, fmt.Errorf("table delta: a route without a prefix")
		}
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
	ds, err := bus.EnsureStream(ctx, js, deltaStreamConfig(cfg.Replicas))
	if err != nil {
		return err
	}
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = DefaultCheckpointEvery
	}
	if cfg.CheckpointKeep <= 0 {
		cfg.CheckpointKeep = DefaultCheckpointKeep
	}
	if cfg.MaxPart <= 0 {
		cfg.MaxPart = max(int(js.Conn().MaxPayload())-8<<10, 64<<10)
	}
	var obs jetstream.ObjectStore
	var idx jetstream.KeyValue
	if cfg.CheckpointEvery > 0 {
		if obs, err = openCheckpoints(ctx, js, cfg.Replicas); err != nil {
			return err
		}
		// Tried again while the bus is busy (a failover, a new cluster's
		// elections), without bus.Retry's short timeout: the first index of
		// an older bucket lists all of it.
		if err := everySecond(ctx, log, "checkpoint index", func() (err error) {
			idx, err = openCheckpointIndex(ctx, js, obs, cfg.Replicas)
			return err
		}); err != nil {
			return err
		}
	}
	var mu sync.Mutex
	owned := map[int]bool{}
	// A partition whose run failed (the bus busy past its timeouts while
	// it fails over, a stream gone) is given up and taken again later,
	// waiting longer after each failure in a row: one partition's failure
	// does not end the worker.
	type retry struct {
		failures int       // in a row
		at       time.Time // not taken before
	}
	retries := map[int]retry{}
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(max(cfg.LeaseTTL/5, 50*time.Millisecond))
	defer t.Stop()
	for {
		for p := range cfg.Partitions {
			mu.Lock()
			n, mine, wait := len(owned), owned[p], time.Until(retries[p].at)
			mu.Unlock()
			if mine || n >= cfg.MaxOwned || wait > 0 {
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
				began := time.Now()
				err := viewPartition(pctx, js, ds, obs, idx, p, &cfg, log)
				stop(err) // Keep then deletes the lease: the partition is free
				failed := err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil
				mu.Lock()
				delete(owned, p)
				r := retries[p]
				if time.Since(began) > time.Minute {
					r.failures = 0 // it had run well: not a failure in a row
				}
				if failed {
					r.failures++
					r.at = time.Now().Add(partitionBackoff(r.failures))
					retries[p] = r
				} else {
					delete(retries, p)
				}
				wait := time.Until(r.at).Round(time.Millisecond)
				mu.Unlock()
				switch {
				case failed:
					log.Warn("view partition failed; given up, to be taken again", "partition", p, "error", err, "retry_in", wait)
				case ctx.Err() == nil:
					log.Warn("view partition lost", "partition", p, "error", context.Cause(pctx))
				}
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// partitionBackoff is the wait before a partition that failed n times in
// a row is taken again: 1 s, doubling, at most 30 s.
func partitionBackoff(n int) time.Duration {
	return min(time.Second<<min(n-1, 5), 30*time.Second)
}

// viewPartition keeps partition p's tables and publishes its deltas
// until ctx is done. It starts from the partition's newest checkpoint
// (obs; nil: none) at or before the last delta published, and writes one
// every cfg.CheckpointEvery route sequences.
func viewPartition(ctx context.Context, js jetstream.JetStream, ds jetstream.Stream, obs jetstream.ObjectStore, idx jetstream.KeyValue, p int, cfg *ViewConfig, log *slog.Logger) error {
	took := time.Now()
	subj := SubjectDelta + "." + strconv.Itoa(p)
	var published uint64
	if m, err := ds.GetLastMsgForSubject(ctx, subj); err == nil {
		published, _ = strconv.ParseUint(m.Header.Get(HeaderRawSeq), 10, 64)
		if i, n, ok := parsePart(m.Header.Get(HeaderPart)); ok && i < n-1 {
			published-- // its last delta was cut off part-way: send it again
		}
	} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("view partition %d: last delta: %w", p, err)
	}
	src, err := openStream(ctx, js)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := checkPartitioning(src.st, cfg.Partitions, "view"); err != nil {
		return err
	}
	src.filter = []string{SubjectRoute + "." + strconv.Itoa(p), SubjectEOF}
	info := RebuildInfo{Partition: p, Published: published}
	w := partview.NewWorker(cfg.View)
	if obs != nil && published > 0 {
		ck, err := loadCheckpoint(ctx, obs, idx, p, published, cfg.View, nil, func(err error) {
			log.Warn("checkpoint refused; trying an older one, else the stream's start", "partition", p, "error", err)
			info.Refused = append(info.Refused, err)
		})
		if err != nil {
			return err
		}
		if ck != nil {
			w, info.Checkpoint = ck.Worker, ck.Seq
			src.lastSeq = ck.Seq // read from the route event after it
		}
	}
	prev := src.lastSeq
	rebuilt := false
	done := func() {
		if rebuilt {
			return
		}
		rebuilt = true
		info.Read, info.Routes, info.Took = src.read, w.Routes(), time.Since(took)
		log.Info("view partition rebuilt", "partition", p, "from_checkpoint", info.Checkpoint, "published", published,
			"route_messages_read", info.Read, "routes", info.Routes, "took", info.Took.Round(time.Millisecond))
		if cfg.OnRebuilt != nil {
			cfg.OnRebuilt(info)
		}
	}
	pending := make(chan error, 1) // the checkpoint being written
	pending <- nil
	defer func() {
		select {
		case <-pending:
		case <-time.After(10 * time.Second):
		}
	}()
	window := cfg.Window
	if window <= 0 {
		window = DefaultDeltaWindow
	}
	q := &deltaPublisher{ctx: ctx, js: js, subj: subj, maxPart: cfg.MaxPart, window: window}
	// The deltas of the last window route events up to the last one
	// published: an earlier owner publishing asynchronously may have left
	// one of them out. They are sent again when the rebuild ends (the
	// message ids make that harmless; the reader skips repeats).
	type kept struct {
		seq uint64
		d   partview.Delta
	}
	var ring []kept
	rebuiltAt := func() error {
		for _, k := range ring {
			b, err := encodeDelta(&k.d)
			if err != nil {
				return err
			}
			if err := q.publish(k.seq, b); err != nil {
				return err
			}
		}
		ring = nil
		return nil
	}
	// The route events come from a goroutine, so that the loop also
	// takes the acknowledgements while the partition is quiet.
	type next struct {
		ev  *bgp.Event
		err error
	}
	evc, ackc := make(chan next), make(chan struct{})
	pctx, stopPump := context.WithCancel(ctx)
	pumped := make(chan struct{})
	src.ctx = pctx
	go func() {
		defer close(pumped)
		for {
			ev, err := src.Next()
			select {
			case evc <- next{ev, err}:
			case <-pctx.Done():
				return
			}
			select {
			case <-ackc:
			case <-pctx.Done():
				return
			}
		}
	}()
	defer func() { stopPump(); <-pumped }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var nx next
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := q.settle(window); err != nil {
				return err
			}
			continue
		case nx = <-evc:
		}
		ev, err := nx.ev, nx.err
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var sk skippable
			if errors.As(err, &sk) {
				select {
				case ackc <- struct{}{}:
				case <-ctx.Done():
				}
				continue
			}
			if errors.Is(err, io.EOF) {
				done()
				if err := rebuiltAt(); err != nil {
					return err
				}
				if err := q.settle(0); err != nil {
					return err
				}
				log.Info("view partition at the end of the replay", "partition", p, "route_seq", prev, "routes", w.Routes(), "deltas_sent_again", q.resent)
				<-ctx.Done() // the replay ended: hold the partition
				return ctx.Err()
			}
			return err
		}
		seq := src.lastSeq
		if seq > published && !rebuilt {
			done()
			if err := rebuiltAt(); err != nil {
				return err
			}
		}
		d := w.Apply(ev)
		if cfg.OnDelta != nil {
			cfg.OnDelta(p, seq, &d)
		}
		if seq > published {
			b, err := encodeDelta(&d)
			if err != nil {
				return err
			}
			if err := q.publish(seq, b); err != nil {
				return err
			}
		} else if published > 0 {
			if len(ring) == window {
				ring = ring[1:]
			}
			ring = append(ring, kept{seq, d})
		}
		if every := uint64(cfg.CheckpointEvery); obs != nil && seq/every > prev/every {
			// Deterministic: after the partition's first route event past
			// each multiple of CheckpointEvery, whoever owns it. Every
			// delta up to it is stored first.
			if err := q.settle(0); err != nil {
				return err
			}
			if err := <-pending; err != nil {
				return err
			}
			data := w.AppendCheckpoint(nil, partview.CheckpointHeader{Partition: p, Seq: seq, DeltaSeq: q.lastAck})
			go func() {
				err := putCheckpoint(ctx, obs, idx, p, seq, data, cfg.CheckpointKeep)
				if err != nil && ctx.Err() == nil {
					pending <- fmt.Errorf("view partition %d: %w", p, err)
					return
				}
				log.Debug("checkpoint written", "partition", p, "seq", seq, "bytes", len(data))
				pending <- nil
			}()
		}
		prev = seq
		select {
		case ackc <- struct{}{}: // the pump may read the next event
		case <-ctx.Done():
		}
	}
}

// deltaStreamConfig is the delta stream's configuration.
func deltaStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: DeltaStream, Subjects: []string{SubjectDelta + ".>"},
		Replicas: max(replicas, 1), Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute}
}

// partMsg is part i of n of the delta b of route event seq (n = 1: the
// delta whole).
func partMsg(subj string, seq uint64, b []byte, i, n int) *nats.Msg {
	msg := &nats.Msg{Subject: subj, Data: b[i*len(b)/n : (i+1)*len(b)/n], Header: nats.Header{HeaderRawSeq: []string{strconv.FormatUint(seq, 10)}}}
	if n > 1 {
		msg.Header.Set(HeaderPart, fmt.Sprintf("%d/%d", i, n))
	}
	return msg
}

// publishDelta publishes the delta of route event seq on subj, in parts
// of at most maxPart bytes, and returns the delta stream's sequence of
// its last part.
func publishDelta(ctx context.Context, js jetstream.JetStream, subj string, seq uint64, b []byte, maxPart int) (uint64, error) {
	n := max((len(b)+maxPart-1)/maxPart, 1)
	id := subj + "-" + strconv.FormatUint(seq, 10)
	var last uint64
	for i := range n {
		msg, mid := partMsg(subj, seq, b, i, n), id
		if n > 1 {
			// The parts of the binary form have ids of their own: a
			// writer of the other form cut off part-way within the
			// duplicate window must not leave its parts in place of
			// these.
			mid = id + "-" + strconv.Itoa(i)
			if len(b) > 0 && b[0] == tagDeltaV1 {
				mid = id + "-b" + strconv.Itoa(i)
			}
		}
		if err := bus.Retry(ctx, "publish a delta", func(ctx context.Context) error {
			ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(mid))
			if err == nil {
				last = ack.Sequence
			}
			return err
		}); err != nil {
			return 0, err
		}
	}
	return last, nil
}

// parsePart parses a HeaderPart value.
func parsePart(h string) (i, n int, ok bool) {
	a, b, ok := strings.Cut(h, "/")
	if !ok {
		return 0, 0, false
	}
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	return i, n, err1 == nil && err2 == nil && 0 <= i && i < n
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
	deltas     map[int]*watched // each partition's consumer of deltas
	stalls     atomic.Int64     // delta consumers stopped by watchStall
	stallAfter time.Duration    // 0: stallAfter (tests make it shorter)
	upTo       uint64           // the route events a table request sees
	stats      FollowStats
	obs        jetstream.ObjectStore     // the checkpoints (nil: not found yet)
	idx        jetstream.KeyValue        // their index (nil: not found: list them)
	ahead      map[int]map[uint64][]byte // deltas stored before an earlier one of their partition
	parts      struct {                  // a delta cut in parts being put together
		seq  uint64
		next int
		n    int
		buf  []byte
	}
}

// FollowStats says how a reducer fed from the bus rebuilt the peers'
// tables it asked for.
type FollowStats struct {
	Replays        int // tables rebuilt
	FromCheckpoint int // of which from a checkpoint plus the stream after it
	Read           int // route stream messages read for them
	Refused        int // checkpoints that could not be used
	Parts          int // deltas that came in parts
	Ahead          int // deltas stored before an earlier one of their partition
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

// maxAhead bounds the deltas a reader keeps that came before an earlier
// one of their partition (a publish sent again).
const maxAhead = 16 * DefaultDeltaWindow

// delta returns the delta of the event at seq from its partition's deltas.
func (f *deltaFollower) delta(p int, seq uint64) (partview.Delta, error) {
	if b, ok := f.ahead[p][seq]; ok {
		delete(f.ahead[p], seq)
		return decodeDelta(b)
	}
	sub := f.deltas[p]
	if sub == nil {
		sub = &watched{}
		f.deltas[p] = sub
	}
	subj := SubjectDelta + "." + strconv.Itoa(p)
	for {
		if sub.it == nil {
			var it jetstream.MessagesContext
			err := bus.Retry(f.ctx, "consumer on "+DeltaStream, func(ctx context.Context) error {
				cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}}
				if n := sub.prog.seen.Load(); n > 0 {
					cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, n+1
				}
				c, err := f.ds.OrderedConsumer(ctx, cfg)
				if err == nil {
					it, err = c.Messages(jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(2*time.Second))
				}
				return err
			})
			if err != nil {
				return partview.Delta{}, err
			}
			after := f.stallAfter
			if after == 0 {
				after = stallAfter
			}
			sub.watch(f.ctx, it, after, func(ctx context.Context, seen uint64) bool { return holdsLater(ctx, f.ds, []string{subj}, seen) }, &f.stalls)
		}
		m, err := sub.next()
		if err != nil {
			if f.ctx.Err() != nil {
				return partview.Delta{}, f.ctx.Err()
			}
			// A failover, or a stalled consumer: read the partition's
			// deltas again after the last one taken.
			sub.drop()
			f.resets++
			select {
			case <-f.ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if meta, err := m.Metadata(); err == nil {
			sub.prog.seen.Store(meta.Sequence.Stream)
		}
		got, _ := strconv.ParseUint(m.Headers().Get(HeaderRawSeq), 10, 64)
		switch {
		case got < seq:
			continue // seen before a reset, or published twice by a takeover
		case got > seq:
			// Stored before seq's (whose publish was sent again), unless
			// seq's is missing for good.
			if m.Headers().Get(HeaderPart) != "" || len(f.ahead[p]) >= maxAhead {
				return partview.Delta{}, fmt.Errorf("deltas of partition %d: route event %d has none (next is for %d)", p, seq, got)
			}
			if f.ahead == nil {
				f.ahead = map[int]map[uint64][]byte{}
			}
			if f.ahead[p] == nil {
				f.ahead[p] = map[uint64][]byte{}
			}
			f.ahead[p][got] = slices.Clone(m.Data())
			f.stats.Ahead++
			continue
		}
		h := m.Headers().Get(HeaderPart)
		if h == "" {
			return decodeDelta(m.Data())
		}
		i, n, ok := parsePart(h)
		a := &f.parts
		switch {
		case !ok:
			return partview.Delta{}, fmt.Errorf("deltas of partition %d: route event %d: part %q", p, seq, h)
		case i == 0:
			a.seq, a.next, a.n, a.buf = seq, 1, n, append(a.buf[:0], m.Data()...)
		case a.seq == seq && a.n == n && i == a.next:
			a.buf = append(a.buf, m.Data()...)
			a.next++
		default:
			continue // a part again (a takeover sending a cut delta again)
		}
		if a.next == a.n {
			f.stats.Parts++
			a.seq = 0
			d, err := decodeDelta(a.buf)
			a.buf = nil
			return d, err
		}
	}
}

// table rebuilds peer's table as of route event upTo, from its partition
// (retrying while the bus fails over).
func (f *deltaFollower) table(peer bgp.Peer) []partview.PrefixPath {
	f.stats.Replays++
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

// replay reads peer's partition up to upTo through a Worker: from the
// partition's newest checkpoint at or before upTo (only peer kept), else
// from the stream's start.
func (f *deltaFollower) replay(ctx context.Context, peer bgp.Peer) ([]partview.PrefixPath, error) {
	p := Partition(peer, f.partitions)
	w := partview.NewWorker(f.cfg)
	cc := jetstream.OrderedConsumerConfig{FilterSubjects: []string{SubjectRoute + "." + strconv.Itoa(p)}}
	if f.obs == nil {
		if obs, err := f.js.ObjectStore(ctx, CheckpointBucket); err == nil {
			f.obs = obs
		} else if !errors.Is(err, jetstream.ErrBucketNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, err
		}
	}
	if f.obs != nil && f.idx == nil {
		if idx, err := f.js.KeyValue(ctx, CheckpointIndexBucket); err == nil {
			f.idx = idx
		} else if !errors.Is(err, jetstream.ErrBucketNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, err
		}
	}
	if f.obs != nil {
		ck, err := loadCheckpoint(ctx, f.obs, f.idx, p, f.upTo, f.cfg, func(q bgp.Peer) bool { return q == peer }, func(error) { f.stats.Refused++ })
		if err != nil {
			return nil, err
		}
		if ck != nil {
			f.stats.FromCheckpoint++
			if ck.Seq == f.upTo {
				return ck.Worker.Table(peer), nil
			}
			w = ck.Worker
			cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, ck.Seq+1
		}
	}
	c, err := f.rs.OrderedConsumer(ctx, cc)
	if err != nil {
		return nil, err
	}
	if c.CachedInfo().NumPending == 0 {
		return w.Table(peer), nil
	}
	var dec eventDecoder
	for {
		batch, err := c.Fetch(1024, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			f.stats.Read++
			meta, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			if meta.Sequence.Stream > f.upTo {
				return w.Table(peer), nil
			}
			if ev, err := decodeEvent(m.Data(), &dec); err == nil && ev.Peer == peer {
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
			return nil, fmt.Errorf("partition %d of %s: no message up to route event %d", p, peer, f.upTo)
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
	if err := checkPartitioning(rs, partitions, "detect"); err != nil {
		return nil, err
	}
	f := &deltaFollower{ctx: ctx, js: js, ds: ds, rs: rs, partitions: partitions, cfg: cfg, deltas: map[int]*watched{}}
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
// ids). It returns the reducer and how it rebuilt the tables.
func FollowDeltas(ctx context.Context, js jetstream.JetStream, partitions int, cfg view.Config, obs view.Observer, started func(*partview.Reducer)) (*partview.Reducer, FollowStats, error) {
	f, err := newDeltaFollower(ctx, js, partitions, cfg, obs)
	if err != nil {
		return nil, FollowStats{}, err
	}
	if started != nil {
		started(f.red)
	}
	src, err := openStream(ctx, js)
	if err != nil {
		return nil, FollowStats{}, err
	}
	defer src.Close()
	for {
		ev, err := src.Next()
		if errors.Is(err, io.EOF) {
			return f.red, f.stats, nil
		}
		var sk skippable
		if errors.As(err, &sk) {
			continue
		}
		if err != nil {
			return f.red, f.stats, err
		}
		p, ok := partitionOf(src.subject)
		if !ok {
			return f.red, f.stats, fmt.Errorf("route event %d on subject %q", src.lastSeq, src.subject)
		}
		if err := f.apply(ev, src.lastSeq, p); err != nil {
			return f.red, f.stats, err
		}
		if f.err != nil {
			return f.red, f.stats, f.err
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
