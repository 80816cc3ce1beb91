package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
)

// NoticeLine formats a notice as one readable line: time, notice type,
// kind, severity, entity, family and the first sentence of the explanation.
func NoticeLine(n event.Notice) string {
	ev := n.Event
	t := n.Time
	if t.IsZero() {
		t = ev.Start
	}
	entity := ev.EntityCode
	switch ev.EntityType {
	case event.OriginAS:
		entity = "AS" + ev.EntityCode
	case event.Peer:
		entity = "peer " + ev.EntityCode
	}
	if ev.EntityName != "" {
		entity += " (" + ev.EntityName + ")"
	}
	var extra string
	switch n.Type {
	case event.End, event.Retract:
		extra = fmt.Sprintf(" after %s", ev.Duration(t).Round(time.Second))
	default:
		if ev.FractionLost > 0 {
			extra = fmt.Sprintf(" lost %.0f%%", ev.FractionLost*100)
		}
	}
	return fmt.Sprintf("%s  %-8s %-15s %-8s %s %s%s: %s",
		t.UTC().Format("2006-01-02 15:04:05.000 UTC"), strings.ToUpper(string(n.Type)), ev.Kind, ev.Severity,
		entity, ev.Family, extra, firstSentence(ev.Explanation))
}

// firstSentence returns s up to the end of its first sentence, on one
// line, names with "Co. Ltd." whole (event.FirstSentence).
func firstSentence(s string) string { return event.FirstSentence(s) }
