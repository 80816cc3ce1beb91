package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/metrics"
	"github.com/blackout-bgp/blackout/internal/offheap"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store"
)

var (
	demoOnce sync.Once
	demoSrv  *httptest.Server
	demoEng  *engine.Engine
	demoErr  error
)

// demoServer runs the embedded North Korea demo into a fresh store once and
// serves it on loopback.
func demoServer(t *testing.T) (*httptest.Server, *engine.Engine) {
	t.Helper()
	demoOnce.Do(func() {
		dir, err := makeTempDir()
		if err != nil {
			demoErr = err
			return
		}
		db, err := geo.Default()
		if err != nil {
			demoErr = err
			return
		}
		st, err := store.OpenSQLite(dir)
		if err != nil {
			demoErr = err
			return
		}
		m := metrics.New()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		eng, err := engine.New(context.Background(), engine.Config{Store: st, Geo: db, Logger: log, Metrics: m})
		if err != nil {
			demoErr = err
			return
		}
		if _, err := eng.Run(context.Background(), source.Merge(demo.Sources()), pipeline.Options{Config: pipeline.DefaultConfig(db)}); err != nil {
			demoErr = err
			return
		}
		demoEng = eng
		demoSrv = httptest.NewServer(New(Options{Store: st, Status: eng, Hub: eng.Hub(), Geo: db, Version: "test", Logger: log, Metrics: m}))
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoSrv, demoEng
}

func getJSON(t *testing.T, u string, want int) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: status %d, want %d: %s", u, resp.StatusCode, want, b)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, b)
	}
	return v
}

func TestDemoAPI(t *testing.T) {
	srv, _ := demoServer(t)
	h := getJSON(t, srv.URL+"/api/v1/health", 200)
	if h["status"] != "ok" || h["data_time"] != "2014-12-23T23:55:29Z" || h["route_events"].(float64) != 44453 {
		t.Errorf("health: %v", h)
	}
	evs := getJSON(t, srv.URL+"/api/v1/events?entity_type=country&entity_code=KP&kind=outage", 200)["events"].([]any)
	if len(evs) != 2 {
		t.Fatalf("KP outages: %d, want 2", len(evs))
	}
	first := evs[1].(map[string]any) // newest first: the 9h31m outage is the older one
	if first["start"] != "2014-12-22T16:15:04.920798Z" && !strings.HasPrefix(first["start"].(string), "2014-12-22T16:15") {
		t.Errorf("KP outage start %v", first["start"])
	}
	id := int(first["id"].(float64))
	ev := getJSON(t, fmt.Sprintf("%s/api/v1/events/%d", srv.URL, id), 200)
	ups := ev["upstream_ases"].([]any)
	if len(ups) == 0 || ups[0].(map[string]any)["asn"].(float64) != 4837 {
		t.Errorf("upstreams %v", ups)
	}
	if ev["preceded_by_instability"] == nil {
		t.Errorf("the outage should be preceded by the instability: %v", ev)
	} else if pid := int(ev["preceded_by_instability"].(float64)); pid != id {
		in := getJSON(t, fmt.Sprintf("%s/api/v1/events/%d", srv.URL, pid), 200)
		if in["kind"] != "instability" || in["entity_code"] != "KP" {
			t.Errorf("preceded_by_instability %d is %v %v", pid, in["kind"], in["entity_code"])
		}
	}
	// Pagination walks every event once, newest first.
	var all []string
	cursor := ""
	for page := 0; page < 20; page++ {
		u := srv.URL + "/api/v1/events?limit=2"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		v := getJSON(t, u, 200)
		for _, e := range v["events"].([]any) {
			all = append(all, e.(map[string]any)["start"].(string)+fmt.Sprint(e.(map[string]any)["id"]))
		}
		if v["next_cursor"] == nil {
			break
		}
		cursor = v["next_cursor"].(string)
	}
	if len(all) < 6 || !sort.SliceIsSorted(all, func(i, j int) bool { return all[i] > all[j] }) {
		t.Errorf("paged events: %v", all)
	}
	seen := map[string]bool{}
	for _, a := range all {
		if seen[a] {
			t.Errorf("event %s twice in the pages", a)
		}
		seen[a] = true
	}
	// Entities.
	ents := getJSON(t, srv.URL+"/api/v1/entities?q=korea", 200)["entities"].([]any)
	found := false
	for _, e := range ents {
		if e.(map[string]any)["code"] == "KP" {
			found = true
		}
	}
	if !found {
		t.Errorf("q=korea: %v", ents)
	}
	ents = getJSON(t, srv.URL+"/api/v1/entities?q=AS131279", 200)["entities"].([]any)
	if len(ents) == 0 || ents[0].(map[string]any)["code"] != "131279" || ents[0].(map[string]any)["name"] != "Star Joint Venture Co. Ltd." {
		t.Errorf("q=AS131279: %v", ents)
	}
	kp := getJSON(t, srv.URL+"/api/v1/entities/country/kp", 200)
	if kp["name"] != "North Korea" || len(kp["upstreams"].([]any)) == 0 {
		t.Errorf("country KP: %v", kp)
	}
	as := getJSON(t, srv.URL+"/api/v1/entities/asn/AS131279", 200)
	if as["country"] != "KP" {
		t.Errorf("AS131279: %v", as)
	}
	// Signals: the outage shows in the hourly points.
	sig := getJSON(t, srv.URL+"/api/v1/entities/country/KP/signals?from=2014-12-22T00:00:00Z&until=2014-12-23T00:00:00Z&step=1h", 200)
	pts := sig["points"].([]any)
	if len(pts) != 25 {
		t.Errorf("hourly points over a day: %d, want 25", len(pts))
	}
	var dark, lit int
	for _, p := range pts {
		pm := p.(map[string]any)
		if pm["time"] == "2014-12-22T20:00:00Z" && pm["space"].(float64) != 0 {
			t.Errorf("KP at 20:00 should be dark: %v", pm)
		}
		if pm["min_space"].(float64) == 0 {
			dark++
		} else {
			lit++
		}
	}
	if dark < 7 || lit < 10 {
		t.Errorf("dark %d lit %d points", dark, lit)
	}
	mp := getJSON(t, srv.URL+"/api/v1/entities/country/KP/signals?from=2014-12-19T00:00:00Z&until=2014-12-24T00:00:00Z&maxPoints=50", 200)
	if n := len(mp["points"].([]any)); n > 51 || n < 40 {
		t.Errorf("maxPoints=50 gave %d points", n)
	}
	st := getJSON(t, srv.URL+"/api/v1/status", 200)
	if st["countries"].(map[string]any)["KP"] != "normal" {
		t.Errorf("status: %v", st["countries"])
	}
}

