package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/cluster"
	"github.com/blackout-bgp/blackout/internal/store"
	"github.com/blackout-bgp/blackout/internal/store/pgstore"
	"github.com/blackout-bgp/blackout/internal/store/pgstore/pgtest"
	"github.com/blackout-bgp/blackout/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestServePostgres: `serve --demo --store postgres://...` killed with
// SIGKILL in the middle of the replay and started again stores exactly
// what `serve --demo --data DIR` (SQLite) stores in one clean run.
func TestServePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t0 := time.Now()
	phase := func(what string) { t.Logf("%6.2fs %s", time.Since(t0).Seconds(), what) }
	buildServe(t)
	phase("built")
	dsn := pgtest.DB(t)
	phase("postgres up")
	dir := t.TempDir()
	finished := func(h health) bool {
		return !h.Running && h.DataTime != nil && strings.HasPrefix(*h.DataTime, "2014-12-23T23:")
	}
	p := startServeProc(t, "--demo", "--data", dir, "--speed", "max")
	p.waitFor(t, "the SQLite run to finish", finished)
	p.stop(t)
	sq, err := store.OpenSQLite(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := storetest.Dump(t, sq, "KP", "CN")
	sq.Close()
	phase("sqlite run done")

	p = startServeProc(t, "--demo", "--store", dsn, "--speed", "172800")
	p.waitFor(t, "the replay to reach 2014-12-22 18:00", func(h health) bool {
		return h.DataTime != nil && *h.DataTime >= "2014-12-22T18:00:00Z"
	})
	p.cmd.Process.Kill() // SIGKILL: no flush, no goodbye
	<-p.done
	pg, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	phase("killed")
	mid := storetest.Dump(t, pg, "KP", "CN")
	if len(mid) == 0 || len(mid) >= len(want) {
		t.Fatalf("the kill was not mid-way: %d of %d rows stored", len(mid), len(want))
	}
	p = startServeProc(t, "--demo", "--store", dsn, "--speed", "max")
	if !strings.Contains(p.log(), "store holds data") || !strings.Contains(p.log(), "postgres://postgres@127.0.0.1") {
		t.Errorf("the restart did not see the earlier data in PostgreSQL:\n%s", p.log())
	}
	p.waitFor(t, "the restarted run to finish", finished)
	p.stop(t)
	phase("restarted run done")
	diffRows(t, "PostgreSQL after SIGKILL and restart vs SQLite", storetest.Dump(t, pg, "KP", "CN"), want)
	if n := len(slices.DeleteFunc(slices.Clone(want), func(s string) bool { return !strings.HasPrefix(s, "event ") })); n < 6 {
		t.Errorf("%d events stored, want the demo's 6 or more", n)
	}
}

// proc is a blackout process of the cluster test.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs strings.Builder
	done chan struct{}
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(buildServe(t), args...), done: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			// The goroutines of a process still running, for the log.
			p.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-p.done:
			case <-time.After(3 * time.Second):
			}
		}
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() || os.Getenv("BLACKOUT_CLUSTER_LOGS") != "" {
			t.Logf("log of %s:\n%s", p.name, p.log())
		}
	})
	return p
}

