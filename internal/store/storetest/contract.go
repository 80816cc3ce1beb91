// Package storetest is the contract every store.Store backend passes: the
// same tests run against SQLite (package store) and PostgreSQL (package
// pgstore). They check what the pipeline and the API rely on: natural-key
// upserts, ids never given twice, resume after a restart or a crash with
// the same rows as a clean run, the data time never moving backwards,
// retention, the filters and paging of events, entities and dead letters.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/store"
)

// Backend makes a new, empty store and returns a function that opens it;
// open may be called again after Close (a restart) and must then return
// the same data.
type Backend func(t *testing.T) (open func(t *testing.T) store.Store)

// Run runs the contract tests as subtests of t.
func Run(t *testing.T, b Backend) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"ResumeAndEvents", testResumeAndEvents},
		{"IDsSurviveReopen", testIDsSurviveReopen},
		{"RestartAfterCrash", testRestartAfterCrash},
		{"WarmStandby", testWarmStandby},
		{"DataTimeNeverBackwards", testDataTimeNeverBackwards},
		{"Concurrent", testConcurrent},
		{"DirectWrite", testDirectWrite},
		{"Entities", testEntitiesAndDeadLetters},
		{"Outbox", testOutbox},
		{"LatestAndFirstBins", testLatestAndFirstBins},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, b) })
	}
}

var t0 = time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)

func testEvent(code string, kind event.Kind, start time.Duration) event.Event {
	return event.Event{EntityType: event.Country, EntityCode: code, Kind: kind, Family: bgp.IPv4, Start: t0.Add(start), Severity: event.Warning}
}

func newWriter(t *testing.T, st store.Store, o store.WriterOptions) *store.Writer {
	t.Helper()
	w, err := store.NewWriter(context.Background(), st, o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// runWriter starts w.Run and returns a function that stops it and waits.
func runWriter(t *testing.T, w *store.Writer) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	return func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	}
}

