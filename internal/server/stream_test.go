package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/hub"
	"github.com/blackout-bgp/blackout/internal/store"
)

// sse is one server-sent event.
type sse struct{ id, event, data string }

// sseClient reads a stream.
type sseClient struct {
	t    *testing.T
	r    *bufio.Reader
	resp *http.Response
}

func openSSE(t *testing.T, url string, lastID string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sseClient{t: t, r: bufio.NewReader(resp.Body), resp: resp}
}

func (c *sseClient) next() sse {
	c.t.Helper()
	var e sse
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && e.event != "":
			return e
		case strings.HasPrefix(line, "id: "):
			e.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			e.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			e.data = line[6:]
		}
	}
}

// nextNotice skips ticks.
func (c *sseClient) nextNotice() sse {
	c.t.Helper()
	for {
		if e := c.next(); e.event != "tick" {
			return e
		}
	}
}

// noticeStore is a store holding n notices of distinct events.
func noticeStore(t *testing.T, n int) *store.SQLite {
	st, err := store.OpenSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	addNotices(t, st, 1, n)
	return st
}

// addNotices stores the notices of events from..to (their seqs follow).
func addNotices(t *testing.T, st *store.SQLite, from, to int) {
	t.Helper()
	t0 := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	var b store.Batch
	for i := from; i <= to; i++ {
		ev := event.Event{EntityType: event.OriginAS, EntityCode: fmt.Sprint(64500 + i), Kind: event.Outage, Start: t0.Add(time.Duration(i) * time.Minute), Severity: event.Critical}
		b.Events = append(b.Events, store.EventOp{Key: store.KeyOf(&ev), Event: ev, Notice: &store.NoticeOp{Type: event.Start, Time: ev.Start, Event: ev}})
	}
	if _, err := st.Write(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestStreamIDsAndResume: notices carry their outbox id; a client that
// comes back with Last-Event-ID gets what it missed from the store, in
// order, then the live ones; a new client only what comes after it
// connected; a bad Last-Event-ID is a 400.
func TestStreamIDsAndResume(t *testing.T) {
	st := noticeStore(t, 5)
	h := hub.New()
	srv := httptest.NewServer(New(Options{Store: st, Status: &fakeStatus{}, Hub: h, Logger: quietLog()}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/api/v1/stream"

	c := openSSE(t, url, "2")
	for want := 3; want <= 5; want++ {
		e := c.nextNotice()
		if e.event != "notice" || e.id != fmt.Sprint(want) || !strings.Contains(e.data, fmt.Sprintf(`"entity_code":"%d"`, 64500+want)) {
			t.Fatalf("resumed notice %d: %+v", want, e)
		}
	}
	fresh := openSSE(t, url+"?last_event_id=", "")
	if e := fresh.next(); e.event != "tick" {
		t.Fatalf("first message %+v", e)
	}
	// A live notice reaches both; the resumed client does not get 3..5 twice.
	addNotices(t, st, 6, 6)
	ns, _ := st.Notices(context.Background(), 5, 10)
	h.PublishNotice(ns[0].Seq, ns[0].Type, &ns[0].Event)
	for _, cl := range []*sseClient{c, fresh} {
		if e := cl.nextNotice(); e.id != "6" || !strings.Contains(e.data, `"entity_code":"64506"`) {
			t.Errorf("live notice %+v", e)
		}
	}
	// Notices missed by the live feed (a full buffer: 7..9 never
	// published) come from the store, in order, before the next live one.
	addNotices(t, st, 7, 10)
	ns, _ = st.Notices(context.Background(), 9, 10)
	h.PublishNotice(ns[0].Seq, ns[0].Type, &ns[0].Event)
	for want := 7; want <= 10; want++ {
		if e := c.nextNotice(); e.id != fmt.Sprint(want) {
			t.Fatalf("after a gap: got %+v, want id %d", e, want)
		}
	}
	for _, bad := range []string{"x", "-1", strings.Repeat("9", 900)} {
		resp, err := http.Get(url + "?last_event_id=" + bad)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "Last-Event-ID") || len(b) > 300 {
			t.Errorf("last_event_id=%.20s: %d %s", bad, resp.StatusCode, b)
		}
	}
}

// TestStreamTellsWhatIsLost: a client more than the backlog behind is
// told how many notices it lost, then gets the latest ones.
func TestStreamTellsWhatIsLost(t *testing.T) {
	st := noticeStore(t, 10)
	s := New(Options{Store: st, Status: &fakeStatus{}, Hub: hub.New(), Logger: quietLog()})
	s.backlog = 3
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c := openSSE(t, srv.URL+"/api/v1/stream", "1")
	e := c.nextNotice()
	var lost struct {
		Missed  int    `json:"missed"`
		AfterID int    `json:"after_id"`
		Reason  string `json:"reason"`
	}
	if e.event != "lost" || json.Unmarshal([]byte(e.data), &lost) != nil || lost.Missed != 6 || lost.AfterID != 1 || lost.Reason == "" {
		t.Fatalf("want a lost event for 2..7, got %+v", e)
	}
	for want := 8; want <= 10; want++ {
		if e := c.nextNotice(); e.id != fmt.Sprint(want) {
			t.Fatalf("got %+v, want id %d", e, want)
		}
	}
}

// failingStatus is a Status whose store writes fail.
type failingStatus struct {
	fakeStatus
	err error
}

func (f *failingStatus) StoreHealth() (bool, string, time.Time, int, time.Time) {
	if f.err == nil {
		return true, "", time.Time{}, 0, time.Time{}
	}
	return false, "store writes are failing: " + store.Describe(f.err), time.Unix(1e9, 0), 42, time.Unix(1e9+4, 0)
}

// TestHealthDegraded: failing store writes make health 503 "degraded"
// with the reason in plain words; when they work again it is 200; a store
// that cannot be read is degraded too, and the API's 500s carry no SQL
// internals.
func TestHealthDegraded(t *testing.T) {
	st := noticeStore(t, 1)
	fs := &failingStatus{fakeStatus: fakeStatus{cov: covJudged}, err: fmt.Errorf("store x: write: %w", errors.New("database or disk is full"))}
	srv := judgingServerStatus(t, st, fs)
	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, h := get("/api/v1/health")
	stj, _ := h["store"].(map[string]any)
	if code != 503 || h["status"] != "degraded" || !strings.HasPrefix(fmt.Sprint(h["reason"]), "store writes are failing") ||
		stj["ok"] != false || stj["queued_rows"] != float64(42) || stj["since"] != "2001-09-09T01:46:40Z" {
		t.Errorf("failing writes: %d %v", code, h)
	}
	fs.err = nil
	if code, h := get("/api/v1/health"); code != 200 || h["status"] != "ok" || h["store"].(map[string]any)["ok"] != true {
		t.Errorf("working writes: %d %v", code, h)
	}
	st.Close()
	if code, h := get("/api/v1/health"); code != 503 || !strings.Contains(fmt.Sprint(h["reason"]), "store reads are failing") {
		t.Errorf("closed store: %d %v", code, h)
	}
	for _, p := range []string{"/api/v1/events", "/api/v1/alerts/dead", "/api/v1/status"} {
		code, h := get(p)
		if msg := fmt.Sprint(h["error"]); code != 500 || strings.Contains(msg, "sql") || !strings.HasPrefix(msg, "internal error (request id ") {
			t.Errorf("%s on a closed store: %d %v", p, code, h)
		}
	}
}

func judgingServerStatus(t *testing.T, st store.Store, s Status) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(Options{Store: st, Status: s, Hub: hub.New(), Version: "test", Logger: quietLog()}))
	t.Cleanup(srv.Close)
	return srv
}

// TestDeadLettersAPI lists the alerts given up on.
func TestDeadLettersAPI(t *testing.T) {
	st := noticeStore(t, 3)
	ctx := context.Background()
	for _, d := range []store.Delivery{{Seq: 1, Sink: "ops", State: store.Delivered, Attempts: 1}, {Seq: 2, Sink: "ops", State: store.Dead, Attempts: 6, Error: "HTTP 503 Service Unavailable"},
		{Seq: 3, Sink: "chat", State: store.Dead, Attempts: 1, Error: "HTTP 404 Not Found"}} {
		if err := st.RecordDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	srv := judgingServerStatus(t, st, &fakeStatus{})
	var page struct {
		DeadLetters []DeadLetterJSON `json:"dead_letters"`
	}
	for _, c := range []struct {
		q    string
		want string
	}{{"", "3 chat,2 ops"}, {"?sink=ops", "2 ops"}, {"?limit=1", "3 chat"}} {
		resp, err := http.Get(srv.URL + "/api/v1/alerts/dead" + c.q)
		if err != nil {
			t.Fatal(err)
		}
		page.DeadLetters = nil
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		var got []string
		for _, d := range page.DeadLetters {
			got = append(got, fmt.Sprintf("%d %s", d.ID, d.Sink))
			if d.Event == nil || d.Event.EntityCode != fmt.Sprint(64500+d.ID) || d.Type != event.Start || d.Attempts == 0 || d.Error == "" {
				t.Errorf("dead letter %+v", d)
			}
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("%s: %v, want %s", c.q, got, c.want)
		}
	}
	if resp, _ := http.Get(srv.URL + "/api/v1/alerts/dead?limit=0"); resp.StatusCode != 400 {
		t.Errorf("limit=0: %d", resp.StatusCode)
	}
}
