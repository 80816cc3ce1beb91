package server

// Real-browser tests of the dashboard: Debian's chromium, headless, driven
// with chromedp. TestDashboardFakeAPI runs the files of web/ against a small
// fake of the API (canned demo events); TestDashboardDemo starts `blackout
// serve --demo --speed max` and checks the whole chain. Both save
// screenshots under the test's temporary directory and, when
// BLACKOUT_SCREENSHOTS is set, in that directory too.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/hub"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store"
)

const chromiumPath = "/usr/bin/chromium"

func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BLACKOUT_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{chromiumPath, "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("no chromium: install Debian package chromium (apt-get install -y chromium)")
	return ""
}

// browser starts a headless chromium and returns a tab context, and the
// list of console errors and uncaught exceptions seen so far.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path := findChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, tcancel := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { tcancel(); cancel(); acancel() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		t.Fatalf("starting %s: %v", path, err)
	}
	var mu sync.Mutex
	var problems []string
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				mu.Lock()
				problems = append(problems, m.String()+" at "+m.URL+":"+strconv.FormatInt(m.Line+1, 10))
				mu.Unlock()
			}
		}
	}()
	get := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
	consoleProblems = get
	return ctx, get
}

// consoleProblems reports the console errors of the last browser started.
var consoleProblems func() []string

// screenshot saves a full-page PNG of the tab.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	dirs := []string{shotDir(t)}
	if d := os.Getenv("BLACKOUT_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Errorf("BLACKOUT_SCREENSHOTS: %v", err)
		}
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name+".png")
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Errorf("screenshot: %v", err)
		}
		t.Logf("screenshot %s", p)
	}
}

var shotDirs sync.Map

func shotDir(t *testing.T) string {
	if d, ok := shotDirs.Load(t.Name()); ok {
		return d.(string)
	}
	d := t.TempDir()
	shotDirs.Store(t.Name(), d)
	return d
}

// waitJS polls a JavaScript expression until it is truthy.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	waitJSFor(t, ctx, what, expr, 30*time.Second)
}

