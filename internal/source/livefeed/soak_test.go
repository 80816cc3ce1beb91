package livefeed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/rislive"
	"github.com/blackout-bgp/blackout/internal/source/rislive/ristest"
)

// soakGen generates a RIS Live stream: peers announce a world of n IPv4
// /24s (from 1.0.0.0 up, so that they fall in many countries), then churn:
// every second of data time, perSec updates of random (peer, prefix):
// path changes (one of a bounded set of AS paths: route churn, not an
// ever-growing variety), and one in ten a withdrawal announced again a
// minute later.
type soakGen struct {
	n, peers, perSec int
	upstreams        int // AS paths are peer, one of upstreams transit ASes, one of 1,000 origins
	start, end       time.Time
	rng              *rand.Rand
	up               [][]bool // by peer, by prefix
	i                int      // messages so far
	t                time.Time
	inSec            int
	back             []comeBack // withdrawn routes, re-announced a minute later
	sent             atomic.Int64
	clock            atomic.Int64 // data time of the last message (unix seconds)
}

// comeBack is a withdrawn route and when it is announced again.
type comeBack struct {
	peer, i int
	at      time.Time
}

func (g *soakGen) prefix(i int) string {
	a := 0x01000000 + uint32(i)<<8
	return fmt.Sprintf("%d.%d.%d.0/24", byte(a>>24), byte(a>>16), byte(a>>8))
}

func (g *soakGen) msg(peer, i int, announce bool, pathN int) []byte {
	data := map[string]any{
		"timestamp": json.Number(fmt.Sprintf("%d.%06d", g.t.Unix(), g.t.Nanosecond()/1000)),
		"peer":      fmt.Sprintf("192.0.2.%d", peer+1), "peer_asn": strconv.Itoa(65001 + peer),
		"id": strconv.Itoa(g.i), "host": "rrc00.ripe.net", "type": "UPDATE",
	}
	if announce {
		data["path"] = []int{65001 + peer, 3356 + pathN%g.upstreams, 64512 + i%1000}
		data["origin"] = "igp"
		data["announcements"] = []map[string]any{{"next_hop": "198.51.100.1", "prefixes": []string{g.prefix(i)}}}
	} else {
		data["withdrawals"] = []string{g.prefix(i)}
	}
	b, _ := json.Marshal(map[string]any{"type": "ris_message", "data": data})
	return b
}

func (g *soakGen) next() []byte {
	table := g.n * g.peers
	var m []byte
	switch {
	case g.i < table:
		// The table: peer by peer, 5,000 routes per data second.
		p, i := g.i/g.n, g.i%g.n
		g.t = g.start.Add(time.Duration(g.i/5000) * time.Second)
		g.up[p][i] = true
		m = g.msg(p, i, true, 0)
	default:
		if g.inSec == g.perSec {
			g.inSec = 0
			g.t = g.t.Add(time.Second)
		}
		if !g.t.Before(g.end) {
			return nil
		}
		g.inSec++
		if len(g.back) > 0 && !g.t.Before(g.back[0].at) {
			b := g.back[0]
			g.back = g.back[1:]
			g.up[b.peer][b.i] = true
			m = g.msg(b.peer, b.i, true, g.rng.IntN(400))
			break
		}
		// Path changes mostly; one update in ten a withdrawal that comes
		// back a minute later (a flap).
		p, i := g.rng.IntN(g.peers), g.rng.IntN(g.n)
		if !g.up[p][i] {
			i = (i + 1) % g.n // flapping already: another route
			if !g.up[p][i] {
				m = g.msg(p, i, true, g.rng.IntN(400))
				g.up[p][i] = true
				break
			}
		}
		if g.rng.IntN(10) == 0 {
			g.up[p][i] = false
			g.back = append(g.back, comeBack{p, i, g.t.Add(time.Minute)})
			m = g.msg(p, i, false, 0)
		} else {
			m = g.msg(p, i, true, g.rng.IntN(400))
		}
	}
	g.i++
	g.sent.Add(1)
	g.clock.Store(g.t.Unix())
	return m
}

// memSink samples the live heap every 10 minutes of data time.
type memSink struct {
	start   time.Time
	next    time.Time
	samples []sample
	events  int
	maxHeap uint64
}

type sample struct {
	data time.Duration
	heap uint64
	rss  float64
	at   time.Time
}

func (m *memSink) Notify(event.Notice) { m.events++ }

func (m *memSink) Progress(t time.Time, _ int64) {
	if t.Before(m.next) {
		return
	}
	m.next = m.next.Add(10 * time.Minute)
	// The heap the GC found live (runtime/metrics): not what the other
	// goroutines (the RIS Live server and client of the test) allocate
	// between the GC and the reading, on a busy machine.
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	heap := live[0].Value.Uint64()
	m.samples = append(m.samples, sample{data: t.Sub(m.start).Round(time.Minute), heap: heap, rss: selfRSS(), at: time.Now()})
	if p := os.Getenv("BLACKOUT_SOAK_PROFILE"); p != "" && heap > m.maxHeap {
		m.maxHeap = heap
		if f, err := os.Create(p); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
}

func selfRSS() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	fmt.Sscan(string(b), &size, &res)
	return float64(res*int64(os.Getpagesize())) / (1 << 20)
}

