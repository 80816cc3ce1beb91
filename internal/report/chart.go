package report

import (
	"bufio"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/signal"
)

// WriteSVG draws an entity's visible address space over time (the lowest
// value of each bin as an area, so that dips inside a bin show), its
// baseline (dashed), and its events shaded: outages red, partial outages
// orange, instability yellow, upstream changes blue.
func WriteSVG(w io.Writer, title, unit string, pts []signal.Bin, events []*event.Event) error {
	const W, H, left, right, top, bottom = 960.0, 360.0, 70.0, 20.0, 40.0, 50.0
	pw, ph := W-left-right, H-top-bottom
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	if len(pts) == 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">no data</text></svg>`+"\n", left, top+ph/2)
		_, err := io.WriteString(w, b.String())
		return err
	}
	t0, t1 := pts[0].Start, pts[len(pts)-1].Start
	if !t1.After(t0) {
		t1 = t0.Add(time.Hour)
	}
	ymax := 0.0
	for _, p := range pts {
		ymax = math.Max(ymax, math.Max(p.Space, p.Baseline))
	}
	empty := ymax <= 0
	if empty {
		ymax = 1
	}
	ystep := niceStep(ymax * 1.05 / 5)
	if ymax >= 1 {
		ystep = math.Max(1, ystep) // whole blocks
	}
	ymax = math.Ceil(ymax*1.05/ystep) * ystep
	if empty {
		ystep, ymax = 1, 1
	}
	x := func(t time.Time) float64 {
		return left + pw*float64(t.Sub(t0))/float64(t1.Sub(t0))
	}
	y := func(v float64) float64 { return top + ph - ph*v/ymax }
	colors := map[event.Kind]string{event.Outage: "#d62728", event.PartialOutage: "#ff7f0e",
		event.Instability: "#e5c100", event.UpstreamChange: "#1f77b4"}
	for _, ev := range events {
		c, ok := colors[ev.Kind]
		if !ok {
			continue
		}
		end := t1
		if ev.End != nil {
			end = *ev.End
		}
		xs, xe := math.Max(left, x(ev.Start)), math.Min(left+pw, x(end))
		if xe < xs+1 {
			xe = xs + 1
		}
		if xe <= left || xs >= left+pw {
			continue
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s" fill-opacity="0.18"><title>%s %s</title></rect>`+"\n",
			xs, top, xe-xs, ph, c, ev.Kind, html.EscapeString(fmtTime(ev.Start)))
	}
	// Axes and grid.
	for v := 0.0; v <= ymax+ystep/2; v += ystep {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n",
			left, left+pw, y(v), y(v), left-6, y(v)+4, fmtUnits(v))
	}
	step := tickStep(t1.Sub(t0))
	for t := t0.Truncate(step).Add(step); t.Before(t1); t = t.Add(step) {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#eee"/><text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n",
			x(t), x(t), top, top+ph, x(t), top+ph+16, tickLabel(t, step))
	}
	fmt.Fprintf(&b, `<text x="14" y="%.0f" transform="rotate(-90 14 %.0f)" text-anchor="middle">visible %s blocks</text>`+"\n", top+ph/2, top+ph/2, unit)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">time (UTC), from %s to %s</text>`+"\n", left+pw/2, H-8, fmtTime(t0), fmtTime(t1))
	if empty {
		// Say why there is no curve rather than draw a flat line at 0.
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle" font-size="14" fill="#8a1010">Nothing routed to it was seen in this data: no visible address space, no prefix.</text>`+"\n", left+pw/2, top+ph/2-8)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle" font-size="12" fill="#555">The registry data places no prefix seen in the routes here, or the archives hold no route to it.</text>`+"\n", left+pw/2, top+ph/2+12)
	}
	// The lowest value per bin as an area, the baseline dashed.
	// Steps: a bin's value holds until the next bin.
	var area, base strings.Builder
	end := t1
	if n := len(pts); n > 1 {
		end = pts[n-1].Start.Add(pts[n-1].Start.Sub(pts[n-2].Start))
	}
	xEnd := math.Min(x(end), left+pw)
	fmt.Fprintf(&area, "M%.1f,%.1f", x(pts[0].Start), y(0))
	for i, p := range pts {
		next := xEnd
		if i+1 < len(pts) {
			next = x(pts[i+1].Start)
		}
		fmt.Fprintf(&area, " V%.1f H%.1f", y(p.MinSpace), next)
		c := "L"
		if i == 0 {
			c = "M"
		}
		fmt.Fprintf(&base, "%s%.1f,%.1f H%.1f ", c, x(p.Start), y(p.Baseline), next)
	}
	fmt.Fprintf(&area, " V%.1f Z", y(0))
	fmt.Fprintf(&b, `<path d="%s" fill="#4a7ebb" fill-opacity="0.55" stroke="#2b5797" stroke-width="1"/>`+"\n", area.String())
	fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="#333" stroke-width="1.5" stroke-dasharray="6,4"/>`+"\n", base.String())
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", left, top, pw, ph)
	// Legend.
	lx := left + pw - 420
	fmt.Fprintf(&b, `<g transform="translate(%.0f,%.0f)"><rect width="12" height="10" fill="#4a7ebb"/><text x="16" y="10">visible</text>`+
		`<line x1="70" x2="90" y1="5" y2="5" stroke="#333" stroke-dasharray="6,4"/><text x="94" y="10">baseline</text>`+
		`<rect x="160" width="12" height="10" fill="#d62728" fill-opacity="0.3"/><text x="176" y="10">outage</text>`+
		`<rect x="230" width="12" height="10" fill="#ff7f0e" fill-opacity="0.3"/><text x="246" y="10">partial</text>`+
		`<rect x="295" width="12" height="10" fill="#e5c100" fill-opacity="0.3"/><text x="311" y="10">instability</text></g>`+"\n", lx, 14.0)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtUnits(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// niceStep returns the smallest of 1, 2, 2.5 and 5 times a power of ten
// that is at least v.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func tickStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
		if span/s <= 10 {
			return s
		}
	}
	return 30 * 24 * time.Hour
}

// tickLabel writes a time tick the ISO way, in UTC: the date at midnight
// and for steps of a day or more, the hour and minute otherwise.
func tickLabel(t time.Time, step time.Duration) string {
	t = t.UTC()
	if step >= 24*time.Hour || (t.Hour() == 0 && t.Minute() == 0) {
		return t.Format("2006-01-02")
	}
	return t.Format("15:04")
}

// WriteChartFile writes an SVG chart of entity e to path (atomically):
// the family with the larger visible space (IPv4 when both are empty),
// with its baseline and the entity's events of that family or of both.
func WriteChartFile(path string, series []*signal.Series, e signal.Entity, events []*event.Event) error {
	var best *signal.Series
	for _, s := range series {
		if s.Entity != e {
			continue
		}
		if best == nil || peak(s) > peak(best) {
			best = s
		}
	}
	if best == nil {
		return errors.New("chart: no series recorded")
	}
	var evs []*event.Event
	for _, ev := range events {
		if ev.EntityType == e.Type && ev.EntityCode == e.CodeString() && (ev.Family == best.Family || ev.Family == bgp.AllFamilies) {
			evs = append(evs, ev)
		}
	}
	title := e.String()
	if e.Type == event.Country {
		title = e.Country().Name() + " (" + e.CodeString() + ")"
	}
	title += " — visible " + best.Family.Label() + " address space"
	f, err := os.CreateTemp(filepath.Dir(path), ".chart-*")
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	f.Chmod(0o644) // CreateTemp makes it 0600; a chart is for sharing
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	if err := WriteSVG(w, title, best.Family.Unit(), best.Bins, evs); err != nil {
		f.Close()
		return fmt.Errorf("chart %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("chart %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}

func peak(s *signal.Series) float64 {
	m := 0.0
	for _, p := range s.Bins {
		m = max(m, p.Space, p.Baseline)
	}
	return m
}
