package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/alert/alerttest"
)

// alertConfig writes a configuration sending every notice to the receiver.
func alertConfig(t *testing.T, url string) string {
	path := filepath.Join(t.TempDir(), "alerts.json")
	cfg := fmt.Sprintf(`{"alerts": {"rules": [{"countries": ["*"], "all_asns": true, "peers": true}],
		"sinks": [{"name": "hook", "type": "webhook", "url": %q, "secret": "s3cret", "backoff": "50ms", "max_backoff": "200ms"}]}}`, url)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// dbInt runs a query giving one integer (0 when the store is not there yet).
func dbInt(t *testing.T, dir, query string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "blackout.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n sql.NullInt64
	if err := db.QueryRow(query).Scan(&n); err != nil && !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("%s: %v", query, err)
	}
	return n.Int64
}

// waitDelivered waits until the replay has finished and every stored
// notice is delivered (the rule matches them all).
func waitDelivered(t *testing.T, p *serveProc, dir string) {
	t.Helper()
	p.waitFor(t, "the replay to finish", func(h health) bool { return !h.Running && h.DataTime != nil })
	deadline := time.Now().Add(40 * time.Second)
	for {
		n := dbInt(t, dir, `SELECT count(*) FROM notices`)
		d := dbInt(t, dir, `SELECT count(*) FROM deliveries WHERE state = 'delivered'`)
		if n > 0 && n == d {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d notices delivered:\n%s", d, n, p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeAlertsExactlyOnceAcrossKills (issue 13): `serve --demo --speed
// 40000` with a webhook is killed (SIGKILL) in the middle, started
// again and killed 2.5 s later, then run to the end: the receiver gets
// every alert of a clean run, none twice, and the stored data time never
// went backwards.
func TestServeAlertsExactlyOnceAcrossKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and replays the demo four times")
	}
	cleanRcv := alerttest.New(t, "s3cret")
	clean := t.TempDir()
	p := startServeProc(t, "--demo", "--speed", "max", "--data", clean, "--config", alertConfig(t, cleanRcv.URL))
	waitDelivered(t, p, clean)
	p.stop(t)
	want := cleanRcv.Snapshot()
	for k, n := range want {
		if n != 1 {
			t.Errorf("clean run: %q delivered %d times", k, n)
		}
	}
	if len(want) < 10 {
		t.Fatalf("clean run: %d alerts, want the demo's dozens", len(want))
	}

	rcv := alerttest.New(t, "s3cret")
	cfg := alertConfig(t, rcv.URL)
	dir := t.TempDir()
	args := []string{"--demo", "--speed", "40000", "--data", dir, "--config", cfg}
	dataTime := func() string {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "blackout.db")+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v string
		db.QueryRow(`SELECT value FROM meta WHERE key = 'data_time'`).Scan(&v)
		return v
	}

	// 1. Killed in the North Korea outage (by data time, so not in step
	// with the deliveries).
	p = startServeProc(t, args...)
	p.waitFor(t, "the replay to reach 2014-12-22 18:00", func(h health) bool {
		return h.DataTime != nil && *h.DataTime >= "2014-12-22T18:00:00Z"
	})
	p.cmd.Process.Kill()
	<-p.done
	first, dt1 := rcv.Count(), dataTime()
	if first == 0 || first >= len(want) || dt1 == "" {
		t.Fatalf("the first kill was not mid-way: %d of %d alerts, data time %q", first, len(want), dt1)
	}

	// 2. Started again (it replays from the start) and killed 2.5 s later,
	// before it is back where the first run was.
	p = startServeProc(t, args...)
	time.Sleep(2500 * time.Millisecond)
	p.cmd.Process.Kill()
	<-p.done
	if dt2 := dataTime(); dt2 < dt1 {
		t.Errorf("the stored data time went back from %s to %s", dt1, dt2)
	}

	// 3. Run to the end (as fast as it goes: the restart is the same).
	p = startServeProc(t, "--demo", "--speed", "max", "--data", dir, "--config", cfg)
	waitDelivered(t, p, dir)
	p.stop(t)
	got := rcv.Snapshot()
	var missing, twice, extra []string
	for k := range want {
		switch n := got[k]; {
		case n == 0:
			missing = append(missing, k)
		case n > 1:
			twice = append(twice, fmt.Sprintf("%s (%d times, X-Blackout-Delivery %v)", k, n, rcv.Deliveries(k)))
		}
	}
	for k := range got {
		if want[k] == 0 {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(twice)
	sort.Strings(extra)
	t.Logf("clean run: %d alerts; killed after %d, then after 2.5 s; %d deliveries in all", len(want), first, rcv.Count())
	if len(missing)+len(twice)+len(extra) > 0 {
		t.Errorf("%d deliveries for %d alerts of a clean run\nmissing: %q\ntwice: %q\nnot in the clean run: %q",
			rcv.Count(), len(want), missing, twice, extra)
	}
}
