package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/engine"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/store"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
	"github.com/blackout-bgp/blackout/internal/store/pgstore/pgtest"
	"github.com/blackout-bgp/blackout/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var (
	geoOnce sync.Once
	geoDB   *geo.DB
)

func testGeo(t *testing.T) *geo.DB {
	t.Helper()
	geoOnce.Do(func() {
		var err error
		if geoDB, err = geo.Open(nil, geo.WithoutCache()); err != nil {
			panic(err)
		}
	})
	return geoDB
}

// testLogger logs through t (the ingest's few lines).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, nil))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// workerLogger logs a worker's warnings and errors through t (and its
// lease and stream lines with BLACKOUT_CLUSTER_DEBUG set).
func workerLogger(t *testing.T) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("BLACKOUT_CLUSTER_DEBUG") != "" {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// single runs the demo through one engine into a SQLite store, as
// `blackout serve --demo` does, and returns the store's dump.
func single(t *testing.T) []string {
	t.Helper()
	st, err := store.OpenSQLite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, err := engine.New(context.Background(), engine.Config{Store: st, Geo: testGeo(t), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Run(context.Background(), source.Merge(demo.Sources()), pipeline.Options{Config: pipeline.DefaultConfig(testGeo(t))}); err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return storetest.Dump(t, st, "KP", "CN")
}

// worker is a detect role in this process that can be killed.
type worker struct {
	cancel context.CancelFunc
	kill   func() // the connections go at once, without a goodbye
	done   chan error
	tenure chan time.Duration
	eng    chan *engine.Engine
}

func startWorker(t *testing.T, name string, urls []string, dsn string, ttl time.Duration, opts ...func(*DetectConfig)) *worker {
	t.Helper()
	st, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	nc, js, err := bus.Connect(urls, name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{cancel: cancel, done: make(chan error, 1), tenure: make(chan time.Duration, 4), eng: make(chan *engine.Engine, 4)}
	w.kill = func() { nc.Close(); st.Close(); cancel() }
	cfg := DetectConfig{Node: name, LeaseTTL: ttl, Replicas: 3,
		Engine:   engine.Config{Store: st, Geo: testGeo(t)},
		Pipeline: pipeline.Options{Config: pipeline.DefaultConfig(testGeo(t))}, Logger: workerLogger(t),
		OnTenure: func(d time.Duration) { w.tenure <- d },
		OnEngine: func(e *engine.Engine) { w.eng <- e }}
	for _, o := range opts {
		o(&cfg)
	}
	go func() {
		w.done <- Detect(ctx, nc, js, cfg)
		nc.Close()
		st.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			t.Errorf("worker %s did not stop", name)
		}
	})
	return w
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterEqualsSingleNode is the must-show: a 3-node bus, an ingest
// role replaying the demo, two detect workers (the first killed mid-way:
// its connections cut, no goodbye, its lease left to expire; then the
// route stream's leader node shut down while the second rebuilds) and an api
// role over PostgreSQL give the same store (events, bins, entities,
// progress) as one `serve --demo` into SQLite, and the API serves the
// same events.
func TestClusterEqualsSingleNode(t *testing.T) {
	t0 := time.Now()
	phase := func(what string) { t.Logf("%6.2fs %s", time.Since(t0).Seconds(), what) }
	dsn := pgtest.DB(t)
	phase("postgres up")
	want := single(t)
	phase("single node done")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nodes, err := bus.StartLocal(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, n := range nodes {
			n.Shutdown()
		}
	}()
	urls := bus.URLs(nodes)
	const ttl = 2 * time.Second

	// The api role over the same store, from the start (it gets the
	// detector's ticks and coverage over the bus).
	urlc := make(chan string, 1)
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	apiCtx, stopAPI := context.WithCancel(ctx)
	apiDone := make(chan error, 1)
	go func() {
		apiDone <- RunNode(apiCtx, NodeConfig{Name: "api", Roles: map[string]bool{RoleAPI: true}, Bus: urls, Store: st, Listen: "127.0.0.1:0",
			Logger: quiet(), OnReady: func(u string) { urlc <- u }})
	}()
	var base string
	select {
	case base = <-urlc:
	case <-time.After(30 * time.Second):
		t.Fatal("api role not listening")
	}

	a := startWorker(t, "worker-a", urls, dsn, ttl)
	select {
	case <-a.tenure:
	case <-time.After(30 * time.Second):
		t.Fatal("worker a never took the lease")
	}
	phase("worker a holds the lease")
	b := startWorker(t, "worker-b", urls, dsn, ttl)

	// The ingest at full speed; the kill comes when worker a is mid-way.
	ingestDone := make(chan error, 1)
	go func() {
		ingestDone <- RunNode(ctx, NodeConfig{Name: "ingest", Roles: map[string]bool{RoleIngest: true}, Bus: urls, Logger: testLogger(t),
			Ingest: IngestConfig{Source: source.Merge(demo.Sources()), Describe: "demo", Replay: true}})
	}()
	engA := <-a.eng
	waitFor(t, "worker a to reach 2014-12-21", 60*time.Second, func() bool {
		return engA.DataTime().After(time.Date(2014, 12, 21, 0, 0, 0, 0, time.UTC))
	})
	phase("worker a reached 2014-12-21")
	killedAt := time.Now()
	a.kill()
	var blind time.Duration
	select {
	case blind = <-b.tenure:
	case <-time.After(30 * time.Second):
		t.Fatal("worker b never took over")
	}
	t.Logf("worker a killed at data time %s; worker b took over %s later (lease blind time %s)",
		engA.DataTime().Format(time.RFC3339), time.Since(killedAt).Round(time.Millisecond), blind.Round(time.Millisecond))
	// Then the route stream's leader node goes down while b rebuilds.
	engB := <-b.eng
	waitFor(t, "worker b to pass 2014-12-20", 60*time.Second, func() bool {
		return engB.DataTime().After(time.Date(2014, 12, 20, 0, 0, 0, 0, time.UTC))
	})
	js := jsOf(t, urls)
	info, err := js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	si, err := info.Info(ctx)
	if err != nil || si.Cluster == nil {
		t.Fatalf("stream info %+v (%v)", si, err)
	}
	for i, n := range nodes {
		if n.Name() == si.Cluster.Leader {
			n.Shutdown()
			nodes = append(nodes[:i:i], nodes[i+1:]...)
			phase("stream leader " + si.Cluster.Leader + " shut down")
			break
		}
	}
	if len(nodes) != 2 {
		t.Fatalf("leader %q not found", si.Cluster.Leader)
	}
	if err := <-ingestDone; err != nil {
		t.Fatal(err)
	}
	phase("ingest done")
	waitFor(t, "worker b to finish the stream", 60*time.Second, func() bool {
		return !engB.Running() && engB.DataTime().After(time.Date(2014, 12, 23, 23, 0, 0, 0, time.UTC))
	})

	phase("worker b done")
	if got := storetest.Dump(t, st, "KP", "CN"); !slices.Equal(got, want) {
		t.Errorf("cluster store differs from the single node's (%d vs %d lines)\n%s", len(got), len(want), diff(got, want))
	}
	resp, err := http.Get(base + "/api/v1/events?limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Events []event.Event }
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(base + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		DataTime string `json:"data_time"`
		Judging  struct {
			Judged bool `json:"judged"`
		} `json:"judging"`
	}
	err = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if err != nil || !health.Judging.Judged || !strings.HasPrefix(health.DataTime, "2014-12-23T23:55") {
		t.Errorf("api health %+v (%v): want the detector's data time and coverage", health, err)
	}
	var gotKeys, wantKeys []string
	for _, ev := range body.Events {
		gotKeys = append(gotKeys, fmt.Sprintf("%s %s %s %s %s", ev.EntityType, ev.EntityCode, ev.Kind, ev.Family, ev.Start.Format(time.RFC3339Nano)))
	}
	for _, l := range want {
		if strings.HasPrefix(l, "event ") {
			wantKeys = append(wantKeys, l)
		}
	}
	if len(gotKeys) != len(wantKeys) || len(gotKeys) < 6 {
		t.Errorf("API: %d events, the single node stored %d (want the demo's 6 or more): %q", len(gotKeys), len(wantKeys), gotKeys)
	}
	stopAPI()
	if err := <-apiDone; err != nil {
		t.Error(err)
	}
	phase("compared")
}

// startBus starts n local bus nodes for the test (shut down when it ends)
// and returns their client URLs.
func startBus(t *testing.T, n int) []string {
	t.Helper()
	nodes, err := bus.StartLocal(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Shutdown()
		}
	})
	return bus.URLs(nodes)
}

// jsOf connects a client for the test's own requests.
func jsOf(t *testing.T, urls []string) jetstream.JetStream {
	t.Helper()
	nc, js, err := bus.Connect(urls, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return js
}

// demoOnBus starts a one-node bus, publishes the demo's route events on
// it (a replay, with its end mark) and returns its URLs and a client.
func demoOnBus(t *testing.T, ctx context.Context) ([]string, jetstream.JetStream) {
	t.Helper()
	urls := startBus(t, 1)
	js := jsOf(t, urls)
	if err := RunNode(ctx, NodeConfig{Name: "ingest", Roles: map[string]bool{RoleIngest: true}, Bus: urls, Logger: quiet(),
		Ingest: IngestConfig{Source: source.Merge(demo.Sources()), Describe: "demo", Replay: true}}); err != nil {
		t.Fatal(err)
	}
	return urls, js
}

// deltaCount returns the messages the delta stream holds (0 while it
// does not exist or does not answer).
func deltaCount(ctx context.Context, js jetstream.JetStream) uint64 {
	st, err := js.Stream(ctx, DeltaStream)
	if err != nil {
		return 0
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

// diff shows the lines only in got or only in want.
func diff(got, want []string) string {
	var b strings.Builder
	for _, l := range got {
		if !slices.Contains(want, l) {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	for _, l := range want {
		if !slices.Contains(got, l) {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	return b.String()
}

// TestClusterWarmStandby: two warm detect workers (DetectConfig.Warm)
// over a 3-node bus, the holder killed mid-way (its connections cut, its
// lease left to expire). The standby, which followed the stream all along,
// is promoted instead of rebuilding, and the store equals one node's.
func TestClusterWarmStandby(t *testing.T) {
	dsn := pgtest.DB(t)
	want := single(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	urls := startBus(t, 3)
	const ttl = 2 * time.Second
	warm := func(c *DetectConfig) { c.Warm = true }
	a := startWorker(t, "warm-a", urls, dsn, ttl, warm)
	select {
	case <-a.tenure:
	case <-time.After(30 * time.Second):
		t.Fatal("worker a never took the lease")
	}
	b := startWorker(t, "warm-b", urls, dsn, ttl, warm)
	ingestDone := make(chan error, 1)
	go func() {
		ingestDone <- RunNode(ctx, NodeConfig{Name: "ingest", Roles: map[string]bool{RoleIngest: true}, Bus: urls, Logger: testLogger(t),
			Ingest: IngestConfig{Source: source.Merge(demo.Sources()), Describe: "demo", Replay: true}})
	}()
	engA := <-a.eng
	waitFor(t, "worker a to reach 2014-12-21", 60*time.Second, func() bool {
		return engA.DataTime().After(time.Date(2014, 12, 21, 0, 0, 0, 0, time.UTC))
	})
	killedAt, killedData := time.Now(), engA.DataTime()
	a.kill()
	var blind time.Duration
	select {
	case blind = <-b.tenure:
	case <-time.After(30 * time.Second):
		t.Fatal("worker b never took over")
	}
	engB := <-b.eng
	// Promoted, not rebuilt: b's engine had followed the stream before
	// it took the lease (a cold standby's engine starts at nothing).
	if engB.Standby() || engB.RouteEvents() == 0 {
		t.Fatalf("worker b's engine at its tenure: standby %v, %d route events fed: want a promoted engine that followed the stream", engB.Standby(), engB.RouteEvents())
	}
	t.Logf("worker a killed at data time %s; worker b promoted %s later at data time %s, %d route events fed (blind time %s)",
		killedData.Format(time.RFC3339), time.Since(killedAt).Round(time.Millisecond), engB.DataTime().Format(time.RFC3339), engB.RouteEvents(), blind.Round(time.Millisecond))
	if err := <-ingestDone; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "worker b to finish the stream", 60*time.Second, func() bool {
		return !engB.Running() && engB.DataTime().After(time.Date(2014, 12, 23, 23, 0, 0, 0, time.UTC))
	})
	st, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitFor(t, "the store to reach the end", 30*time.Second, func() bool {
		v, ok, err := st.Meta(ctx, store.MetaDataTime)
		return err == nil && ok && strings.HasPrefix(v, "2014-12-23T23:5")
	})
	if got := storetest.Dump(t, st, "KP", "CN"); !slices.Equal(got, want) {
		t.Errorf("cluster store differs from the single node's (%d vs %d lines)\n%s", len(got), len(want), diff(got, want))
	}
}
