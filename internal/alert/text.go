package alert

import (
	"fmt"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/detect"
)

// Label names an event's entity for people: "North Korea (KP)",
// "AS131279 (Star Joint Venture Co. Ltd.)", "peer 192.0.2.1".
func Label(ev *detect.Event) string {
	switch ev.EntityType {
	case "country":
		if ev.EntityName != "" {
			return ev.EntityName + " (" + ev.EntityCode + ")"
		}
		return ev.EntityCode
	case "asn":
		if ev.EntityName != "" {
			return "AS" + ev.EntityCode + " (" + ev.EntityName + ")"
		}
		return "AS" + ev.EntityCode
	}
	return ev.EntityType + " " + ev.EntityCode
}

// short is the entity without its name: "KP", "AS131279".
func short(ev *detect.Event) string {
	if ev.EntityType == "asn" {
		return "AS" + ev.EntityCode
	}
	if ev.EntityType == "country" && ev.EntityName != "" {
		return ev.EntityName
	}
	return ev.EntityCode
}

// FormatDuration writes a duration the way the reports do: 45s, 59m59s,
// 9h31m, 2d09h.
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%02dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, (d%time.Minute)/time.Second)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func kindWords(k string) string { return strings.ReplaceAll(k, "_", " ") }

// firstSentence returns the explanation's first sentence.
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}

// Text is the one-paragraph message of a notice.
func Text(n *Notice) string {
	ev := &n.Event
	fam := ""
	if ev.Family == "ipv4" || ev.Family == "ipv6" {
		fam = " (" + map[string]string{"ipv4": "IPv4", "ipv6": "IPv6"}[ev.Family] + ")"
	}
	switch n.Type {
	case "start":
		return fmt.Sprintf("%s: %s%s, %s, since %s. %s", Label(ev), kindWords(ev.Kind), fam, ev.Severity, fmtTime(ev.Start), firstSentence(ev.Explanation))
	case "escalate":
		return fmt.Sprintf("%s: now %s%s, %s (since %s). %s", Label(ev), kindWords(ev.Kind), fam, ev.Severity, fmtTime(ev.Start), firstSentence(ev.Explanation))
	case "end":
		end := n.Time
		if ev.End != nil {
			end = *ev.End
		}
		d := FormatDuration(end.Sub(ev.Start))
		if ev.Kind == detect.KindOutage || ev.Kind == detect.KindPartialOutage {
			return fmt.Sprintf("%s is back after %s: the %s%s of %s that began at %s ended at %s.", short(ev), d, kindWords(ev.Kind), fam, Label(ev), fmtTime(ev.Start), fmtTime(end))
		}
		return fmt.Sprintf("%s: %s%s ended at %s, after %s.", Label(ev), kindWords(ev.Kind), fam, fmtTime(end), d)
	case "retract":
		return fmt.Sprintf("%s: the %s%s reported at %s is retracted: visibility came back within moments (a transient drop).", Label(ev), kindWords(ev.Kind), fam, fmtTime(ev.Start))
	}
	return fmt.Sprintf("%s: %s %s", Label(ev), n.Type, kindWords(ev.Kind))
}