// TestSoak (BLACKOUT_SOAK=1): the local RIS Live server streams 6 h of
// data time as fast as the pipeline takes it over a world of 100,000
// prefixes seen by 4 peers, routes churning (20 updates per data second);
// the whole live path (RIS Live client, view, signals, detector) runs it.
// The detector judges from 10 minutes of data on. The live heap (after a
// GC) is sampled every 10 minutes of data time; after the first hour, the
// peak of each hour stays within 10 % of the second hour's, and every message sent is
// a route event fed (nothing lost). BLACKOUT_SOAK_HOURS, _PREFIXES,
// _RATE and _UPSTREAMS (transit ASes a route may take, default 4: 16,000
// distinct AS paths) change the numbers. The view frees the AS paths no
// route uses any more, so memory follows the live table, not the variety
// of paths seen: with 40 upstreams (160,000 paths) the heap stays flat too.
func TestSoak(t *testing.T) {
	if os.Getenv("BLACKOUT_SOAK") != "1" {
		t.Skip("soak test: set BLACKOUT_SOAK=1 (takes minutes)")
	}
	env := func(k string, d int) int {
		if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
			return v
		}
		return d
	}
	hours, n, rate := env("BLACKOUT_SOAK_HOURS", 6), env("BLACKOUT_SOAK_PREFIXES", 100_000), env("BLACKOUT_SOAK_RATE", 20)
	paths := env("BLACKOUT_SOAK_UPSTREAMS", 4)
	// Data time ends an hour before the wall clock (live events may not
	// come from the future).
	start := time.Now().UTC().Add(-time.Duration(hours+1) * time.Hour).Truncate(time.Hour)
	g := &soakGen{n: n, peers: 4, perSec: rate, upstreams: paths, start: start, end: start.Add(time.Duration(hours) * time.Hour),
		rng: rand.New(rand.NewPCG(1, 2)), t: start}
	for range g.peers {
		g.up = append(g.up, make([]bool, n))
	}
	srv := ristest.NewStream(g.next)
	defer srv.Close()
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	ms := &memSink{start: start, next: start.Add(10 * time.Minute)}
	opts := pipeline.Options{Config: pipeline.DefaultConfig(db), Sinks: []pipeline.Sink{ms}, ForgetEvents: true}
	// Judging starts after 10 minutes (not the default hour), so that the
	// first hour holds the warm-up and the detector's first hours of
	// baseline: after it, memory must follow the routing table only.
	opts.Detect.WarmUp = 10 * time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var inputErrs atomic.Int64
	opts.OnError = func(err error) { inputErrs.Add(1) }
	events := source.Join(ctx, []source.Runner{rislive.New(rislive.Config{URL: srv.URL})}, 4096, nil) // as watch and serve
	src := source.FromChannel(events)
	var fed atomic.Int64
	done := make(chan *pipeline.Result, 1)
	began := time.Now()
	go func() {
		res, _ := pipeline.Run(ctx, &counting{src, &fed}, opts)
		done <- res
	}()
	for g.clock.Load() < g.end.Unix()-1 || fed.Load() < g.sent.Load() {
		if time.Since(began) > 30*time.Minute {
			t.Fatalf("after 30 min: %d sent, %d fed, data at %s", g.sent.Load(), fed.Load(), time.Unix(g.clock.Load(), 0).UTC())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	res := <-done
	t.Logf("%d messages sent, %d route events fed (%d in the pipeline's count), %d input errors, %d notices, in %s",
		g.sent.Load(), fed.Load(), res.RouteEvents, inputErrs.Load(), ms.events, time.Since(began).Round(time.Second))
	if fed.Load() != g.sent.Load() || inputErrs.Load() != 0 {
		t.Errorf("lost: %d messages sent, %d route events fed, %d input errors", g.sent.Load(), fed.Load(), inputErrs.Load())
	}
	// The peak of each hour of data: the live heap goes up and down with
	// the open events and the bins; flat means the peaks do not grow.
	peaks := map[int]uint64{}
	for _, s := range ms.samples {
		t.Logf("MEMORY data +%s: live heap %.1f MB, RSS %.1f MB (wall +%s)", s.data, float64(s.heap)/(1<<20), s.rss, s.at.Sub(began).Round(time.Second))
		h := int((s.data - time.Minute) / time.Hour)
		peaks[h] = max(peaks[h], s.heap)
	}
	base := peaks[1]
	if base == 0 {
		t.Fatal("no sample in the second hour")
	}
	for h := 1; h < hours; h++ {
		t.Logf("MEMORY peak of hour %d: %.1f MB", h+1, float64(peaks[h])/(1<<20))
		if p := float64(peaks[h]); p > 1.1*float64(base) || p < 0.9*float64(base) {
			t.Errorf("live heap peak %.1f MB in hour %d: not within 10%% of %.1f MB, the peak of the second hour", p/(1<<20), h+1, float64(base)/(1<<20))
		}
	}
}

// counting counts the events a source hands out.
type counting struct {
	source.Source
	n *atomic.Int64
}

func (c *counting) Next() (*bgp.Event, error) {
	ev, err := c.Source.Next()
	if err == nil {
		c.n.Add(1)
	}
	return ev, err
}
