package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/scenario"
)

var (
	serveBinOnce sync.Once
	serveBin     string
	serveBinErr  error
)

// buildServe builds the blackout binary once into a temporary directory.
func buildServe(t *testing.T) string {
	t.Helper()
	serveBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "blackout-bin-")
		if err != nil {
			serveBinErr = err
			return
		}
		serveBin = filepath.Join(dir, "blackout")
		out, err := exec.Command("go", "build", "-o", serveBin, ".").CombinedOutput()
		if err != nil {
			serveBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if serveBinErr != nil {
		t.Fatal(serveBinErr)
	}
	return serveBin
}

type serveProc struct {
	cmd  *exec.Cmd
	base string
	logs *strings.Builder
	mu   *sync.Mutex
	done chan struct{}
}

var listenRE = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)

// startServeProc starts `blackout serve` and waits for its URL.
func startServeProc(t *testing.T, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(buildServe(t), append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, logs: &strings.Builder{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	select {
	case p.base = <-urlc:
	case <-p.done:
		t.Fatalf("serve exited:\n%s", p.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve printed no URL:\n%s", p.log())
	}
	return p
}

func (p *serveProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

type health struct {
	Status      string  `json:"status"`
	DataTime    *string `json:"data_time"`
	RouteEvents int64   `json:"route_events"`
	Running     bool    `json:"running"`
}

func (p *serveProc) health(t *testing.T) health {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// waitFor polls the health until cond holds.
func (p *serveProc) waitFor(t *testing.T, what string, cond func(h health) bool) health {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		h := p.health(t)
		if cond(h) {
			return h
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s:\n%s", what, p.log())
	return health{}
}

// stop ends the process with SIGTERM (graceful) and waits.
func (p *serveProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM:\n%s", p.log())
	}
}

// dbRows returns the rows of a query as strings, sorted, and fails on duplicates.
func dbRows(t *testing.T, dir, query string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "blackout.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals...))
	}
	slices.Sort(out)
	for i := 1; i < len(out); i++ {
		if out[i] == out[i-1] {
			t.Errorf("%s: row twice: %s", query, out[i])
		}
	}
	return out
}

func diffRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("%s: %d rows after kill and restart, %d in a clean run", what, len(got), len(want))
	gs, ws := map[string]bool{}, map[string]bool{}
	for _, g := range got {
		gs[g] = true
	}
	for _, w := range want {
		ws[w] = true
	}
	n := 0
	for _, g := range got {
		if !ws[g] && n < 5 {
			t.Errorf("  extra: %.300s", g)
			n++
		}
	}
	n = 0
	for _, w := range want {
		if !gs[w] && n < 5 {
			t.Errorf("  missing: %.300s", w)
			n++
		}
	}
}

// TestServeRestartAfterKill kills `blackout serve` with SIGKILL in the
// middle of a replay, starts it again on the same data directory, and
// checks that the store then holds exactly what a clean run stores: no
// event lost or twice, no bin twice or missing.
func TestServeRestartAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	ctx := context.Background()
	gdb, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	cfg := scenario.NorthKorea2014()
	cfg.Gzip = true
	g, err := scenario.Generate(ctx, cfg, gdb, filepath.Join(tmp, "rrc00"))
	if err != nil {
		t.Fatal(err)
	}
	files := g.Paths()
	replay := func(dir, speed string) []string {
		args := []string{"--data", dir, "--speed", speed}
		for _, f := range files {
			args = append(args, "--replay", f)
		}
		return args
	}
	finished := func(h health) bool {
		return !h.Running && h.DataTime != nil && strings.HasPrefix(*h.DataTime, "2014-12-23T23:")
	}

	clean := filepath.Join(tmp, "clean")
	p := startServeProc(t, replay(clean, "max")...)
	hc := p.waitFor(t, "the clean run to finish", finished)
	p.stop(t)
	if !strings.Contains(p.log(), "stopped") {
		t.Errorf("no graceful stop in the log:\n%s", p.log())
	}

	// Paced at 2 days of data a second (the scenario spans 5 days), killed
	// during the North Korea outage of 22 December.
	crash := filepath.Join(tmp, "crash")
	p = startServeProc(t, replay(crash, "172800")...)
	p.waitFor(t, "the replay to reach 2014-12-22 18:00", func(h health) bool {
		return h.DataTime != nil && *h.DataTime >= "2014-12-22T18:00:00Z"
	})
	p.cmd.Process.Kill() // SIGKILL: no flush, no goodbye
	<-p.done
	const binsQ = `SELECT entity_type, entity_code, family, time, space, min_space, baseline, prefixes, origins, churn FROM bins`
	const eventsQ = `SELECT id, entity_type, entity_code, start_kind, kind, family, start, "end", severity, json FROM events`
	const entitiesQ = `SELECT entity_type, entity_code, families, upstreams, updated FROM entities`
	midBins, midEvents := dbRows(t, crash, binsQ), dbRows(t, crash, eventsQ)
	wantBins, wantEvents := dbRows(t, clean, binsQ), dbRows(t, clean, eventsQ)
	if len(midBins) == 0 || len(midBins) >= len(wantBins) || len(midEvents) == 0 {
		t.Fatalf("the kill was not mid-way: %d of %d bins, %d events stored", len(midBins), len(wantBins), len(midEvents))
	}
	t.Logf("killed with %d of %d bins and %d events (the clean run has %d) stored", len(midBins), len(wantBins), len(midEvents), len(wantEvents))

	p = startServeProc(t, replay(crash, "max")...)
	if !strings.Contains(p.log(), "store holds data") {
		t.Errorf("the restart did not see the earlier data:\n%s", p.log())
	}
	p.waitFor(t, "the restarted run to finish", finished)
	p.stop(t)

	diffRows(t, "bins", dbRows(t, crash, binsQ), wantBins)
	diffRows(t, "events", dbRows(t, crash, eventsQ), wantEvents)
	diffRows(t, "entities", dbRows(t, crash, entitiesQ), dbRows(t, clean, entitiesQ))
	if len(wantEvents) < 6 {
		t.Errorf("clean run stored %d events, want the demo's 6 or more", len(wantEvents))
	}
	if hc.RouteEvents == 0 {
		t.Errorf("health: %+v", hc)
	}
}