func apiEvents(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/events?limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Events []struct {
			EntityType string `json:"entity_type"`
			EntityCode string `json:"entity_code"`
			Kind       string `json:"kind"`
			Family     string `json:"family"`
			Start      string `json:"start"`
		} `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range body.Events {
		out = append(out, fmt.Sprintf("%s %s %s %s %s", e.EntityType, e.EntityCode, e.Kind, e.Family, e.Start))
	}
	slices.Sort(out)
	return out
}

var blindRE = regexp.MustCompile(`detector lease taken.*blind_time=(\S+)`)

// TestClusterProcesses is the cluster's must-show with real processes
// on loopback: three `blackout bus` nodes, two `node --role view,detect`
// workers (each a view worker owning partitions of peers and a detector;
// one holds the detector's lease), one `node --role api` and one `node
// --role ingest --demo --speed 20000`; the route stream's leader bus node
// is SIGKILLed when the stream holds 10,000 route events, then at 25,000
// the worker holding the lease (its detector and its view partitions are
// taken over; the new holder logs when it has caught up); the API's
// events equal a single `serve --demo`'s. The lease TTL is the default,
// 10 s: on this 2-core machine a bus failover can leave the lease bucket
// without a leader for 7 s, and a shorter TTL makes the holders lose
// their leases to it. It runs twice: "view,detect", the brief's command
// (a detector keeping its own tables, re-reading the stream when it
// takes the lease), and "from-view,warm" (`--from-view --warm-standby`: a
// detector without tables, fed by the view partitions' deltas, whose
// standby follows the stream all along and is promoted). It takes about
// 90 s: set BLACKOUT_CLUSTER_E2E=1.
func TestClusterProcesses(t *testing.T) {
	if os.Getenv("BLACKOUT_CLUSTER_E2E") == "" {
		t.Skip("set BLACKOUT_CLUSTER_E2E=1 to run the 90-second cluster test with real processes")
	}
	single := startServeProc(t, "--demo", "--data", t.TempDir(), "--speed", "max")
	single.waitFor(t, "the single node to finish", func(h health) bool {
		return !h.Running && h.DataTime != nil && strings.HasPrefix(*h.DataTime, "2014-12-23T23:")
	})
	want := apiEvents(t, single.base)
	single.stop(t)
	t.Run("view,detect", func(t *testing.T) { clusterProcesses(t, want) })
	t.Run("from-view,warm", func(t *testing.T) { clusterProcesses(t, want, "--from-view", "--warm-standby") })
}

// clusterProcesses runs TestClusterProcesses's cluster once, its workers
// `node --role view,detect` with the flags extra, and compares the API's
// events with want.
func clusterProcesses(t *testing.T, want []string, extra ...string) {
	warm := slices.Contains(extra, "--warm-standby")
	dsn := pgtest.DB(t)
	addrs, err := bus.FreeAddrs(6)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	buses := map[string]*proc{}
	for i := range 3 {
		var routes []string
		for j := range 3 {
			if j != i {
				routes = append(routes, "nats://"+addrs[3+j])
			}
		}
		name := fmt.Sprintf("bus%d", i+1)
		buses[name] = startProc(t, name, "bus", "--name", name, "--listen", addrs[i], "--cluster-listen", addrs[3+i],
			"--routes", strings.Join(routes, ","), "--dir", tmp+"/"+name)
	}
	busURL := "nats://" + addrs[0] + ",nats://" + addrs[1] + ",nats://" + addrs[2]
	workers := map[string]*proc{}
	for _, w := range []string{"w1", "w2"} {
		args := []string{"node", "--role", "view,detect", "--name", w, "--bus", busURL, "--store", dsn, "--lease-ttl", "10s"}
		workers[w] = startProc(t, w, append(args, extra...)...)
	}
	api := startProc(t, "api", "node", "--role", "api", "--name", "api", "--bus", busURL, "--store", dsn, "--listen", "127.0.0.1:0")
	base := apiBase(t, api)
	ingest := startProc(t, "ingest", "node", "--role", "ingest", "--name", "ingest", "--bus", busURL, "--demo", "--speed", "20000")
	dataTime := func() string { return healthDataTime(base) }
	nc, js, err := bus.Connect([]string{busURL}, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The kills come at points of the ingest (the route stream's length),
	// so that both are mid-way whatever the detector's lag.
	streamInfo := func() *jetstream.StreamInfo {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var info *jetstream.StreamInfo
		err := bus.Retry(ctx, "stream info", func(ctx context.Context) error {
			st, err := js.Stream(ctx, cluster.StreamName)
			if err != nil {
				return err
			}
			info, err = st.Info(ctx)
			if err == nil && (info.Cluster == nil || info.Cluster.Leader == "") {
				err = errors.New("no leader")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	const total = 44453 + 1 // the demo's route events and the end mark
	waitUntil(t, "10,000 route events on the bus", 60*time.Second, func() bool { return streamInfo().State.Msgs >= 10000 })
	// The stream leader's bus node, SIGKILLed.
	si := streamInfo()
	leader := si.Cluster.Leader
	buses[leader].cmd.Process.Kill()
	t.Logf("SIGKILLed the stream leader %s at route event %d of %d (data time %s)", leader, si.State.Msgs, total, dataTime())
	waitUntil(t, "25,000 route events on the bus", 60*time.Second, func() bool { return streamInfo().State.Msgs >= 25000 })
	holder := leaseHolder(t, busURL)
	var other *proc
	for name, w := range workers {
		if name != holder {
			other = w
		}
	}
	mark := len(other.log())
	workers[holder].cmd.Process.Kill()
	killed := time.Now()
	n := streamInfo().State.Msgs
	t.Logf("SIGKILLed %s at route event %d of %d (data time %s)", holder, n, total, dataTime())
	if n >= total {
		t.Errorf("the worker was killed after the ingest's end: not mid-way")
	}
	since := func() string { return other.log()[mark:] }
	waitUntil(t, "the standby to take the lease", 60*time.Second, func() bool { return blindRE.MatchString(since()) })
	t.Logf("standby took over %s after the kill (%s)", time.Since(killed).Round(time.Millisecond), blindRE.FindString(since()))
	if promoted := strings.Contains(since(), "warm standby promoted"); promoted != warm {
		t.Errorf("warm standby %v, but the standby's log says promoted=%v:\n%s", warm, promoted, other.log())
	}
	// The takeover is blind until the new holder has caught up with the
	// stream as it was (a re-read for a cold one; for both, the dead
	// worker's view partitions rebuilt by the other).
	takeover := mark + blindRE.FindStringIndex(since())[1]
	waitUntil(t, "the new holder to catch up with the route stream", 60*time.Second, func() bool {
		return caughtUpRE.MatchString(other.log()[takeover:])
	})
	t.Logf("takeover: %s", caughtUpRE.FindString(other.log()[takeover:]))

	select {
	case <-ingest.done:
	case <-time.After(90 * time.Second):
		t.Fatal("ingest did not finish")
	}
	if !strings.Contains(ingest.log(), "ingest finished") {
		t.Fatalf("ingest failed:\n%s", ingest.log())
	}
	t.Logf("ingest: %s", regexp.MustCompile(`msg="ingest finished".*`).FindString(ingest.log()))
	waitUntil(t, "the detector to finish the stream", 60*time.Second, func() bool {
		return strings.Contains(other.log(), "route stream ended")
	})
	got := apiEvents(t, base)
	if !slices.Equal(got, want) || len(want) < 6 {
		t.Errorf("cluster API events differ from the single node's\n got %q\nwant %q", got, want)
	}
	api.cmd.Process.Signal(syscall.SIGTERM)
}

var caughtUpRE = regexp.MustCompile(`detector caught up with the route stream.*`)

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterFlags: wrong flags of bus, node and serve --store are usage
// errors (exit 2, one line naming the flag), before anything connects.
func TestClusterFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		word string
	}{
		{[]string{"bus", "--routes", "127.0.0.1:6222"}, "--routes"},
		{[]string{"bus", "extra"}, "no arguments"},
		{[]string{"node", "--role", "viewer"}, "--role"},
		{[]string{"node", "--role", "view", "--from-view"}, "--from-view"},
		{[]string{"node", "--role", "view", "--warm-standby"}, "--warm-standby"},
		{[]string{"node", "--role", "detect"}, "--store"},
		{[]string{"node", "--role", "api", "--store", "mysql://x"}, "--store"},
		{[]string{"node", "--role", "ingest", "--lease-ttl", "0s"}, "-lease-ttl"},
		{[]string{"node", "--role", "view", "--checkpoint-keep", "0"}, "-checkpoint-keep"},
		{[]string{"node", "--role", "api", "--store", "postgres://x@127.0.0.1:1/x", "--config", "alerts.json"}, "--config"},
		{[]string{"node", "--role", "detect", "--store", "postgres://x@127.0.0.1:1/x", "--config", "/nonexistent/alerts.json"}, "--config"},
		{[]string{"node", "--role", "ingest", "--demo", "--replay", "x.mrt"}, "exclude"},
		{[]string{"serve", "--store", "sqlite:///tmp/x"}, "--store"},
		{[]string{"watch", "--routeviews=nohost"}, "-routeviews"},
		{[]string{"watch", "--routeviews", "--routeviews-start", "yesterday"}, "start"},
	} {
		code, out, errs := runCmd(t, c.args...)
		if code != 2 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, c.word) || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q: want exit 2 and one line naming %s", c.args, code, out, errs, c.word)
		}
	}
}

// TestClusterPausedHolder: the detector's lease holder is paused
// (SIGSTOP) mid-way; the standby takes over; the holder is resumed
// (SIGCONT) after the standby has fenced the store, and its late writes
// are refused (its log names the fence) while the API's events still
// equal a single `serve --demo`'s. Opt-in like TestClusterProcesses
// (BLACKOUT_CLUSTER_E2E=1).
func TestClusterPausedHolder(t *testing.T) {
	if os.Getenv("BLACKOUT_CLUSTER_E2E") == "" {
		t.Skip("set BLACKOUT_CLUSTER_E2E=1 to run the cluster test with real processes")
	}
	dsn := pgtest.DB(t)
	single := startServeProc(t, "--demo", "--data", t.TempDir(), "--speed", "max")
	single.waitFor(t, "the single node to finish", func(h health) bool {
		return !h.Running && h.DataTime != nil && strings.HasPrefix(*h.DataTime, "2014-12-23T23:")
	})
	want := apiEvents(t, single.base)
	single.stop(t)

	addrs, err := bus.FreeAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	startProc(t, "bus", "bus", "--name", "bus", "--listen", addrs[0], "--dir", t.TempDir())
	busURL := "nats://" + addrs[0]
	workers := map[string]*proc{}
	for _, w := range []string{"w1", "w2"} {
		workers[w] = startProc(t, w, "node", "--role", "detect", "--name", w, "--bus", busURL, "--store", dsn, "--lease-ttl", "3s")
	}
	api := startProc(t, "api", "node", "--role", "api", "--name", "api", "--bus", busURL, "--store", dsn, "--listen", "127.0.0.1:0")
	base := apiBase(t, api)
	ingest := startProc(t, "ingest", "node", "--role", "ingest", "--name", "ingest", "--bus", busURL, "--demo", "--speed", "20000")
	dataTime := func() string { return healthDataTime(base) }
	waitUntil(t, "the data time to pass 2014-12-21", 60*time.Second, func() bool { return dataTime() >= "2014-12-21" })
	holder := leaseHolder(t, busURL)
	paused := workers[holder]
	if err := paused.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	t.Logf("SIGSTOPped %s at data time %s", holder, dataTime())
	var other *proc
	for name, w := range workers {
		if name != holder {
			other = w
		}
	}
	waitUntil(t, "the standby to fence the store", 30*time.Second, func() bool { return strings.Contains(other.log(), "store fenced") })
	t.Logf("standby fenced the store %s after the pause", time.Since(stopped).Round(time.Millisecond))
	time.Sleep(time.Second)
	if err := paused.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the resumed holder to stand by", 30*time.Second, func() bool { return strings.Contains(paused.log(), "detector lease lost") })
	select {
	case <-ingest.done:
	case <-time.After(90 * time.Second):
		t.Fatal("ingest did not finish")
	}
	waitUntil(t, "the detector to finish the stream", 60*time.Second, func() bool {
		return strings.Contains(other.log(), "route stream ended")
	})
	if !strings.Contains(paused.log(), "fenced: a newer writer holds the store") {
		t.Errorf("the resumed holder's log names no refused write:\n%s", paused.log())
	} else {
		t.Logf("resumed holder: %s", regexp.MustCompile(`.*fenced: a newer writer.*`).FindString(paused.log()))
	}
	got := apiEvents(t, base)
	if !slices.Equal(got, want) || len(want) < 6 {
		t.Errorf("cluster API events differ from the single node's\n got %q\nwant %q", got, want)
	}
	api.cmd.Process.Signal(syscall.SIGTERM)
}

// apiBase waits for the api node's "listening on" line and returns its
// base URL.
func apiBase(t *testing.T, api *proc) string {
	t.Helper()
	var base string
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	waitUntil(t, "the api to listen", 30*time.Second, func() bool {
		m := re.FindStringSubmatch(api.log())
		if m != nil {
			base = m[1]
		}
		return m != nil
	})
	return base
}

// healthDataTime returns the data time the api at base reports in its
// health ("" when it cannot be read).
func healthDataTime(base string) string {
	resp, err := http.Get(base + "/api/v1/health")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var h health
	if json.NewDecoder(resp.Body).Decode(&h) != nil || h.DataTime == nil {
		return ""
	}
	return *h.DataTime
}

// leaseHolder returns the name of the worker holding the detector lease,
// as the lease bucket says.
func leaseHolder(t *testing.T, busURL string) string {
	t.Helper()
	nc, js, err := bus.Connect([]string{busURL}, "test-lease")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var holder string
	err = bus.Retry(ctx, "lease "+cluster.LeaseDetect, func(ctx context.Context) error {
		kv, err := js.KeyValue(ctx, cluster.LeaseBucket)
		if err != nil {
			return err
		}
		e, err := kv.Get(ctx, cluster.LeaseDetect)
		if err != nil {
			return err
		}
		holder = string(e.Value())
		return nil
	})
	if err != nil {
		t.Fatalf("no worker holds the lease: %v", err)
	}
	return holder
}
