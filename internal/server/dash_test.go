package server

// TestDashboardPages drives every page of the real `blackout serve --demo`
// in chromium at a desktop width and at a 412 px phone, checks what issue
// 15 found wrong, and saves a screenshot of each (in the test's temporary
// directory, and in BLACKOUT_SCREENSHOTS when set).

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/blackout-bgp/blackout/internal/event"
)

func fetchJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

func TestDashboardPages(t *testing.T) {
	base := startServe(t, "max")
	waitReplay(t, base)

	// From outside: the transit AS has a page in the API, and its dependants.
	var ent struct {
		Families []string `json:"families"`
	}
	// The last entities reach the store at the replay's final flush; the
	// index of who depends on whom follows within a few seconds.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var tr TransitJSON
		if fetchJSON(t, base+"/api/v1/entities/asn/4837/transit", &tr) == 200 && len(tr.Countries) > 0 {
			break
		}
		time.Sleep(time.Second)
	}
	if c := fetchJSON(t, base+"/api/v1/entities/asn/4837", &ent); c != 200 {
		t.Fatalf("GET /api/v1/entities/asn/4837: %d, want 200 (a transit AS has a page)", c)
	}
	var tr TransitJSON
	if c := fetchJSON(t, base+"/api/v1/entities/asn/4837/transit", &tr); c != 200 {
		t.Fatalf("transit of AS4837: %d", c)
	}
	kpShare := -1.0
	for _, c := range tr.Countries {
		if c.Code == "KP" {
			kpShare = c.Share
		}
	}
	if kpShare != 1 {
		t.Errorf("AS4837's share of KP's upstream paths: %v, want 1 (KP is reached only through it)", kpShare)
	}
	var fr FragilityJSON
	fetchJSON(t, base+"/api/v1/entities/country/KP/fragility", &fr)
	if fr.OnlyTop1 != 1 || fr.HHI != 10000 || fr.SingleHomed != 1 || fr.World == nil {
		t.Errorf("KP fragility: only_top1 %v, hhi %v, single-homed %d, world %v; want 1, 10000, 1, a comparison", fr.OnlyTop1, fr.HHI, fr.SingleHomed, fr.World)
	}
	if c := fetchJSON(t, base+"/api/v1/entities/asn/64999/transit", nil); c != 404 {
		t.Errorf("transit of an AS not in the data: %d, want 404", c)
	}
	var us struct {
		Families []string `json:"families"`
	}
	fetchJSON(t, base+"/api/v1/entities/country/US", &us)
	var evs struct {
		Events []event.Event `json:"events"`
	}
	fetchJSON(t, base+"/api/v1/events?entity_type=country&entity_code=KP", &evs)
	var instab, firstOutage *event.Event
	for i := range evs.Events {
		e := &evs.Events[i]
		if e.Kind == event.Instability && e.End != nil {
			instab = e
		}
		if e.Kind == event.Outage {
			firstOutage = e // newest first: the last one is the first
		}
	}
	if instab == nil || firstOutage == nil {
		t.Fatalf("the demo's KP events: want an instability that ended and an outage, got %d events", len(evs.Events))
	}

	ctx, problems := browser(t)
	nav := func(w int64, path, ready string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 900), chromedp.Navigate(base+path)); err != nil {
			t.Fatal(err)
		}
		waitJS(t, ctx, path+" at "+fmt.Sprint(w), `document.body.dataset.ready !== undefined && (`+ready+`)`)
		_, _ = chromedp.Run(ctx, chromedp.Sleep(300*time.Millisecond))
	}
	shot := func(name string, w int64) { screenshot(t, ctx, fmt.Sprintf("%s-%d", name, w)) }
	text := func(sel string) string {
		return evalJS[string](t, ctx, `(document.querySelector(`+jsString(sel)+`) || {innerText: ''}).innerText`)
	}

	for _, w := range []int64{1280, 412} {
		// Home: a headline, one entry per incident (the AS under its
		// country), a timeline, the mode (a replay's data is not "live").
		nav(w, "/", `document.querySelector('#headline') && document.querySelector('svg.worldmap')`)
		if h := text("#headline"); !strings.Contains(h, "Nothing is dark now") || !strings.Contains(h, "North Korea (KP)") {
			t.Errorf("headline %q: want what is dark now and the range's outages", h)
		}
		if m := evalJS[string](t, ctx, `document.getElementById('mode').dataset.mode`); m == "live" {
			t.Error("the header says live over 2014 data")
		}
		if n := evalJS[int](t, ctx, `document.querySelectorAll('#recent > li[data-entity="asn:131279"]').length`); n != 0 {
			t.Errorf("%d AS131279 events listed beside their country's; want them under it", n)
		}
		if n := evalJS[int](t, ctx, `document.querySelectorAll('#recent > li[data-entity="country:KP"] ul.members li[data-entity="asn:131279"]').length`); n < 3 {
			t.Errorf("AS131279 under KP's events: %d, want 3", n)
		}
		if want := event.FormatDuration(instab.End.Sub(instab.Start)); !strings.Contains(text("#recent"), want) {
			t.Errorf("the instability's duration %s (as the CLI writes it) is not in the list: %q", want, text("#recent"))
		}
		if !strings.Contains(text("#recent"), "score 9.5") {
			t.Error("the 9h31m outage of all of KP has no score 9.5 (drop 1 × 9.5 h)")
		}
		if n := evalJS[int](t, ctx, `document.querySelectorAll('#timeline svg text.row').length`); n != 2 {
			t.Errorf("timeline rows: %d, want 2 (KP and AS131279 under it)", n)
		}
		// The map is the whole globe (not cut flat at the top and bottom)
		// and KP has a labelled marker; small countries have markers.
		ratio := evalJS[float64](t, ctx, `(() => { const b = document.querySelector('.worldmap .ocean').getBBox(); return b.height / b.width; })()`)
		if ratio < 0.49 {
			t.Errorf("map outline height/width %.3f: clipped (the whole Natural Earth globe is about 0.52)", ratio)
		}
		// A country without data is not shaded "normal".
		if len(us.Families) == 0 {
			if cls := evalJS[string](t, ctx, `document.querySelector('svg.worldmap path[data-cc="US"]').getAttribute('class')`); !strings.Contains(cls, "state-nodata") {
				t.Errorf("US (no data) on the map: class %q, want state-nodata", cls)
			}
		}
		if cls := evalJS[string](t, ctx, `document.querySelector('svg.worldmap path[data-cc="KP"]').getAttribute('class')`); !strings.Contains(cls, "state-normal") {
			t.Errorf("KP after its outages on the map: class %q, want state-normal", cls)
		}
		if n := evalJS[int](t, ctx, `document.querySelectorAll('svg.worldmap .mark.small').length`); n < 10 {
			t.Errorf("small-country markers: %d, want at least 10", n)
		}
		if sw := evalJS[int](t, ctx, `document.documentElement.scrollWidth`); sw > int(w) {
			t.Errorf("home page is %d px wide on a %d px screen", sw, w)
		}
		shot("home", w)
		if w == 1280 {
			// The map over history: the slider at the first outage shows KP critical.
			// Find the slider value of the middle of the first outage from the page's own range.
			mid := firstOutage.Start.Add(firstOutage.End.Sub(firstOutage.Start) / 2)
			evalJS[chromedp.Void](t, ctx, fmt.Sprintf(`(() => { const s = document.getElementById('map-time');
				const lbl = () => document.getElementById('map-time-label').textContent;
				for (let v = 0; v <= Number(s.max); v++) { s.value = v; s.dispatchEvent(new Event('input'));
					if (lbl() >= %q) break; } })()`, mid.UTC().Format("2006-01-02 15:04")))
			if h := text("#map-h"); !strings.HasPrefix(h, "Countries at 2014-12-22") {
				t.Errorf("map title with the slider moved: %q", h)
			}
			if cls := evalJS[string](t, ctx, `document.querySelector('svg.worldmap path[data-cc="KP"]').getAttribute('class')`); !strings.Contains(cls, "state-critical") {
				t.Errorf("KP on the map during its first outage: class %q, want state-critical", cls)
			}
			shot("home-map-history", w)
			// Search finds a transit AS by name.
			if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("q"), "china unicom")); err != nil {
				t.Fatal(err)
			}
			waitJS(t, ctx, "AS4837 in the search results", `document.querySelector('#search-results a[href="/asn/4837"]') !== null`)
			evalJS[chromedp.Void](t, ctx, `document.getElementById('q').value = ''; document.getElementById('q').dispatchEvent(new Event('input'))`)
			evalJS[chromedp.Void](t, ctx, `document.getElementById('map-now').click()`)
			if h := text("#map-h"); h != "Countries now" {
				t.Errorf("map title after 'now': %q", h)
			}
			evalJS[chromedp.Void](t, ctx, `fetch(document.getElementById('events-csv').href).then(r => r.text()).then(t => window.__csv = t)`)
			waitJS(t, ctx, "the events CSV", `window.__csv !== undefined`)
			if c := evalJS[string](t, ctx, `window.__csv`); !strings.HasPrefix(c, "id,entity_type,") || !strings.Contains(c, ",country,KP,North Korea,outage,critical,") {
				t.Errorf("events CSV:\n%s", c)
			}
		}

		// The country page: state from the ongoing events (none: normal),
		// ISO UTC axes and a legend with values.
		nav(w, "/country/KP", `document.querySelectorAll('#charts .uplot').length === 3 && document.querySelector('#fragility')`)
		if b := text("#entity-state"); strings.ToLower(b) != "normal" {
			t.Errorf("KP's badge %q after its outages ended, want normal", b)
		}
		legend := evalJS[string](t, ctx, `document.querySelector('#charts .u-legend').innerText`)
		if strings.Contains(legend, "--") || !strings.Contains(legend, "UTC") || !strings.Contains(legend, "2014-12-23") {
			t.Errorf("legend %q: want the last point's values and its UTC time", legend)
		}
		evalJS[chromedp.Void](t, ctx, `window.__ticks = undefined; import('/chart.js').then(m => { window.__ticks = m.isoTicks(null, [Date.UTC(2014,11,22,23)/1e3, Date.UTC(2014,11,23,0)/1e3, Date.UTC(2014,11,23,12)/1e3], 0, 0, 3600).join('|'); })`)
		waitJS(t, ctx, "the axis labels", `window.__ticks !== undefined`)
		ticks := evalJS[string](t, ctx, `window.__ticks`)
		if ticks != "23:00\n2014-12-22|00:00\n2014-12-23|12:00" {
			t.Errorf("time axis labels %q, want ISO dates and 24-hour UTC times", ticks)
		}
		if f := text("#fragility"); !strings.Contains(f, "100%") || !strings.Contains(f, "AS4837") || !strings.Contains(f, "world median") {
			t.Errorf("KP fragility card: %q", f)
		}
		// Phone: every column of the event table fits (no cut severity).
		cut := evalJS[int](t, ctx, `(() => { const w = document.querySelector('#entity-events .table-wrap'); let n = 0;
			for (const b of w.querySelectorAll('.badge')) if (b.getBoundingClientRect().right > w.getBoundingClientRect().right + 1) n++; return n; })()`)
		if cut > 0 {
			t.Errorf("%d severity badges cut off at %d px", cut, w)
		}
		shot("country-KP", w)
		if w == 1280 {
			// Export and share: the series as CSV, the chart as SVG, a
			// permalink that gives the same range back, an embeddable chart.
			waitJS(t, ctx, "the share links", `document.querySelector('.share-links a.permalink')`)
			evalJS[chromedp.Void](t, ctx, `fetch(document.querySelector('.share-links a.csv').href).then(r => r.text()).then(t => window.__scsv = t)`)
			waitJS(t, ctx, "the series CSV", `window.__scsv !== undefined`)
			if c := evalJS[string](t, ctx, `window.__scsv`); !strings.HasPrefix(c, "time,space,min_space,baseline,prefixes,origins,churn\n2014-12-19") {
				t.Errorf("series CSV starts %q", c[:min(len(c), 120)])
			}
			svgURL := evalJS[string](t, ctx, `document.querySelector('.share-links a.svg').href`)
			resp, err := http.Get(svgURL)
			if err != nil {
				t.Fatal(err)
			}
			b := new(strings.Builder)
			_, _ = io.Copy(b, resp.Body)
			resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml" || !strings.Contains(b.String(), "North Korea (KP)") || !strings.Contains(b.String(), "time (UTC)") {
				t.Errorf("chart.svg: %s, %q", ct, b.String()[:min(b.Len(), 300)])
			}
			evalJS[chromedp.Void](t, ctx, `(() => { const a = document.querySelector('.share-links a.png'); a.addEventListener('click', e => e.preventDefault()); a.click(); })()`)
			waitJS(t, ctx, "the PNG of the chart", `document.querySelector('.share-links a.png').href.startsWith('blob:')`)
			evalJS[chromedp.Void](t, ctx, `fetch(document.querySelector('.share-links a.png').href).then(r => r.blob()).then(b => window.__png = b.type + ' ' + b.size)`)
			waitJS(t, ctx, "the PNG's bytes", `window.__png !== undefined`)
			var typ string
			var size int
			fmt.Sscan(evalJS[string](t, ctx, `window.__png`), &typ, &size)
			if typ != "image/png" || size < 5000 {
				t.Errorf("chart PNG: %s of %d bytes", typ, size)
			}
			perma := evalJS[string](t, ctx, `document.querySelector('.share-links a.permalink').href`)
			if !strings.Contains(perma, "from=2014-12-19") || !strings.Contains(perma, "until=2014-12-23") {
				t.Errorf("permalink %q: want the range", perma)
			}
			nav(w, strings.TrimPrefix(perma, base)+"", `document.querySelectorAll('#charts .uplot').length === 3`)
			if got := evalJS[string](t, ctx, `location.search`); !strings.Contains(got, "from=2014-12-19") {
				t.Errorf("the permalink's range is lost on load: %q", got)
			}
			nav(w, strings.Replace(strings.TrimPrefix(perma, base), "/country/", "/embed/country/", 1), `document.querySelectorAll('#charts .uplot').length === 1`)
			if vis := evalJS[bool](t, ctx, `getComputedStyle(document.querySelector('header.top')).display !== 'none'`); vis {
				t.Error("the embedded chart shows the header")
			}
			shot("embed-KP", w)
		}

		// The AS page: the name whole, no origin-AS line (it would sit at 0).
		nav(w, "/asn/131279", `document.querySelectorAll('#charts .uplot').length === 3`)
		if s := text("#entity-events"); w > 640 && !strings.Contains(s, "(Star Joint Venture Co. Ltd.)") {
			t.Errorf("AS page summary cuts the name: %q", s)
		}
		if l := text("#charts .counts .u-legend"); strings.Contains(strings.ToLower(l), "origin") {
			t.Errorf("the AS page charts an origin-AS line: %q", l)
		}
		shot("asn-131279", w)

		// The event page: the upstream is a link to a page that answers.
		nav(w, fmt.Sprintf("/event/%d", firstOutage.ID), `document.querySelector('#upstreams a[href="/asn/4837"]')`)
		hasEvidence := firstOutage.Evidence != nil || len(firstOutage.Causes) > 0
		if got := evalJS[bool](t, ctx, `document.querySelector('#evidence') !== null`); got != hasEvidence {
			t.Errorf("evidence card shown %v, want %v (the event has causes or evidence)", got, hasEvidence)
		}
		if hasEvidence {
			ev := text("#evidence")
			for _, want := range []string{"Causes consistent with the routing data", "AS4837", "BGP routing data"} {
				if !strings.Contains(ev, want) {
					t.Errorf("evidence card lacks %q: %q", want, ev)
				}
			}
			for _, c := range firstOutage.Causes {
				if n := evalJS[int](t, ctx, `document.querySelectorAll('#evidence li[data-cause="`+string(c.Cause)+`"]').length`); n != 1 {
					t.Errorf("cause %s shown %d times, want once", c.Cause, n)
				}
			}
		}
		shot("event", w)
		evalJS[chromedp.Void](t, ctx, `document.querySelector('#upstreams a[href="/asn/4837"]').click()`)
		waitJS(t, ctx, "AS4837's page from the event", `location.pathname === '/asn/4837' && document.querySelector('#transit table')`)
		if s := text("main"); strings.Contains(s, "not seen") || !strings.Contains(s, "North Korea (KP)") || !strings.Contains(s, "CHINA UNICOM") {
			t.Errorf("AS4837 page: %q", s[:min(len(s), 400)])
		}
		shot("asn-4837", w)

		// A country with no route: says so, as the API does (families []).
		nav(w, "/country/US", `document.querySelector('#entity-sub')`)
		if sub := text("#entity-sub"); len(us.Families) == 0 && (strings.Contains(strings.ToLower(sub), "ipv4") || !strings.Contains(sub, "no route")) {
			t.Errorf("/country/US says %q while the API has families %v", sub, us.Families)
		}
		if b := text("#entity-state"); len(us.Families) == 0 && strings.EqualFold(b, "normal") {
			t.Errorf("/country/US, with no data, has the badge %q", b)
		}
		shot("country-US", w)

		// The world ranking.
		nav(w, "/fragility", `document.querySelector('table.fragility-table')`)
		if r := text(`table.fragility-table tr[data-cc="KP"]`); !strings.Contains(r, "AS4837") || !strings.Contains(r, "100%") {
			t.Errorf("KP in the ranking: %q", r)
		}
		shot("fragility", w)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("errors in the browser console:\n%s", strings.Join(p, "\n"))
	}
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestDashboardLiveBadge keeps /country/KP open while the demo replays at
// 20,000 times real time: the badge turns critical with the outage and
// back to normal when it ends, from the event stream alone.
func TestDashboardLiveBadge(t *testing.T) {
	base := startServe(t, "20000")
	ctx, problems := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/country/KP")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the KP page", `document.body.dataset.page === 'country'`)
	evalJS[chromedp.Void](t, ctx, `window.__sameLoad = true`)
	badge := `(document.querySelector('#entity-state') || {innerText: ''}).innerText.toLowerCase()`
	waitJSFor(t, ctx, "the badge critical during the outage", badge+` === 'critical'`, 2*time.Minute)
	waitJSFor(t, ctx, "the badge normal after the outage", badge+` === 'normal' && document.querySelector('#entity-events tr.ongoing') === null`, 2*time.Minute)
	if !evalJS[bool](t, ctx, `window.__sameLoad === true`) {
		t.Error("the page was reloaded; want live updates")
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("errors in the browser console:\n%s", strings.Join(p, "\n"))
	}
}