func waitJSFor(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main') ? document.querySelector('main').innerText.slice(0, 1500) : document.body.innerText.slice(0, 1500)`))
		var console []string
		if consoleProblems != nil {
			console = consoleProblems()
		}
		t.Fatalf("waiting for %s (%s): %v\npage text:\n%s\nconsole errors:\n%s", what, expr, err, body, strings.Join(console, "\n"))
	}
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// checkDashboard drives the dashboard at base: the home page with the KP
// outage in the list and on the map, search, the event page with its
// upstream AS4837, the country page with its charts, and a phone width.
func checkDashboard(t *testing.T, ctx context.Context, base string, problems func() []string) {
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/")); err != nil {
		t.Fatalf("open home page: %v", err)
	}
	// The KP outage in the list of events.
	kpOutage := `document.querySelectorAll('#recent li[data-entity="country:KP"][data-kind="outage"] > a, #ongoing li[data-entity="country:KP"][data-kind="outage"] > a')`
	waitJS(t, ctx, "the KP outage in the event list", kpOutage+`.length > 0`)
	// On the map: North Korea's shape is shaded (critical now, or marked with a recent event) and has a marker.
	waitJS(t, ctx, "North Korea on the map", `document.querySelector('svg.worldmap path[data-cc="KP"]') !== null`)
	cls := evalJS[string](t, ctx, `document.querySelector('svg.worldmap path[data-cc="KP"]').getAttribute('class')`)
	if !strings.Contains(cls, "state-critical") && !strings.Contains(cls, "recent") {
		t.Errorf("KP on the map has class %q, want state-critical or recent", cls)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('svg.worldmap circle.mark[data-cc="KP"]').length`); n != 1 {
		t.Errorf("KP markers on the map: %d, want 1", n)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('svg.worldmap path[data-cc]').length`); n < 150 {
		t.Errorf("countries on the map: %d, want at least 150", n)
	}
	foot := evalJS[string](t, ctx, `document.querySelector('footer').innerText`)
	for _, s := range []string{"RIPE NCC RIS", "RouteViews", "IP Geolocation by DB-IP", "Natural Earth", "uPlot"} {
		if !strings.Contains(foot, s) {
			t.Errorf("footer lacks %q: %q", s, foot)
		}
	}
	// The judging note in the header: both families judged.
	waitJS(t, ctx, "the judging note", `!document.getElementById('judging').hidden`)
	if j := evalJS[string](t, ctx, `document.getElementById('judging-sum').textContent`); j != "judging IPv4 + IPv6" {
		t.Errorf("judging note %q, want %q", j, "judging IPv4 + IPv6")
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('#judging-list li').length`); n != 2 {
		t.Errorf("judging statements in the header: %d, want 2", n)
	}
	screenshot(t, ctx, "home")

	// Search.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("q"), "north")); err != nil {
		t.Fatalf("type in the search box: %v", err)
	}
	waitJS(t, ctx, "search result North Korea", `document.querySelector('#search-results a[href="/country/KP"]') !== null`)
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('q').value=''; document.getElementById('q').dispatchEvent(new Event('input'))`)); err != nil {
		t.Fatal(err)
	}

	// Open the KP outage (the first one in time: the last in the list).
	id := evalJS[string](t, ctx, `(() => { const l = `+kpOutage+`; const a = l[l.length-1]; a.click(); return a.closest('li').dataset.eventId; })()`)
	waitJS(t, ctx, "the event page", `document.body.dataset.page === 'event' && location.pathname === '/event/`+id+`'`)
	waitJS(t, ctx, "the upstream AS4837 on the event page", `(document.querySelector('#upstreams') || {innerText: ''}).innerText.includes('AS4837')`)
	text := evalJS[string](t, ctx, `document.querySelector('main').innerText`)
	for _, s := range []string{"went dark", "175.45.176.0/24", "AS131279", "full-feed peers", "Last AS paths seen"} {
		if !strings.Contains(text, s) {
			t.Errorf("event page lacks %q", s)
		}
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('a.entity-link[href="/country/KP"]').length`); n == 0 {
		t.Error("event page has no link to /country/KP")
	}
	waitJS(t, ctx, "the chart around the event", `document.querySelectorAll('main .uplot canvas').length >= 1`)
	screenshot(t, ctx, "event")

	// The country page, loaded directly (SPA fallback).
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/country/KP")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the country page charts", `document.body.dataset.page === 'country' && document.querySelectorAll('#charts .uplot').length === 3`)
	waitJS(t, ctx, "the country's event table", `document.querySelectorAll('#entity-events tr[data-event-id]').length >= 2`)
	if up := evalJS[string](t, ctx, `document.querySelector('table.upstreams') ? document.querySelector('table.upstreams').innerText : ''`); !strings.Contains(up, "AS4837") {
		t.Errorf("country page upstreams: %q, want AS4837", up)
	}
	screenshot(t, ctx, "country-KP")

	// The AS page.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/asn/131279")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the AS page charts", `document.body.dataset.page === 'asn' && document.querySelectorAll('#charts .uplot').length === 3`)

	// Search with the keyboard: type and press Enter.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("q"), "North Korea"+kb.Enter)); err != nil {
		t.Fatalf("search with Enter: %v", err)
	}
	waitJS(t, ctx, "the country page from the search box", `location.pathname === '/country/KP' && document.body.dataset.page === 'country'`)

	// A phone.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "home page on a phone", kpOutage+`.length > 0 && document.querySelector('svg.worldmap .mark') !== null`)
	if w := evalJS[int](t, ctx, `document.documentElement.scrollWidth`); w > 400 {
		t.Errorf("home page on a phone is %dpx wide, wider than the screen (390px)", w)
	}
	screenshot(t, ctx, "home-phone")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/event/"+id)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "event page on a phone", `(document.querySelector('#upstreams') || {innerText: ''}).innerText.includes('AS4837')`)
	if w := evalJS[int](t, ctx, `document.documentElement.scrollWidth`); w > 400 {
		t.Errorf("event page on a phone is %dpx wide, wider than the screen (390px)", w)
	}
	screenshot(t, ctx, "event-phone")

	if p := problems(); len(p) > 0 {
		t.Errorf("errors in the browser console:\n%s", strings.Join(p, "\n"))
	}
}

// TestDashboardFakeAPI checks the dashboard's files against a fake API.
func TestDashboardFakeAPI(t *testing.T) {
	srv := httptest.NewServer(newFakeAPI(t, os.DirFS("web")))
	t.Cleanup(srv.Close) // after the browser's cleanup, which ends the event streams
	ctx, problems := browser(t)
	checkDashboard(t, ctx, srv.URL, problems)
}

// TestDashboardDemo starts `blackout serve --demo --speed max` and checks
// the dashboard in a real browser once the replay has finished.
func TestDashboardDemo(t *testing.T) {
	base := startServe(t, "max")
	waitReplay(t, base)
	ctx, problems := browser(t)
	checkDashboard(t, ctx, base, problems)
}

// TestDashboardLive watches the demo unfold at 10,000 times real time on
// one page load: the KP outage must appear among the ongoing events and on
// the map as critical, from the server-sent events alone, then go away.
func TestDashboardLive(t *testing.T) {
	base := startServe(t, "10000")
	ctx, problems := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatalf("open home page: %v", err)
	}
	waitJS(t, ctx, "the home page", `document.body.dataset.page === 'home' && document.querySelector('svg.worldmap') !== null`)
	evalJS[chromedp.Void](t, ctx, `window.__sameLoad = true`)
	clock0 := evalJS[string](t, ctx, `document.getElementById('clock').textContent`)
	waitJSFor(t, ctx, "the KP outage ongoing, critical on the map", `document.querySelector('#ongoing li[data-entity="country:KP"][data-kind="outage"]') !== null &&
		document.querySelector('svg.worldmap path[data-cc="KP"]').classList.contains('state-critical')`, 2*time.Minute)
	screenshot(t, ctx, "home-live-outage")
	// "ongoing for" follows the data clock between refreshes of the list.
	// So does its score (the lost share × the hours so far).
	since0 := evalJS[string](t, ctx, `(document.querySelector('#ongoing li[data-entity="country:KP"] [data-since]') || {textContent: ''}).textContent`)
	score0 := evalJS[string](t, ctx, `(document.querySelector('#ongoing li[data-entity="country:KP"] [data-score-since]') || {textContent: ''}).textContent`)
	waitJSFor(t, ctx, "the ongoing duration and score to follow the data clock", `(() => { const e = document.querySelector('#ongoing li[data-entity="country:KP"] [data-since]');
		const s = document.querySelector('#ongoing li[data-entity="country:KP"] [data-score-since]');
		return !e || (e.textContent !== `+jsString(since0)+` && s.textContent !== `+jsString(score0)+`); })()`, 20*time.Second)
	waitJSFor(t, ctx, "the KP outage's end", `document.querySelector('#ongoing li[data-entity="country:KP"][data-kind="outage"]') === null &&
		document.querySelector('#recent li[data-entity="country:KP"][data-kind="outage"]') !== null`, time.Minute)
	if !evalJS[bool](t, ctx, `window.__sameLoad === true`) {
		t.Error("the page was reloaded; want live updates")
	}
	if clock := evalJS[string](t, ctx, `document.getElementById('clock').textContent`); clock == clock0 {
		t.Errorf("the data clock did not move: %q", clock)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("errors in the browser console:\n%s", strings.Join(p, "\n"))
	}
}

// startServe builds blackout and starts `blackout serve --demo --speed
// speed` on a free port; it returns the base URL.
func startServe(t *testing.T, speed string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	findChromium(t)
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(strings.TrimSpace(string(root)))
	if _, err := os.Stat(filepath.Join(dir, "cmd", "blackout", "serve.go")); err != nil {
		t.Skip("cmd/blackout/serve.go is not there yet")
	}
	bin := filepath.Join(t.TempDir(), "blackout")
	build := exec.Command("go", "build", "-o", bin, "./cmd/blackout")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--demo", "--speed", speed, "--listen", "127.0.0.1:0", "--data", t.TempDir())
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		pw.Close()
	})
	urls := make(chan string, 1)
	var logMu sync.Mutex
	var logTail []string
	go func() {
		re := regexp.MustCompile(`listening on (http://[0-9.:\[\]a-z]+)`)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			if len(logTail) < 200 {
				logTail = append(logTail, line)
			}
			logMu.Unlock()
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case urls <- strings.TrimRight(m[1], "/"):
				default:
				}
			}
		}
	}()
	select {
	case base := <-urls:
		t.Logf("blackout serve at %s", base)
		return base
	case <-time.After(60 * time.Second):
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("no 'listening on http://...' line from blackout serve within 60s; output:\n%s", strings.Join(logTail, "\n"))
	}
	return ""
}

