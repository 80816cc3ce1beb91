package store

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// WriterOptions configures a Writer.
type WriterOptions struct {
	MaxBins  int           // flush when this many bins are buffered (default 20000)
	Interval time.Duration // flush at least this often while data comes (default 1s)
	// Retention keeps bins this long behind the data time (0: forever).
	Retention time.Duration
	// Observe, if set, is called after every flush with its duration,
	// the rows written and the error.
	Observe func(d time.Duration, rows int, err error)
}

// Writer buffers the pipeline's writes and flushes them in one transaction
// at a time: on a timer, when the buffer is full, at once for an event
// change (so the event has its stored id), and on Close. It skips the bins
// already stored by an earlier run (those before the latest stored bin
// time; bins at that time are upserted again, as a flush may have stopped
// in the middle of one bin edge).
type Writer struct {
	st   Store
	opts WriterOptions

	mu          sync.Mutex
	buf         Batch
	skipBefore  time.Time
	resumedTo   time.Time // the data time an earlier run had reached
	dataTime    time.Time
	routeEvents int64
	dirty       bool // progress changed since the last flush
	lastPrune   time.Time
	err         error // the last flush error
}

// NewWriter returns a writer over st, reading where an earlier run stopped.
func NewWriter(ctx context.Context, st Store, opts WriterOptions) (*Writer, error) {
	if opts.MaxBins <= 0 {
		opts.MaxBins = 20000
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	last, err := st.LastBinTime(ctx)
	if err != nil {
		return nil, err
	}
	w := &Writer{st: st, opts: opts, skipBefore: last}
	if v, ok, err := st.Meta(ctx, MetaDataTime); err != nil {
		return nil, err
	} else if ok {
		w.resumedTo, _ = time.Parse(time.RFC3339Nano, v)
	}
	return w, nil
}

// ResumedTo returns the data time an earlier run had reached (zero if none).
func (w *Writer) ResumedTo() time.Time { return w.resumedTo }

// SkipBefore returns the time before which bins are not written again.
func (w *Writer) SkipBefore() time.Time { return w.skipBefore }

// AddBin buffers a bin (or skips it when an earlier run stored it).
func (w *Writer) AddBin(b Bin) {
	if b.Time.Before(w.skipBefore) {
		return
	}
	w.mu.Lock()
	w.buf.Bins = append(w.buf.Bins, b)
	full := len(w.buf.Bins) >= w.opts.MaxBins
	w.mu.Unlock()
	if full {
		_ = w.Flush(context.Background())
	}
}

// AddEntity buffers what is known of an entity.
func (w *Writer) AddEntity(e Entity) {
	w.mu.Lock()
	w.buf.Entities = append(w.buf.Entities, e)
	w.mu.Unlock()
}

// Progress records the data time reached and the route events fed so far;
// it is written as metadata with the next flush. Call it after the event
// at that time went through the pipeline.
func (w *Writer) Progress(dataTime time.Time, routeEvents int64) {
	w.mu.Lock()
	if dataTime.After(w.dataTime) {
		w.dataTime = dataTime
	}
	w.routeEvents = routeEvents
	w.dirty = true
	w.mu.Unlock()
}

// SetMeta buffers a metadata value.
func (w *Writer) SetMeta(k, v string) {
	w.mu.Lock()
	if w.buf.Meta == nil {
		w.buf.Meta = map[string]string{}
	}
	w.buf.Meta[k] = v
	w.mu.Unlock()
}

// Event buffers an event change. With now, it flushes at once and returns
// the event's stored id.
func (w *Writer) Event(ctx context.Context, op EventOp, now bool) (int64, error) {
	w.mu.Lock()
	w.buf.Events = append(w.buf.Events, op)
	w.mu.Unlock()
	if !now {
		return 0, nil
	}
	ids, err := w.flush(ctx)
	if err != nil {
		return 0, err
	}
	// The op is the last event of the batch just written.
	if len(ids) == 0 {
		return 0, nil
	}
	return ids[len(ids)-1], nil
}

// Flush writes what is buffered.
func (w *Writer) Flush(ctx context.Context) error {
	_, err := w.flush(ctx)
	return err
}

// Err returns the error of the last flush that failed (nil once one succeeds).
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Writer) flush(ctx context.Context) ([]int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dirty && !w.dataTime.IsZero() {
		if w.buf.Meta == nil {
			w.buf.Meta = map[string]string{}
		}
		w.buf.Meta[MetaDataTime] = w.dataTime.UTC().Format(time.RFC3339Nano)
		w.buf.Meta[MetaEvents] = strconv.FormatInt(w.routeEvents, 10)
		w.dirty = false
	}
	if w.buf.Empty() {
		return nil, nil
	}
	start := time.Now()
	b := w.buf
	ids, err := w.st.Write(ctx, &b)
	rows := len(b.Bins) + len(b.Events) + len(b.Entities) + len(b.Meta)
	if w.opts.Observe != nil {
		w.opts.Observe(time.Since(start), rows, err)
	}
	w.err = err
	if err != nil {
		// Keep the batch for the next try (writes are idempotent).
		return nil, err
	}
	w.buf = Batch{}
	if w.opts.Retention > 0 && !w.dataTime.IsZero() && w.dataTime.Sub(w.lastPrune) >= time.Hour {
		w.lastPrune = w.dataTime
		_, _ = w.st.PruneBins(ctx, w.dataTime.Add(-w.opts.Retention))
	}
	return ids, nil
}

// Run flushes on the timer until ctx is done, then flushes a last time.
func (w *Writer) Run(ctx context.Context) {
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = w.Flush(context.Background())
			return
		case <-t.C:
			_ = w.Flush(ctx)
		}
	}
}
