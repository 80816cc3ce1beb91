// Package readiness measures how long `blackout watch --ris-live
// --ris-bootstrap` takes to be ready on a full-size archive: a local
// RIS-layout mirror (rrc00: a bview of 1,000,000 IPv4 prefixes seen by 30
// peers, then the day's 5-minute update files up to the join, 96 of them,
// 15,000 messages each) served over loopback HTTP, and the local RIS Live
// server streaming rrc00 from 07:57:30 on, 50 messages per second. The
// figures are the times from the process start to its "IPv4: judged
// from" line (detection starts from the bview, while the day's updates
// are still being read) and to its "bootstrap: joined at" line (the
// archive read, the live stream followed); the CPU time and peak RSS of
// the process until then are logged with them.
//
// Opt-in (it generates about 2.5 GB of MRT, 0.5 GB compressed, kept in
// bench/out/readiness for later runs, and takes minutes):
//
//	BLACKOUT_FULLSIZE=1 go test ./bench/readiness -run TestReadyFullSize -v -timeout 1h
//
// BLACKOUT_FULLSIZE_PREFIXES, _PEERS, _FILES (update files) and _UPDATES
// (messages per file) change the mirror; BLACKOUT_FULLSIZE_DIR where it
// is kept. TestReadyRouteViewsFullSize does the same for `--routeviews
// --routeviews-bootstrap` (a RouteViews-layout mirror dated now, in
// BLACKOUT_FULLSIZE_RV_DIR, and franz-go's in-process Kafka).
// bench/readiness.sh runs both.
package readiness

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/mrt/mrtgen"
	"github.com/blackout-bgp/blackout/internal/source/archive"
	"github.com/blackout-bgp/blackout/internal/source/rislive/ristest"
	"github.com/blackout-bgp/blackout/internal/source/routeviews"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// mirror is the generated archive's shape.
type mirror struct {
	dir      string
	col      archive.Collector
	prefixes int
	peers    int
	files    int // update files from the RIB on
	updates  int // messages per update file
	t0       time.Time
}

var rrc00 = archive.Collector{Name: "rrc00", Project: archive.RIS}

func (m *mirror) stamp() string {
	return fmt.Sprintf("%s prefixes=%d peers=%d files=%d updates=%d t0=%s v1\n", m.col.Name, m.prefixes, m.peers, m.files, m.updates, m.t0.Format(time.RFC3339))
}

