package server

import (
	"bytes"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/report"
	"github.com/blackout-bgp/blackout/internal/signal"
	"github.com/blackout-bgp/blackout/internal/store"
)

// chartPoints is the most points a chart.svg draws (about one a pixel).
const chartPoints = 960

// chartSVG draws an entity's visible address space, baseline and events
// as SVG (the chart of `blackout replay --chart`), for a family and a time
// range (the last 7 days of data by default): a chart to download, share
// or embed.
func (s *Server) chartSVG(w http.ResponseWriter, r *http.Request) {
	typ, code, ok := s.entityCode(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	family := bgp.IPv4
	switch v := q.Get("family"); v {
	case "", "ipv4":
	case "ipv6":
		family = bgp.IPv6
	default:
		writeError(w, 400, "family: want ipv4 or ipv6, got "+strconv.Quote(v))
		return
	}
	from, ok := timeParam(w, q, "from", lower)
	if !ok {
		return
	}
	until, ok := timeParam(w, q, "until", upper)
	if !ok {
		return
	}
	dt := s.opts.Status.DataTime()
	if until.IsZero() {
		until = dt
		if until.IsZero() {
			until = time.Now().UTC()
		}
	}
	if from.IsZero() {
		from = until.Add(-7 * 24 * time.Hour)
	}
	if !from.Before(until) {
		writeError(w, 400, "from: must be before until")
		return
	}
	bin := s.binWidth(r.Context())
	step := max(bin, time.Duration(math.Ceil(float64(until.Sub(from))/chartPoints)))
	step = (step + bin - 1) / bin * bin
	from = from.Truncate(step)
	et := entityType(typ)
	bins, err := s.st.Bins(r.Context(), et, code, family, from, until)
	if err != nil {
		s.internal(w, err)
		return
	}
	pts := Downsample(bins, from, until, dt, step)
	sb := make([]signal.Bin, len(pts))
	for i, p := range pts {
		sb[i] = signal.Bin{Start: p.Time, Space: p.Space, MinSpace: p.MinSpace, Baseline: p.Baseline, Prefixes: p.Prefixes}
	}
	stored, err := s.st.Events(r.Context(), store.EventFilter{EntityType: et, EntityCode: code, From: from, Until: until, Limit: 1000})
	if err != nil {
		s.internal(w, err)
		return
	}
	var evs []*event.Event
	for i := range stored {
		if e := &stored[i].Event; e.Family == family || e.Family == bgp.AllFamilies {
			evs = append(evs, e)
		}
	}
	title := "AS" + code
	if n := s.asName(code); typ == "asn" && n != "" {
		title += " " + n
	}
	if typ == "country" {
		c, _ := geo.ParseCountry(code)
		title = c.Name() + " (" + code + ")"
	}
	title += " — visible " + family.Label() + " address space"
	var b bytes.Buffer
	if err := report.WriteSVG(&b, title, family.Unit(), sb, evs); err != nil {
		s.internal(w, err)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}
