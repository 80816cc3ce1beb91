package alert

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

func kpOutage() event.Event {
	start := time.Date(2014, 12, 22, 16, 15, 4, 0, time.UTC)
	end := start.Add(9*time.Hour + 31*time.Minute)
	return event.Event{ID: 7, EntityType: event.OriginAS, EntityCode: "131279", EntityName: "Star Joint Venture Co. Ltd.", Kind: event.Outage,
		Family: bgp.AllFamilies, Start: start, End: &end, Severity: event.Critical, Explanation: "AS131279 went dark. More."}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestText(t *testing.T) {
	ev := kpOutage()
	got := Text(&Notice{Type: event.End, Event: ev, Time: *ev.End})
	if !strings.HasPrefix(got, "AS131279 is back after 9h31m") {
		t.Errorf("end text: %s", got)
	}
	ev.End = nil
	got = Text(&Notice{Type: event.Start, Event: ev, Time: ev.Start})
	if !strings.Contains(got, "AS131279 (Star Joint Venture Co. Ltd.): outage, critical, since 2014-12-22 16:15:04 UTC. AS131279 went dark.") {
		t.Errorf("start text: %s", got)
	}
	if FormatDuration(57*time.Hour) != "2d09h" || FormatDuration(59*time.Minute+59*time.Second) != "59m59s" {
		t.Error("FormatDuration")
	}
}

func TestRules(t *testing.T) {
	ev := kpOutage()
	n := &Notice{Type: event.Start, Event: ev}
	for _, c := range []struct {
		r    Rule
		want bool
	}{
		{Rule{AllASNs: true}, true},
		{Rule{ASNs: []uint32{131279}}, true},
		{Rule{ASNs: []uint32{4837}}, false},
		{Rule{Countries: []string{"*"}}, false}, // an AS event
		{Rule{AllASNs: true, Kinds: []event.Kind{event.Instability}}, false},
		{Rule{AllASNs: true, MinSeverity: event.Critical}, true},
		{Rule{AllASNs: true, Notices: []event.NoticeType{event.End}}, false},
	} {
		if got := c.r.Match(n); got != c.want {
			t.Errorf("%+v: %v, want %v", c.r, got, c.want)
		}
	}
	ev.Severity = "warning"
	ev.EntityType, ev.EntityCode = event.Country, "KP"
	n = &Notice{Type: event.Start, Event: ev}
	if (&Rule{Countries: []string{"kp"}, MinSeverity: event.Critical}).Match(n) || !(&Rule{Countries: []string{"KP"}}).Match(n) {
		t.Error("severity or country")
	}
}

// receiver is a webhook endpoint on loopback that fails, stalls and recovers
// on command.
type receiver struct {
	mu     sync.Mutex
	mode   string // "fail", "stall", "ok"
	got    [][]byte
	sigs   []string
	calls  atomic.Int32
	stall  chan struct{}
	server *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{mode: "ok", stall: make(chan struct{})}
	r.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.calls.Add(1)
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		mode := r.mode
		r.mu.Unlock()
		switch mode {
		case "fail":
			http.Error(w, "down", 503)
		case "stall":
			select {
			case <-r.stall:
			case <-req.Context().Done():
			}
		default:
			r.mu.Lock()
			r.got = append(r.got, b)
			r.sigs = append(r.sigs, req.Header.Get("X-Blackout-Signature"))
			r.mu.Unlock()
		}
	}))
	t.Cleanup(func() { close(r.stall); r.server.Close() })
	return r
}

func (r *receiver) set(mode string) { r.mu.Lock(); r.mode = mode; r.mu.Unlock() }
func (r *receiver) received() int   { r.mu.Lock(); defer r.mu.Unlock(); return len(r.got) }

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out: %s", what)
}

