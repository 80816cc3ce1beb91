package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/hub"
	"github.com/blackout-bgp/blackout/internal/store"
)

// fakeStatus is a Status with a fixed data clock and coverage.
type fakeStatus struct {
	dataTime time.Time
	events   int64
	running  bool
	cov      event.Coverage
}

func (f *fakeStatus) DataTime() time.Time      { return f.dataTime }
func (f *fakeStatus) RouteEvents() int64       { return f.events }
func (f *fakeStatus) Running() bool            { return f.running }
func (f *fakeStatus) Coverage() event.Coverage { return f.cov }
func tp(s string) *time.Time                   { t, _ := time.Parse(time.RFC3339, s); return &t }
func emptyStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Coverages as the detector gives them.
var (
	covJudged = event.Coverage{Families: []event.FamilyCoverage{
		{Family: bgp.IPv4, FullFeedPeers: 30, RIB: true, JudgedFrom: tp("2014-12-19T00:02:10Z")},
		{Family: bgp.IPv6, FullFeedPeers: 30, RIB: true, JudgedFrom: tp("2014-12-19T00:02:10Z")},
	}}
	covWarming = event.Coverage{Families: []event.FamilyCoverage{
		{Family: bgp.IPv4, FullFeedPeers: 0, NotJudged: "warming up until 2014-12-19 01:00:00 UTC: no RIB dump, the peers' tables are learnt from updates (--warm-up)"},
		{Family: bgp.IPv6, FullFeedPeers: 0, NotJudged: "warming up until 2014-12-19 01:00:00 UTC: no RIB dump, the peers' tables are learnt from updates (--warm-up)"},
	}, Undecoded: map[string]int64{"TABLE_DUMP": 24242}}
	covHalf = event.Coverage{Families: []event.FamilyCoverage{
		{Family: bgp.IPv4, FullFeedPeers: 12, RIB: true, JudgedFrom: tp("2014-12-19T00:02:10Z")},
		{Family: bgp.IPv6, FullFeedPeers: 0, RIB: true, NotJudged: "no full-feed peers (no vantage point has a full table of this family)"},
	}}
)

func judgingServer(t *testing.T, st store.Store, fs *fakeStatus) *httptest.Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(New(Options{Store: st, Status: fs, Hub: hub.New(), Version: "test", Logger: log}))
	t.Cleanup(srv.Close)
	return srv
}

// TestJudging: health's status and the judging object of health and status,
// for a coverage judged, half judged, warming up and empty; every response
// true to openapi.json.
func TestJudging(t *testing.T) {
	var doc oaDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	schema := func(path string) *oaSchema {
		return doc.Paths[path]["get"].Responses["200"].Content["application/json"].Schema
	}
	dt := time.Date(2014, 12, 19, 0, 5, 0, 0, time.UTC)
	st := emptyStore(t)
	for _, c := range []struct {
		name       string
		fs         fakeStatus
		status     string
		judged     bool
		statements []string // each a substring of the statement at its index
	}{
		{"judged", fakeStatus{dataTime: dt, events: 9, running: true, cov: covJudged}, "ok", true,
			[]string{"IPv4: judged from 2014-12-19 00:02:10 UTC (30 full-feed peers).", "IPv6: judged from"}},
		{"half", fakeStatus{dataTime: dt, events: 9, cov: covHalf}, "ok", true,
			[]string{"IPv4: judged from", "IPv6: not judged: no full-feed peers"}},
		{"warming up", fakeStatus{dataTime: dt, events: 9, running: true, cov: covWarming}, "warming_up", false,
			[]string{"IPv4: not judged: warming up until 2014-12-19 01:00:00 UTC", "IPv6: not judged: warming up", "24,242 records of MRT TABLE_DUMP not decoded"}},
		{"not judged", fakeStatus{dataTime: dt, events: 9, cov: covWarming}, "not_judged", false,
			[]string{"IPv4: not judged: warming up until", "IPv6: not judged", "24,242 records of MRT"}},
		{"waiting", fakeStatus{running: true}, "warming_up", false, []string{"Not judged yet: waiting for the first route events."}},
		{"nothing", fakeStatus{}, "ok", false, []string{"Not judged: no route event read yet."}},
		{"stored only", fakeStatus{dataTime: dt}, "not_judged", false, []string{"Not judged: no source is being fed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := judgingServer(t, st, &c.fs)
			h := getJSON(t, srv.URL+"/api/v1/health", 200)
			doc.check(t, "health", schema("/api/v1/health"), h)
			if h["status"] != c.status {
				t.Errorf("health status %v, want %s", h["status"], c.status)
			}
			s := getJSON(t, srv.URL+"/api/v1/status", 200)
			doc.check(t, "status", schema("/api/v1/status"), s)
			for where, v := range map[string]map[string]any{"health": h, "status": s} {
				j, ok := v["judging"].(map[string]any)
				if !ok {
					t.Fatalf("%s: no judging object: %v", where, v)
				}
				if j["judged"] != c.judged {
					t.Errorf("%s: judged %v, want %v", where, j["judged"], c.judged)
				}
				sts, _ := j["statements"].([]any)
				if len(sts) != len(c.statements) {
					t.Errorf("%s: statements %q, want %d", where, sts, len(c.statements))
					continue
				}
				for i, want := range c.statements {
					if got, _ := sts[i].(string); !strings.Contains(got, want) {
						t.Errorf("%s: statement %d %q, want it to say %q", where, i, got, want)
					}
				}
				fams, _ := j["families"].([]any)
				if len(fams) != len(c.fs.cov.Families) {
					t.Errorf("%s: %d families, want %d", where, len(fams), len(c.fs.cov.Families))
				}
				for i, f := range fams {
					fm := f.(map[string]any)
					want := c.fs.cov.Families[i]
					if fm["family"] != want.Family.String() || (fm["judged_from"] == nil) != (want.JudgedFrom == nil) {
						t.Errorf("%s: family %d: %v, want %+v", where, i, fm, want)
					}
					if want.NotJudged != "" && fm["not_judged"] != want.NotJudged {
						t.Errorf("%s: family %d not_judged %v, want %q", where, i, fm["not_judged"], want.NotJudged)
					}
				}
			}
			// The existing fields stay.
			for _, k := range []string{"status", "version", "data_time", "route_events", "events_open", "running"} {
				if _, ok := h[k]; !ok {
					t.Errorf("health lost %q", k)
				}
			}
			for _, k := range []string{"data_time", "ongoing", "countries"} {
				if _, ok := s[k]; !ok {
					t.Errorf("status lost %q", k)
				}
			}
		})
	}
}

// TestJudgingDemo: the demo (a RIB dump and days of updates) is judged in
// both families.
func TestJudgingDemo(t *testing.T) {
	srv, _ := demoServer(t)
	h := getJSON(t, srv.URL+"/api/v1/health", 200)
	j := h["judging"].(map[string]any)
	if h["status"] != "ok" || j["judged"] != true || len(j["families"].([]any)) != 2 {
		t.Fatalf("demo health: %v", h)
	}
	for _, s := range j["statements"].([]any) {
		if !strings.Contains(s.(string), "judged from 2014-12-19") {
			t.Errorf("demo statement %q", s)
		}
	}
}