// waitReplay polls /api/v1/health until the demo's data clock reaches its
// last hour or the count of route events stops growing.
func waitReplay(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	last, same := -1, 0
	for time.Now().Before(deadline) {
		var h struct {
			DataTime    string `json:"data_time"`
			RouteEvents int    `json:"route_events"`
			Running     bool   `json:"running"`
		}
		resp, err := http.Get(base + "/api/v1/health")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
		}
		if err == nil {
			// The end of the data, and the replay's last write done (it
			// runs until then).
			if h.DataTime >= "2014-12-23T23" && !h.Running {
				return
			}
			if h.RouteEvents > 0 && h.RouteEvents == last {
				if same++; same >= 6 {
					return
				}
			} else {
				same = 0
			}
			last = h.RouteEvents
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("the demo replay did not finish within 3 minutes")
}

// ---------- the fake API ----------

// newFakeAPI serves web (with the SPA fallback) and a canned API made of the
// demo's events: event 5 (KP, 15:41) is shown ongoing so that the critical
// state is drawn.
func newFakeAPI(t *testing.T, web fs.FS) http.Handler {
	var events []map[string]any
	if err := json.Unmarshal([]byte(demoEventsJSON), &events); err != nil {
		t.Fatal(err)
	}
	dataTime := "2014-12-23T16:05:00Z"
	for _, e := range events {
		if e["id"].(float64) == 5 || e["id"].(float64) == 6 {
			e["end"] = nil
		}
	}
	newest := func() []map[string]any {
		out := make([]map[string]any, 0, len(events))
		for i := len(events) - 1; i >= 0; i-- {
			out = append(out, events[i])
		}
		return out
	}
	entities := []map[string]any{
		{"type": "country", "code": "KP", "name": "North Korea", "state": "critical", "ongoing": 1},
		{"type": "asn", "code": "131279", "name": "Star Joint Venture Co. Ltd.", "state": "critical", "ongoing": 1},
		{"type": "asn", "code": "4837", "name": "CHINA UNICOM China169 Backbone", "state": "normal", "ongoing": 0},
		{"type": "country", "code": "CN", "name": "China", "state": "normal", "ongoing": 0},
	}
	up := []map[string]any{{"asn": 4837, "name": "CHINA UNICOM China169 Backbone", "country": "CN", "share": 1}}
	write := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	judging := map[string]any{"judged": true, "undecoded": map[string]any{}, "input_errors": 0,
		"families": []map[string]any{
			{"family": "ipv4", "full_feed_peers": 30, "rib": true, "judged_from": "2014-12-19T00:02:10Z"},
			{"family": "ipv6", "full_feed_peers": 30, "rib": true, "judged_from": "2014-12-19T00:02:10Z"}},
		"statements": []string{"IPv4: judged from 2014-12-19 00:02:10 UTC (30 full-feed peers).", "IPv6: judged from 2014-12-19 00:02:10 UTC (30 full-feed peers)."}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/health", func(w http.ResponseWriter, r *http.Request) {
		write(w, map[string]any{"status": "ok", "version": "fake", "data_time": dataTime, "route_events": 41234, "events_open": 2, "judging": judging})
	})
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		write(w, map[string]any{"data_time": dataTime, "ongoing": []any{events[4], events[5]}, "countries": map[string]string{"KP": "critical"}, "judging": judging})
	})
	mux.HandleFunc("GET /api/v1/entities", func(w http.ResponseWriter, r *http.Request) {
		q := strings.ToLower(r.URL.Query().Get("q"))
		out := []map[string]any{}
		for _, e := range entities {
			if q == "" || strings.Contains(strings.ToLower(e["name"].(string)), q) || strings.Contains(strings.ToLower(e["code"].(string)), q) {
				out = append(out, e)
			}
		}
		write(w, map[string]any{"entities": out})
	})
	mux.HandleFunc("GET /api/v1/entities/{type}/{code}", func(w http.ResponseWriter, r *http.Request) {
		for _, e := range entities {
			if e["type"] == r.PathValue("type") && e["code"] == r.PathValue("code") {
				country := e["code"]
				if e["type"] == "asn" {
					country = map[string]string{"131279": "KP", "4837": "CN"}[e["code"].(string)]
				}
				write(w, map[string]any{"type": e["type"], "code": e["code"], "name": e["name"], "country": country,
					"state": e["state"], "upstreams": up, "families": []string{"ipv4", "ipv6"}})
				return
			}
		}
		w.WriteHeader(404)
		write(w, map[string]string{"error": "unknown entity"})
	})
	mux.HandleFunc("GET /api/v1/entities/{type}/{code}/signals", func(w http.ResponseWriter, r *http.Request) {
		write(w, fakeSignals(r, events, dataTime))
	})
	// The transit and fragility answers, in the server's own types.
	mux.HandleFunc("GET /api/v1/entities/asn/{code}/transit", func(w http.ResponseWriter, r *http.Request) {
		out := TransitJSON{Origins: []TransitOrigin{}, Countries: []TransitCountry{}}
		if r.PathValue("code") == "4837" {
			out = TransitJSON{ASN: 4837, Name: "CHINA UNICOM China169 Backbone", Country: "CN", OriginCount: 1, Prefixes: 4, SoleUpstreamOf: 1,
				Origins:   []TransitOrigin{{ASN: 131279, Name: "Star Joint Venture Co. Ltd.", Country: "KP", Share: 1, Prefixes: 4}},
				Countries: []TransitCountry{{Code: "KP", Name: "North Korea", Share: 1, Rank: 1, Upstreams: 1}}}
		}
		write(w, out)
	})
	mux.HandleFunc("GET /api/v1/entities/country/{code}/fragility", func(w http.ResponseWriter, r *http.Request) {
		write(w, FragilityJSON{Code: r.PathValue("code"), Name: "North Korea", Prefixes: 4, Origins: 1, Upstreams: 1,
			TopUpstreams: []event.AS{{ASN: 4837, Name: "CHINA UNICOM China169 Backbone", Country: "CN", Share: 1}},
			OnlyTop1:     1, OnlyTop2: 1, SingleHomed: 1, OriginsWithUpstreams: 1, HHI: 10000, Method: fragilityMethod,
			World: &WorldCompare{Prefixes: Compare{Median: 9, Top: 22, TopCode: "TM", Rank: 29, Of: 31}, Origins: Compare{Median: 2, Top: 5, TopCode: "GU", Rank: 29, Of: 31}}})
	})
	mux.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		out := []map[string]any{}
		for _, e := range newest() {
			if v := q.Get("entity_type"); v != "" && e["entity_type"] != v {
				continue
			}
			if v := q.Get("entity_code"); v != "" && e["entity_code"] != v {
				continue
			}
			out = append(out, e)
		}
		write(w, map[string]any{"events": out, "next_cursor": ""})
	})
	mux.HandleFunc("GET /api/v1/events/{id}", func(w http.ResponseWriter, r *http.Request) {
		for _, e := range events {
			if fmt.Sprint(e["id"]) == r.PathValue("id") {
				write(w, e)
				return
			}
		}
		w.WriteHeader(404)
		write(w, map[string]string{"error": "no such event"})
	})
	mux.HandleFunc("GET /api/v1/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		fl, _ := w.(http.Flusher)
		n := 41234
		for i := 0; ; i++ {
			n += 17
			fmt.Fprintf(w, "event: tick\ndata: {\"data_time\":%q,\"route_events\":%d}\n\n", dataTime, n)
			if i == 2 {
				b, _ := json.Marshal(map[string]any{"type": "escalate", "event": events[4]})
				fmt.Fprintf(w, "event: notice\ndata: %s\n\n", b)
			}
			if fl != nil {
				fl.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	})
	files := http.FileServerFS(web)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		if p != "" {
			if _, err := fs.Stat(web, p); err == nil {
				files.ServeHTTP(w, r)
				return
			}
		}
		if p == "" || strings.HasPrefix(p, "country/") || strings.HasPrefix(p, "asn/") || strings.HasPrefix(p, "event/") {
			b, err := fs.ReadFile(web, "index.html")
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(b)
			return
		}
		http.NotFound(w, r)
	})
	return mux
}

