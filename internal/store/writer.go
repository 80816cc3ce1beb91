package store

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// WriterOptions configures a Writer.
type WriterOptions struct {
	MaxBins  int           // flush when this many bins are buffered (default 20000)
	Interval time.Duration // flush at least this often while data comes (default 1s)
	// Queue is the capacity of the channel to the writer goroutine, in
	// hand-ins (default 8192). When it is full, AddBin, AddEntity, Event,
	// Progress and SetMeta wait for the writer goroutine: that is the
	// backpressure that keeps memory bounded when the disk is slower than
	// the pipeline.
	Queue int
	// Retention keeps bins this long behind the data time (0: forever).
	Retention time.Duration
	// Observe, if set, is called after every flush with its duration,
	// the rows written and the error. It runs on the goroutine that
	// flushes (normally Run's).
	Observe func(d time.Duration, rows int, err error)
	// Committed, if set, is called after every flush that stored new
	// notices, with them in order (their Seq set). It runs on the
	// goroutine that flushes; it must not call the Writer.
	Committed func([]Notice)
	// MaxBuffered bounds what is kept while writes fail, in rows (default
	// 8 x MaxBins): past it, Run stops taking hand-ins (they wait, see
	// Queue) until a write succeeds. Nothing handed in is dropped.
	MaxBuffered int
	// RetryMin and RetryMax bound the wait between tries of a failing
	// write: it doubles from RetryMin up to RetryMax (defaults 1s and 30s).
	RetryMin, RetryMax time.Duration
	// Hold starts the writer as a warm standby's: it writes nothing and
	// keeps what is handed in, in the order handed in, until Promote. While
	// it holds, it drops what another writer of the same input has stored
	// (see Promote), and past MaxBuffered rows kept, hand-ins wait.
	Hold bool
}

// Health is the state of the writer's writes.
type Health struct {
	Err       error     // the last write's error (nil: the last one succeeded)
	Since     time.Time // wall time writes began failing (zero when they work)
	Failures  int       // writes failed in a row
	Queued    int       // rows kept for the next try
	NextRetry time.Time // wall time of the next try (zero when none is due)
}

// Writer hands the pipeline's writes to one writer goroutine (Run) through
// a bounded channel, and that goroutine writes them in one transaction at a
// time: on a timer, when MaxBins bins are buffered, on Flush and at the end.
// The goroutine that hands them in never waits for the disk, except when
// the channel is full (backpressure, see WriterOptions.Queue) or on an
// explicit Flush or Close; no lock is held across I/O.
//
// The writer assigns the stored ids of events itself (Event), from the ids
// already stored and their natural keys, so nothing is read back. It skips
// the bins already stored by an earlier run (those before the latest
// stored bin time; bins at that time are upserted again, as a flush may
// have stopped in the middle of one bin edge).
//
// Every method is safe for concurrent use. Hand-ins from one goroutine are
// written in the order they were handed in.
type Writer struct {
	st         Store
	opts       WriterOptions
	ch         chan item
	promo      chan item // Promote's requests to Run
	skipBefore time.Time // immutable after NewWriter
	resumedTo  time.Time // the data time an earlier run had reached; immutable

	idMu   sync.Mutex
	ids    map[eventKey]int64 // natural key -> stored id of the events stored or handed in
	detIDs map[int]int64      // detector id -> stored id, for preceded_by_instability
	lastID int64              // the highest id assigned
	// rawPending counts the ops handed in without ids (while holding, or
	// after such ops) and not yet taken off the channel.
	rawPending int

	mu      sync.Mutex
	err     error // the last flush error
	health  Health
	runDone chan struct{} // non-nil while Run runs; closed when it returns
	stop    chan struct{} // closed by Close
	closed  bool

	// io is held by the one goroutine that takes items off the channel and
	// writes them: Run for its whole life, or, when no Run is active, a
	// caller of Flush, Close or a hand-in that found the channel full. The
	// fields below belong to its holder.
	io          sync.Mutex
	buf         Batch
	dataTime    time.Time
	routeEvents int64
	dirty       bool // progress changed since the last flush
	failed      bool // the last flush failed: wait for the retry timer
	urgent      bool // a notice is buffered: flush once the channel is empty
	backoff     time.Duration
	retryAt     time.Time
	lastPrune   time.Time

	// While on hold (WriterOptions.Hold, until Promote); owned by io's
	// holder, except hold, which Event reads under idMu.
	hold      bool
	held      []heldBatch
	heldRows  int
	final     bool             // EndOfInput was handed in
	trimmedAt time.Time        // last read of the stored progress
	trimDet   map[int]eventKey // detector id -> key of the events whose ops were dropped as stored
}

