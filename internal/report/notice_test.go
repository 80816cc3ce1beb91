package report

import (
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// TestNoticeLine checks the readable form of a notice.
func TestNoticeLine(t *testing.T) {
	end := time.Date(2014, 12, 23, 1, 46, 4, 0, time.UTC)
	ev := &event.Event{EntityType: event.Country, EntityCode: "KP", EntityName: "North Korea", Kind: event.Outage, Family: bgp.AllFamilies,
		Start: time.Date(2014, 12, 22, 16, 15, 4, 0, time.UTC), Severity: event.Critical, FractionLost: 1,
		Explanation: "North Korea (KP) went dark: 100% of its visible IPv4 address space. 4 prefixes became unreachable."}
	got := NoticeLine(event.Notice{Type: event.Start, Event: ev, Time: ev.Start})
	want := "2014-12-22 16:15:04.000 UTC  START    outage          critical KP (North Korea) all lost 100%: North Korea (KP) went dark: 100% of its visible IPv4 address space."
	if got != want {
		t.Errorf("start:\n got %q\nwant %q", got, want)
	}
	ev.End = &end
	got = NoticeLine(event.Notice{Type: event.End, Event: ev, Time: end})
	if !strings.Contains(got, "END      outage") || !strings.Contains(got, "after 9h31m0s") {
		t.Errorf("end: %q", got)
	}
}
