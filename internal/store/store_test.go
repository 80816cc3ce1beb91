package store

import (
	"context"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// runWriter starts w.Run and returns a function that stops it and waits.
func runWriter(t *testing.T, w *Writer) func() {
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

func TestWriterResumeAndEvents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	bin := func(i int, space float64) Bin {
		return Bin{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: t0.Add(time.Duration(i) * 5 * time.Minute), Space: space}
	}
	w, err := NewWriter(ctx, st, WriterOptions{Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stop := runWriter(t, w)
	for i := 0; i < 4; i++ {
		w.AddBin(bin(i, 4))
	}
	inst := event.Event{ID: 1, EntityType: event.Country, EntityCode: "KP", Kind: event.Instability, Family: bgp.AllFamilies, Start: t0, Severity: event.Warning}
	out := event.Event{ID: 2, EntityType: event.Country, EntityCode: "KP", Kind: event.PartialOutage, Family: bgp.IPv4, Start: t0.Add(15 * time.Minute), Severity: event.Warning}
	idInst := w.Event(EventOp{Key: KeyOf(&inst), DetID: 1, Event: inst})
	key := KeyOf(&out)
	pre := 1
	out.PrecededBy = &pre
	idOut := w.Event(EventOp{Key: key, DetID: 2, Event: *out.Clone()})
	if idOut == idInst || idInst != 1 || idOut != 2 {
		t.Fatal(idInst, idOut)
	}
	// Escalation changes the kind; the natural key keeps the kind at start.
	out.Kind, out.Severity = "outage", "critical"
	if id := w.Event(EventOp{Key: key, DetID: 2, Event: *out.Clone()}); id != idOut {
		t.Fatalf("escalation got id %d, want %d", id, idOut)
	}
	w.Progress(t0.Add(16*time.Minute), 100)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	got, err := st.Event(ctx, idOut)
	if err != nil || got.Kind != "outage" || got.Event.ID != int(idOut) || got.Event.PrecededBy == nil || int64(*got.Event.PrecededBy) != idInst {
		t.Fatalf("stored %+v (%v)", got, err)
	}
	st.Close()

	// A second run over the same data: bins before the last stored time
	// are skipped, those at it and after written; events upserted.
	st, err = OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err = NewWriter(ctx, st, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer runWriter(t, w)()
	if !w.SkipBefore().Equal(bin(3, 0).Time) || !w.ResumedTo().Equal(t0.Add(16*time.Minute)) {
		t.Errorf("resume: skip before %v, resumed to %v", w.SkipBefore(), w.ResumedTo())
	}
	for i := 0; i < 6; i++ {
		w.AddBin(bin(i, float64(10+i))) // changed values show which were rewritten
	}
	out.Kind, out.Severity = "partial_outage", "warning"
	if id := w.Event(EventOp{Key: key, DetID: 2, Event: *out.Clone()}); id != idOut {
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
	// Retraction deletes; the id is not reused.
	if id := w.Event(EventOp{Key: key, Delete: true}); id != 0 {
		t.Fatalf("deletion returned id %d", id)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Event(ctx, idOut); err != ErrNotFound {
		t.Errorf("retracted event still there: %v", err)
	}
	third := event.Event{EntityType: event.OriginAS, EntityCode: "131279", Kind: event.Outage, Family: bgp.AllFamilies, Start: t0.Add(time.Hour), Severity: event.Critical}
	id3 := w.Event(EventOp{Key: KeyOf(&third), DetID: 3, Event: third})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if id3 <= idOut {
		t.Errorf("id %d reused after %d", id3, idOut)
	}
	// Paging, newest first, and filters.
	evs, _ := st.Events(ctx, EventFilter{Limit: 1})
	if len(evs) != 1 || evs[0].ID != id3 {
		t.Fatalf("first page %+v", evs)
	}
	evs, _ = st.Events(ctx, EventFilter{Limit: 5, After: &Cursor{Start: evs[0].Key.Start, ID: evs[0].ID}})
	if len(evs) != 1 || evs[0].ID != idInst {
		t.Errorf("second page %+v", evs)
	}
	if evs, _ := st.Events(ctx, EventFilter{Severity: event.Critical, Ongoing: true}); len(evs) != 1 || evs[0].ID != id3 {
		t.Errorf("critical ongoing: %+v", evs)
	}
	if n, _ := st.CountOpen(ctx); n != 2 {
		t.Errorf("open %d, want 2", n)
	}
	// Retention prunes bins relative to data time.
	if n, err := st.PruneBins(ctx, bin(2, 0).Time); err != nil || n != 2 {
		t.Errorf("pruned %d (%v), want 2", n, err)
	}
}