func testResumeAndEvents(t *testing.T, b Backend) {
	ctx := context.Background()
	open := b(t)
	st := open(t)
	bin := func(i int, space float64) store.Bin {
		return store.Bin{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: t0.Add(time.Duration(i) * 5 * time.Minute), Space: space}
	}
	w := newWriter(t, st, store.WriterOptions{Retention: 24 * time.Hour})
	stop := runWriter(t, w)
	for i := 0; i < 4; i++ {
		w.AddBin(bin(i, 4))
	}
	inst := event.Event{ID: 1, EntityType: event.Country, EntityCode: "KP", Kind: event.Instability, Family: bgp.AllFamilies, Start: t0, Severity: event.Warning}
	out := event.Event{ID: 2, EntityType: event.Country, EntityCode: "KP", Kind: event.PartialOutage, Family: bgp.IPv4, Start: t0.Add(15 * time.Minute), Severity: event.Warning}
	idInst := w.Event(store.EventOp{Key: store.KeyOf(&inst), DetID: 1, Event: inst})
	key := store.KeyOf(&out)
	pre := 1
	out.PrecededBy = &pre
	idOut := w.Event(store.EventOp{Key: key, DetID: 2, Event: *out.Clone()})
	if idOut == idInst || idInst != 1 || idOut != 2 {
		t.Fatal(idInst, idOut)
	}
	// Escalation changes the kind; the natural key keeps the kind at start.
	out.Kind, out.Severity = event.Outage, event.Critical
	if id := w.Event(store.EventOp{Key: key, DetID: 2, Event: *out.Clone()}); id != idOut {
		t.Fatalf("escalation got id %d, want %d", id, idOut)
	}
	w.Progress(t0.Add(16*time.Minute), 100)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	got, err := st.Event(ctx, idOut)
	if err != nil || got.Kind != event.Outage || got.Event.ID != int(idOut) || got.Event.PrecededBy == nil || int64(*got.Event.PrecededBy) != idInst {
		t.Fatalf("stored %+v (%v)", got, err)
	}
	st.Close()

	// A second run over the same data: bins before the last stored time
	// are skipped, those at it and after written; events upserted.
	st = open(t)
	defer st.Close()
	w = newWriter(t, st, store.WriterOptions{})
	defer runWriter(t, w)()
	if !w.SkipBefore().Equal(bin(3, 0).Time) || !w.ResumedTo().Equal(t0.Add(16*time.Minute)) {
		t.Errorf("resume: skip before %v, resumed to %v", w.SkipBefore(), w.ResumedTo())
	}
	for i := 0; i < 6; i++ {
		w.AddBin(bin(i, float64(10+i))) // changed values show which were rewritten
	}
	out.Kind, out.Severity = event.PartialOutage, event.Warning
	if id := w.Event(store.EventOp{Key: key, DetID: 2, Event: *out.Clone()}); id != idOut {
		t.Fatalf("replayed start got id %d, want %d", id, idOut)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	bins, err := st.Bins(ctx, event.Country, "KP", bgp.IPv4, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{4, 4, 4, 13, 14, 15}
	if len(bins) != len(want) {
		t.Fatalf("%d bins, want %d", len(bins), len(want))
	}
	for i, b := range bins {
		if b.Space != want[i] {
			t.Errorf("bin %d: space %v, want %v", i, b.Space, want[i])
		}
	}
	// The range is preceded by the last bin before it.
	if bins, _ := st.Bins(ctx, event.Country, "KP", bgp.IPv4, t0.Add(12*time.Minute), t0.Add(20*time.Minute)); len(bins) != 3 || !bins[0].Time.Equal(bin(2, 0).Time) {
		t.Errorf("carried-forward range: %+v", bins)
	}
	// Retraction deletes; the id is not reused.
	if id := w.Event(store.EventOp{Key: key, Delete: true}); id != 0 {
		t.Fatalf("deletion returned id %d", id)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Event(ctx, idOut); err != store.ErrNotFound {
		t.Errorf("retracted event still there: %v", err)
	}
	third := event.Event{EntityType: event.OriginAS, EntityCode: "131279", Kind: event.Outage, Family: bgp.AllFamilies, Start: t0.Add(time.Hour), Severity: event.Critical}
	id3 := w.Event(store.EventOp{Key: store.KeyOf(&third), DetID: 3, Event: third})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if id3 <= idOut {
		t.Errorf("id %d reused after %d", id3, idOut)
	}
	// Paging, newest first, and filters.
	evs, _ := st.Events(ctx, store.EventFilter{Limit: 1})
	if len(evs) != 1 || evs[0].ID != id3 {
		t.Fatalf("first page %+v", evs)
	}
	evs, _ = st.Events(ctx, store.EventFilter{Limit: 5, After: &store.Cursor{Start: evs[0].Key.Start, ID: evs[0].ID}})
	if len(evs) != 1 || evs[0].ID != idInst {
		t.Errorf("second page %+v", evs)
	}
	if evs, _ := st.Events(ctx, store.EventFilter{Severity: event.Critical, Ongoing: true}); len(evs) != 1 || evs[0].ID != id3 {
		t.Errorf("critical ongoing: %+v", evs)
	}
	if evs, _ := st.Events(ctx, store.EventFilter{EntityType: event.Country, EntityCode: "kp"}); len(evs) != 1 || evs[0].ID != idInst {
		t.Errorf("country kp (any case): %+v", evs)
	}
	if evs, _ := st.Events(ctx, store.EventFilter{Kind: event.Outage, From: t0.Add(30 * time.Minute), Until: t0.Add(2 * time.Hour)}); len(evs) != 1 || evs[0].ID != id3 {
		t.Errorf("outages overlapping: %+v", evs)
	}
	if n, _ := st.CountOpen(ctx); n != 2 {
		t.Errorf("open %d, want 2", n)
	}
	if last, err := st.LastBinTime(ctx); err != nil || !last.Equal(bin(5, 0).Time) {
		t.Errorf("last bin time %v (%v)", last, err)
	}
	// Retention prunes bins relative to data time.
	if n, err := st.PruneBins(ctx, bin(2, 0).Time); err != nil || n != 2 {
		t.Errorf("pruned %d (%v), want 2", n, err)
	}
}

// testIDsSurviveReopen: a new writer over the same store gives the same
// ids to the same keys, and never gives a deleted event's id again.
func testIDsSurviveReopen(t *testing.T, b Backend) {
	ctx := context.Background()
	open := b(t)
	st := open(t)
	w := newWriter(t, st, store.WriterOptions{})
	go w.Run(ctx)
	evs := []event.Event{testEvent("KP", event.Outage, 0), testEvent("SY", event.PartialOutage, time.Hour), testEvent("IR", event.Outage, 2*time.Hour)}
	var ids []int64
	for _, ev := range evs {
		ids = append(ids, w.Event(store.EventOp{Key: store.KeyOf(&ev), Event: ev}))
	}
	// The last one is retracted: its id is gone for good.
	w.Event(store.EventOp{Key: store.KeyOf(&evs[2]), Delete: true})
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st = open(t)
	defer st.Close()
	w = newWriter(t, st, store.WriterOptions{})
	go w.Run(ctx)
	for i, ev := range evs[:2] {
		ev.Severity = event.Critical
		if id := w.Event(store.EventOp{Key: store.KeyOf(&ev), Event: ev}); id != ids[i] {
			t.Errorf("%s after reopen: id %d, want %d", ev.EntityCode, id, ids[i])
		}
	}
	again := w.Event(store.EventOp{Key: store.KeyOf(&evs[2]), Event: evs[2]})
	if again <= ids[2] {
		t.Errorf("retracted event back with id %d, want more than %d", again, ids[2])
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := st.Events(ctx, store.EventFilter{})
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
func feed(w *store.Writer, stopAfter int) {
	out := testEvent("KP", event.PartialOutage, 15*time.Minute)
	out.ID = 1
	blip := testEvent("SY", event.Outage, 20*time.Minute)
	blip.ID = 2
	for i := range 12 {
		at := t0.Add(time.Duration(i) * 5 * time.Minute)
		for _, code := range []string{"KP", "SY"} {
			w.AddBin(store.Bin{EntityType: event.Country, EntityCode: code, Family: bgp.IPv4, Time: at, Space: float64(100 - i), Prefixes: int32(i)})
		}
		switch i {
		case 3:
			w.Event(store.EventOp{Key: store.KeyOf(&out), DetID: out.ID, Event: *out.Clone()})
		case 4:
			w.Event(store.EventOp{Key: store.KeyOf(&blip), DetID: blip.ID, Event: *blip.Clone()})
		case 5:
			w.Event(store.EventOp{Key: store.KeyOf(&blip), DetID: blip.ID, Event: *blip.Clone(), Delete: true})
		case 6:
			out.Kind, out.Severity = event.Outage, event.Critical
			w.Event(store.EventOp{Key: store.KeyOf(&out), DetID: out.ID, Event: *out.Clone()})
		case 9:
			end := at
			out.End = &end
			w.Event(store.EventOp{Key: store.KeyOf(&out), DetID: out.ID, Event: *out.Clone()})
		}
		w.AddEntity(store.Entity{Type: event.Country, Code: "KP", Families: []bgp.Family{bgp.IPv4}, Updated: at})
		w.Progress(at, int64(i+1)*1000)
		if i == stopAfter {
			return
		}
	}
}

// Dump lists what a store holds, through the Store interface, as sorted
// lines: every event (with its JSON), the bins of the given countries,
// the entities, the outbox's notices in order and the progress metadata.
func Dump(t *testing.T, st store.Store, countries ...string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	evs, err := st.Events(ctx, store.EventFilter{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		js, _ := json.Marshal(&e.Event)
		end := ""
		if e.End != nil {
			end = e.End.Format(time.RFC3339Nano)
		}
		out = append(out, fmt.Sprintf("event %d %+v %s %s %s %s", e.ID, e.Key, e.Kind, e.Severity, end, js))
	}
	for _, c := range countries {
		for _, f := range []bgp.Family{bgp.IPv4, bgp.IPv6} {
			bins, err := st.Bins(ctx, event.Country, c, f, time.Unix(0, 0), time.Unix(1<<40, 0))
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range bins {
				out = append(out, fmt.Sprintf("bin %+v", b))
			}
		}
	}
	ents, err := st.Entities(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		out = append(out, fmt.Sprintf("entity %+v", e))
	}
	// The outbox, in order (sequence numbers aside: a store may skip some).
	ns, err := st.Notices(ctx, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range ns {
		js, _ := json.Marshal(&n.Event)
		out = append(out, fmt.Sprintf("notice %06d %s %s %s %s", i, n.Key, n.Type, n.Time.Format(time.RFC3339Nano), js))
	}
	for _, k := range []string{store.MetaDataTime, store.MetaEvents, store.MetaSource, store.MetaBin} {
		v, ok, err := st.Meta(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out = append(out, "meta "+k+"="+v)
		}
	}
	slices.Sort(out)
	return out
}

// testRestartAfterCrash: a run that dies without a goodbye at any step,
// then a run over the same data, stores the same rows as a clean run.
func testRestartAfterCrash(t *testing.T, b Backend) {
	ctx := context.Background()
	clean := b(t)(t)
	defer clean.Close()
	w := newWriter(t, clean, store.WriterOptions{})
	go w.Run(ctx)
	feed(w, -1)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want := Dump(t, clean, "KP", "SY")

	for _, crashAt := range []int{0, 3, 4, 5, 6, 9, 11} {
		open := b(t)
		st := open(t)
		w := newWriter(t, st, store.WriterOptions{MaxBins: 3})
		runCtx, cancel := context.WithCancel(ctx)
		go w.Run(runCtx)
		feed(w, crashAt)
		// The crash: what was flushed is stored, the rest is lost. A
		// flush for the even steps, so the crash finds both states.
		if crashAt%2 == 0 {
			if err := w.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		st.Close() // later writes fail, as after a SIGKILL
		cancel()
		st = open(t)
		w = newWriter(t, st, store.WriterOptions{})
		go w.Run(ctx)
		feed(w, -1)
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := Dump(t, st, "KP", "SY"); !slices.Equal(got, want) {
			t.Errorf("crash after step %d: the store differs from a clean run\n got %q\nwant %q", crashAt, got, want)
		}
		st.Close()
	}
}

// testWarmStandby: a holding writer (a warm standby's) fed the same run
// as a writer that dies at any step, then promoted, stores the same rows
// as a clean run; and one promoted before the other writer got anywhere
// stores them too.
func testWarmStandby(t *testing.T, b Backend) {
	ctx := context.Background()
	clean := b(t)(t)
	defer clean.Close()
	w := newWriter(t, clean, store.WriterOptions{})
	go w.Run(ctx)
	feed(w, -1)
	w.EndOfInput()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want := Dump(t, clean, "KP", "SY")

	for _, crashAt := range []int{-2, 0, 3, 4, 5, 6, 9, 11} {
		open := b(t)
		st := open(t)
		standby := open(t)
		sb := newWriter(t, standby, store.WriterOptions{Hold: true, Interval: time.Millisecond, MaxBins: 2})
		stop := runWriter(t, sb)
		if crashAt > -2 {
			w := newWriter(t, st, store.WriterOptions{MaxBins: 3})
			runCtx, cancel := context.WithCancel(ctx)
			go w.Run(runCtx)
			feed(w, crashAt)
			if crashAt%2 == 0 {
				if err := w.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			st.Close() // the holder dies: later writes fail
			cancel()
		} else {
			st.Close()
		}
		feed(sb, -1)
		sb.EndOfInput()
		// The standby kept what it was handed; nothing of it is stored
		// before the promotion.
		if !sb.Holding() {
			t.Fatal("the standby's writer does not hold")
		}
		if err := sb.Promote(ctx, standby); err != nil {
			t.Fatal(err)
		}
		if sb.Holding() {
			t.Fatal("promoted, the writer still holds")
		}
		if err := sb.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		stop()
		if err := sb.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := Dump(t, standby, "KP", "SY"); !slices.Equal(got, want) {
			t.Errorf("holder died after step %d: the promoted standby's store differs from a clean run\n got %q\nwant %q", crashAt, got, want)
		}
		standby.Close()
	}
}

// testDataTimeNeverBackwards: a run that restarts from the beginning and
// crashes early does not move the stored data time back.
func testDataTimeNeverBackwards(t *testing.T, b Backend) {
	ctx := context.Background()
	st := b(t)(t)
	defer st.Close()
	w := newWriter(t, st, store.WriterOptions{})
	go w.Run(ctx)
	far := t0.Add(48 * time.Hour)
	w.Progress(far, 5000)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	w = newWriter(t, st, store.WriterOptions{})
	go w.Run(ctx)
	if !w.ResumedTo().Equal(far) {
		t.Fatalf("resumed to %v", w.ResumedTo())
	}
	w.Progress(t0, 10)
	w.AddBin(store.Bin{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: t0})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(wantTime time.Time, wantEvents string) {
		t.Helper()
		v, _, _ := st.Meta(ctx, store.MetaDataTime)
		n, _, _ := st.Meta(ctx, store.MetaEvents)
		if got, _ := time.Parse(time.RFC3339Nano, v); !got.Equal(wantTime) || n != wantEvents {
			t.Errorf("stored data time %s with %s route events, want %s with %s", v, n, wantTime.Format(time.RFC3339), wantEvents)
		}
	}
	check(far, "5000")
	w.Progress(far.Add(time.Minute), 5100)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	check(far.Add(time.Minute), "5100")
}

// testConcurrent hands bins, events, progress and flushes in from several
// goroutines at once.
func testConcurrent(t *testing.T, b Backend) {
	ctx := context.Background()
	st := b(t)(t)
	defer st.Close()
	w := newWriter(t, st, store.WriterOptions{Queue: 16, MaxBins: 50, Interval: time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.Run(runCtx)
	const workers, steps = 4, 100
	var wg sync.WaitGroup
	ids := make([][]int64, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := fmt.Sprintf("%d", 64500+g)
			for i := range steps {
				at := t0.Add(time.Duration(i) * time.Minute)
				w.AddBin(store.Bin{EntityType: event.OriginAS, EntityCode: code, Family: bgp.IPv6, Time: at, Space: float64(i)})
				if i%20 == 0 {
					ev := event.Event{EntityType: event.OriginAS, EntityCode: code, Kind: event.Outage, Family: bgp.AllFamilies, Start: at, Severity: event.Warning}
					ids[g] = append(ids[g], w.Event(store.EventOp{Key: store.KeyOf(&ev), DetID: g*1000 + i, Event: ev}))
				}
				w.Progress(at, int64(i))
				if i%50 == 0 {
					if err := w.Flush(ctx); err != nil {
						t.Error(err)
					}
				}
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
	evs, err := st.Events(ctx, store.EventFilter{Limit: 1000})
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

// testDirectWrite: a batch written without ids (the store finds them by
// the natural key or assigns the next one, and resolves preceded_by from
// detector ids, within the batch and across batches), a key twice in one
// batch, and a failed batch that leaves nothing behind.
func testDirectWrite(t *testing.T, b Backend) {
	ctx := context.Background()
	st := b(t)(t)
	defer st.Close()
	inst := testEvent("KP", event.Instability, 0)
	out := testEvent("KP", event.Outage, 10*time.Minute)
	pre := 11
	out.PrecededBy = &pre
	bins := []store.Bin{
		{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: t0, Space: 1},
		{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: t0, Space: 2}, // the same key again: the last wins
	}
	ids, err := st.Write(ctx, &store.Batch{Bins: bins, Events: []store.EventOp{
		{Key: store.KeyOf(&inst), DetID: 11, Event: inst},
		{Key: store.KeyOf(&out), DetID: 12, Event: out},
	}, Meta: map[string]string{store.MetaSource: "test"}})
	if err != nil || len(ids) != 2 || ids[0] == ids[1] || ids[0] == 0 {
		t.Fatalf("ids %v (%v)", ids, err)
	}
	se, err := st.Event(ctx, ids[1])
	if err != nil || se.Event.PrecededBy == nil || int64(*se.Event.PrecededBy) != ids[0] {
		t.Fatalf("preceded_by within a batch: %+v (%v)", se, err)
	}
	if got, _ := st.Bins(ctx, event.Country, "KP", bgp.IPv4, t0, t0); len(got) != 1 || got[0].Space != 2 {
		t.Errorf("bins %+v", got)
	}
	// Across batches: the same key gets the same id; a later event refers
	// to an earlier batch's detector id.
	out.Severity = event.Critical
	later := testEvent("KP", event.PartialOutage, time.Hour)
	later.PrecededBy = &pre
	ids2, err := st.Write(ctx, &store.Batch{Events: []store.EventOp{
		{Key: store.KeyOf(&out), DetID: 12, Event: out},
		{Key: store.KeyOf(&later), DetID: 13, Event: later},
	}})
	if err != nil || ids2[0] != ids[1] || ids2[1] <= ids[1] {
		t.Fatalf("second batch ids %v after %v (%v)", ids2, ids, err)
	}
	if se, _ := st.Event(ctx, ids2[1]); se == nil || se.Event.PrecededBy == nil || int64(*se.Event.PrecededBy) != ids[0] {
		t.Errorf("preceded_by across batches: %+v", se)
	}
	if se, _ := st.Event(ctx, ids[1]); se == nil || se.Severity != event.Critical {
		t.Errorf("not updated in place: %+v", se)
	}
	// A batch that fails half-way (an unparseable entity type cannot be
	// stored by the interface, so use a cancelled context) leaves nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := st.Write(cctx, &store.Batch{Bins: []store.Bin{{EntityType: event.Country, EntityCode: "SY", Family: bgp.IPv4, Time: t0}}}); err == nil {
		t.Error("write with a cancelled context succeeded")
	}
	if got, _ := st.Bins(ctx, event.Country, "SY", bgp.IPv4, t0, t0); len(got) != 0 {
		t.Errorf("failed batch left %+v", got)
	}
	if _, err := st.Event(ctx, 9999); err != store.ErrNotFound {
		t.Errorf("unknown event: %v", err)
	}
	_, maxID, err := st.EventIDs(ctx)
	if err != nil || maxID != ids2[1] {
		t.Errorf("max id %d (%v), want %d", maxID, err, ids2[1])
	}
}

// testEntitiesAndDeadLetters: entities survive a reopen.
func testEntitiesAndDeadLetters(t *testing.T, b Backend) {
	ctx := context.Background()
	open := b(t)
	st := open(t)
	kp := store.Entity{Type: event.Country, Code: "KP", Families: []bgp.Family{bgp.IPv4, bgp.IPv6},
		Upstreams: []event.AS{{ASN: 4837, Name: "CHINA169", Share: 1}}, Updated: t0}
	as := store.Entity{Type: event.OriginAS, Code: "131279", Families: []bgp.Family{bgp.IPv4}, Updated: t0.Add(time.Minute)}
	if _, err := st.Write(ctx, &store.Batch{Entities: []store.Entity{kp, as}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st = open(t)
	defer st.Close()
	got, err := st.Entity(ctx, event.Country, "KP")
	if err != nil || fmt.Sprint(*got) != fmt.Sprint(kp) {
		t.Errorf("entity %+v (%v), want %+v", got, err, kp)
	}
	if _, err := st.Entity(ctx, event.Country, "XX"); err != store.ErrNotFound {
		t.Errorf("unknown entity: %v", err)
	}
	if all, _ := st.Entities(ctx, 0); len(all) != 2 {
		t.Errorf("entities %+v", all)
	}
	if ases, _ := st.Entities(ctx, event.OriginAS); len(ases) != 1 || ases[0].Code != "131279" || len(ases[0].Upstreams) != 0 {
		t.Errorf("AS entities %+v", ases)
	}
}

// testLatestAndFirstBins: a store that is a store.LatestBinner (both are)
// gives each entity's last bin at a time, and its first bin.
func testLatestAndFirstBins(t *testing.T, b Backend) {
	ctx := context.Background()
	st := b(t)(t)
	defer st.Close()
	lb, ok := st.(store.LatestBinner)
	if !ok {
		t.Skipf("%T is not a store.LatestBinner", st)
	}
	var batch store.Batch
	for i := range 4 {
		for _, code := range []string{"131279", "4837"} {
			batch.Bins = append(batch.Bins, store.Bin{EntityType: event.OriginAS, EntityCode: code, Family: bgp.IPv4, Time: t0.Add(time.Duration(i) * 5 * time.Minute), Prefixes: int32(i + 1)})
		}
	}
	batch.Bins = append(batch.Bins, store.Bin{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: t0, Prefixes: 9},
		store.Bin{EntityType: event.OriginAS, EntityCode: "131279", Family: bgp.IPv6, Time: t0, Prefixes: 7})
	if _, err := st.Write(ctx, &batch); err != nil {
		t.Fatal(err)
	}
	last, err := lb.LatestBins(ctx, event.OriginAS, bgp.IPv4, t0.Add(12*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int32{}
	for _, x := range last {
		got[x.EntityCode] = x.Prefixes
		if !x.Time.Equal(t0.Add(10 * time.Minute)) {
			t.Errorf("latest bin of %s at %s", x.EntityCode, x.Time)
		}
	}
	if len(last) != 2 || got["131279"] != 3 || got["4837"] != 3 {
		t.Errorf("latest IPv4 AS bins at +12m: %v, want 131279 and 4837 at their third bin (3)", got)
	}
	first, err := lb.FirstBins(ctx, event.OriginAS, bgp.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || first[0].Prefixes != 1 || first[1].Prefixes != 1 || !first[0].Time.Equal(t0) {
		t.Errorf("first IPv4 AS bins: %+v", first)
	}
}

// testOutbox: a notice goes into the outbox with its event change, once
// (a replay after a crash adds none); sinks start after the latest notice;
// deliveries are recorded, dead ones listed with their notice.
func testOutbox(t *testing.T, b Backend) {
	ctx := context.Background()
	open := b(t)
	run := func() []store.Notice {
		st := open(t)
		defer st.Close()
		var mu sync.Mutex
		var got []store.Notice
		w, err := store.NewWriter(ctx, st, store.WriterOptions{Committed: func(ns []store.Notice) { mu.Lock(); got = append(got, ns...); mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		go w.Run(ctx)
		inst := testEvent("KP", event.Instability, 0)
		inst.ID = 1
		out := testEvent("KP", event.Outage, 10*time.Minute)
		out.ID = 2
		out.PrecededBy = &inst.ID
		blip := testEvent("SY", event.Outage, 5*time.Minute)
		blip.ID = 3
		w.Event(store.EventOp{Key: store.KeyOf(&inst), DetID: 1, Event: *inst.Clone(), Notice: &store.NoticeOp{Type: event.Start, Time: inst.Start}})
		w.Event(store.EventOp{Key: store.KeyOf(&blip), DetID: 3, Event: *blip.Clone(), Notice: &store.NoticeOp{Type: event.Start, Time: blip.Start}})
		w.Event(store.EventOp{Key: store.KeyOf(&blip), DetID: 3, Event: *blip.Clone(), Delete: true, Notice: &store.NoticeOp{Type: event.Retract, Time: blip.Start.Add(time.Minute)}})
		w.Event(store.EventOp{Key: store.KeyOf(&out), DetID: 2, Event: *out.Clone(), Notice: &store.NoticeOp{Type: event.Start, Time: out.Start}})
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	first := run()
	if len(first) != 4 {
		t.Fatalf("first run: %d notices told, want 4: %+v", len(first), first)
	}
	for i := 1; i < len(first); i++ {
		if first[i].Seq <= first[i-1].Seq {
			t.Errorf("notice %d has seq %d after %d", i, first[i].Seq, first[i-1].Seq)
		}
	}
	if r := first[2]; r.Type != event.Retract || r.Event.ID == 0 || r.Event.ID != first[1].Event.ID {
		t.Errorf("the retraction carries id %d, the start %d", r.Event.ID, first[1].Event.ID)
	}
	if o := first[3]; o.Event.PrecededBy == nil || *o.Event.PrecededBy != first[0].Event.ID {
		t.Errorf("preceded_by %v, want the stored id %d", o.Event.PrecededBy, first[0].Event.ID)
	}
	if again := run(); len(again) != 0 {
		t.Errorf("the replay added %d notices: %+v", len(again), again)
	}
	st := open(t)
	defer st.Close()
	all, err := st.Notices(ctx, 0, 100)
	if err != nil || len(all) != 4 {
		t.Fatalf("outbox holds %d notices (%v), want 4", len(all), err)
	}
	last, _ := st.LastNoticeSeq(ctx)
	if last != all[3].Seq {
		t.Errorf("last seq %d, want %d", last, all[3].Seq)
	}
	if after, _ := st.Notices(ctx, all[1].Seq, 1); len(after) != 1 || after[0].Seq != all[2].Seq {
		t.Errorf("notices after %d, limit 1: %+v", all[1].Seq, after)
	}
	if of, _ := st.NoticesOf(ctx, all[1].Key); len(of) != 2 || of[0].Type != event.Start || of[1].Type != event.Retract {
		t.Errorf("notices of %s: %+v", all[1].Key, of)
	}
	if in, _ := st.NoticesIn(ctx, t0, t0.Add(6*time.Minute)); len(in) != 2 { // 0 and 5 min; the retraction at 6 is out
		t.Errorf("notices in [0, 6 min): %d, want 2", len(in))
	}
	// A new sink starts after the latest notice; done only moves forward.
	from, done, err := st.Sink(ctx, "hook")
	if err != nil || from != last || done != last {
		t.Errorf("new sink: from %d done %d (%v), want %d", from, done, err, last)
	}
	if err := st.SetSinkDone(ctx, "hook", last-1); err != nil {
		t.Fatal(err)
	}
	if _, done, _ := st.Sink(ctx, "hook"); done != last {
		t.Errorf("done moved back to %d", done)
	}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []store.Delivery{
		{Seq: all[0].Seq, Sink: "hook", State: store.Delivered, Attempts: 1, Time: at},
		{Seq: all[3].Seq, Sink: "hook", State: store.Dead, Attempts: 6, Error: "503", Time: at},
		{Seq: all[3].Seq, Sink: "slack", State: store.Dead, Attempts: 2, Error: "404", Time: at},
	} {
		if err := st.RecordDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := st.Handled(ctx, "hook", 0, last); len(h) != 2 || !h[all[0].Seq] || !h[all[3].Seq] {
		t.Errorf("handled for hook: %v", h)
	}
	dead, err := st.DeadLetters(ctx, store.DeadFilter{})
	if err != nil || len(dead) != 2 || dead[0].Notice.Seq != all[3].Seq || dead[0].Sink != "hook" || dead[0].Notice.Event.EntityCode != "KP" || !dead[0].Time.Equal(at) {
		t.Errorf("dead letters %+v (%v)", dead, err)
	}
	if dead, _ := st.DeadLetters(ctx, store.DeadFilter{Sink: "slack", Seqs: []int64{all[3].Seq}}); len(dead) != 1 || dead[0].Error != "404" || dead[0].Attempts != 2 {
		t.Errorf("slack's dead letters: %+v", dead)
	}
	if dead, _ := st.DeadLetters(ctx, store.DeadFilter{Seqs: []int64{all[0].Seq}}); len(dead) != 0 {
		t.Errorf("a delivered notice listed dead: %+v", dead)
	}
}
