package report

import (
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/signal"
)

// FilterEvents keeps the events of the chosen entities (all when none are
// chosen); peer events are kept in both cases, as context.
func FilterEvents(events []*event.Event, ents []signal.Entity) (shown []*event.Event, hidden int) {
	if len(ents) == 0 {
		return events, 0
	}
	for _, ev := range events {
		keep := ev.EntityType == event.Peer
		for _, e := range ents {
			if ev.EntityType == e.Type && ev.EntityCode == e.CodeString() {
				keep = true
			}
		}
		if keep {
			shown = append(shown, ev)
		} else {
			hidden++
		}
	}
	return shown, hidden
}
