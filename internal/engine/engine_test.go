package engine

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store"
)

// strip returns an event's JSON without its id and preceded_by (numbers
// that differ between a store and a replay).
func strip(t *testing.T, ev event.Event) string {
	t.Helper()
	ev.ID, ev.PrecededBy = 0, nil
	b, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServeStoresWhatReplayReports: the engine of `serve` stores, for the
// demo, exactly the events `replay` reports (IPv4 and IPv6 joined by the
// detector in both), and the notices it hands on (hub, alerts) carry the
// stored ids.
func TestServeStoresWhatReplayReports(t *testing.T) {
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.DefaultConfig(db)
	res, err := pipeline.Run(context.Background(), source.Merge(demo.Sources()), pipeline.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, ev := range res.Events {
		want = append(want, strip(t, *ev))
	}

	st, err := store.OpenSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, err := New(context.Background(), Config{Store: st, Geo: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	sub := eng.Hub().Subscribe()
	defer sub.Close()
	ch := sub.C()
	if _, err := eng.Run(context.Background(), source.Merge(demo.Sources()), pipeline.Options{Config: cfg}); err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	stored, err := st.Events(context.Background(), store.EventFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	ids := map[int]bool{}
	for _, se := range stored {
		got = append(got, strip(t, se.Event))
		ids[int(se.ID)] = true
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("stored events differ from replay's:\n got %d: %v\nwant %d: %v", len(got), got, len(want), want)
	}
	n := 0
	for len(ch) > 0 {
		m := <-ch
		if m.Event != "notice" {
			continue
		}
		var x struct {
			Type  event.NoticeType `json:"type"`
			Event event.Event      `json:"event"`
		}
		if err := json.Unmarshal(m.Data, &x); err != nil {
			t.Fatal(err)
		}
		if x.Type != event.Retract && !ids[x.Event.ID] {
			t.Errorf("notice %s of %s %s carries id %d, not a stored one", x.Type, x.Event.Kind, x.Event.EntityCode, x.Event.ID)
		}
		n++
	}
	if n == 0 {
		t.Error("no notice reached the hub")
	}
}
