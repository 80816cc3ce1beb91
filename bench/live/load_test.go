package live

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/bgpsession"
	"github.com/blackout-bgp/blackout/internal/source/peertest"
)

// speaker is a minimal BGP speaker for load: exabgp (Python, one text
// command per route) tops out at a few thousand routes per second, far
// from 50,000, so the load comes from this raw sender (OPEN with 4-byte AS
// and IPv4/IPv6 unicast, then pre-encoded UPDATEs on the wire). It is
// only a load generator; the collector side is the real BGP session source.
type speaker struct {
	conn net.Conn
	w    *bufio.Writer
	as   uint32
	nh   [4]byte
	sent atomic.Int64 // routes announced
	buf  []byte
	last time.Time // last keepalive
}

func bgpMessage(typ uint8, body []byte) []byte {
	b := make([]byte, 16, 19+len(body))
	for i := range b {
		b[i] = 0xff
	}
	b = binary.BigEndian.AppendUint16(b, uint16(19+len(body)))
	b = append(b, typ)
	return append(b, body...)
}

func dialSpeaker(ctx context.Context, local string, port int, as uint32, nh byte) (*speaker, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("speaker %s: %w", local, err)
	}
	caps := []byte{1, 4, 0, 1, 0, 1, 1, 4, 0, 2, 0, 1, 65, 4, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(caps[14:], as)
	open := []byte{4, 0x5b, 0xa0, 0, 180}
	id := netip.MustParseAddr(local).As4()
	open = append(open, id[:]...)
	open = append(open, byte(2+len(caps)), 2, byte(len(caps)))
	open = append(open, caps...)
	s := &speaker{conn: conn, w: bufio.NewWriterSize(conn, 1<<16), as: as, nh: [4]byte{198, 51, 100, nh}, last: time.Now()}
	if _, err := conn.Write(append(bgpMessage(1, open), bgpMessage(4, nil)...)); err != nil {
		return nil, fmt.Errorf("speaker %s: open: %w", local, err)
	}
	// Read the collector's OPEN and KEEPALIVE, then drain in the background.
	br := bufio.NewReader(conn)
	for range 2 {
		hdr := make([]byte, 19)
		if _, err := io.ReadFull(br, hdr); err != nil {
			return nil, fmt.Errorf("speaker %s: handshake: %w", local, err)
		}
		if _, err := io.CopyN(io.Discard, br, int64(binary.BigEndian.Uint16(hdr[16:]))-19); err != nil {
			return nil, err
		}
	}
	go func() { _, _ = io.Copy(io.Discard, br) }()
	// GoBGP drops UPDATEs stamped (in whole seconds) before the session's
	// uptime, and its server loop may not have seen Established yet: give it
	// a moment, as a real speaker's table transfer would take.
	time.Sleep(1500 * time.Millisecond)
	return s, nil
}

// announce writes one UPDATE announcing the /24s at index first..first+n-1
// of 11.0.0.0 onwards with AS path [as, up, origin].
func (s *speaker) announce(first, n int, up, origin uint32) error {
	b := s.buf[:0]
	b = append(b, 0, 0) // no withdrawn routes
	attrs := []byte{0x40, 1, 1, 0, 0x40, 2, 14, 2, 3}
	attrs = binary.BigEndian.AppendUint32(attrs, s.as)
	attrs = binary.BigEndian.AppendUint32(attrs, up)
	attrs = binary.BigEndian.AppendUint32(attrs, origin)
	attrs = append(attrs, 0x40, 3, 4)
	attrs = append(attrs, s.nh[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(attrs)))
	b = append(b, attrs...)
	for i := first; i < first+n; i++ {
		a := 0x0B000000 + uint32(i)<<8
		b = append(b, 24, byte(a>>24), byte(a>>16), byte(a>>8))
	}
	s.buf = b
	if _, err := s.w.Write(bgpMessage(2, b)); err != nil {
		return err
	}
	s.sent.Add(int64(n))
	if time.Since(s.last) > 20*time.Second {
		s.last = time.Now()
		if _, err := s.w.Write(bgpMessage(4, nil)); err != nil {
			return err
		}
	}
	return nil
}