// build writes the mirror unless a complete one of the same shape is there.
func (m *mirror) build(t *testing.T) {
	stampPath := filepath.Join(m.dir, "STAMP")
	if b, err := os.ReadFile(stampPath); err == nil && string(b) == m.stamp() {
		t.Logf("mirror: reusing %s (%s)", m.dir, strings.TrimSpace(m.stamp()))
		return
	}
	if err := os.RemoveAll(m.dir); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	opt := mrtgen.Options{Seed: 1, Prefixes: m.prefixes, Peers: m.peers, Time: m.t0}
	bview := filepath.Join(m.dir, archive.PathOf(m.col, archive.RIB, m.t0))
	n, err := writeCompressed(bview, m.col.Project, func(w *mrt.Writer) error { _, err := mrtgen.WriteRIB(w, opt); return err })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mirror: bview %s, %d bytes compressed, %s", bview, n, time.Since(start).Round(time.Second))
	// The churn is about the bview's routes: read its prefixes and origins.
	type route struct {
		p    netip.Prefix
		tail []bgp.ASN
	}
	var routes []route
	f, err := os.Open(bview)
	if err != nil {
		t.Fatal(err)
	}
	zr, _, err := compress.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	rr := mrt.NewRouteReader(bufio.NewReaderSize(zr, 1<<20), "rib", m.col.Name)
	var last netip.Prefix
	for {
		ev, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Prefix != last {
			last = ev.Prefix
			flat := ev.Attrs.Path.AppendFlat(nil)
			routes = append(routes, route{p: ev.Prefix, tail: flat[max(0, len(flat)-2):]})
		}
	}
	f.Close()
	peers := mrtgen.Peers(opt)
	rng := rand.New(rand.NewPCG(1, 9))
	transit := []bgp.ASN{174, 1299, 2914, 3257, 3356, 6453, 6762, 7018}
	local := netip.AddrFrom4([4]byte{192, 0, 2, 254})
	attrs := &bgp.Attrs{}
	every := archive.ScheduleOf(m.col.Project).UpdatesEvery
	for i := range m.files {
		ft := m.t0.Add(time.Duration(i) * every)
		path := filepath.Join(m.dir, archive.PathOf(m.col, archive.Updates, ft))
		_, err := writeCompressed(path, m.col.Project, func(w *mrt.Writer) error {
			for k := range m.updates {
				tm := ft.Add(time.Duration(k) * every / time.Duration(m.updates))
				pi := rng.IntN(len(peers))
				r := routes[rng.IntN(len(routes))]
				pfx := []netip.Prefix{r.p}
				if rng.IntN(4) == 0 {
					if err := w.WriteUpdate(tm, peers[pi], local, 12654, pfx, nil, nil); err != nil {
						return err
					}
					continue
				}
				attrs.Reset()
				attrs.Set(bgp.AttrOrigin)
				attrs.Set(bgp.AttrASPath)
				attrs.Set(bgp.AttrNextHop)
				attrs.NextHop = peers[pi].Addr
				attrs.Path.Segments = append(attrs.Path.Segments, bgp.Segment{Type: bgp.ASSequence,
					ASNs: append([]bgp.ASN{peers[pi].AS, transit[rng.IntN(len(transit))]}, r.tail...)})
				if err := w.WriteUpdate(tm, peers[pi], local, 12654, nil, attrs, pfx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(stampPath, []byte(m.stamp()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("mirror: built in %s", time.Since(start).Round(time.Second))
}

// writeCompressed writes one file through gen, compressed as the
// project's archive does (gzip; bzip2 by pbzip2 or bzip2), atomically;
// it returns its size.
func writeCompressed(name string, p archive.Project, gen func(w *mrt.Writer) error) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return 0, err
	}
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp)
	bw := bufio.NewWriterSize(f, 1<<20)
	var zw io.WriteCloser
	var cmd *exec.Cmd
	if p == archive.RouteViews {
		prog := "pbzip2"
		if _, err := exec.LookPath(prog); err != nil {
			prog = "bzip2"
		}
		cmd = exec.Command(prog, "-c")
		cmd.Stdout = bw
		if zw, err = cmd.StdinPipe(); err == nil {
			err = cmd.Start()
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", prog, err)
		}
	} else {
		zw, _ = gzip.NewWriterLevel(bw, gzip.BestSpeed)
	}
	w := mrt.NewWriter(zw)
	err = gen(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cmd != nil {
		if werr := cmd.Wait(); err == nil {
			err = werr
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	st, err := os.Stat(tmp)
	if err != nil {
		return 0, err
	}
	return st.Size(), os.Rename(tmp, name)
}

// lockedBuffer is a bytes buffer safe for the process's writes and the
// test's reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestReadyFullSize: the time from `blackout watch --ris-bootstrap`'s
// start to "IPv4: judged from", on the full-size mirror, with an empty
// cache (the files are fetched over loopback HTTP) and again with the
// cache filled.
func TestReadyFullSize(t *testing.T) {
	if os.Getenv("BLACKOUT_FULLSIZE") == "" {
		t.Skip("set BLACKOUT_FULLSIZE=1 to generate the full-size mirror (2.5 GB of MRT) and measure")
	}
	m := &mirror{
		dir:      os.Getenv("BLACKOUT_FULLSIZE_DIR"),
		col:      rrc00,
		prefixes: envInt("BLACKOUT_FULLSIZE_PREFIXES", 1_000_000),
		peers:    envInt("BLACKOUT_FULLSIZE_PEERS", 30),
		files:    envInt("BLACKOUT_FULLSIZE_FILES", 96),
		updates:  envInt("BLACKOUT_FULLSIZE_UPDATES", 15_000),
		t0:       time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	if m.dir == "" {
		m.dir = filepath.Join("..", "out", "readiness")
	}
	m.build(t)
	bin := buildBinary(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(m.dir)))
	defer srv.Close()

	every := archive.ScheduleOf(archive.RIS).UpdatesEvery
	liveFrom := m.t0.Add(time.Duration(m.files-1)*every + every/2)
	cache := t.TempDir()
	for _, run := range []string{"empty cache", "cache filled"} {
		ris := risStream(m, liveFrom)
		measure(t, run, bin, m, "watch", "--ris-live="+ris.URL, "--ris-filter", "host=rrc00", "--ris-bootstrap",
			"--ris-base", srv.URL, "--cache", cache, "--json")
		ris.Close()
	}
}

func buildBinary(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "blackout")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/blackout").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// risStream is the local RIS Live server streaming rrc00's updates at 50
// a second of wall time, the data time running with the wall clock from
// liveFrom.
func risStream(m *mirror, liveFrom time.Time) *ristest.Server {
	peers := mrtgen.Peers(mrtgen.Options{Seed: 1, Prefixes: m.prefixes, Peers: m.peers})
	for i := range peers {
		peers[i].Collector = "rrc00"
	}
	rng := rand.New(rand.NewPCG(2, 2))
	began := time.Now()
	return ristest.NewStream(func() []byte {
		time.Sleep(20 * time.Millisecond)
		p := peers[rng.IntN(len(peers))]
		a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.IntN(256)), byte(rng.IntN(256)), 0})
		ev := bgp.Event{Time: liveFrom.Add(time.Since(began)), Kind: bgp.Announce, Peer: p, Prefix: netip.PrefixFrom(a, 24),
			Attrs: &bgp.Attrs{Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: []bgp.ASN{p.AS, 3356, 64512}}}}, NextHop: p.Addr}}
		ev.Attrs.Set(bgp.AttrOrigin)
		ev.Attrs.Set(bgp.AttrASPath)
		return ristest.Messages([]bgp.Event{ev})[0]
	})
}

// measure runs bin with args until it logged both "IPv4: judged from" and
// "bootstrap: joined at", and logs how long each took, the process's CPU
// time and peak RSS.
func measure(t *testing.T, run, bin string, m *mirror, args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr lockedBuffer
	cmd.Stderr, cmd.Stdout = &stderr, io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var joined, judged time.Duration
	for judged == 0 || joined == 0 {
		if err := ctx.Err(); err != nil {
			t.Fatalf("%s: no IPv4 judging or no join after %s\n%s", run, time.Since(start), stderr.String())
		}
		s := stderr.String()
		if joined == 0 && strings.Contains(s, "bootstrap: joined at") {
			joined = time.Since(start)
		}
		if judged == 0 && strings.Contains(s, "IPv4: judged from") {
			judged = time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	var cpu time.Duration
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		rss = ru.Maxrss << 10
	}
	load, _ := os.ReadFile("/proc/loadavg")
	var joinLine string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "joined at") || strings.Contains(l, "IPv4: judged from") {
			joinLine += "\n  " + l
		}
	}
	t.Logf("READY %s %s: %d prefixes x %d peers + %d update files of %d messages: IPv4 judged %s after the start (from the RIB dump, the updates still being read), the archive joined to the live stream %s after the start; process CPU (user+sys, until then) %s, peak RSS %d MB; load %s%s",
		m.col.Name, run, m.prefixes, m.peers, m.files, m.updates, judged.Round(10*time.Millisecond), joined.Round(10*time.Millisecond),
		cpu.Round(10*time.Millisecond), rss>>20, strings.Fields(string(load))[0], joinLine)
}

