package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// gatedStore holds every Write until the gate lets it through, and counts
// the calls that reach the database.
type gatedStore struct {
	*SQLite
	gate   chan struct{} // a Write waits for a value, or for the channel to close
	writes atomic.Int32  // writes started
	reads  atomic.Int32  // other calls
}

func (g *gatedStore) Write(ctx context.Context, b *Batch) ([]int64, error) {
	g.writes.Add(1)
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.SQLite.Write(ctx, b)
}

func (g *gatedStore) Event(ctx context.Context, id int64) (*StoredEvent, error) {
	g.reads.Add(1)
	return g.SQLite.Event(ctx, id)
}

func (g *gatedStore) Events(ctx context.Context, f EventFilter) ([]StoredEvent, error) {
	g.reads.Add(1)
	return g.SQLite.Events(ctx, f)
}

func (g *gatedStore) EventIDs(ctx context.Context) (map[EventKey]int64, int64, error) {
	g.reads.Add(1)
	return g.SQLite.EventIDs(ctx)
}

var t0 = time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)

func testEvent(code string, kind event.Kind, start time.Duration) event.Event {
	return event.Event{EntityType: event.Country, EntityCode: code, Kind: kind, Family: bgp.IPv4, Start: t0.Add(start), Severity: event.Warning}
}

