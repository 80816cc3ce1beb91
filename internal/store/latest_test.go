package store

import (
	"context"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

func TestLatestAndFirstBins(t *testing.T) {
	st, err := OpenSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	t0 := time.Date(2014, 12, 22, 0, 0, 0, 0, time.UTC)
	var b Batch
	for i := range 4 {
		for _, code := range []string{"131279", "4837"} {
			b.Bins = append(b.Bins, Bin{EntityType: event.OriginAS, EntityCode: code, Family: bgp.IPv4, Time: t0.Add(time.Duration(i) * 5 * time.Minute), Prefixes: int32(i + 1)})
		}
	}
	b.Bins = append(b.Bins, Bin{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: t0, Prefixes: 9},
		Bin{EntityType: event.OriginAS, EntityCode: "131279", Family: bgp.IPv6, Time: t0, Prefixes: 7})
	if _, err := st.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	got := map[string]int32{}
	last, err := st.LatestBins(ctx, event.OriginAS, bgp.IPv4, t0.Add(12*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range last {
		got[x.EntityCode] = x.Prefixes
	}
	if len(last) != 2 || got["131279"] != 3 || got["4837"] != 3 {
		t.Errorf("latest IPv4 AS bins at +12m: %v, want 131279 and 4837 at their third bin (3)", got)
	}
	first, err := st.FirstBins(ctx, event.OriginAS, bgp.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || first[0].Prefixes != 1 || first[1].Prefixes != 1 {
		t.Errorf("first IPv4 AS bins: %+v", first)
	}
}
