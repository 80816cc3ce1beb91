package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/report"
	"github.com/blackout-bgp/blackout/internal/signal"
)

var t0 = time.Date(2014, 12, 22, 16, 15, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

func mkEvent(kind event.Kind, family bgp.Family, start time.Duration, end *time.Time) *event.Event {
	return &event.Event{EntityType: event.OriginAS, EntityCode: "131279", EntityName: "Star Joint Venture", Kind: kind, Family: family,
		Start: t0.Add(start), End: end, Severity: event.Critical, FractionLost: 1, AffectedPrefixes: 1,
		Prefixes: []string{family.String() + "-prefix"}, Origins: []uint32{131279}, UpstreamsBefore: []uint32{4837},
		Explanation: "All " + family.String() + " prefixes were reached only through AS4837 (China Unicom)."}
}

func TestWriteText(t *testing.T) {
	ev := mkEvent(event.Outage, bgp.AllFamilies, 0, at(9*time.Hour+31*time.Minute))
	var b bytes.Buffer
	s := report.Summary{Title: "blackout replay", Inputs: 2, RouteEvents: 12345, First: t0.Add(-time.Hour), Last: t0.Add(10 * time.Hour), Peers: 10, FullFeed: [2]int{10, 0}, Prefixes: 8}
	if err := report.WriteText(&b, s, []*event.Event{ev}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"blackout replay", "AS131279", "Star Joint Venture", "outage", "critical", "China Unicom", "2014-12-22"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := report.WriteText(&b, s, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No events") {
		t.Errorf("empty report:\n%s", b.String())
	}
	// JSON: one object per line with the fields the issue names.
	b.Reset()
	if err := report.WriteJSON(&b, []*event.Event{ev, mkEvent(event.PartialOutage, bgp.IPv4, time.Hour, nil)}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d JSON lines, want 2", len(lines))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"entity_type", "entity_code", "entity_name", "kind", "family", "start", "end", "severity", "fraction_lost", "affected_prefixes", "prefixes", "origins", "upstreams_before", "explanation"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if m["end"] != nil {
		t.Errorf("ongoing event: end %v, want null", m["end"])
	}
}

func TestWriteSVG(t *testing.T) {
	var pts []signal.Bin
	for i := range 48 {
		v := 4.0
		if i >= 20 && i < 30 {
			v = 0
		}
		pts = append(pts, signal.Bin{Start: t0.Add(time.Duration(i-10) * 30 * time.Minute), Space: v, MinSpace: v, Baseline: 4})
	}
	events := []*event.Event{
		mkEvent(event.Instability, bgp.AllFamilies, -4*time.Hour, at(-time.Hour)),
		mkEvent(event.Outage, bgp.AllFamilies, 0, at(5*time.Hour)),
		mkEvent(event.PartialOutage, bgp.IPv4, 6*time.Hour, nil),   // ongoing: shaded to the end
		{Kind: event.PeerEvent, EntityType: event.Peer, Start: t0}, // not drawn
	}
	var b bytes.Buffer
	if err := report.WriteSVG(&b, `AS131279 "Star" <Joint> & Venture`, "/24", pts, events); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&b)
	shaded, root := 0, ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "rect" {
				for _, a := range se.Attr {
					if a.Name.Local == "fill-opacity" && a.Value == "0.18" {
						shaded++
					}
				}
			}
		}
	}
	if root != "svg" {
		t.Errorf("root element %q, want svg", root)
	}
	if shaded != 3 {
		t.Errorf("%d shaded rects, want 3 (one per outage, partial outage and instability)", shaded)
	}
	// No data: still well-formed.
	b.Reset()
	if err := report.WriteSVG(&b, "empty", "/24", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
		t.Errorf("empty chart: %v", err)
	}
}