// heldBatch is what a holding writer would have written in one flush.
type heldBatch struct {
	b Batch
	// cover is the first route event count reported (Progress) after the
	// batch was sealed (0 until one is): every hand-in of the batch came
	// from the route events up to it, so a store whose progress reached it
	// holds what the batch holds, written by another writer of the same
	// input.
	cover int64
	final bool // holds hand-ins after EndOfInput: never dropped
}

// eventKey is EventKey as a comparable map key (the time as nanoseconds).
type eventKey struct {
	typ   event.EntityType
	code  string
	kind  event.Kind
	fam   bgp.Family
	start int64
}

func keyOf(k EventKey) eventKey {
	return eventKey{typ: k.EntityType, code: k.EntityCode, kind: k.Kind, fam: k.Family, start: nanos(k.Start)}
}

type itemKind uint8

const (
	itemBin itemKind = iota + 1
	itemEntity
	itemEvent
	itemMeta
	itemProgress
	itemFlush
	itemEnd     // EndOfInput
	itemPromote // Promote
)

// item is one hand-in to the writer goroutine.
type item struct {
	kind     itemKind
	bin      Bin
	entity   *Entity
	op       *EventOp
	key, val string     // itemMeta
	time     time.Time  // itemProgress
	n        int64      // itemProgress
	done     chan error // itemFlush, itemPromote: receives the result
	store    Store      // itemPromote
	raw      bool       // itemEvent: op has no ids yet (see Writer.Event)
}

// NewWriter returns a writer over st, reading where an earlier run
// stopped: the latest bin time, the data time reached, and the ids of the
// stored events. Start Run on its own goroutine to write.
func NewWriter(ctx context.Context, st Store, opts WriterOptions) (*Writer, error) {
	if opts.MaxBins <= 0 {
		opts.MaxBins = 20000
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Queue <= 0 {
		opts.Queue = 8192
	}
	if opts.MaxBuffered <= 0 {
		opts.MaxBuffered = 8 * opts.MaxBins
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = time.Second
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(opts.RetryMin, 30*time.Second)
	}
	last, err := st.LastBinTime(ctx)
	if err != nil {
		return nil, fmt.Errorf("store writer: latest bin: %w", err)
	}
	w := &Writer{st: st, opts: opts, ch: make(chan item, opts.Queue), promo: make(chan item), skipBefore: last, stop: make(chan struct{}), detIDs: map[int]int64{},
		hold: opts.Hold, trimDet: map[int]eventKey{}}
	if v, ok, err := st.Meta(ctx, MetaDataTime); err != nil {
		return nil, fmt.Errorf("store writer: %s: %w", MetaDataTime, err)
	} else if ok {
		w.resumedTo, _ = time.Parse(time.RFC3339Nano, v)
	}
	// The data time starts where the earlier run stopped, so that a run
	// that crashes before it gets there never moves it backwards.
	w.dataTime = w.resumedTo
	if v, ok, err := st.Meta(ctx, MetaEvents); err != nil {
		return nil, fmt.Errorf("store writer: %s: %w", MetaEvents, err)
	} else if ok {
		w.routeEvents, _ = strconv.ParseInt(v, 10, 64)
	}
	ids, lastID, err := st.EventIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("store writer: %w", err)
	}
	w.ids = make(map[eventKey]int64, len(ids))
	for k, id := range ids {
		w.ids[keyOf(k)] = id
	}
	w.lastID = lastID
	return w, nil
}

// ResumedTo returns the data time an earlier run had reached (zero if none).
func (w *Writer) ResumedTo() time.Time { return w.resumedTo }

// SkipBefore returns the time before which bins are not written again.
func (w *Writer) SkipBefore() time.Time { return w.skipBefore }

// AddBin hands a bin in (or skips it when an earlier run stored it).
func (w *Writer) AddBin(b Bin) {
	if b.Time.Before(w.skipBefore) {
		return
	}
	w.send(item{kind: itemBin, bin: b})
}

// AddEntity hands in what is known of an entity. The writer keeps e's
// slices: do not change them afterwards.
func (w *Writer) AddEntity(e Entity) {
	w.send(item{kind: itemEntity, entity: &e})
}