// fakeSignals makes 5-minute bins from 2014-12-19 to dataTime: four /24s,
// none while an outage of the demo lasts, flapping during the instability.
func fakeSignals(r *http.Request, events []map[string]any, dataTime string) map[string]any {
	from, _ := time.Parse(time.RFC3339, "2014-12-19T00:00:00Z")
	until, _ := time.Parse(time.RFC3339, dataTime)
	if v, err := time.Parse(time.RFC3339, r.URL.Query().Get("from")); err == nil && v.After(from) {
		from = v
	}
	if v, err := time.Parse(time.RFC3339, r.URL.Query().Get("until")); err == nil && v.Before(until) {
		until = v
	}
	step := 5 * time.Minute
	if mp, _ := strconv.Atoi(r.URL.Query().Get("maxPoints")); mp > 0 {
		for until.Sub(from)/step > time.Duration(mp) {
			step *= 2
		}
	}
	type span struct {
		s, e time.Time
		kind string
	}
	var spans []span
	for _, e := range events {
		if e["entity_code"] != r.PathValue("code") && !(r.PathValue("code") == "131279" && e["entity_code"] == "131279") {
			continue
		}
		s, _ := time.Parse(time.RFC3339Nano, e["start"].(string))
		end := until.Add(time.Hour)
		if v, ok := e["end"].(string); ok {
			end, _ = time.Parse(time.RFC3339Nano, v)
		}
		spans = append(spans, span{s, end, e["kind"].(string)})
	}
	family := r.URL.Query().Get("family")
	full := 4.0
	unit := "/24"
	if family == "ipv6" {
		full, unit = 1, "/48"
	}
	pts := []map[string]any{}
	for t, i := from, 0; !t.After(until); t, i = t.Add(step), i+1 {
		space, minSpace, churn := full, full, float64(i%3)
		for _, sp := range spans {
			if t.Before(sp.s) || !t.Before(sp.e) {
				continue
			}
			switch sp.kind {
			case "outage":
				space, minSpace, churn = 0, 0, 0
			case "instability":
				churn = float64(6 + i%9)
				if i%4 == 0 {
					space, minSpace = full-1, full-2
				} else {
					minSpace = full - 1
				}
			}
		}
		prefixes, origins := space, 1.0
		if space == 0 {
			origins = 0
		}
		pts = append(pts, map[string]any{"time": t.Format(time.RFC3339), "space": space, "min_space": minSpace,
			"baseline": full, "prefixes": prefixes, "origins": origins, "churn": churn})
	}
	return map[string]any{"type": r.PathValue("type"), "code": r.PathValue("code"), "family": family, "unit": unit, "points": pts}
}

