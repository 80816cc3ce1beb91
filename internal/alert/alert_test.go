package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/store"
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

type lockedWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// outbox is a real store (SQLite in a temporary directory) to which the
// test adds notices as the engine would: each with its event change.
type outbox struct {
	*store.SQLite
	t *testing.T
}

func newOutbox(t *testing.T) *outbox {
	st, err := store.OpenSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &outbox{st, t}
}

// add stores a notice of ev at data time at and returns its sequence number.
func (o *outbox) add(typ event.NoticeType, ev event.Event, at time.Time) int64 {
	o.t.Helper()
	op := store.EventOp{Key: store.KeyOf(&ev), Event: ev, Notice: &store.NoticeOp{Type: typ, Time: at, Event: ev}}
	if _, err := o.Write(context.Background(), &store.Batch{Events: []store.EventOp{op}}); err != nil {
		o.t.Fatal(err)
	}
	if op.Notice.Seq == 0 {
		o.t.Fatalf("notice %s of %s not stored", typ, ev.EntityCode)
	}
	return op.Notice.Seq
}

func (o *outbox) deliveries(sink string) map[int64]string {
	o.t.Helper()
	rows, err := o.DB().Query(`SELECT seq, state FROM deliveries WHERE sink = ?`, sink)
	if err != nil {
		o.t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var n int64
		var st string
		rows.Scan(&n, &st)
		out[n] = st
	}
	return out
}

// asEvent returns an outage of AS code starting at start.
func asEvent(code string, start time.Time) event.Event {
	ev := kpOutage()
	ev.EntityCode, ev.Start, ev.End = code, start, nil
	return ev
}

// hit is one request a receiver got.
type hit struct {
	body           []byte
	seq, ts, sig   string
	notice, entity string
	status         int
	received       time.Time
}

// receiver is a webhook endpoint on loopback; decide chooses each
// answer's status (0 stalls until the request is cancelled).
type receiver struct {
	mu     sync.Mutex
	hits   []hit
	decide func(h *hit) int
	server *httptest.Server
}

func newReceiver(t *testing.T, decide func(h *hit) int) *receiver {
	r := &receiver{decide: decide}
	r.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var m struct {
			Event event.Event `json:"event"`
		}
		json.Unmarshal(b, &m)
		h := hit{body: b, seq: req.Header.Get("X-Blackout-Delivery"), ts: req.Header.Get("X-Blackout-Timestamp"),
			sig: req.Header.Get("X-Blackout-Signature"), notice: req.Header.Get("X-Blackout-Notice"), entity: m.Event.EntityCode, received: time.Now()}
		r.mu.Lock()
		d := r.decide
		r.mu.Unlock()
		h.status = d(&h)
		r.mu.Lock()
		r.hits = append(r.hits, h)
		r.mu.Unlock()
		if h.status == 0 {
			<-req.Context().Done()
			return
		}
		w.WriteHeader(h.status)
	}))
	t.Cleanup(r.server.Close)
	return r
}

func (r *receiver) set(decide func(h *hit) int) { r.mu.Lock(); r.decide = decide; r.mu.Unlock() }

// ok returns the requests answered 2xx.
func (r *receiver) ok() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hit
	for _, h := range r.hits {
		if h.status >= 200 && h.status < 300 {
			out = append(out, h)
		}
	}
	return out
}

func always(code int) func(*hit) int { return func(*hit) int { return code } }

func fastSink(url string) SinkConfig {
	return SinkConfig{Name: "hook", Type: "webhook", URL: url, Secret: "s3cret", Timeout: Duration(200 * time.Millisecond),
		MaxAttempts: 3, Backoff: Duration(10 * time.Millisecond), MaxBackoff: Duration(20 * time.Millisecond)}
}