// Progress records the data time reached and the route events fed so far;
// it is written as metadata with the next flush. Call it after the event
// at that time went through the pipeline. A data time before the one
// already reached (an earlier run's included) is not recorded: the stored
// data time never moves backwards.
func (w *Writer) Progress(dataTime time.Time, routeEvents int64) {
	w.send(item{kind: itemProgress, time: dataTime, n: routeEvents})
}

// SetMeta hands a metadata value in.
func (w *Writer) SetMeta(k, v string) {
	w.send(item{kind: itemMeta, key: k, val: v})
}

// Event hands an event change in and returns the event's stored id at
// once, without I/O (0 for a deletion); like every hand-in, it waits only
// when the queue is full. The writer assigns the ids: an op
// whose natural key it knows (stored, or handed in before) gets that
// event's id, a new key the next id. op.Event.PrecededBy, a detector id
// (the DetID of an earlier op), is replaced by that event's stored id, or
// dropped if unknown. A deletion (a retracted transient) forgets the key.
// The writer keeps op.Event's slices: hand in a copy (event.Event.Clone).
// With op.Notice set, the notice goes into the outbox in the same
// transaction, with the event as readers see it (the stored ids; for a
// deletion, the id the event had); Committed hears of it once stored.
func (w *Writer) Event(op EventOp) int64 {
	w.idMu.Lock()
	if w.hold || w.rawPending > 0 {
		// A standby's ids are given at Promote, from what is stored then;
		// the ops handed in before it was promoted and still on their way
		// get theirs when taken off the channel, and so do those after
		// them, to keep the order of hand-in.
		w.rawPending++
		w.idMu.Unlock()
		op.ID = 0
		w.send(item{kind: itemEvent, op: &op, raw: true})
		return 0
	}
	op = w.assign(op)
	w.idMu.Unlock()
	w.send(item{kind: itemEvent, op: &op})
	return op.ID
}

// assign gives op its stored id, and its event's and notice's ids. The
// caller holds idMu.
func (w *Writer) assign(op EventOp) EventOp {
	k := keyOf(op.Key)
	var id int64
	if op.Delete {
		old, ok := w.ids[k]
		if ok {
			delete(w.ids, k)
			if op.DetID != 0 && w.detIDs[op.DetID] == old {
				delete(w.detIDs, op.DetID)
			}
		}
		op.ID = 0
		if op.Notice != nil {
			// The retraction is announced with the id the event had.
			n := *op.Notice
			n.Event = op.Event
			n.Event.ID = int(old)
			if p := n.Event.PrecededBy; p != nil {
				if sid, ok := w.detIDs[*p]; ok {
					v := int(sid)
					n.Event.PrecededBy = &v
				} else {
					n.Event.PrecededBy = nil
				}
			}
			op.Notice = &n
		}
	} else {
		id = w.ids[k]
		if id == 0 {
			w.lastID++
			id = w.lastID
			w.ids[k] = id
		}
		if op.DetID != 0 {
			w.detIDs[op.DetID] = id
		}
		op.ID = id
		op.Event.ID = int(id)
		if p := op.Event.PrecededBy; p != nil {
			if sid, ok := w.detIDs[*p]; ok {
				v := int(sid)
				op.Event.PrecededBy = &v
			} else {
				op.Event.PrecededBy = nil
			}
		}
		if op.Notice != nil {
			n := *op.Notice
			n.Event = op.Event
			op.Notice = &n
		}
	}
	return op
}

// EndOfInput says the input ended: what is handed in from now on is the
// last state of the run (the open bins closed, the open events' last
// state). A holding writer never drops it as stored, since another writer
// reports the same progress before and after it.
func (w *Writer) EndOfInput() { w.send(item{kind: itemEnd}) }

// Holding reports whether the writer holds (a standby's, not promoted).
func (w *Writer) Holding() bool {
	w.idMu.Lock()
	defer w.idMu.Unlock()
	return w.hold
}

// Promote makes a holding writer write, to st from now on (a warm
// standby taking over, st fenced with its new token). It reads what st
// holds (the latest bin time, the progress, the ids of the stored
// events), drops what it kept that st already holds, gives the events it
// kept their stored ids (those st has by natural key, new ones after
// st's highest), and writes the rest in the order handed in. A write that
// fails is kept and retried, as any other; an error reading st leaves the
// writer holding. Promote on a writer that does not hold returns nil.
func (w *Writer) Promote(ctx context.Context, st Store) error {
	// Not through ch, which Run stops reading while full.
	return w.request(ctx, w.promo, item{kind: itemPromote, store: st}, func() error { return w.promote(ctx, st) })
}

