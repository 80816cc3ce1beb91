package store

import (
	"context"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// BenchmarkWriterBins hands bins to a running writer and writes them
// (one op: one bin handed in and, amortised, stored).
func BenchmarkWriterBins(b *testing.B) {
	ctx := context.Background()
	st, err := OpenSQLite(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	w, err := NewWriter(ctx, st, WriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	go w.Run(ctx)
	codes := []string{"KP", "SY", "IR", "CU", "VE", "MM", "ET", "SD"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.AddBin(Bin{EntityType: event.Country, EntityCode: codes[i%len(codes)], Family: bgp.IPv4,
			Time: t0.Add(time.Duration(i/len(codes)) * 5 * time.Minute), Space: float64(i)})
	}
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEventWithNotice hands event changes with their notices in
// (the outbox path) and writes them.
func BenchmarkEventWithNotice(b *testing.B) {
	ctx := context.Background()
	st, err := OpenSQLite(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	w, err := NewWriter(ctx, st, WriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	go w.Run(ctx)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := testEvent("KP", event.Outage, time.Duration(i)*time.Minute)
		w.Event(EventOp{Key: KeyOf(&ev), Event: ev, Notice: &NoticeOp{Type: event.Start, Time: ev.Start}})
	}
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
}