func openTest(t *testing.T, dir string) *SQLite {
	t.Helper()
	st, err := OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestWriterNoIO: ids come back at once while the disk is stuck, hand-ins
// do not wait until the queue is full, and Flush waits for the write.
func TestWriterNoIO(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	defer st.Close()
	g := &gatedStore{SQLite: st, gate: make(chan struct{})}
	w, err := NewWriter(ctx, g, WriterOptions{Queue: 64, MaxBins: 4, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer runWriter(t, w)()
	reads := g.reads.Load()

	// Four bins make the writer flush; that write is stuck at the gate.
	for i := range 4 {
		w.AddBin(Bin{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: t0.Add(time.Duration(i) * 5 * time.Minute), Space: 4})
	}
	deadline := time.Now().Add(10 * time.Second)
	for g.writes.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if g.writes.Load() != 1 {
		t.Fatalf("%d writes started, want 1", g.writes.Load())
	}
	// Meanwhile, events get their ids with no I/O.
	done := make(chan []int64)
	go func() {
		a, b := testEvent("KP", event.Instability, 0), testEvent("KP", event.Outage, 15*time.Minute)
		pre := 7
		b.PrecededBy = &pre
		ida := w.Event(EventOp{Key: KeyOf(&a), DetID: 7, Event: a})
		idb := w.Event(EventOp{Key: KeyOf(&b), DetID: 8, Event: b})
		b.Severity = event.Critical
		idb2 := w.Event(EventOp{Key: KeyOf(&b), DetID: 8, Event: b})
		w.Progress(t0.Add(20*time.Minute), 42)
		w.SetMeta(MetaSource, "test")
		done <- []int64{ida, idb, idb2}
	}()
	var ids []int64
	select {
	case ids = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Event waited for the disk")
	}
	if !slices.Equal(ids, []int64{1, 2, 2}) {
		t.Errorf("ids %v, want [1 2 2]", ids)
	}
	if id, ok := w.StoredID(8); !ok || id != 2 {
		t.Errorf("StoredID(8) = %d, %v", id, ok)
	}
	if n := g.reads.Load(); n != reads {
		t.Errorf("%d reads after NewWriter", n-reads)
	}
	// Flush waits for the stuck write and the one after it.
	flushed := make(chan error, 1)
	go func() { flushed <- w.Flush(ctx) }()
	select {
	case err := <-flushed:
		t.Fatalf("Flush returned (%v) while the write was stuck", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(g.gate)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	se, err := st.Event(ctx, 2)
	if err != nil || se.Severity != event.Critical || se.Event.ID != 2 || se.Event.PrecededBy == nil || *se.Event.PrecededBy != 1 {
		t.Fatalf("stored %+v (%v)", se, err)
	}
	if v, _, _ := st.Meta(ctx, MetaEvents); v != "42" {
		t.Errorf("route_events %q after Flush", v)
	}
	bins, err := st.Bins(ctx, event.Country, "KP", bgp.IPv4, t0, t0.Add(time.Hour))
	if err != nil || len(bins) != 4 {
		t.Errorf("%d bins (%v), want 4", len(bins), err)
	}
}

// TestWriterBackpressure: with the disk stuck, a hand-in waits once the
// queue is full, and goes on when the disk does.
func TestWriterBackpressure(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	defer st.Close()
	g := &gatedStore{SQLite: st, gate: make(chan struct{})}
	w, err := NewWriter(ctx, g, WriterOptions{Queue: 8, MaxBins: 1, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer runWriter(t, w)()
	var handed atomic.Int32
	go func() {
		for i := range 100 {
			w.AddBin(Bin{EntityType: event.OriginAS, EntityCode: "131279", Family: bgp.IPv4, Time: t0.Add(time.Duration(i) * time.Minute)})
			handed.Add(1)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	if n := handed.Load(); n >= 100 || n < 8 {
		t.Errorf("%d bins handed in with the disk stuck and a queue of 8", n)
	}
	close(g.gate)
	deadline := time.Now().Add(10 * time.Second)
	for handed.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	bins, _ := st.Bins(ctx, event.OriginAS, "131279", bgp.IPv4, t0, t0.Add(2*time.Hour))
	if len(bins) != 100 {
		t.Errorf("%d bins stored, want 100", len(bins))
	}
}

// TestWriterIDsSurviveReopen: a new writer over the same store gives the
// same ids to the same keys, and never gives a deleted event's id again.
func TestWriterIDsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openTest(t, dir)
	w, err := NewWriter(ctx, st, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(ctx)
	evs := []event.Event{testEvent("KP", event.Outage, 0), testEvent("SY", event.PartialOutage, time.Hour), testEvent("IR", event.Outage, 2*time.Hour)}
	var ids []int64
	for _, ev := range evs {
		ids = append(ids, w.Event(EventOp{Key: KeyOf(&ev), Event: ev}))
	}
	// The last one is retracted: its id is gone for good.
	w.Event(EventOp{Key: KeyOf(&evs[2]), Delete: true})
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st = openTest(t, dir)
	defer st.Close()
	w, err = NewWriter(ctx, st, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(ctx)
	for i, ev := range evs[:2] {
		ev.Severity = event.Critical
		if id := w.Event(EventOp{Key: KeyOf(&ev), Event: ev}); id != ids[i] {
			t.Errorf("%s after reopen: id %d, want %d", ev.EntityCode, id, ids[i])
		}
	}
	again := w.Event(EventOp{Key: KeyOf(&evs[2]), Event: evs[2]})
	if again <= ids[2] {
		t.Errorf("retracted event back with id %d, want more than %d", again, ids[2])
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := st.Events(ctx, EventFilter{})
	if err != nil || len(stored) != 3 {
		t.Fatalf("%d events stored (%v)", len(stored), err)
	}
	for _, se := range stored {
		if se.Severity != event.Critical && se.Key.EntityCode != "IR" {
			t.Errorf("%s not updated in place: %+v", se.Key.EntityCode, se)
		}
		if int64(se.Event.ID) != se.ID {
			t.Errorf("json id %d, row id %d", se.Event.ID, se.ID)
		}
	}
}

// feed hands in a fixed run: two bins per step for 12 steps, an event
// opening at step 3, escalating at step 6, ending at step 9, a transient
// retracted at step 5, and the progress after each step. It stops after
// step stopAfter (the crash) unless that is negative.
func feed(w *Writer, stopAfter int) {
	out := testEvent("KP", event.PartialOutage, 15*time.Minute)
	out.ID = 1
	blip := testEvent("SY", event.Outage, 20*time.Minute)
	blip.ID = 2
	for i := range 12 {
		at := t0.Add(time.Duration(i) * 5 * time.Minute)
		for _, code := range []string{"KP", "SY"} {
			w.AddBin(Bin{EntityType: event.Country, EntityCode: code, Family: bgp.IPv4, Time: at, Space: float64(100 - i), Prefixes: int32(i)})
		}
		switch i {
		case 3:
			w.Event(EventOp{Key: KeyOf(&out), DetID: out.ID, Event: *out.Clone()})
		case 4:
			w.Event(EventOp{Key: KeyOf(&blip), DetID: blip.ID, Event: *blip.Clone()})
		case 5:
			w.Event(EventOp{Key: KeyOf(&blip), DetID: blip.ID, Event: *blip.Clone(), Delete: true})
		case 6:
			out.Kind, out.Severity = event.Outage, event.Critical
			w.Event(EventOp{Key: KeyOf(&out), DetID: out.ID, Event: *out.Clone()})
		case 9:
			end := at
			out.End = &end
			w.Event(EventOp{Key: KeyOf(&out), DetID: out.ID, Event: *out.Clone()})
		}
		w.AddEntity(Entity{Type: event.Country, Code: "KP", Families: []bgp.Family{bgp.IPv4}, Updated: at})
		w.Progress(at, int64(i+1)*1000)
		if i == stopAfter {
			return
		}
	}
}

func tableRows(t *testing.T, st *SQLite) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT entity_type, entity_code, family, time, space, min_space, baseline, prefixes, origins, churn FROM bins`,
		`SELECT id, entity_type, entity_code, start_kind, kind, family, start, "end", severity, json FROM events`,
		`SELECT entity_type, entity_code, families, upstreams, updated FROM entities`,
		`SELECT key, value FROM meta`,
	} {
		rows, err := st.DB().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(vals...))
		}
		rows.Close()
	}
	slices.Sort(out)
	return out
}

// TestWriterRestartAfterCrash: a run that dies without a goodbye at any
// step, then a run over the same data, stores the same rows as a clean run.
func TestWriterRestartAfterCrash(t *testing.T) {
	ctx := context.Background()
	clean := openTest(t, t.TempDir())
	defer clean.Close()
	w, err := NewWriter(ctx, clean, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(ctx)
	feed(w, -1)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want := tableRows(t, clean)

	for crashAt := range 12 {
		dir := t.TempDir()
		st := openTest(t, dir)
		w, err := NewWriter(ctx, st, WriterOptions{MaxBins: 3})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		go w.Run(runCtx)
		feed(w, crashAt)
		// The crash: what was flushed is on disk, the rest is lost. A
		// flush for the even steps, so the crash finds both states.
		if crashAt%2 == 0 {
			if err := w.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		st.Close() // later writes fail, as after a SIGKILL
		cancel()
		st = openTest(t, dir)
		w, err = NewWriter(ctx, st, WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		go w.Run(ctx)
		feed(w, -1)
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := tableRows(t, st); !slices.Equal(got, want) {
			t.Errorf("crash after step %d: the tables differ from a clean run\n got %q\nwant %q", crashAt, got, want)
		}
		st.Close()
	}
}

// TestWriterDataTimeNeverBackwards (issue 13): a run that restarts from
// the beginning and crashes early does not move the stored data time back.
func TestWriterDataTimeNeverBackwards(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openTest(t, dir)
	defer st.Close()
	w, err := NewWriter(ctx, st, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(ctx)
	far := t0.Add(48 * time.Hour)
	w.Progress(far, 5000)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The restart replays from the start of the data.
	w, err = NewWriter(ctx, st, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(ctx)
	if !w.ResumedTo().Equal(far) {
		t.Fatalf("resumed to %v", w.ResumedTo())
	}
	w.Progress(t0, 10)
	w.AddBin(Bin{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: t0})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(wantTime time.Time, wantEvents string) {
		t.Helper()
		v, _, _ := st.Meta(ctx, MetaDataTime)
		n, _, _ := st.Meta(ctx, MetaEvents)
		if got, _ := time.Parse(time.RFC3339Nano, v); !got.Equal(wantTime) || n != wantEvents {
			t.Errorf("stored data time %s with %s route events, want %s with %s", v, n, wantTime.Format(time.RFC3339), wantEvents)
		}
	}
	check(far, "5000") // the crash comes here
	w.Progress(far.Add(time.Minute), 5100)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	check(far.Add(time.Minute), "5100")
}

// TestWriterConcurrent hands bins, events, progress and flushes in from
// several goroutines at once (run it with -race).
func TestWriterConcurrent(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	defer st.Close()
	w, err := NewWriter(ctx, st, WriterOptions{Queue: 16, MaxBins: 50, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.Run(runCtx)
	const workers, steps = 6, 200
	var wg sync.WaitGroup
	ids := make([][]int64, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := fmt.Sprintf("%d", 64500+g)
			for i := range steps {
				at := t0.Add(time.Duration(i) * time.Minute)
				w.AddBin(Bin{EntityType: event.OriginAS, EntityCode: code, Family: bgp.IPv6, Time: at, Space: float64(i)})
				if i%20 == 0 {
					ev := event.Event{EntityType: event.OriginAS, EntityCode: code, Kind: event.Outage, Family: bgp.AllFamilies, Start: at, Severity: event.Warning}
					ids[g] = append(ids[g], w.Event(EventOp{Key: KeyOf(&ev), DetID: g*1000 + i, Event: ev}))
				}
				w.Progress(at, int64(i))
				if i%50 == 0 {
					if err := w.Flush(ctx); err != nil {
						t.Error(err)
					}
				}
				_ = w.Err()
			}
		}()
	}
	wg.Wait()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var all []int64
	for _, s := range ids {
		all = append(all, s...)
	}
	slices.Sort(all)
	if len(slices.Compact(slices.Clone(all))) != workers*steps/20 {
		t.Errorf("ids not unique: %v", all)
	}
	evs, err := st.Events(ctx, EventFilter{Limit: 1000})
	if err != nil || len(evs) != workers*steps/20 {
		t.Errorf("%d events stored (%v), want %d", len(evs), err, workers*steps/20)
	}
	for g := range workers {
		bins, _ := st.Bins(ctx, event.OriginAS, fmt.Sprintf("%d", 64500+g), bgp.IPv6, t0, t0.Add(steps*time.Minute))
		if len(bins) != steps {
			t.Errorf("AS%d: %d bins, want %d", 64500+g, len(bins), steps)
		}
	}
}

// TestWriterWithoutRun: with no goroutine running, a full queue and Flush
// write on the caller's goroutine, and Close before Run is harmless.
func TestWriterWithoutRun(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	defer st.Close()
	w, err := NewWriter(ctx, st, WriterOptions{Queue: 2, MaxBins: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		w.AddBin(Bin{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: t0.Add(time.Duration(i) * time.Minute)})
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	w.Run(ctx) // returns at once after Close
	bins, _ := st.Bins(ctx, event.Country, "KP", bgp.IPv4, t0, t0.Add(time.Hour))
	if len(bins) != 20 {
		t.Errorf("%d bins, want 20", len(bins))
	}
}