// promote is Promote on the goroutine holding io.
func (w *Writer) promote(ctx context.Context, st Store) error {
	if !w.Holding() {
		return nil
	}
	w.sealHeld()
	last, err := st.LastBinTime(ctx)
	if err != nil {
		return fmt.Errorf("store writer: promote: latest bin: %w", err)
	}
	dt, n, err := storedProgress(ctx, st)
	if err != nil {
		return fmt.Errorf("store writer: promote: %w", err)
	}
	ids, lastID, err := st.EventIDs(ctx)
	if err != nil {
		return fmt.Errorf("store writer: promote: %w", err)
	}
	w.st = st
	w.trimHeld(n)
	w.idMu.Lock()
	w.ids = make(map[eventKey]int64, len(ids))
	for k, id := range ids {
		w.ids[keyOf(k)] = id
	}
	w.lastID = lastID
	for det, k := range w.trimDet {
		if id, ok := w.ids[k]; ok {
			w.detIDs[det] = id
		}
	}
	w.trimDet = nil
	var b Batch
	for _, h := range w.held {
		for _, bin := range h.b.Bins {
			if !bin.Time.Before(last) {
				b.Bins = append(b.Bins, bin)
			}
		}
		b.Entities = append(b.Entities, h.b.Entities...)
		for _, op := range h.b.Events {
			b.Events = append(b.Events, w.assign(op))
			if op.Notice != nil {
				w.urgent = true
			}
		}
		for k, v := range h.b.Meta {
			if b.Meta == nil {
				b.Meta = map[string]string{}
			}
			b.Meta[k] = v
		}
	}
	w.hold = false
	w.idMu.Unlock()
	w.held, w.heldRows = nil, 0
	// The stored progress never moves backwards: another writer may have
	// got further than this one.
	if dt.After(w.dataTime) {
		w.dataTime, w.routeEvents = dt, n
	} else if !w.dataTime.IsZero() {
		w.dirty = true
	}
	w.buf = b
	_ = w.flush(ctx)
	return nil
}

// storedProgress reads the data time and route event count st holds.
func storedProgress(ctx context.Context, st Store) (time.Time, int64, error) {
	var dt time.Time
	var n int64
	if v, ok, err := st.Meta(ctx, MetaDataTime); err != nil {
		return dt, 0, fmt.Errorf("%s: %w", MetaDataTime, err)
	} else if ok {
		dt, _ = time.Parse(time.RFC3339Nano, v)
	}
	if v, ok, err := st.Meta(ctx, MetaEvents); err != nil {
		return dt, 0, fmt.Errorf("%s: %w", MetaEvents, err)
	} else if ok {
		n, _ = strconv.ParseInt(v, 10, 64)
	}
	return dt, n, nil
}

// sealHeld moves what is buffered into a held batch. The caller holds io.
func (w *Writer) sealHeld() {
	if w.buf.Empty() {
		return
	}
	w.held = append(w.held, heldBatch{b: w.buf, final: w.final})
	w.heldRows += w.buffered()
	w.buf = Batch{}
}

// trimHeld drops the held batches, oldest first, that a store whose route
// event progress is stored holds already. The caller holds io.
func (w *Writer) trimHeld(stored int64) {
	i := 0
	for ; i < len(w.held); i++ {
		h := &w.held[i]
		if h.final || h.cover == 0 || stored < h.cover {
			break
		}
		for _, op := range h.b.Events {
			if op.DetID == 0 {
				continue
			}
			if op.Delete {
				delete(w.trimDet, op.DetID)
			} else {
				w.trimDet[op.DetID] = keyOf(op.Key)
			}
		}
		w.heldRows -= len(h.b.Bins) + len(h.b.Events) + len(h.b.Entities) + len(h.b.Meta)
	}
	if i > 0 {
		w.held = append(w.held[:0], w.held[i:]...)
	}
}

// StoredID returns the stored id the writer gave the event handed in with
// detector id detID, if it knows one.
func (w *Writer) StoredID(detID int) (int64, bool) {
	w.idMu.Lock()
	defer w.idMu.Unlock()
	id, ok := w.detIDs[detID]
	return id, ok
}

// Err returns the error of the last flush that failed (nil once one succeeds).
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Health returns the state of the writes.
func (w *Writer) Health() Health {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.health
}

// running returns the channel Run closes when it returns, or nil when no
// Run is active.
func (w *Writer) running() chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.runDone
}