// TestLoad: several peers send a sustained rate of updates, then one peer
// sends a full table at once. It reports how far the pipeline falls
// behind the data's clock (the collector's receive time), how fast it
// catches up, whether every route arrived, and the peak heap. Small by
// default; BLACKOUT_LIVE=big: 4 peers x 12,500 updates/s for 20 s and a
// 1,000,000-prefix table.
func TestLoad(t *testing.T) {
	peers, rate, secs, table := 2, 2000, 2, 20000
	if os.Getenv("BLACKOUT_LIVE") == "big" {
		peers, rate, secs, table = 4, 12500, 20, 1_000_000
	}
	peers = envInt("BLACKOUT_LOAD_PEERS", peers)
	rate = envInt("BLACKOUT_LOAD_RATE", rate) // per peer
	secs = envInt("BLACKOUT_LOAD_SECONDS", secs)
	table = envInt("BLACKOUT_LOAD_TABLE", table)

	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	port := peertest.FreePort(t)
	src, err := bgpsession.New(bgpsession.Config{
		Listen:  netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)),
		LocalAS: 65000, Accept: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/24")}, Collector: "load",
	})
	if err != nil {
		t.Fatal(err)
	}
	pcfg := pipeline.DefaultConfig(db)
	pcfg.Detect.WarmUp = 2 * time.Second
	pcfg.View.RefreshEvery = time.Second
	pl := pipeline.New(pcfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := source.Join(ctx, []source.Runner{src}, 1<<16, func(s source.Runner, err error) { t.Errorf("%s: %v", s.Name(), err) })

	var routes atomic.Int64
	var lagNs atomic.Int64 // the latest lag sampled
	var maxLag atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		var n int64
		for ev := range events {
			pl.Feed(&ev)
			if ev.Kind == bgp.Announce {
				n++
				routes.Store(n)
				if n&255 == 0 {
					l := int64(time.Since(ev.Time))
					lagNs.Store(l)
					if l > maxLag.Load() {
						maxLag.Store(l)
					}
				}
			}
		}
		routes.Store(n)
	}()
	var peakHeap atomic.Uint64
	go func() {
		var ms runtime.MemStats
		for ctx.Err() == nil {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond) // the collector listens

	// Phase 1: sustained rate from every peer, one route per UPDATE, each
	// peer cycling over its 50,000 prefixes with alternating upstreams.
	var sps []*speaker
	for p := range peers {
		sp, err := dialSpeaker(ctx, fmt.Sprintf("127.0.0.%d", 10+p), port, uint32(4200000100+p), byte(10+p))
		if err != nil {
			t.Fatal(err)
		}
		defer sp.conn.Close()
		sps = append(sps, sp)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for p, sp := range sps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			per := rate / 100
			i := 0
			for k := 0; k < secs*100; k++ {
				<-tick.C
				for range per {
					pfx := p*50_000 + i%50_000
					if err := sp.announce(pfx, 1, uint32(174+(i/50_000)%2), uint32(64512+pfx%1000)); err != nil {
						t.Errorf("speaker %d: %v", p, err)
						return
					}
					i++
				}
				_ = sp.w.Flush()
			}
		}()
	}
	wg.Wait()
	sendDur := time.Since(start)
	var sent int64
	for _, sp := range sps {
		sent += sp.sent.Load()
	}
	caught := waitRoutes(&routes, sent, 2*time.Minute)
	t.Logf("LOAD sustained: %d peers sent %d updates in %v (%.0f/s); pipeline had all %v: %v after the last was sent; max lag behind the data clock %v",
		peers, sent, sendDur.Round(time.Millisecond), float64(sent)/sendDur.Seconds(), caught >= 0, caught.Round(time.Millisecond), time.Duration(maxLag.Load()).Round(time.Millisecond))
	if caught < 0 {
		t.Errorf("lost updates: %d of %d arrived", routes.Load(), sent)
	}

	// Phase 2: one new peer sends a full table at once (1,000 prefixes per
	// UPDATE, as a table transfer packs them).
	maxLag.Store(0)
	sp, err := dialSpeaker(ctx, "127.0.0.9", port, 4200000999, 9)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.conn.Close()
	before := routes.Load()
	start = time.Now()
	for i := 0; i < table; i += 1000 {
		if err := sp.announce(i, min(1000, table-i), 3356, uint32(64512+i%1000)); err != nil {
			t.Fatal(err)
		}
	}
	_ = sp.w.Flush()
	sendDur = time.Since(start)
	caught = waitRoutes(&routes, before+int64(table), 5*time.Minute)
	total := time.Since(start)
	t.Logf("LOAD full table: %d prefixes written in %v; pipeline had all %v: %v after the first was sent (%.0f routes/s); max lag behind the data clock %v; peak heap %d MiB",
		table, sendDur.Round(time.Millisecond), caught >= 0, total.Round(time.Millisecond), float64(table)/total.Seconds(),
		time.Duration(maxLag.Load()).Round(time.Millisecond), peakHeap.Load()>>20)
	if caught < 0 {
		t.Errorf("lost routes of the full table: %d of %d arrived", routes.Load()-before, table)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("LOAD heap after GC: %d MiB (collector's Adj-RIB-In, view, signals)", ms.HeapInuse>>20)
	cancel()
	<-done
}

// waitRoutes waits until n routes reached the pipeline and returns how long
// it waited, or -1 after timeout.
func waitRoutes(routes *atomic.Int64, n int64, timeout time.Duration) time.Duration {
	start := time.Now()
	for routes.Load() < n {
		if time.Since(start) > timeout {
			return -1
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}
