package admin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/blackout-bgp/blackout/internal/alert"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/store"
)

// TestCheckRebuild: a sound store checks ok; a damaged one is named with
// the way out; rebuild moves it aside and replays the demo into a new
// store whose notices are marked as sent (a sink sees none of them).
func TestCheckRebuild(t *testing.T) {
	ctx := context.Background()
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var out strings.Builder
	rebuild := func() {
		t.Helper()
		out.Reset()
		if err := Rebuild(ctx, &out, RebuildOptions{Dir: dir, Demo: true, Geo: db}); err != nil {
			t.Fatalf("rebuild: %v\n%s", err, out.String())
		}
	}
	st, err := store.OpenSQLite(dir) // an empty store to rebuild
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	rebuild()
	if !strings.Contains(out.String(), "moved the old store to ") || !strings.Contains(out.String(), "6 events") {
		t.Errorf("rebuild said:\n%s", out.String())
	}
	out.Reset()
	if err := Check(ctx, &out, dir); err != nil || !strings.Contains(out.String(), ": ok (6 events, ") {
		t.Errorf("check: %v\n%s", err, out.String())
	}
	st, err = store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	last, _ := st.LastNoticeSeq(ctx)
	from, _, err := st.Sink(ctx, "ops")
	st.Close()
	if err != nil || last < 10 || from != last {
		t.Errorf("after a rebuild, a sink starts after %d, the last notice is %d (%v)", from, last, err)
	}

	// Damage it: check names the problems, the way out, and fails.
	path := filepath.Join(dir, store.FileName)
	b, _ := os.ReadFile(path)
	for off := 4096 + 100; off < len(b); off += 997 {
		b[off] ^= 0xa5
	}
	os.Remove(path + "-wal")
	os.WriteFile(path, b, 0o644)
	out.Reset()
	if err := Check(ctx, &out, dir); !errors.Is(err, ErrProblems) || !strings.Contains(out.String(), "damaged") || !strings.Contains(out.String(), "blackout store rebuild --data "+dir) {
		t.Errorf("check of a damaged store: %v\n%s", err, out.String())
	}
	rebuild()
	out.Reset()
	if err := Check(ctx, &out, dir); err != nil {
		t.Errorf("check after the rebuild: %v\n%s", err, out.String())
	}
	moved, _ := filepath.Glob(path + ".damaged-*")
	if len(moved) == 0 {
		t.Error("the damaged file was not kept aside")
	}
}

// TestDeadAndResend lists dead letters and re-sends them.
func TestDeadAndResend(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, _ := geo.Default()
	eng, err := engineRun(ctx, st, db)
	if err != nil {
		t.Fatal(err)
	}
	_ = eng
	ns, _ := st.Notices(ctx, 0, 3)
	for _, n := range ns {
		st.RecordDelivery(ctx, store.Delivery{Seq: n.Seq, Sink: "ops", State: store.Dead, Attempts: 6, Error: "HTTP 503 Service Unavailable\x1b[31m"})
	}
	st.Close()
	var out strings.Builder
	if err := Dead(ctx, &out, dir, "", 10, false); err != nil || strings.Count(out.String(), "\tops\t") != 3 || strings.Contains(out.String(), "\x1b") {
		t.Errorf("dead: %v\n%q", err, out.String())
	}
	out.Reset()
	if err := Dead(ctx, &out, dir, "", 10, true); err != nil || !strings.Contains(out.String(), `"dead_letters"`) {
		t.Errorf("dead --json: %v\n%s", err, out.String())
	}
	var got atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer rcv.Close()
	cfg := alert.Config{Sinks: []alert.SinkConfig{{Name: "ops", Type: "webhook", URL: rcv.URL}}}
	out.Reset()
	if err := Resend(ctx, &out, dir, cfg, []int64{ns[0].Seq}, "", nil); err != nil || got.Load() != 1 {
		t.Errorf("resend one: %v (%d received)\n%s", err, got.Load(), out.String())
	}
	out.Reset()
	if err := Resend(ctx, &out, dir, cfg, nil, "ops", nil); err != nil || got.Load() != 3 || strings.Count(out.String(), "delivered") != 2 {
		t.Errorf("resend all: %v (%d received)\n%s", err, got.Load(), out.String())
	}
	out.Reset()
	if err := Dead(ctx, &out, dir, "", 10, false); err != nil || !strings.Contains(out.String(), "no dead letters") {
		t.Errorf("dead after the resend: %v\n%s", err, out.String())
	}
}