// send hands an item to the writer goroutine. When the channel is full it
// waits for that goroutine; when none runs, it takes what is queued off
// the channel and applies it itself.
func (w *Writer) send(it item) {
	select {
	case w.ch <- it:
		return
	default:
	}
	for {
		if done := w.running(); done != nil {
			select {
			case w.ch <- it:
				return
			case <-done:
				continue // Run stopped: write ourselves
			}
		}
		if w.io.TryLock() {
			bg := context.Background()
			w.drain(bg)
			if w.failed && w.buffered() >= w.opts.MaxBuffered {
				// Full while writes fail: try again when due, else wait.
				if !time.Now().Before(w.retryAt) {
					_ = w.flush(bg)
				}
				if w.failed && w.buffered() >= w.opts.MaxBuffered {
					wait := time.Until(w.retryAt)
					w.io.Unlock()
					time.Sleep(max(wait, time.Millisecond))
					continue
				}
			}
			w.apply(bg, it)
			w.io.Unlock()
			return
		}
		// Another caller is draining, or Run is starting or stopping.
		time.Sleep(time.Millisecond)
	}
}

// Flush returns once everything handed in before it is written, with the
// write's error, or with ctx's error if ctx is done first.
func (w *Writer) Flush(ctx context.Context) error {
	return w.request(ctx, w.ch, item{kind: itemFlush}, func() error { return w.flush(ctx) })
}