func TestWebhookFailsStallsRecovers(t *testing.T) {
	rcv := newReceiver(t)
	var mu sync.Mutex
	var dead []DeadLetter
	var okN, failN atomic.Int32
	cfg := Config{
		Rules: []Rule{{AllASNs: true}},
		Sinks: []SinkConfig{{Name: "hook", Type: "webhook", URL: rcv.server.URL, Secret: "s3cret",
			Timeout: Duration(100 * time.Millisecond), QueueSize: 4, MaxAttempts: 4, Backoff: Duration(20 * time.Millisecond), MaxBackoff: Duration(50 * time.Millisecond)}},
	}
	d, err := New(cfg, Options{Logger: quiet(),
		DeadLetter: func(x DeadLetter) { mu.Lock(); dead = append(dead, x); mu.Unlock() },
		Delivered: func(_ string, err error) {
			if err == nil {
				okN.Add(1)
			} else {
				failN.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ev := kpOutage()

	// 1. Failing, then recovering within the retries: delivered once, signed.
	rcv.set("fail")
	d.Notify(Notice{Type: event.End, Event: ev, Time: *ev.End})
	waitUntil(t, "two failed attempts", func() bool { return failN.Load() >= 2 })
	rcv.set("ok")
	waitUntil(t, "delivery after recovery", func() bool { return rcv.received() == 1 })
	rcv.mu.Lock()
	body, sig := rcv.got[0], rcv.sigs[0]
	rcv.mu.Unlock()
	if sig != Sign("s3cret", body) || !strings.HasPrefix(sig, "sha256=") {
		t.Errorf("signature %q does not match the body", sig)
	}
	var msg struct {
		Type  string      `json:"type"`
		Text  string      `json:"text"`
		Event event.Event `json:"event"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.Type != "end" || msg.Event.ID != 7 || !strings.HasPrefix(msg.Text, "AS131279 is back after 9h31m") {
		t.Errorf("body %s (%v)", body, err)
	}

	// 2. Stalled: attempts time out; Notify never blocks; the queue
	// overflows into the dead letters; then the receiver recovers and what
	// was queued is delivered.
	rcv.set("stall")
	start := time.Now()
	for i := 0; i < 20; i++ {
		d.Notify(Notice{Type: event.Start, Event: ev, Time: ev.Start})
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("Notify blocked for %v", took)
	}
	mu.Lock()
	overflow := 0
	for _, x := range dead {
		if x.Error == "queue full" {
			overflow++
		}
	}
	mu.Unlock()
	if overflow < 15 || overflow > 16 {
		t.Errorf("queue full dead letters: %d, want 15 or 16 (20 notices, 4 queued, maybe 1 in flight)", overflow)
	}
	waitUntil(t, "a stalled attempt to time out", func() bool { return failN.Load() >= 3 })
	rcv.set("ok")
	waitUntil(t, "the queued alerts after the stall", func() bool { return rcv.received() == 1+20-overflow })

	// 3. Down for good: attempts exhausted, one dead letter with the error.
	rcv.set("fail")
	d.Notify(Notice{Type: event.Escalate, Event: ev, Time: ev.Start})
	waitUntil(t, "the dead letter of exhausted attempts", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(dead) > 0 && dead[len(dead)-1].Attempts == 4
	})
	mu.Lock()
	last := dead[len(dead)-1]
	mu.Unlock()
	if !strings.Contains(last.Error, "503") || !strings.Contains(string(last.Payload), `"type":"escalate"`) {
		t.Errorf("dead letter %+v", last)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d.Close(ctx)
	if okN.Load() != int32(rcv.received()) {
		t.Errorf("deliveries counted %d, received %d", okN.Load(), rcv.received())
	}
}

func TestSlackAndLogAndShutdown(t *testing.T) {
	rcv := newReceiver(t)
	var dead []DeadLetter
	var mu sync.Mutex
	cfg := Config{
		Rules: []Rule{{Countries: []string{"*"}, Sinks: []string{"slack", "log"}}},
		Sinks: []SinkConfig{{Name: "slack", Type: "slack", URL: rcv.server.URL, Timeout: Duration(5 * time.Second), Backoff: Duration(time.Hour)}, {Name: "log", Type: "log"}},
	}
	var logBuf strings.Builder
	var logMu sync.Mutex
	d, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(lockedWriter{&logBuf, &logMu}, nil)),
		DeadLetter: func(x DeadLetter) { mu.Lock(); dead = append(dead, x); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ev := kpOutage()
	ev.EntityType, ev.EntityCode, ev.EntityName = event.Country, "KP", "North Korea"
	d.Notify(Notice{Type: event.End, Event: ev, Time: *ev.End})
	waitUntil(t, "slack delivery", func() bool { return rcv.received() == 1 })
	var m map[string]string
	if err := json.Unmarshal(rcv.got[0], &m); err != nil || !strings.HasPrefix(m["text"], "North Korea is back after 9h31m") || len(m) != 1 {
		t.Errorf("slack body %s", rcv.got[0])
	}
	// A stalled Slack and a shutdown: the alert in flight is abandoned to
	// the dead letters when Close's deadline passes; Close returns.
	rcv.set("stall")
	d.Notify(Notice{Type: event.Start, Event: ev, Time: ev.Start})
	waitUntil(t, "the stalled call", func() bool { return rcv.calls.Load() >= 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	d.Close(ctx)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v", took)
	}
	mu.Lock()
	if len(dead) != 1 || dead[0].Sink != "slack" {
		t.Errorf("dead letters after shutdown: %+v", dead)
	}
	mu.Unlock()
	logMu.Lock()
	if !strings.Contains(logBuf.String(), "North Korea is back after 9h31m") {
		t.Errorf("log sink: %s", logBuf.String())
	}
	logMu.Unlock()
	d.Notify(Notice{Type: event.Start, Event: ev}) // after Close: no panic
}

type lockedWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Sinks: []SinkConfig{{Name: "a", Type: "pager"}}},
		{Sinks: []SinkConfig{{Name: "a", Type: "webhook", URL: "ftp://x"}}},
		{Rules: []Rule{{Countries: []string{"XX1"}}}},
		{Rules: []Rule{{Kinds: []event.Kind{"meteor"}}}},
		{Rules: []Rule{{Sinks: []string{"nope"}}}},
		{Rules: []Rule{{MinSeverity: "dire"}}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// TestNotifyDuringClose calls Notify from several goroutines while Close
// runs, many times over (run it with -race). Before the fix, a Notify that
// passed the closing check then sent on a queue Close had just closed, and
// panicked. Every notice is either delivered or a dead letter, none lost.
func TestNotifyDuringClose(t *testing.T) {
	ev := kpOutage()
	ev.EntityType, ev.EntityCode = event.Country, "KP"
	const iterations, senders, each = 300, 4, 25
	for it := range iterations {
		var delivered, dead atomic.Int64
		cfg := Config{
			Rules: []Rule{{Countries: []string{"*"}}},
			Sinks: []SinkConfig{{Name: "a", Type: "log", QueueSize: 8}, {Name: "b", Type: "log", QueueSize: 2}},
		}
		d, err := New(cfg, Options{Logger: quiet(),
			Delivered:  func(string, error) { delivered.Add(1) },
			DeadLetter: func(DeadLetter) { dead.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range each {
					d.Notify(Notice{Type: event.Start, Event: ev, Time: ev.Start})
				}
			}()
		}
		closed := make(chan struct{})
		go func() {
			<-start
			d.Close(context.Background())
			close(closed)
		}()
		close(start)
		wg.Wait()
		<-closed
		d.Close(context.Background()) // a second Close is harmless
		if got, want := delivered.Load()+dead.Load(), int64(senders*each*len(cfg.Sinks)); got != want {
			t.Fatalf("iteration %d: %d delivered + %d dead letters, want %d in all", it, delivered.Load(), dead.Load(), want)
		}
	}
}
