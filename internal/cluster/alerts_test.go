package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/alert"
	"github.com/blackout-bgp/blackout/internal/alert/alerttest"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
	"github.com/blackout-bgp/blackout/internal/store/pgstore/pgtest"
)

// alertsTo returns an alert configuration sending every notice to url.
func alertsTo(t *testing.T, url string) *alert.Config {
	path := filepath.Join(t.TempDir(), "alerts.json")
	cfg := fmt.Sprintf(`{"alerts": {"rules": [{"countries": ["*"], "all_asns": true, "peers": true}],
		"sinks": [{"name": "hook", "type": "webhook", "url": %q, "secret": "s3cret", "backoff": "50ms", "max_backoff": "200ms"}]}}`, url)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	fc, err := alert.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return &fc.Alerts
}

// waitAllDelivered waits until every notice of st is delivered to r
// (the rule matches them all).
func waitAllDelivered(t *testing.T, st store.Store, r *alerttest.Receiver) int {
	t.Helper()
	var n, total int
	deadline := time.Now().Add(60 * time.Second)
	for {
		ns, err := st.Notices(context.Background(), 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		total = r.Count()
		n = len(ns)
		if n > 0 && total >= n {
			return n
		}
		if time.Now().After(deadline) {
			_, done, _ := st.Sink(context.Background(), "hook")
			t.Errorf("%d alerts received of %d notices in the outbox (the sink's done: %d)", total, n, done)
			for _, x := range ns {
				h, _ := st.Handled(context.Background(), "hook", x.Seq-1, x.Seq)
				t.Logf("notice %d %s %s at %s: delivery recorded %v", x.Seq, x.Type, x.Key, x.Time.Format(time.RFC3339Nano), h[x.Seq])
			}
			if os.Getenv("BLACKOUT_CLUSTER_DEBUG") != "" {
				buf := make([]byte, 1<<22)
				buf = buf[:runtime.Stack(buf, true)]
				os.WriteFile("/tmp/goroutines.txt", buf, 0o644)
			}
			dl, _ := st.DeadLetters(context.Background(), store.DeadFilter{})
			for _, d := range dl {
				t.Logf("dead letter %d: %s", d.Seq, d.Error)
			}
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterAlertsExactlyOnce mirrors serve's
// TestServeAlertsExactlyOnceAcrossKills for the cluster: the detector's
// lease holder sends the alerts from the outbox (through its fenced
// store); it is killed (connections cut, no goodbye) in the North Korea
// outage; the standby takes over, rebuilds from the stream and sends the
// rest. The receiver gets every alert of a single node's clean run, none
// twice.
func TestClusterAlertsExactlyOnce(t *testing.T) {
	// The clean single node.
	cleanRcv := alerttest.New(t, "s3cret")
	sq, err := store.OpenSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	eng, err := engine.New(context.Background(), engine.Config{Store: sq, Geo: testGeo(t), Logger: quiet(), AlertConfig: alertsTo(t, cleanRcv.URL)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Run(context.Background(), source.Merge(demo.Sources()), pipeline.Options{Config: pipeline.DefaultConfig(testGeo(t))}); err != nil {
		t.Fatal(err)
	}
	waitAllDelivered(t, sq, cleanRcv)
	if err := eng.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := cleanRcv.Snapshot()
	for k, n := range want {
		if n != 1 {
			t.Errorf("clean run: %q delivered %d times", k, n)
		}
	}
	if len(want) < 10 {
		t.Fatalf("clean run: %d alerts, want the demo's dozens", len(want))
	}

	// The cluster.
	dsn := pgtest.DB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	urls := startBus(t, 3)
	rcv := alerttest.New(t, "s3cret")
	withAlerts := func(c *DetectConfig) { c.Engine.AlertConfig = alertsTo(t, rcv.URL) }
	// Long enough that a loaded machine's late renewal does not lose
	// worker a its lease before the kill (2 s did once, under load).
	const ttl = 5 * time.Second
	a := startWorker(t, "worker-a", urls, dsn, ttl, withAlerts)
	select {
	case <-a.tenure:
	case <-time.After(30 * time.Second):
		t.Fatal("worker a never took the lease")
	}
	b := startWorker(t, "worker-b", urls, dsn, ttl, withAlerts)
	ingestDone := make(chan error, 1)
	go func() {
		ingestDone <- RunNode(ctx, NodeConfig{Name: "ingest", Roles: map[string]bool{RoleIngest: true}, Bus: urls, Logger: quiet(),
			Ingest: IngestConfig{Source: source.Merge(demo.Sources()), Describe: "demo", Replay: true, Speed: 40000}})
	}()
	engA := <-a.eng
	waitFor(t, "worker a to reach 2014-12-22 18:00", 60*time.Second, func() bool {
		return engA.DataTime().After(time.Date(2014, 12, 22, 18, 0, 0, 0, time.UTC))
	})
	a.kill()
	first := rcv.Count()
	if first == 0 || first >= len(want) {
		t.Fatalf("the kill was not mid-way: %d of %d alerts sent", first, len(want))
	}
	t.Logf("worker a killed after %d of %d alerts", first, len(want))
	select {
	case <-b.tenure:
	case <-time.After(30 * time.Second):
		t.Fatal("worker b never took over")
	}
	if err := <-ingestDone; err != nil {
		t.Fatal(err)
	}
	engB := <-b.eng
	waitFor(t, "worker b to finish the stream", 60*time.Second, func() bool {
		return !engB.Running() && engB.DataTime().After(time.Date(2014, 12, 23, 23, 0, 0, 0, time.UTC))
	})
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitAllDelivered(t, st, rcv)
	time.Sleep(300 * time.Millisecond) // a duplicate, if one were coming
	got := rcv.Snapshot()
	var missing, twice, extra []string
	for k := range want {
		switch n := got[k]; {
		case n == 0:
			missing = append(missing, k)
		case n > 1:
			twice = append(twice, fmt.Sprintf("%s (%d times)", k, n))
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
	if len(missing)+len(twice)+len(extra) > 0 {
		t.Errorf("alerts across the takeover: %d missing %q, %d twice %q, %d not in the clean run %q", len(missing), missing, len(twice), twice, len(extra), extra)
	}
}
