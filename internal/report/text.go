package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
)

// Summary describes the run that found the events.
type Summary struct {
	Title       string // e.g. "blackout replay"
	Inputs      int
	RouteEvents int64
	First, Last time.Time
	Peers       int
	FullFeed    [2]int
	Prefixes    int
	Errors      int
	Filter      string // e.g. "country KP", empty for none
	Hidden      int    // events left out by the filter
	// Coverage is what could be judged; nil when unknown (then the report
	// claims nothing about what was not judged).
	Coverage *event.Coverage
}

// WriteText writes the readable report: the run, the events in time order
// with their explanations, and a summary per entity.
func WriteText(w io.Writer, s Summary, events []*event.Event) error {
	bw := &errWriter{w: w}
	fmt.Fprintf(bw, "%s: %s -> %s (%s of data), %s route events from %d input(s)\n", s.Title,
		fmtTime(s.First), fmtTime(s.Last), fmtDur(s.Last.Sub(s.First)), thousands(s.RouteEvents), s.Inputs)
	fmt.Fprintf(bw, "view: %d vantage points (%d full-feed IPv4, %d full-feed IPv6), %s prefixes; %d input errors\n",
		s.Peers, s.FullFeed[0], s.FullFeed[1], thousands(int64(s.Prefixes)), s.Errors)
	if s.Filter != "" {
		fmt.Fprintf(bw, "showing %s (%d other events hidden)\n", s.Filter, s.Hidden)
	}
	if c := s.Coverage; c != nil {
		fmt.Fprintln(bw, "judged:")
		for _, st := range c.Statements() {
			fmt.Fprintf(bw, "  %s\n", wrap(st, 100, "  "))
		}
	}
	fmt.Fprintln(bw)
	if len(events) == 0 {
		switch c := s.Coverage; {
		case c != nil && !c.Judged():
			fmt.Fprintln(bw, "No events, and nothing could be judged (see above): this says nothing about whether anything went dark.")
		case c != nil && len(c.Undecoded) > 0:
			fmt.Fprintln(bw, "No events in what was judged; records that were not decoded were not judged (see above).")
		case c != nil && c.LongPaths > 0:
			fmt.Fprintln(bw, "No events in what was judged; announcements dropped for their AS path's length were not judged (see above).")
		case c != nil:
			fmt.Fprintln(bw, "No events in what was judged: nothing went dark.")
		default:
			fmt.Fprintln(bw, "No events.")
		}
		return bw.err
	}
	fmt.Fprintf(bw, "EVENTS (%d, in time order)\n", len(events))
	for _, ev := range events {
		until := "ongoing"
		if ev.End != nil {
			until = "until " + fmtTime(*ev.End) + " (" + fmtDur(ev.End.Sub(ev.Start)) + ")"
		}
		lost := ""
		if ev.Kind == event.Outage || ev.Kind == event.PartialOutage {
			lost = fmt.Sprintf("  lost %.0f%%", ev.FractionLost*100)
		}
		fmt.Fprintf(bw, "%s  %-15s %-8s %-7s %-30s %-4s %s%s\n", fmtTime(ev.Start), ev.Kind, ev.Severity,
			entityTag(ev), clip(ev.EntityName, 30), ev.Family, until, lost)
		fmt.Fprintf(bw, "    %s\n", wrap(ev.Explanation, 100, "    "))
		writeCauses(bw, ev)
	}
	fmt.Fprintln(bw)
	writeSummary(bw, events)
	return bw.err
}

// writeCauses writes the causes an event is consistent with, best fit
// first, and what routing data cannot see.
func writeCauses(w io.Writer, ev *event.Event) {
	if len(ev.Causes) == 0 {
		return
	}
	fmt.Fprintln(w, "    Causes consistent with the routing data (best fit first; not a verdict):")
	for i, c := range ev.Causes {
		fmt.Fprintf(w, "      %d. %s\n", i+1, wrap(string(c.Cause)+": "+c.Evidence+".", 98, "         "))
	}
	if x := ev.Evidence; x != nil && x.Unseen != "" {
		fmt.Fprintf(w, "      %s\n", wrap("What it cannot see: "+x.Unseen, 98, "      "))
	}
}

var plurals = map[event.Kind]string{event.Outage: "outages", event.PartialOutage: "partial outages",
	event.Instability: "instabilities", event.UpstreamChange: "upstream changes"}

func entityTag(ev *event.Event) string {
	switch ev.EntityType {
	case event.OriginAS:
		return "AS" + ev.EntityCode
	case event.Peer:
		return "peer"
	}
	return ev.EntityCode
}

func writeSummary(w io.Writer, events []*event.Event) {
	type agg struct {
		label  string
		counts map[event.Kind][]string
		order  int
	}
	byEntity := map[string]*agg{}
	peerEvents := 0
	for i, ev := range events {
		if ev.EntityType == event.Peer {
			peerEvents++
			continue
		}
		k := ev.EntityType.String() + ":" + ev.EntityCode
		a := byEntity[k]
		if a == nil {
			label := entityTag(ev)
			if ev.EntityType == event.Peer {
				label = ev.EntityCode
			}
			a = &agg{label: label + " " + ev.EntityName, counts: map[event.Kind][]string{}, order: i}
			byEntity[k] = a
		}
		d := "ongoing"
		if ev.End != nil {
			d = fmtDur(ev.End.Sub(ev.Start))
		}
		a.counts[ev.Kind] = append(a.counts[ev.Kind], d)
	}
	list := make([]*agg, 0, len(byEntity))
	for _, a := range byEntity {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].order < list[j].order })
	fmt.Fprintln(w, "SUMMARY PER ENTITY")
	for _, a := range list {
		var parts []string
		for _, kind := range []event.Kind{event.Outage, event.PartialOutage, event.Instability, event.UpstreamChange} {
			if ds := a.counts[kind]; len(ds) > 0 {
				name := strings.ReplaceAll(string(kind), "_", " ")
				if len(ds) > 1 {
					name = plurals[kind]
				}
				parts = append(parts, fmt.Sprintf("%d %s (%s)", len(ds), name, strings.Join(ds, ", ")))
			}
		}
		fmt.Fprintf(w, "  %-40s %s\n", clip(a.label, 40), strings.Join(parts, "; "))
	}
	fmt.Fprintf(w, "  peer events: %d (vantage-point session resets and table flushes: shown, never counted as outages)\n", peerEvents)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func fmtDur(d time.Duration) string { return event.FormatDuration(d) }

func thousands(n int64) string { return event.Thousands(n) }

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// wrap breaks s into lines of at most width runes, indenting the following
// lines with indent.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		if i > 0 {
			if n+1+len(word) > width {
				b.WriteString("\n" + indent)
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
