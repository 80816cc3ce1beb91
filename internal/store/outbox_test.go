package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// TestOutboxOncePerNotice: a notice goes into the outbox with its event
// change; written again (a replay after a crash) it is not added twice,
// even after a retraction and a new id; the writer tells of the new ones
// only, with the event as readers see it (stored ids).
func TestOutboxOncePerNotice(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	run := func() []Notice {
		st := openTest(t, dir)
		defer st.Close()
		var mu sync.Mutex
		var got []Notice
		w, err := NewWriter(ctx, st, WriterOptions{Committed: func(ns []Notice) { mu.Lock(); got = append(got, ns...); mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		go w.Run(ctx)
		inst := testEvent("KP", event.Instability, 0)
		inst.ID = 1
		out := testEvent("KP", event.Outage, 10*time.Minute)
		out.ID = 2
		out.PrecededBy = &inst.ID
		blip := testEvent("SY", event.Outage, 5*time.Minute)
		blip.ID = 3
		w.Event(EventOp{Key: KeyOf(&inst), DetID: 1, Event: *inst.Clone(), Notice: &NoticeOp{Type: event.Start, Time: inst.Start}})
		w.Event(EventOp{Key: KeyOf(&blip), DetID: 3, Event: *blip.Clone(), Notice: &NoticeOp{Type: event.Start, Time: blip.Start}})
		w.Event(EventOp{Key: KeyOf(&blip), DetID: 3, Event: *blip.Clone(), Delete: true, Notice: &NoticeOp{Type: event.Retract, Time: blip.Start.Add(time.Minute)}})
		w.Event(EventOp{Key: KeyOf(&out), DetID: 2, Event: *out.Clone(), Notice: &NoticeOp{Type: event.Start, Time: out.Start}})
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	first := run()
	if len(first) != 4 {
		t.Fatalf("first run: %d notices told, want 4: %+v", len(first), first)
	}
	for i, n := range first {
		if n.Seq != int64(i+1) {
			t.Errorf("notice %d has seq %d", i, n.Seq)
		}
	}
	if r := first[2]; r.Type != event.Retract || r.Event.ID == 0 || r.Event.ID != first[1].Event.ID {
		t.Errorf("the retraction carries id %d, the start %d", r.Event.ID, first[1].Event.ID)
	}
	if o := first[3]; o.Event.PrecededBy == nil || *o.Event.PrecededBy != first[0].Event.ID {
		t.Errorf("preceded_by %v, want the stored id %d", o.Event.PrecededBy, first[0].Event.ID)
	}
	if again := run(); len(again) != 0 {
		t.Errorf("the replay added %d notices: %+v", len(again), again)
	}
	st := openTest(t, dir)
	defer st.Close()
	all, err := st.Notices(ctx, 0, 100)
	if err != nil || len(all) != 4 {
		t.Fatalf("outbox holds %d notices (%v), want 4", len(all), err)
	}
	if last, _ := st.LastNoticeSeq(ctx); last != 4 {
		t.Errorf("last seq %d", last)
	}
	of, _ := st.NoticesOf(ctx, all[1].Key)
	if len(of) != 2 || of[0].Type != event.Start || of[1].Type != event.Retract {
		t.Errorf("notices of the blip: %+v", of)
	}
	in, _ := st.NoticesIn(ctx, t0.Add(5*time.Minute), t0.Add(10*time.Minute))
	if len(in) != 2 {
		t.Errorf("notices in [5m, 10m): %d, want 2", len(in))
	}
}

// TestSinksDeliveriesDeadLetters: a sink starts after the latest notice
// when first seen; deliveries and its progress are kept; dead letters are
// listed by sink and id.
func TestSinksDeliveriesDeadLetters(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	defer st.Close()
	write := func(code string) int64 {
		ev := testEvent(code, event.Outage, 0)
		op := EventOp{Key: KeyOf(&ev), Event: ev, Notice: &NoticeOp{Type: event.Start, Time: ev.Start, Event: ev}}
		if _, err := st.Write(ctx, &Batch{Events: []EventOp{op}}); err != nil {
			t.Fatal(err)
		}
		return op.Notice.Seq
	}
	write("KP")
	from, done, err := st.Sink(ctx, "ops")
	if err != nil || from != 1 || done != 1 {
		t.Fatalf("new sink: from %d done %d (%v), want 1 1", from, done, err)
	}
	s2, s3 := write("SY"), write("IR")
	if err := st.SetSinkDone(ctx, "ops", s2); err != nil {
		t.Fatal(err)
	}
	st.SetSinkDone(ctx, "ops", 1) // never backwards
	if from, done, _ := st.Sink(ctx, "ops"); from != 1 || done != s2 {
		t.Errorf("sink after progress: %d %d", from, done)
	}
	st.RecordDelivery(ctx, Delivery{Seq: s2, Sink: "ops", State: Delivered, Attempts: 1})
	st.RecordDelivery(ctx, Delivery{Seq: s3, Sink: "ops", State: Dead, Attempts: 6, Error: "HTTP 503"})
	st.RecordDelivery(ctx, Delivery{Seq: s3, Sink: "chat", State: Dead, Attempts: 1, Error: "HTTP 404"})
	if h, _ := st.Handled(ctx, "ops", 1, s3); !h[s2] || !h[s3] || len(h) != 2 {
		t.Errorf("handled %v", h)
	}
	dls, err := st.DeadLetters(ctx, DeadFilter{Sink: "ops"})
	if err != nil || len(dls) != 1 || dls[0].Seq != s3 || dls[0].Notice.Event.EntityCode != "IR" || dls[0].Attempts != 6 {
		t.Errorf("ops dead letters %+v (%v)", dls, err)
	}
	if dls, _ := st.DeadLetters(ctx, DeadFilter{Seqs: []int64{s3}}); len(dls) != 2 {
		t.Errorf("dead letters of %d: %d, want 2", s3, len(dls))
	}
	st.RecordDelivery(ctx, Delivery{Seq: s3, Sink: "ops", State: Delivered, Attempts: 7})
	if dls, _ := st.DeadLetters(ctx, DeadFilter{}); len(dls) != 1 || dls[0].Sink != "chat" {
		t.Errorf("after the resend: %+v", dls)
	}
	// A rebuild's floor: no sink goes below it.
	st.Write(ctx, &Batch{Meta: map[string]string{MetaAlertsFloor: "3"}})
	if from, done, _ := st.Sink(ctx, "new"); from != 3 || done != 3 {
		t.Errorf("sink under a floor: %d %d", from, done)
	}
}

// TestCausesRoundTrip: an event's causes and evidence come back from the
// store as they went in, in the events and in the outbox.
func TestCausesRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, t.TempDir())
	defer st.Close()
	ev := testEvent("KP", event.Outage, 0)
	ev.Family = bgp.AllFamilies
	change := t0.Add(-time.Hour)
	ev.Causes = []event.Cause{{Cause: "upstream_lost", Evidence: "the only upstream, AS4837, stopped carrying the prefixes"}}
	ev.Evidence = &event.Evidence{
		Upstreams:    []event.UpstreamHealth{{ASN: 4837, Name: "China Unicom", Before: 900, After: 899}},
		Convergence:  &event.Convergence{Spread: 4 * time.Second, Peers: 30, PathChanges: 2, Abrupt: true},
		Before:       &event.Before{Instability: time.Hour, Flaps: 3, InstabilityEnd: &change, UpstreamChange: &change, Updates: 70, NormalUpdates: 7},
		Recurrences:  []time.Time{t0.Add(-48 * time.Hour)},
		OtherOrigins: []event.OtherOriginRoute{{ASN: 64500, Prefix: "175.45.176.0/24", Covers: "175.45.176.0/22", Seen: change}},
		Unseen:       "nothing else",
	}
	w, err := NewWriter(ctx, st, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := w.Event(EventOp{Key: KeyOf(&ev), Event: *ev.Clone(), Notice: &NoticeOp{Type: event.Start, Time: ev.Start}})
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := st.Event(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := st.Notices(ctx, 0, 1)
	for what, e := range map[string]event.Event{"event": got.Event, "notice": ns[0].Event} {
		if !reflect.DeepEqual(e.Causes, ev.Causes) || !reflect.DeepEqual(e.Evidence, ev.Evidence) {
			t.Errorf("%s: causes %+v evidence %+v\nwant %+v %+v", what, e.Causes, e.Evidence, ev.Causes, ev.Evidence)
		}
	}
}

// TestCorruptStoreNamed: a damaged database file is refused at open with
// an error naming the file and the way out; Check lists the problems.
func TestCorruptStoreNamed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openTest(t, dir)
	w, _ := NewWriter(ctx, st, WriterOptions{})
	for i := range 3000 {
		w.AddBin(Bin{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: t0.Add(time.Duration(i) * time.Minute), Space: float64(i)})
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if r, err := Check(ctx, dir); err != nil || len(r.Problems) != 0 {
		t.Fatalf("sound store: %+v %v", r, err)
	}
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Damage the b-tree pages past the schema (page 1).
	for off := 4096 + 100; off < len(b); off += 1999 {
		b[off] ^= 0x5a
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenSQLite(dir)
	if err == nil {
		t.Fatal("a damaged store opened without an error")
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "blackout store rebuild --data "+dir) {
		t.Errorf("error: %v", err)
	}
	r, err := Check(ctx, dir)
	if err != nil || len(r.Problems) == 0 {
		t.Errorf("check of a damaged store: %+v %v", r, err)
	}
	moved, err := MoveAside(dir, t0)
	if err != nil || !strings.HasSuffix(moved, ".damaged-20141222T160000Z") {
		t.Fatalf("moved to %q (%v)", moved, err)
	}
	if _, err := os.Stat(moved); err != nil {
		t.Error(err)
	}
	st = openTest(t, dir)
	st.Close()
}

// failStore fails its writes while fail is set.
type failStore struct {
	*SQLite
	fail   atomic.Bool
	writes atomic.Int32
}

func (f *failStore) Write(ctx context.Context, b *Batch) ([]int64, error) {
	f.writes.Add(1)
	if f.fail.Load() {
		return nil, errors.New("disk full")
	}
	return f.SQLite.Write(ctx, b)
}

// TestWriterRetriesBounded: while writes fail, the writer keeps what
// failed, retries with a growing wait, and stops taking hand-ins past
// MaxBuffered (they wait: nothing is dropped); once writes work, all of
// it is stored and the health is good again.
func TestWriterRetriesBounded(t *testing.T) {
	ctx := context.Background()
	fs := &failStore{SQLite: openTest(t, t.TempDir())}
	defer fs.Close()
	fs.fail.Store(true)
	w, err := NewWriter(ctx, fs, WriterOptions{MaxBins: 10, MaxBuffered: 50, Queue: 5, Interval: 5 * time.Millisecond,
		RetryMin: 20 * time.Millisecond, RetryMax: 80 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := runWriter(t, w)
	defer stop()
	const n = 200
	handed := atomic.Int32{}
	go func() {
		for i := range n {
			w.AddBin(Bin{EntityType: event.Country, EntityCode: "KP", Family: bgp.IPv4, Time: t0.Add(time.Duration(i) * time.Minute)})
			handed.Add(1)
		}
	}()
	time.Sleep(400 * time.Millisecond)
	h := w.Health()
	if h.Err == nil || h.Failures < 2 || h.Since.IsZero() || h.NextRetry.Before(h.Since) {
		t.Errorf("health while failing: %+v", h)
	}
	if got := handed.Load(); got >= n || h.Queued > 50+10 {
		t.Errorf("%d of %d bins handed in, %d rows queued: the buffer is not bounded", got, n, h.Queued)
	}
	// With the wait capped at 80 ms, 400 ms make no more than about 8 tries.
	if wr := fs.writes.Load(); wr > 12 {
		t.Errorf("%d tries in 400 ms: no backoff", wr)
	}
	fs.fail.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for handed.Load() < n || w.Health().Err != nil {
		if time.Now().After(deadline) {
			t.Fatalf("after recovery: %d handed in, health %+v", handed.Load(), w.Health())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var c int
	fs.DB().QueryRow(`SELECT count(*) FROM bins`).Scan(&c)
	if c != n {
		t.Errorf("%d bins stored, want %d", c, n)
	}
}
