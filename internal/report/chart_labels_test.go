package report_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/report"
	"github.com/blackout-bgp/blackout/internal/signal"
)

// TestWriteSVGLabels: the time axis is ISO and UTC (no "Dec 22", no 12-hour
// clock), and a chart of an entity with nothing visible says why instead
// of drawing fractional labels around a line at 0.
func TestWriteSVGLabels(t *testing.T) {
	start := time.Date(2014, 12, 21, 18, 0, 0, 0, time.UTC)
	var pts []signal.Bin
	for i := range 24 {
		pts = append(pts, signal.Bin{Start: start.Add(time.Duration(i) * time.Hour), Space: 4, MinSpace: 4, Baseline: 4})
	}
	var b bytes.Buffer
	if err := report.WriteSVG(&b, "KP", "/24", pts, nil); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	for _, want := range []string{">2014-12-22<", ">21:00<", "time (UTC)"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if regexp.MustCompile(`>(Jan|Dec) \d\d<|[ap]m<`).MatchString(svg) {
		t.Error("chart has a month-name or 12-hour label")
	}
	for i := range pts {
		pts[i].Space, pts[i].MinSpace, pts[i].Baseline = 0, 0, 0
	}
	b.Reset()
	if err := report.WriteSVG(&b, "CN", "/24", pts, nil); err != nil {
		t.Fatal(err)
	}
	svg = b.String()
	if !strings.Contains(svg, "Nothing routed to it was seen") {
		t.Error("an empty chart does not say why it is empty")
	}
	if regexp.MustCompile(`>0\.\d<`).MatchString(svg) {
		t.Error("an empty chart has fractional y labels")
	}
}
