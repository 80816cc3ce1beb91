package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/store"
)

// TestTimeBounds: far open-ended bounds are clamped to the supported range
// (every event, points of the signals), bounds that select nothing are a
// 400 naming the parameter, and an overlong step is a 400, not an overflow.
func TestTimeBounds(t *testing.T) {
	srv, _ := demoServer(t)
	count := func(q string) int {
		t.Helper()
		v := getJSON(t, srv.URL+"/api/v1/events?limit=1000"+q, 200)
		evs, _ := v["events"].([]any)
		return len(evs)
	}
	all := count("")
	if all == 0 {
		t.Fatal("the demo has no events")
	}
	for _, q := range []string{"&until=9999-12-31T23:59:59Z", "&from=1600-01-01T00:00:00Z",
		"&from=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59Z", "&until=2200-01-01T00:00:00Z"} {
		if n := count(q); n != all {
			t.Errorf("events%s: %d events, want all %d", q, n, all)
		}
	}
	for _, c := range []struct{ path, word string }{
		{"/api/v1/events?from=2300-01-01T00:00:00Z", "from"},
		{"/api/v1/events?until=1900-01-01T00:00:00Z", "until"},
		{"/api/v1/entities/country/KP/signals?until=1969-12-31T23:59:59Z", "until"},
		{"/api/v1/entities/country/KP/signals?step=2562047h", "step"},
		{"/api/v1/entities/country/KP/signals?step=100000h", "step"},
	} {
		v := getJSON(t, srv.URL+c.path, 400)
		if msg, _ := v["error"].(string); !strings.HasPrefix(msg, c.word+":") {
			t.Errorf("%s: error %q does not start with %q", c.path, msg, c.word)
		}
	}
	// From the beginning is from the first bin: steps that fit the week
	// of data (about 400 points of 20 or 25 minutes), not one 16-day point.
	for q, want := range map[string]int{"from=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59Z": 300, "from=1600-01-01T00:00:00Z&step=87840h": 1,
		"from=2014-12-20T00:00:00Z&until=9999-12-31T23:59:59Z&step=1h": 50} {
		v := getJSON(t, srv.URL+"/api/v1/entities/country/KP/signals?"+q, 200)
		pts, _ := v["points"].([]any)
		if len(pts) < want {
			t.Errorf("signals?%s: %d points (step %v)", q, len(pts), v["step"])
		}
		for _, p := range pts {
			tm, err := time.Parse(time.RFC3339, p.(map[string]any)["time"].(string))
			if err != nil || tm.Year() < 1960 || tm.Year() > 2200 {
				t.Errorf("signals?%s: point at %v (%v)", q, tm, err)
			}
		}
	}
}

