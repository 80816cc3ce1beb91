package store

import (
	"context"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

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
	for i := 0; i < 4; i++ {
		w.AddBin(bin(i, 4))
	}
	inst := event.Event{ID: 1, EntityType: event.Country, EntityCode: "KP", Kind: event.Instability, Family: bgp.AllFamilies, Start: t0, Severity: event.Warning}
	out := event.Event{ID: 2, EntityType: event.Country, EntityCode: "KP", Kind: event.PartialOutage, Family: bgp.IPv4, Start: t0.Add(15 * time.Minute), Severity: event.Warning}
	idInst, err := w.Event(ctx, EventOp{Key: KeyOf(&inst), DetID: 1, Event: inst}, true)
	if err != nil {
		t.Fatal(err)
	}
	key := KeyOf(&out)
	pre := 1
	out.PrecededBy = &pre
	idOut, err := w.Event(ctx, EventOp{Key: key, DetID: 2, Event: out}, true)
	if err != nil || idOut == idInst {
		t.Fatal(idOut, err)
	}
	// Escalation changes the kind; the natural key keeps the kind at start.
	out.Kind, out.Severity = "outage", "critical"
	if id, err := w.Event(ctx, EventOp{Key: key, DetID: 2, Event: out}, true); err != nil || id != idOut {
		t.Fatalf("escalation wrote id %d (%v), want %d", id, err, idOut)
	}
	w.Progress(t0.Add(16*time.Minute), 100)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
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
	if !w.SkipBefore().Equal(bin(3, 0).Time) || !w.ResumedTo().Equal(t0.Add(16*time.Minute)) {
		t.Errorf("resume: skip before %v, resumed to %v", w.SkipBefore(), w.ResumedTo())
	}
	for i := 0; i < 6; i++ {
		w.AddBin(bin(i, float64(10+i))) // changed values show which were rewritten
	}
	out.Kind, out.Severity = "partial_outage", "warning"
	if id, err := w.Event(ctx, EventOp{Key: key, DetID: 2, Event: out}, true); err != nil || id != idOut {
		t.Fatalf("replayed start wrote id %d (%v), want %d", id, err, idOut)
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
	if _, err := w.Event(ctx, EventOp{Key: key, Delete: true}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Event(ctx, idOut); err != ErrNotFound {
		t.Errorf("retracted event still there: %v", err)
	}
	third := event.Event{EntityType: event.OriginAS, EntityCode: "131279", Kind: event.Outage, Family: bgp.AllFamilies, Start: t0.Add(time.Hour), Severity: event.Critical}
	id3, _ := w.Event(ctx, EventOp{Key: KeyOf(&third), DetID: 3, Event: third}, true)
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
