package pipeline_test

import (
	"context"
	"testing"

	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
)

// lifecycle counts the notices of every event as a sink sees them.
type lifecycle struct {
	t     *testing.T
	seen  map[*event.Event][]event.NoticeType
	order []*event.Event
}

func (l *lifecycle) Notify(n event.Notice) {
	ts := l.seen[n.Event]
	if len(ts) == 0 {
		l.order = append(l.order, n.Event)
		if n.Type != event.Start {
			l.t.Errorf("%s of %s %s before its start", n.Type, n.Event.Kind, n.Event.EntityCode)
		}
	}
	if len(ts) > 0 && (ts[len(ts)-1] == event.End || ts[len(ts)-1] == event.Retract) {
		l.t.Errorf("%s of %s %s after its %s", n.Type, n.Event.Kind, n.Event.EntityCode, ts[len(ts)-1])
	}
	l.seen[n.Event] = append(ts, n.Type)
}

// TestDemoLifecycle: in the demo (what serve --demo sends to the store, the
// stream and the alerts) every event has one start, at most one
// escalation, and one end; nothing comes after an end.
func TestDemoLifecycle(t *testing.T) {
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	l := &lifecycle{t: t, seen: map[*event.Event][]event.NoticeType{}}
	res, err := pipeline.Run(context.Background(), source.Merge(demo.Sources()), pipeline.Options{Config: pipeline.DefaultConfig(db), Sinks: []pipeline.Sink{l}})
	if err != nil {
		t.Fatal(err)
	}
	count := map[event.NoticeType]int{}
	for _, ev := range l.order {
		esc := 0
		for _, ty := range l.seen[ev] {
			count[ty]++
			if ty == event.Escalate {
				esc++
			}
		}
		if esc > 1 {
			t.Errorf("%s of %s %s escalated %d times: %v", ev.Kind, ev.EntityType, ev.EntityCode, esc, l.seen[ev])
		}
	}
	if len(res.Events) != 6 || count[event.Start] != 6 || count[event.End] != 6 || count[event.Retract] != 0 {
		t.Errorf("%d events; notices %v: want 6 events, 6 starts, 6 ends", len(res.Events), count)
	}
	t.Logf("notices: %v", count)
}