// TestQueryValidation: malformed escapes and cursors are 400s naming the
// parameter; long values are cut in the message.
func TestQueryValidation(t *testing.T) {
	srv, _ := demoServer(t)
	cur := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct{ q, word string }{
		{"cursor=%%%", `"cursor"`},
		{"kind=%zz", `"kind"`},
		{"cursor=" + cur("abc.1"), "cursor"},
		{"cursor=" + cur("1419000000000000000.0"), "cursor"},
		{"cursor=" + cur("-99999999999999999.5"), "cursor"},
		{"cursor=" + cur("1419000000000000000"), "cursor"},
	} {
		v := getJSON(t, srv.URL+"/api/v1/events?"+c.q, 400)
		if msg, _ := v["error"].(string); !strings.Contains(msg, c.word) {
			t.Errorf("%s: error %q does not name %s", c.q, msg, c.word)
		}
	}
	// A valid cursor still pages.
	first := getJSON(t, srv.URL+"/api/v1/events?limit=1", 200)
	next, _ := first["next_cursor"].(string)
	if next == "" {
		t.Fatal("no next_cursor")
	}
	getJSON(t, srv.URL+"/api/v1/events?limit=1&cursor="+next, 200)

	// 900 KB reach the handler under the default header bound (the
	// server of NewHTTPServer allows 64 KB of headers).
	for _, u := range []string{"/api/v1/events?kind=" + strings.Repeat("a", 900000), "/api/v1/entities?type=" + url.QueryEscape(strings.Repeat("é", 100)),
		"/api/v1/entities/country/" + strings.Repeat("Z", 5000)} {
		resp, err := http.Get(srv.URL + u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 4 || len(b) > 300 || !bytes.Contains(b, []byte("bytes)")) {
			t.Errorf("%.40s...: %d, %d bytes: %.300s", u, resp.StatusCode, len(b), b)
		}
	}
}

// failingStore fails every read of events as a corrupt SQLite file does.
type failingStore struct{ store.Store }

var errMalformed = errors.New("sqlite: query events: database disk image is malformed (11)")

func (failingStore) Events(context.Context, store.EventFilter) ([]store.StoredEvent, error) {
	return nil, errMalformed
}

// TestInternalErrorsHidden: a store error reaches the log with a request
// id; the client gets the id, not the SQL.
func TestInternalErrorsHidden(t *testing.T) {
	var logBuf lockedBuf
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	srv := httptest.NewServer(New(Options{Store: failingStore{emptyStore(t)}, Status: &fakeStatus{}, Version: "test", Logger: log}))
	defer srv.Close()
	for _, p := range []string{"/api/v1/events", "/api/v1/status", "/api/v1/entities/country/KP"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		if resp.StatusCode != 500 || id == "" || !bytes.Contains(b, []byte(id)) || bytes.Contains(b, []byte("malformed")) || bytes.Contains(b, []byte("sqlite")) {
			t.Errorf("%s: %d id %q %s", p, resp.StatusCode, id, b)
		}
		if l := logBuf.String(); !strings.Contains(l, "request_id="+id) || !strings.Contains(l, "malformed") {
			t.Errorf("%s: log lacks the id and the error: %s", p, l)
		}
	}
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestNotFoundPage: every unknown non-API path and every directory gets
// the styled HTML 404 page; unknown API paths get JSON; files are served.
func TestNotFoundPage(t *testing.T) {
	srv, _ := demoServer(t)
	get := func(method, p string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+p, nil)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	for _, p := range []string{"/nothing", "/vendor/", "/vendor", "/app.js/", "/404.html", "/a/b/c.html", "/country/"} {
		resp, b := get("GET", p)
		if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(b, "Page not found") || !strings.Contains(b, `href="/app.css"`) || strings.Contains(b, "uPlot.LICENSE") {
			t.Errorf("GET %s: %d %s %.200q", p, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
	for _, p := range []string{"/app.css", "/vendor/uPlot.min.css", "/app.js"} {
		if resp, _ := get("GET", p); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{{"GET", "/api/nothing", 404}, {"GET", "/api/v1/", 404}, {"POST", "/api/v1/events", 405}, {"DELETE", "/api/v9/x", 405}} {
		resp, b := get(c.method, c.path)
		if resp.StatusCode != c.code || resp.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(b, `{"error":`) {
			t.Errorf("%s %s: %d %s %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
}

// sse reads the event names of a stream.
func sseEvents(r *bufio.Reader, out chan<- string) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			close(out)
			return
		}
		if ev, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "event: "); ok {
			out <- ev
		}
	}
}

func openStream(t *testing.T, ctx context.Context, base string) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/stream", nil)
	return http.DefaultClient.Do(req)
}

// TestStreamCapAndTimeouts: the server's timeouts (shortened here) do not
// cut the stream; a subscriber over the cap gets a 503; its place comes
// back when one leaves.
func TestStreamCapAndTimeouts(t *testing.T) {
	_, eng := demoServer(t)
	defer func(a, b, c time.Duration) { readTimeout, writeTimeout, idleTimeout = a, b, c }(readTimeout, writeTimeout, idleTimeout)
	readTimeout, writeTimeout, idleTimeout = 200*time.Millisecond, 200*time.Millisecond, time.Second
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := New(Options{Store: eng.Store(), Status: eng, Hub: eng.Hub(), Version: "test", Logger: log, MaxSubscribers: 1})
	srv := httptest.NewUnstartedServer(h)
	srv.Config = NewHTTPServer(h, log)
	srv.Start()
	defer srv.Close()
	if srv.Config.ReadHeaderTimeout == 0 || srv.Config.IdleTimeout == 0 || srv.Config.WriteTimeout == 0 {
		t.Fatalf("timeouts missing: %+v", srv.Config)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c1, cancel1 := context.WithCancel(ctx)
	resp, err := openStream(t, c1, srv.URL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first subscriber: %v %v", resp, err)
	}
	evs := make(chan string, 16)
	go sseEvents(bufio.NewReader(resp.Body), evs)
	if ev := <-evs; ev != "tick" {
		t.Fatalf("first event %q", ev)
	}
	// Over the cap.
	resp2, err := openStream(t, ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 503 || !bytes.Contains(b, []byte("subscribers")) || resp2.Header.Get("Retry-After") == "" {
		t.Errorf("second subscriber: %d %s", resp2.StatusCode, b)
	}
	// Past the write timeout the stream still delivers.
	time.Sleep(3 * writeTimeout)
	evs0, _ := eng.Store().Events(ctx, store.EventFilter{Limit: 1})
	lastSeq, _ := eng.Store().LastNoticeSeq(ctx)
	eng.Hub().PublishNotice(lastSeq+1, event.End, &evs0[0].Event)
	select {
	case ev, ok := <-evs:
		if !ok || ev != "notice" {
			t.Errorf("after the write timeout: %q %v", ev, ok)
		}
	case <-ctx.Done():
		t.Fatal("no notice after the write timeout")
	}
	// A plain request still works under the short timeouts.
	getJSON(t, srv.URL+"/api/v1/events?limit=1", 200)
	// The place comes back.
	cancel1()
	resp.Body.Close()
	for {
		r, err := openStream(t, ctx, srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		code := r.StatusCode
		r.Body.Close()
		if code == 200 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLimitListener: connections over the cap are answered 503 and
// closed; a place freed is taken again.
func TestLimitListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ll := NewLimitListener(ln, 2)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ll)
	defer srv.Close()
	addr := ln.Addr().String()
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// A request on a held connection works (and keeps it open).
	io.WriteString(held[0], "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if line, _ := bufio.NewReader(held[0]).ReadString('\n'); !strings.Contains(line, "200") {
		t.Fatalf("held connection: %q", line)
	}
	over := func() string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		return string(b)
	}
	// The server may not have accepted the second held one yet: wait for
	// the cap to be reached.
	deadline := time.Now().Add(5 * time.Second)
	var got string
	for got = over(); !strings.HasPrefix(got, "HTTP/1.1 503") && time.Now().Before(deadline); got = over() {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasPrefix(got, "HTTP/1.1 503") || !strings.Contains(got, "too many connections") || ll.Rejected() == 0 {
		t.Fatalf("over the cap: %q (rejected %d)", got, ll.Rejected())
	}
	held[1].Close()
	for got = over(); !strings.HasPrefix(got, "HTTP/1.1 200") && time.Now().Before(deadline); got = over() {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("after a place was freed: %q", got)
	}
	held[0].Close()
}

// TestExposed: loopback addresses are not exposed; any other is.
func TestExposed(t *testing.T) {
	for _, c := range []struct {
		ip   string
		want bool
	}{{"127.0.0.1", false}, {"127.3.4.5", false}, {"::1", false}, {"0.0.0.0", true}, {"::", true}, {"192.0.2.7", true}, {"2001:db8::1", true}} {
		if got := Exposed(&net.TCPAddr{IP: net.ParseIP(c.ip), Port: 8080}); got != c.want {
			t.Errorf("Exposed(%s) = %v, want %v", c.ip, got, c.want)
		}
	}
	var logBuf lockedBuf
	ln, err := Listen("127.0.0.1:0", 0, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if logBuf.String() != "" {
		t.Errorf("loopback listen logged %q", logBuf.String())
	}
}