func TestErrors(t *testing.T) {
	srv, _ := demoServer(t)
	for _, c := range []struct {
		path string
		code int
		word string
	}{
		{"/api/v1/entities?type=planet", 400, "type"},
		{"/api/v1/entities?limit=x", 400, "limit"},
		{"/api/v1/entities/country/XX", 404, "country"},
		{"/api/v1/entities/asn/4294967", 404, "AS4294967"},
		{"/api/v1/entities/asn/abc", 400, "code"},
		{"/api/v1/entities/planet/x", 404, "type"},
		{"/api/v1/entities/country/KP/signals?family=ipv5", 400, "family"},
		{"/api/v1/entities/country/KP/signals?from=yesterday", 400, "from"},
		{"/api/v1/entities/country/KP/signals?step=-1h", 400, "step"},
		{"/api/v1/entities/country/KP/signals?maxPoints=0", 400, "maxPoints"},
		{"/api/v1/events?kind=meteor", 400, "kind"},
		{"/api/v1/events?severity=dire", 400, "severity"},
		{"/api/v1/events?until=now", 400, "until"},
		{"/api/v1/events?ongoing=maybe", 400, "ongoing"},
		{"/api/v1/events?cursor=!!", 400, "cursor"},
		{"/api/v1/events?limit=5000", 400, "limit"},
		{"/api/v1/events/abc", 400, "id"},
		{"/api/v1/events/99999", 404, "99999"},
		{"/api/v1/nothing", 404, "nothing"},
	} {
		v := getJSON(t, srv.URL+c.path, c.code)
		if msg, _ := v["error"].(string); !strings.Contains(msg, c.word) {
			t.Errorf("%s: error %q does not name %q", c.path, msg, c.word)
		}
	}
}

func TestStaticAndMetrics(t *testing.T) {
	srv, _ := demoServer(t)
	for _, p := range []string{"/", "/country/KP", "/asn/131279", "/event/3"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(strings.ToLower(string(b)), "<html") {
			t.Errorf("%s: %d %.80q", p, resp.StatusCode, b)
		}
	}
	// The gauge reports the process's off-heap bytes (the routing view's
	// tables and paths): hold a block of our own while scraping, since
	// whether the demo's finished view has been collected yet depends on
	// the collector.
	var arena offheap.Arena
	held := offheap.Make[uint64](&arena, 1<<17) // 1 MiB
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	offheap.Free(&arena, held)
	for _, m := range []string{"blackout_route_events_total 44453", "blackout_data_time_seconds 1.419378929", "blackout_events_open 0", "blackout_store_write_seconds_count"} {
		if !strings.Contains(string(b), m) {
			t.Errorf("metrics lack %q", m)
		}
	}
	if m := regexp.MustCompile(`(?m)^blackout_offheap_inuse_bytes (\S+)$`).FindStringSubmatch(string(b)); m == nil {
		t.Errorf("metrics lack blackout_offheap_inuse_bytes")
	} else if v, err := strconv.ParseFloat(m[1], 64); err != nil || v < 1<<20 {
		t.Errorf("blackout_offheap_inuse_bytes %s while 1 MiB is held off the heap, want at least %d", m[1], 1<<20)
	}
}

func TestStream(t *testing.T) {
	srv, eng := demoServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	readEvent := func() (string, string) {
		var ev, data string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "" && ev != "":
				return ev, data
			case strings.HasPrefix(line, "event: "):
				ev = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			}
		}
	}
	if ev, data := readEvent(); ev != "tick" || !strings.Contains(data, `"route_events":44453`) {
		t.Errorf("first message %s %s", ev, data)
	}
	// A notice published by the engine reaches the subscriber.
	evs, _ := eng.Store().Events(ctx, store.EventFilter{Limit: 1})
	last, _ := eng.Store().LastNoticeSeq(ctx)
	eng.Hub().PublishNotice(last+1, event.End, &evs[0].Event)
	if ev, data := readEvent(); ev != "notice" || !strings.Contains(data, `"type":"end"`) || !strings.Contains(data, `"event":{"id":`) {
		t.Errorf("notice message %s %s", ev, data)
	}
}