// TestDashboardScreens saves screenshots of the pages of a running server,
// for people working on the dashboard:
//
//	BLACKOUT_DASH_URL=http://127.0.0.1:8080 BLACKOUT_SCREENSHOTS=/tmp/shots \
//	  go test -run TestDashboardScreens ./internal/server/
//
// BLACKOUT_DASH_PAGES lists the paths (default: the demo's pages).
func TestDashboardScreens(t *testing.T) {
	base := strings.TrimRight(os.Getenv("BLACKOUT_DASH_URL"), "/")
	if base == "" {
		t.Skip("set BLACKOUT_DASH_URL to the address of a running blackout serve")
	}
	pages := strings.Fields(os.Getenv("BLACKOUT_DASH_PAGES"))
	if len(pages) == 0 {
		pages = []string{"/", "/country/KP", "/asn/131279", "/event/3", "/asn/4837", "/country/CN"}
	}
	ctx, problems := browser(t)
	for _, w := range []int64{1280, 412} {
		for _, p := range pages {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 900), chromedp.Navigate(base+p)); err != nil {
				t.Fatal(err)
			}
			waitJS(t, ctx, p, `document.body.dataset.ready !== undefined || document.querySelector('main .error') !== null`)
			_, _ = chromedp.Run(ctx, chromedp.Sleep(700*time.Millisecond))
			name := strings.Trim(strings.ReplaceAll(p, "/", "-"), "-")
			if name == "" {
				name = "home"
			}
			screenshot(t, ctx, fmt.Sprintf("%s-%d", name, w))
		}
	}
	if p := problems(); len(p) > 0 {
		t.Logf("console errors:\n%s", strings.Join(p, "\n"))
	}
}

