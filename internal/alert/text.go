package alert

import (
	"fmt"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// Label names an event's entity for people: "North Korea (KP)",
// "AS131279 (Star Joint Venture Co. Ltd.)", "peer 192.0.2.1".
func Label(ev *event.Event) string {
	switch ev.EntityType {
	case event.Country:
		if ev.EntityName != "" {
			return ev.EntityName + " (" + ev.EntityCode + ")"
		}
		return ev.EntityCode
	case event.OriginAS:
		if ev.EntityName != "" {
			return "AS" + ev.EntityCode + " (" + ev.EntityName + ")"
		}
		return "AS" + ev.EntityCode
	}
	return ev.EntityType.String() + " " + ev.EntityCode
}

// short is the entity without its name: "KP", "AS131279".
func short(ev *event.Event) string {
	if ev.EntityType == event.OriginAS {
		return "AS" + ev.EntityCode
	}
	if ev.EntityType == event.Country && ev.EntityName != "" {
		return ev.EntityName
	}
	return ev.EntityCode
}

// FormatDuration writes a duration the way the reports do: 45s, 59m59s,
// 9h31m, 2d09h (event.FormatDuration).
func FormatDuration(d time.Duration) string { return event.FormatDuration(d) }

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func kindWords(k event.Kind) string { return strings.ReplaceAll(string(k), "_", " ") }

// firstSentence returns the explanation's first sentence.
func firstSentence(s string) string { return event.FirstSentence(s) }

// causeWords names the causes the event is consistent with (" Consistent
// with: origin_side, after_instability (not a verdict)."), empty without.
func causeWords(ev *event.Event) string {
	if len(ev.Causes) == 0 {
		return ""
	}
	codes := make([]string, 0, len(ev.Causes))
	for _, c := range ev.Causes {
		codes = append(codes, string(c.Cause))
	}
	return " Routing data consistent with: " + strings.Join(codes, ", ") + " (not a verdict)."
}

// Text is the one-paragraph message of a notice.
func Text(n *Notice) string {
	ev := &n.Event
	fam := ""
	if ev.Family == bgp.IPv4 || ev.Family == bgp.IPv6 {
		fam = " (" + ev.Family.Label() + ")"
	}
	switch n.Type {
	case event.Start:
		return fmt.Sprintf("%s: %s%s, %s, since %s. %s%s", Label(ev), kindWords(ev.Kind), fam, ev.Severity, fmtTime(ev.Start), firstSentence(ev.Explanation), causeWords(ev))
	case event.Escalate:
		return fmt.Sprintf("%s: now %s%s, %s (since %s). %s%s", Label(ev), kindWords(ev.Kind), fam, ev.Severity, fmtTime(ev.Start), firstSentence(ev.Explanation), causeWords(ev))
	case event.End:
		end := n.Time
		if ev.End != nil {
			end = *ev.End
		}
		d := FormatDuration(end.Sub(ev.Start))
		if ev.Kind == event.Outage || ev.Kind == event.PartialOutage {
			return fmt.Sprintf("%s is back after %s: the %s%s of %s that began at %s ended at %s.", short(ev), d, kindWords(ev.Kind), fam, Label(ev), fmtTime(ev.Start), fmtTime(end))
		}
		return fmt.Sprintf("%s: %s%s ended at %s, after %s.", Label(ev), kindWords(ev.Kind), fam, fmtTime(end), d)
	case event.Retract:
		return fmt.Sprintf("%s: the %s%s reported at %s is retracted: visibility came back within moments (a transient drop).", Label(ev), kindWords(ev.Kind), fam, fmtTime(ev.Start))
	}
	return fmt.Sprintf("%s: %s %s", Label(ev), n.Type, kindWords(ev.Kind))
}
