package alert

import (
	"strings"
	"testing"

	"github.com/blackout-bgp/blackout/internal/event"
)

// TestTextCauses: a start alert names the causes the event is consistent
// with, in their order, and says it is not a verdict; without causes it
// says nothing of them.
func TestTextCauses(t *testing.T) {
	ev := kpOutage()
	ev.End = nil
	if got := Text(&Notice{Type: event.Start, Event: ev, Time: ev.Start}); strings.Contains(got, "consistent") {
		t.Errorf("no causes, yet: %s", got)
	}
	ev.Causes = []event.Cause{{Cause: event.OriginSide, Evidence: "AS4837 kept 780 of its 780 other routes"}, {Cause: event.AfterInstability, Evidence: "..."}}
	got := Text(&Notice{Type: event.Start, Event: ev, Time: ev.Start})
	if !strings.HasSuffix(got, "Routing data consistent with: origin_side, after_instability (not a verdict).") {
		t.Errorf("start text: %s", got)
	}
}