// TestReadyRouteViewsFullSize: the same for `blackout watch --routeviews
// --routeviews-bootstrap route-views2`: a RouteViews-layout mirror dated
// now (the bootstrap looks for the latest update file published before
// the wall clock): the RIB of the last 2-hour dump (1,000,000 prefixes x
// 30 peers, bzip2) and the 15-minute update files since (45,000
// messages each), and franz-go's in-process Kafka holding the feed (a
// topic per peer AS, BMP route monitoring at 50 messages a second) from
// 10 minutes before the join on, still being produced.
func TestReadyRouteViewsFullSize(t *testing.T) {
	if os.Getenv("BLACKOUT_FULLSIZE") == "" {
		t.Skip("set BLACKOUT_FULLSIZE=1 to generate the full-size mirror (2.5 GB of MRT) and measure")
	}
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("bzip2 is needed for the RouteViews layout: install Debian package bzip2")
	}
	now := time.Now().UTC()
	every := archive.ScheduleOf(archive.RouteViews).UpdatesEvery
	t0 := now.Add(-30 * time.Minute).Truncate(2 * time.Hour)
	last := now.Truncate(every).Add(-every)
	m := &mirror{
		dir:      os.Getenv("BLACKOUT_FULLSIZE_RV_DIR"),
		col:      archive.Collector{Name: "route-views2", Project: archive.RouteViews},
		prefixes: envInt("BLACKOUT_FULLSIZE_PREFIXES", 1_000_000),
		peers:    envInt("BLACKOUT_FULLSIZE_PEERS", 30),
		files:    int(last.Sub(t0)/every) + 1,
		updates:  3 * envInt("BLACKOUT_FULLSIZE_UPDATES", 15_000),
		t0:       t0,
	}
	if m.dir == "" {
		m.dir = filepath.Join("..", "out", "readiness-rv")
	}
	m.build(t)
	bin := buildBinary(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(m.dir)))
	defer srv.Close()

	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	peers := mrtgen.Peers(mrtgen.Options{Seed: 1, Prefixes: m.prefixes, Peers: m.peers})
	rng := rand.New(rand.NewPCG(3, 3))
	record := func(tm time.Time) *kgo.Record {
		p := peers[rng.IntN(len(peers))]
		a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.IntN(256)), byte(rng.IntN(256)), 0})
		attrs := &bgp.Attrs{Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: []bgp.ASN{p.AS, 3356, 64512}}}}, NextHop: p.Addr}
		attrs.Set(bgp.AttrOrigin)
		attrs.Set(bgp.AttrASPath)
		attrs.Set(bgp.AttrNextHop)
		upd, err := wire.AppendUpdate(nil, nil, attrs, []wire.NLRI{{Prefix: netip.PrefixFrom(a, 24)}}, wire.UpdateOptions{AS4: true})
		if err != nil {
			t.Fatal(err)
		}
		msg := bmpRouteMonitoring(p, tm, upd)
		v := routeviews.AppendOpenBMP(nil, routeviews.Header{Collected: tm, Collector: "bmp01", Router: m.col.Name,
			RouterAddr: netip.MustParseAddr("128.223.51.102"), RouterHash: [16]byte{2}}, msg)
		return &kgo.Record{Topic: fmt.Sprintf("routeviews.%s.%d.bmp_raw", m.col.Name, p.AS), Value: v, Timestamp: tm}
	}
	j := now.Truncate(every)
	var past []*kgo.Record
	for tm := j.Add(-10 * time.Minute); tm.Before(time.Now()); tm = tm.Add(20 * time.Millisecond) {
		past = append(past, record(tm))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := prod.ProduceSync(ctx, past...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	t.Logf("feed: %d records from %s (10 minutes before the join) to now", len(past), j.Add(-10*time.Minute).Format(time.RFC3339))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			prod.Produce(ctx, record(time.Now().UTC()), nil)
		}
	}()
	defer func() { cancel(); wg.Wait() }()
	cache := t.TempDir()
	for _, run := range []string{"empty cache", "cache filled"} {
		measure(t, run, bin, m, "watch", "--routeviews="+strings.Join(kc.ListenAddrs(), ","), "--routeviews-bootstrap", m.col.Name,
			"--routeviews-base", srv.URL, "--cache", cache, "--json")
	}
}

// bmpRouteMonitoring returns a BMP Route Monitoring message (RFC 7854)
// of peer p at tm carrying the BGP UPDATE upd.
func bmpRouteMonitoring(p bgp.Peer, tm time.Time, upd []byte) []byte {
	b := make([]byte, 6+42, 6+42+len(upd))
	b[0], b[5] = 3, 0
	h := b[6:]
	a := p.Addr.As4()
	copy(h[22:26], a[:])
	binary.BigEndian.PutUint32(h[26:], uint32(p.AS))
	copy(h[30:34], []byte{10, 0, 0, 1})
	binary.BigEndian.PutUint32(h[34:], uint32(tm.Unix()))
	binary.BigEndian.PutUint32(h[38:], uint32(tm.Nanosecond()/1000))
	b = append(b, upd...)
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)))
	return b
}
