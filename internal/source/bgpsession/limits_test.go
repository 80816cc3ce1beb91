package bgpsession_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
	"github.com/blackout-bgp/blackout/internal/source/bgpsession"
	"github.com/blackout-bgp/blackout/internal/source/peertest"
)

// logBuf collects a collector's log lines.
type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logBuf) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.lines {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// start runs a collector on a free loopback port; it returns the address
// and the events.
func start(t *testing.T, cfg bgpsession.Config) (string, <-chan bgp.Event) {
	t.Helper()
	cfg.Listen = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(peertest.FreePort(t)))
	cfg.LocalAS = 65000
	cfg.Collector = "test"
	src, err := bgpsession.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := src.Listen(ctx); err != nil { // listening before the first dial
		t.Fatal(err)
	}
	out := make(chan bgp.Event, 1024)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return cfg.Listen.String(), out
}

func waitLog(t *testing.T, l *logBuf, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !l.has(s) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q:\n%s", s, l)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// notification reads until a NOTIFICATION and returns its code and subcode.
func notification(t *testing.T, c *peertest.BGPClient) (uint8, uint8) {
	t.Helper()
	for {
		typ, body, err := c.Read(5 * time.Second)
		if err != nil {
			t.Fatalf("no NOTIFICATION: %v", err)
		}
		if typ == 3 && len(body) >= 2 {
			return body[0], body[1]
		}
	}
}

// TestRejections: an address that may not peer is closed at once, a
// wrong AS and a bad OPEN version get their NOTIFICATION; each is logged
// with its reason.
func TestRejections(t *testing.T) {
	var l logBuf
	addr, _ := start(t, bgpsession.Config{Neighbors: []bgpsession.Neighbor{{Addr: netip.MustParseAddr("127.0.0.2"), AS: 65001}}, Logf: l.logf})

	c := peertest.DialBGP(t, "127.0.0.9", addr)
	c.Write(t, peertest.Open(4, 65009, [4]byte{127, 0, 0, 9}))
	if _, _, err := c.Read(5 * time.Second); err == nil {
		t.Error("a router not in --bgp-peer got an answer")
	}
	waitLog(t, &l, "rejected peer 127.0.0.9: not in --bgp-peer or --bgp-accept")

	c = peertest.DialBGP(t, "127.0.0.2", addr)
	c.Write(t, peertest.Open(4, 65099, [4]byte{127, 0, 0, 2}))
	if code, sub := notification(t, c); code != 2 || sub != 2 {
		t.Errorf("wrong AS: NOTIFICATION %d/%d, want 2/2 (bad peer AS)", code, sub)
	}
	waitLog(t, &l, "rejected peer 127.0.0.2 AS65099: wrong AS: its OPEN says AS65099, --bgp-peer says AS65001")

	c = peertest.DialBGP(t, "127.0.0.2", addr)
	c.Write(t, peertest.Open(3, 65001, [4]byte{127, 0, 0, 2}))
	if code, sub := notification(t, c); code != 2 || sub != 1 {
		t.Errorf("version 3: NOTIFICATION %d/%d, want 2/1 (unsupported version)", code, sub)
	}
	waitLog(t, &l, "bad OPEN version 3 (want 4)")
}

// TestHandshakeLimits: a connection that sends nothing is closed after
// the handshake timeout; connections over the cap are closed at once,
// before anything is read from them.
func TestHandshakeLimits(t *testing.T) {
	var l logBuf
	addr, _ := start(t, bgpsession.Config{Accept: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Logf: l.logf,
		MaxSessions: 3, HandshakeTimeout: 2 * time.Second})
	var held []*peertest.BGPClient
	for i := range 3 {
		held = append(held, peertest.DialBGP(t, fmt.Sprintf("127.0.1.%d", i+1), addr))
	}
	time.Sleep(100 * time.Millisecond) // the three are accepted
	over := peertest.DialBGP(t, "127.0.1.9", addr)
	if _, _, err := over.Read(time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("connection over the cap: %v, want closed (EOF)", err)
	}
	waitLog(t, &l, "rejected peer 127.0.1.9: 3 connections open already")
	for _, c := range held {
		if _, _, err := c.Read(10 * time.Second); !errors.Is(err, io.EOF) {
			t.Errorf("silent connection: %v, want closed by the handshake timeout", err)
		}
	}
	waitLog(t, &l, "no session within 2s (--bgp-handshake-timeout)")
	// The slots are free again: a real session comes up.
	c := peertest.DialBGP(t, "127.0.1.20", addr)
	c.Handshake(t, 65020, [4]byte{127, 0, 1, 20})
}

// TestEndOfRIB: a session's PeerState says it signals readiness; its
// routes, then its End-of-RIB marker of IPv4 make an EndOfRIB event; IPv6,
// with no route and no marker, is ready after the quiet time.
func TestEndOfRIB(t *testing.T) {
	var l logBuf
	addr, events := start(t, bgpsession.Config{Accept: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Logf: l.logf, Quiet: 300 * time.Millisecond})
	c := peertest.DialBGP(t, "127.0.2.1", addr)
	c.Handshake(t, 4200000001, [4]byte{127, 0, 2, 1})
	attrs := &bgp.Attrs{Origin: bgp.OriginIGP, NextHop: netip.MustParseAddr("198.51.100.1"),
		Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: []bgp.ASN{4200000001, 4837, 131279}}}}}
	attrs.Set(bgp.AttrOrigin)
	attrs.Set(bgp.AttrASPath)
	attrs.Set(bgp.AttrNextHop)
	upd, err := wire.AppendUpdate(nil, nil, attrs, []wire.NLRI{{Prefix: netip.MustParsePrefix("175.45.176.0/24")}, {Prefix: netip.MustParsePrefix("175.45.177.0/24")}}, wire.UpdateOptions{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	eor, _ := wire.AppendUpdate(nil, nil, nil, nil, wire.UpdateOptions{})
	c.Write(t, upd, eor)
	evs := peertest.Collect(t, events, 10*time.Second, "both families ready", func(e []bgp.Event) bool { return count(e, bgp.EndOfRIB) == 2 })
	if evs[0].Kind != bgp.PeerState || !evs[0].SignalsReady || evs[0].Peer.AS != 4200000001 {
		t.Errorf("first event %+v, want Established with SignalsReady", evs[0])
	}
	var kinds []string
	for _, e := range evs[1:] {
		k := e.Kind.String()
		if e.Kind == bgp.EndOfRIB {
			k += " " + bgp.FamilyOf(e.Prefix).String()
		} else if e.Attrs != nil && e.Attrs.Path.String() != "4200000001 4837 131279" {
			t.Errorf("path %s", e.Attrs.Path)
		}
		kinds = append(kinds, k)
	}
	if got := strings.Join(kinds, ", "); got != "announce, announce, end-of-rib ipv4, end-of-rib ipv6" {
		t.Errorf("events: %s", got)
	}
	waitLog(t, &l, "peer ready: 127.0.2.1 AS4200000001 ipv4 (End-of-RIB after 2 announcements)")
	waitLog(t, &l, "peer ready: 127.0.2.1 AS4200000001 ipv6 (no route for 300ms)")
}

// TestCease: Cease closes an established session with the NOTIFICATION
// asked for, and the session's end is one PeerState event.
func TestCease(t *testing.T) {
	cfg := bgpsession.Config{Listen: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(peertest.FreePort(t))), LocalAS: 65000,
		Accept: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Collector: "test"}
	src, err := bgpsession.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan bgp.Event, 64)
	if err := src.Listen(ctx); err != nil {
		t.Fatal(err)
	}
	go src.Run(ctx, out)
	c := peertest.DialBGP(t, "127.0.3.1", cfg.Listen.String())
	c.Handshake(t, 65031, [4]byte{127, 0, 3, 1})
	peertest.Collect(t, out, 5*time.Second, "session up", func(e []bgp.Event) bool { return count(e, bgp.PeerState) == 1 })
	if !src.Cease(netip.MustParseAddr("127.0.3.1"), bgpsession.SubcodeMaxPrefixes, bgpsession.MaxPrefixData(bgp.IPv4, 5), "test") {
		t.Fatal("Cease found no session")
	}
	if code, sub := notification(t, c); code != 6 || sub != 1 {
		t.Errorf("NOTIFICATION %d/%d, want 6/1 (Cease, maximum number of prefixes reached)", code, sub)
	}
	evs := peertest.Collect(t, out, 5*time.Second, "session down", func(e []bgp.Event) bool { return count(e, bgp.PeerState) == 1 })
	if e := evs[len(evs)-1]; e.NewState != bgp.StateIdle {
		t.Errorf("down event %+v", e)
	}
}