// firstMinutes ends a source after d of data from its first route event.
type firstMinutes struct {
	src   source.Source
	d     time.Duration
	first time.Time
}

func (f *firstMinutes) Next() (*bgp.Event, error) {
	e, err := f.src.Next()
	if err != nil {
		return e, err
	}
	if f.first.IsZero() {
		f.first = e.Time
	}
	if e.Time.Sub(f.first) > f.d {
		return nil, io.EOF
	}
	return e, nil
}

// TestDashboardNotJudged runs the engine over five minutes of the demo's
// updates without its RIB dump (detection waits an hour for the peers'
// tables), serves it, and checks that the home page says "Not judged yet"
// with the reasons, never "within its normal"; then, with one family
// judged and the other not (a Status fake over the same store), that the
// calm line names the judged family only and a line says why the other
// is not judged.
func TestDashboardNotJudged(t *testing.T) {
	findChromium(t)
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := engine.New(context.Background(), engine.Config{Store: st, Geo: db, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	src := &firstMinutes{src: source.Merge(demo.Sources()[1:]), d: 5 * time.Minute} // [0] is the RIB dump
	if _, err := eng.Run(context.Background(), src, pipeline.Options{Config: pipeline.DefaultConfig(db)}); err != nil {
		t.Fatal(err)
	}
	cov := eng.Coverage()
	if cov.Judged() || len(cov.Families) == 0 {
		t.Fatalf("five minutes of updates without a RIB: coverage %+v, want nothing judged", cov)
	}
	srv := httptest.NewServer(New(Options{Store: st, Status: eng, Hub: eng.Hub(), Geo: db, Version: "test", Logger: log}))
	t.Cleanup(srv.Close) // after the browser's cleanup, which ends the event streams
	half := &fakeStatus{dataTime: eng.DataTime(), events: eng.RouteEvents(), cov: covHalf}
	srv2 := httptest.NewServer(New(Options{Store: st, Status: half, Hub: hub.New(), Geo: db, Version: "test", Logger: log}))
	t.Cleanup(srv2.Close)
	ctx, problems := browser(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the not-judged note in the ongoing list", `document.querySelector('#ongoing li.notjudged') !== null && !document.getElementById('judging').hidden`)
	text := evalJS[string](t, ctx, `document.querySelector('main').innerText`)
	for _, s := range []string{"Not judged yet", "IPv4: not judged: warming up until", "no RIB dump", "the map shows no state"} {
		if !strings.Contains(text, s) {
			t.Errorf("home page lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(evalJS[string](t, ctx, `document.body.innerText`), "within its normal") {
		t.Errorf("home page says \"within its normal\" where nothing is judged:\n%s", text)
	}
	if sum := evalJS[string](t, ctx, `document.getElementById('judging-sum').textContent`); sum != "not judged yet" {
		t.Errorf("judging note %q, want \"not judged yet\"", sum)
	}
	evalJS[chromedp.Void](t, ctx, `document.getElementById('judging').open = true`)
	if hd := evalJS[string](t, ctx, `document.getElementById('judging-list').innerText`); !strings.Contains(hd, "IPv6: not judged:") {
		t.Errorf("the header's judging statements: %q", hd)
	}
	screenshot(t, ctx, "home-not-judged")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the not-judged note on a phone", `document.querySelector('#ongoing li.notjudged') !== null && !document.getElementById('judging').hidden`)
	evalJS[chromedp.Void](t, ctx, `document.getElementById('judging').open = true`)
	if w := evalJS[int](t, ctx, `document.documentElement.scrollWidth`); w > 400 {
		t.Errorf("not-judged home page on a phone is %dpx wide, wider than the screen (390px)", w)
	}
	if r := evalJS[[]float64](t, ctx, `(() => { const b = document.getElementById('judging-list').getBoundingClientRect(); return [b.left, b.right]; })()`); r[0] < 0 || r[1] > 390 {
		t.Errorf("the judging statements on a phone span %v px, off the screen (0-390)", r)
	}
	screenshot(t, ctx, "home-not-judged-phone")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}

	// One family judged, the other not.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv2.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the calm line and the not-judged family", `document.querySelector('#ongoing li.calm') !== null && document.querySelector('#ongoing li.notjudged-line') !== null`)
	calm := evalJS[string](t, ctx, `document.querySelector('#ongoing li.calm').innerText`)
	if calm != "Nothing ongoing in IPv4: every country and network is within its normal there." {
		t.Errorf("calm line %q", calm)
	}
	if line := evalJS[string](t, ctx, `document.querySelector('#ongoing li.notjudged-line').innerText`); !strings.HasPrefix(line, "IPv6: not judged: no full-feed peers") {
		t.Errorf("not-judged line %q", line)
	}
	if sum := evalJS[string](t, ctx, `document.getElementById('judging-sum').textContent`); sum != "judging IPv4 only" {
		t.Errorf("judging note %q, want \"judging IPv4 only\"", sum)
	}
	screenshot(t, ctx, "home-half-judged")
	if p := problems(); len(p) > 0 {
		t.Errorf("errors in the browser console:\n%s", strings.Join(p, "\n"))
	}
}