func start(t *testing.T, ob *outbox, cfg Config, opts Options) *Dispatcher {
	t.Helper()
	opts.Outbox = ob
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	opts.Poll = 20 * time.Millisecond
	d, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

// TestWebhookSignedRetriedRecorded: a failing receiver that recovers gets
// the alert once, signed over the timestamp and the body; the delivery is
// recorded; Verify accepts it and rejects it once old or altered.
func TestWebhookSignedRetriedRecorded(t *testing.T) {
	ob := newOutbox(t)
	calls := 0
	rcv := newReceiver(t, func(*hit) int {
		calls++
		if calls <= 2 {
			return 503
		}
		return 200
	})
	var failed atomic.Int32
	d := start(t, ob, Config{Rules: []Rule{{AllASNs: true}}, Sinks: []SinkConfig{fastSink(rcv.server.URL)}},
		Options{Delivered: func(_ string, err error) {
			if err != nil {
				failed.Add(1)
			}
		}})
	ev := kpOutage()
	seq := ob.add(event.End, ev, *ev.End)
	d.Wake()
	waitUntil(t, "the delivery", func() bool { return ob.deliveries("hook")[seq] == store.Delivered })
	got := rcv.ok()
	if len(got) != 1 || failed.Load() != 2 {
		t.Fatalf("%d deliveries after %d failures, want 1 after 2", len(got), failed.Load())
	}
	h := got[0]
	if h.seq != fmt.Sprint(seq) || h.notice != "end" {
		t.Errorf("headers: delivery %q notice %q", h.seq, h.notice)
	}
	if err := Verify("s3cret", h.ts, h.sig, h.body, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := Verify("s3cret", h.ts, h.sig, h.body, time.Now().Add(time.Hour), 5*time.Minute); err == nil {
		t.Error("an hour-old delivery verified")
	}
	if err := Verify("s3cret", h.ts, h.sig, append([]byte(" "), h.body...), time.Now(), 5*time.Minute); err == nil {
		t.Error("an altered body verified")
	}
	ts, _ := strconv.ParseInt(h.ts, 10, 64)
	if err := Verify("s3cret", fmt.Sprint(ts+1), h.sig, h.body, time.Now(), 5*time.Minute); err == nil {
		t.Error("an altered timestamp verified")
	}
	var msg struct {
		Seq   int64       `json:"seq"`
		Type  string      `json:"type"`
		Text  string      `json:"text"`
		Event event.Event `json:"event"`
	}
	if err := json.Unmarshal(h.body, &msg); err != nil || msg.Seq != seq || msg.Type != "end" || msg.Event.ID != 7 || !strings.HasPrefix(msg.Text, "AS131279 is back after 9h31m") {
		t.Errorf("body %s (%v)", h.body, err)
	}
}

// TestOneFailingEventHoldsBackOnlyItself: the notices of an event whose
// deliveries fail wait for it (in order) while the other events' notices
// go; a 4xx is a dead letter at once; exhausted retries are one too; the
// dead letters are listed and re-sent.
func TestOneFailingEventHoldsBackOnlyItself(t *testing.T) {
	ob := newOutbox(t)
	release := make(chan struct{})
	rcv := newReceiver(t, func(h *hit) int {
		switch h.entity {
		case "64500": // failing until released, then fine
			select {
			case <-release:
				return 200
			default:
				return 503
			}
		case "64501":
			return 410 // gone: permanent
		}
		return 200
	})
	cfg := Config{Rules: []Rule{{AllASNs: true}}, Sinks: []SinkConfig{fastSink(rcv.server.URL)}}
	cfg.Sinks[0].MaxAttempts, cfg.Sinks[0].Backoff, cfg.Sinks[0].MaxBackoff = 1000, Duration(40*time.Millisecond), Duration(40*time.Millisecond)
	var dead atomic.Int32
	d := start(t, ob, cfg, Options{Dead: func(string) { dead.Add(1) }})
	t1 := kpOutage().Start
	bad, gone, good := asEvent("64500", t1), asEvent("64501", t1), asEvent("64502", t1)
	badStart := ob.add(event.Start, bad, t1)
	badEnd := ob.add(event.End, bad, t1.Add(time.Hour))
	goneStart := ob.add(event.Start, gone, t1)
	var goodSeqs []int64
	for i := range 5 {
		g := asEvent(fmt.Sprint(64510+i), t1)
		goodSeqs = append(goodSeqs, ob.add(event.Start, g, t1), ob.add(event.End, g, t1.Add(time.Minute)))
	}
	goodSeqs = append(goodSeqs, ob.add(event.Start, good, t1))
	d.Wake()
	waitUntil(t, "the other events' notices", func() bool {
		ds := ob.deliveries("hook")
		for _, s := range goodSeqs {
			if ds[s] != store.Delivered {
				return false
			}
		}
		return ds[goneStart] == store.Dead
	})
	ds := ob.deliveries("hook")
	if _, ok := ds[badStart]; ok {
		t.Errorf("the failing event's start is %s already", ds[badStart])
	}
	for _, h := range rcv.ok() {
		if h.entity == "64500" {
			t.Errorf("the failing event delivered before its receiver recovered")
		}
	}
	// Each event's end came after its start.
	pos := map[string]int{}
	for i, h := range rcv.ok() {
		if h.notice == "start" {
			pos[h.entity] = i
		} else if p, ok := pos[h.entity]; !ok || p > i {
			t.Errorf("%s: end before start", h.entity)
		}
	}
	close(release)
	waitUntil(t, "the failing event after recovery", func() bool { return ob.deliveries("hook")[badEnd] == store.Delivered })
	var order []string
	for _, h := range rcv.ok() {
		if h.entity == "64500" {
			order = append(order, h.notice)
		}
	}
	if strings.Join(order, ",") != "start,end" {
		t.Errorf("the failing event's notices went as %v", order)
	}
	if dead.Load() != 1 {
		t.Errorf("%d dead letters counted, want 1", dead.Load())
	}
	dls, err := ob.DeadLetters(context.Background(), store.DeadFilter{})
	if err != nil || len(dls) != 1 || dls[0].Seq != goneStart || !strings.Contains(dls[0].Error, "410") || dls[0].Attempts != 1 || dls[0].Notice.Event.EntityCode != "64501" {
		t.Fatalf("dead letters %+v (%v)", dls, err)
	}

	// Re-sent once the receiver takes it: delivered, no longer dead.
	rcv.set(always(200))
	rd, err := New(cfg, Options{Outbox: ob, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	del, err := rd.Resend(context.Background(), dls[0])
	if err != nil || del.State != store.Delivered || del.Attempts != 2 {
		t.Errorf("resend: %+v %v", del, err)
	}
	if dls, _ := ob.DeadLetters(context.Background(), store.DeadFilter{}); len(dls) != 0 {
		t.Errorf("still dead after the resend: %+v", dls)
	}
}

// TestRestartResumesNothingTwice: a dispatcher closed while its receiver
// stalls leaves the undelivered notices in the outbox (no dead letters);
// the next one, on the same store, sends them, and nothing twice. A sink
// added later is not sent the history.
func TestRestartResumesNothingTwice(t *testing.T) {
	ob := newOutbox(t)
	rcv := newReceiver(t, always(200))
	cfg := Config{Rules: []Rule{{AllASNs: true}}, Sinks: []SinkConfig{fastSink(rcv.server.URL)}}
	cfg.Sinks[0].Concurrency = 1
	t1 := kpOutage().Start
	var seqs []int64
	d := start(t, ob, cfg, Options{})
	for i := range 10 {
		ev := asEvent(fmt.Sprint(64500+i), t1)
		seqs = append(seqs, ob.add(event.Start, ev, t1))
		if i == 3 {
			d.Wake()
			waitUntil(t, "the first four", func() bool { return len(rcv.ok()) == 4 })
			rcv.set(always(0)) // stall
		}
	}
	d.Wake()
	waitUntil(t, "a stalled attempt", func() bool { rcv.mu.Lock(); defer rcv.mu.Unlock(); return len(rcv.hits) >= 5 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	d.Close(ctx)
	cancel()
	if dls, _ := ob.DeadLetters(context.Background(), store.DeadFilter{}); len(dls) != 0 {
		t.Errorf("shutdown made dead letters: %+v", dls)
	}
	rcv.set(always(200))
	cfg.Sinks = append(cfg.Sinks, SinkConfig{Name: "later", Type: "webhook", URL: rcv.server.URL + "/later"})
	start(t, ob, cfg, Options{})
	waitUntil(t, "the rest after the restart", func() bool { return len(ob.deliveries("hook")) == 10 })
	seen := map[string]int{}
	for _, h := range rcv.ok() {
		seen[h.seq]++
	}
	for _, s := range seqs {
		if seen[fmt.Sprint(s)] != 1 {
			t.Errorf("notice %d delivered %d times", s, seen[fmt.Sprint(s)])
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(ob.deliveries("later")); n != 0 {
		t.Errorf("the sink added later was sent %d old notices", n)
	}
}

// TestRateLimit: a rule limited to 2 events an hour announces the first
// two events of each hour (start and end), not the others (neither start
// nor end); a rule without a limit on another sink sends them all.
func TestRateLimit(t *testing.T) {
	ob := newOutbox(t)
	rcv := newReceiver(t, always(200))
	lim := fastSink(rcv.server.URL + "/limited")
	lim.Name = "limited"
	all := fastSink(rcv.server.URL + "/all")
	all.Name = "all"
	cfg := Config{
		Rules: []Rule{{AllASNs: true, Sinks: []string{"limited"}, RateLimit: &RateLimit{Max: 2, Per: Duration(time.Hour)}},
			{AllASNs: true, Sinks: []string{"all"}}},
		Sinks: []SinkConfig{lim, all}}
	d := start(t, ob, cfg, Options{})
	h0 := time.Date(2014, 12, 22, 16, 0, 0, 0, time.UTC)
	type want struct {
		seqs      []int64
		announced bool
	}
	var cases []want
	for i, at := range []time.Duration{1, 10, 20, 30, 70, 80, 90} { // minutes
		st := h0.Add(at * time.Minute)
		ev := asEvent(fmt.Sprint(64500+i), st)
		s := ob.add(event.Start, ev, st)
		e := ob.add(event.End, ev, st.Add(45*time.Minute)) // ends in the next hour for some
		cases = append(cases, want{[]int64{s, e}, i == 0 || i == 1 || i == 4 || i == 5})
	}
	d.Wake()
	waitUntil(t, "every notice to the unlimited sink", func() bool { return len(ob.deliveries("all")) == 14 })
	waitUntil(t, "the limited sink's notices", func() bool { return len(ob.deliveries("limited")) == 8 })
	got := ob.deliveries("limited")
	for i, c := range cases {
		for _, s := range c.seqs {
			if _, ok := got[s]; ok != c.announced {
				t.Errorf("event %d notice %d: sent %v, want %v", i, s, ok, c.announced)
			}
		}
	}
}

// TestSlackAndLog: the Slack body is its text; the log sink logs it.
func TestSlackAndLog(t *testing.T) {
	ob := newOutbox(t)
	rcv := newReceiver(t, always(200))
	var logBuf strings.Builder
	var logMu sync.Mutex
	cfg := Config{
		Rules: []Rule{{Countries: []string{"*"}, Sinks: []string{"slack", "log"}}},
		Sinks: []SinkConfig{{Name: "slack", Type: "slack", URL: rcv.server.URL}, {Name: "log", Type: "log"}},
	}
	d := start(t, ob, cfg, Options{Logger: slog.New(slog.NewTextHandler(lockedWriter{&logBuf, &logMu}, nil))})
	ev := kpOutage()
	ev.EntityType, ev.EntityCode, ev.EntityName = event.Country, "KP", "North Korea"
	ob.add(event.End, ev, *ev.End)
	d.Wake()
	waitUntil(t, "slack delivery", func() bool { return len(rcv.ok()) == 1 && len(ob.deliveries("log")) == 1 })
	var m map[string]string
	if b := rcv.ok()[0].body; json.Unmarshal(b, &m) != nil || !strings.HasPrefix(m["text"], "North Korea is back after 9h31m") || len(m) != 1 {
		t.Errorf("slack body %s", b)
	}
	logMu.Lock()
	if !strings.Contains(logBuf.String(), "North Korea is back after 9h31m") {
		t.Errorf("log sink: %s", logBuf.String())
	}
	logMu.Unlock()
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Sinks: []SinkConfig{{Name: "a", Type: "pager"}}},
		{Sinks: []SinkConfig{{Name: "a", Type: "webhook", URL: "ftp://x"}}},
		{Rules: []Rule{{Countries: []string{"XX1"}}}},
		{Rules: []Rule{{Kinds: []event.Kind{"meteor"}}}},
		{Rules: []Rule{{Sinks: []string{"nope"}}}},
		{Rules: []Rule{{MinSeverity: "dire"}}},
		{Rules: []Rule{{AllASNs: true, RateLimit: &RateLimit{Max: 0, Per: Duration(time.Hour)}}}},
		{Rules: []Rule{{AllASNs: true, RateLimit: &RateLimit{Max: 3}}}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out: %s", what)
}