// request has Run apply it (sent on to, with a done channel for the
// answer), or, when no Run is active, drains the queue and calls direct
// itself, holding io; it returns the answer, or ctx's error.
func (w *Writer) request(ctx context.Context, to chan item, it item, direct func() error) error {
	for {
		if done := w.running(); done != nil {
			req := make(chan error, 1)
			it.done = req
			select {
			case to <- it:
			case <-done:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case err := <-req:
				return err
			case <-done:
				// Run stopped; its last drain may have answered.
				select {
				case err := <-req:
					return err
				default:
				}
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if w.io.TryLock() {
			w.drain(ctx)
			err := direct()
			w.io.Unlock()
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// Run is the writer goroutine: it takes the hand-ins off the channel and
// writes them, on the timer (WriterOptions.Interval), when MaxBins bins are
// buffered, and on Flush. When ctx is done or Close is called it writes
// what was handed in and returns. One Run at a time: a second one waits
// for the first to return. What is handed in after Run returned is written
// by Flush or Close.
func (w *Writer) Run(ctx context.Context) {
	w.io.Lock()
	defer w.io.Unlock()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	done := make(chan struct{})
	w.runDone = done
	w.mu.Unlock()
	defer func() {
		w.drain(context.Background())
		_ = w.flush(context.Background())
		w.mu.Lock()
		w.runDone = nil
		close(done)
		w.mu.Unlock()
	}()
	t := time.NewTimer(w.opts.Interval)
	defer t.Stop()
	for {
		in := w.ch
		if w.full() {
			in = nil // full while writes fail or while holding: hand-ins wait (nothing is dropped)
		}
		select {
		case it := <-w.promo:
			w.apply(ctx, it)
		case it := <-in:
			w.apply(ctx, it)
			if w.urgent && !w.failed && len(w.ch) == 0 {
				_ = w.flush(ctx) // announce notices without waiting for the timer
			}
		case <-t.C:
			if !w.failed || !time.Now().Before(w.retryAt) {
				_ = w.flush(ctx)
			}
			next := w.opts.Interval
			if w.failed {
				next = max(time.Until(w.retryAt), time.Millisecond)
			}
			t.Reset(next)
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		}
	}
}

// buffered returns the rows buffered. The caller holds io.
func (w *Writer) buffered() int {
	return len(w.buf.Bins) + len(w.buf.Events) + len(w.buf.Entities) + len(w.buf.Meta)
}

// full reports whether hand-ins must wait: too much kept while writes
// fail, or while holding. The caller holds io.
func (w *Writer) full() bool {
	if w.hold {
		return w.heldRows+w.buffered() >= w.opts.MaxBuffered
	}
	return w.failed && w.buffered() >= w.opts.MaxBuffered
}

// Close writes everything handed in, stops Run and waits for it (or for
// ctx). The writer can still be used afterwards, without a goroutine:
// Flush then writes on the caller's goroutine.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.stop)
	}
	done := w.runDone
	w.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("store writer: close: %w", ctx.Err())
		}
	}
	return w.Flush(ctx)
}

// drain applies what is queued, without waiting. The caller holds io.
func (w *Writer) drain(ctx context.Context) {
	for {
		select {
		case it := <-w.ch:
			w.apply(ctx, it)
		default:
			return
		}
	}
}

// apply buffers one item, or flushes for a flush request. The caller holds io.
func (w *Writer) apply(ctx context.Context, it item) {
	switch it.kind {
	case itemBin:
		w.buf.Bins = append(w.buf.Bins, it.bin)
		if len(w.buf.Bins) >= w.opts.MaxBins && !w.failed && !w.hold {
			_ = w.flush(ctx)
		}
	case itemEntity:
		w.buf.Entities = append(w.buf.Entities, *it.entity)
	case itemEvent:
		if it.raw {
			w.idMu.Lock()
			w.rawPending--
			if !w.hold {
				*it.op = w.assign(*it.op)
			}
			w.idMu.Unlock()
		}
		w.buf.Events = append(w.buf.Events, *it.op)
		if it.op.Notice != nil && !w.hold {
			w.urgent = true
		}
	case itemMeta:
		if w.buf.Meta == nil {
			w.buf.Meta = map[string]string{}
		}
		w.buf.Meta[it.key] = it.val
	case itemProgress:
		for i := len(w.held) - 1; i >= 0 && w.held[i].cover == 0; i-- {
			w.held[i].cover = it.n
		}
		if !it.time.Before(w.dataTime) {
			w.dataTime, w.routeEvents, w.dirty = it.time, it.n, true
		}
	case itemFlush:
		it.done <- w.flush(ctx)
	case itemEnd:
		w.final = true
	case itemPromote:
		it.done <- w.promote(ctx, it.store)
	}
}

// flush writes what is buffered in one transaction (while holding, it
// keeps it, and drops what the store holds already). The caller holds io.
func (w *Writer) flush(ctx context.Context) error {
	if w.hold {
		if len(w.buf.Bins) >= w.opts.MaxBins || time.Since(w.trimmedAt) >= w.opts.Interval || w.full() {
			w.sealHeld()
		}
		if len(w.held) > 0 && time.Since(w.trimmedAt) >= w.opts.Interval/2 {
			w.trimmedAt = time.Now()
			if _, n, err := storedProgress(ctx, w.st); err == nil {
				w.trimHeld(n)
			}
		}
		return nil
	}
	if w.dirty && !w.dataTime.IsZero() {
		if w.buf.Meta == nil {
			w.buf.Meta = map[string]string{}
		}
		w.buf.Meta[MetaDataTime] = w.dataTime.UTC().Format(time.RFC3339Nano)
		w.buf.Meta[MetaEvents] = strconv.FormatInt(w.routeEvents, 10)
		w.dirty = false
	}
	if w.buf.Empty() {
		return nil
	}
	start := time.Now()
	_, err := w.st.Write(ctx, &w.buf)
	rows := w.buffered()
	if w.opts.Observe != nil {
		w.opts.Observe(time.Since(start), rows, err)
	}
	w.failed = err != nil
	w.mu.Lock()
	w.err = err
	if err != nil {
		// Keep the batch for the next try (writes are idempotent), after
		// a wait that doubles.
		if w.backoff == 0 {
			w.backoff = w.opts.RetryMin
			w.health.Since = start
		} else {
			w.backoff = min(2*w.backoff, w.opts.RetryMax)
		}
		w.retryAt = time.Now().Add(w.backoff)
		w.health = Health{Err: err, Since: w.health.Since, Failures: w.health.Failures + 1, Queued: rows, NextRetry: w.retryAt}
	} else {
		w.backoff = 0
		w.health = Health{}
	}
	w.mu.Unlock()
	if err != nil {
		return err
	}
	if w.urgent || w.opts.Committed != nil {
		var fresh []Notice
		for _, op := range w.buf.Events {
			if n := op.Notice; n != nil && n.Seq != 0 {
				fresh = append(fresh, Notice{Seq: n.Seq, Type: n.Type, Time: n.Time, Key: KeyString(op.Key), Event: n.Event, Created: start})
			}
		}
		if len(fresh) > 0 && w.opts.Committed != nil {
			w.opts.Committed(fresh)
		}
	}
	w.urgent = false
	w.buf = Batch{}
	if w.opts.Retention > 0 && !w.dataTime.IsZero() && w.dataTime.Sub(w.lastPrune) >= time.Hour {
		w.lastPrune = w.dataTime
		_, _ = w.st.PruneBins(ctx, w.dataTime.Add(-w.opts.Retention))
	}
	return nil
}
