package server

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/hub"
)

// TestDashboardLearning: while a family is learning the live peers'
// tables, the dashboard shows the learning banner with the peers ready;
// once every family is judged, the banner is gone.
func TestDashboardLearning(t *testing.T) {
	findChromium(t)
	st := emptyStore(t)
	learning := event.Coverage{Families: []event.FamilyCoverage{
		{Family: bgp.IPv4, LivePeers: 3, ReadyPeers: 1, NotJudged: "learning the peers' tables: 1 of 3 peers ready (each at its End-of-RIB, or when its table stops growing)"},
		{Family: bgp.IPv6, LivePeers: 3, ReadyPeers: 3, FullFeedPeers: 3, JudgedFrom: tp("2026-12-02T00:28:03Z")},
	}}
	fs := &fakeStatus{dataTime: time.Date(2026, 12, 2, 0, 28, 5, 0, time.UTC), events: 600, running: true, cov: learning}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(New(Options{Store: st, Status: fs, Hub: hub.New(), Version: "test", Logger: log}))
	t.Cleanup(srv.Close)
	judged := &fakeStatus{dataTime: fs.dataTime, events: 600, running: true, cov: covJudged}
	srv2 := httptest.NewServer(New(Options{Store: st, Status: judged, Hub: hub.New(), Version: "test", Logger: log}))
	t.Cleanup(srv2.Close)

	ctx, _ := browser(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the learning banner", `!document.getElementById('learning').hidden`)
	if got := evalJS[string](t, ctx, `document.getElementById('learning').textContent`); !strings.Contains(got, "IPv4 1 of 3 peers ready") || strings.Contains(got, "IPv6") {
		t.Errorf("banner %q", got)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv2.URL+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the judging note", `!document.getElementById('judging').hidden`)
	if !evalJS[bool](t, ctx, `document.getElementById('learning').hidden`) {
		t.Error("the learning banner shows while every family is judged")
	}
}
