package livefeed_test

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/pipeline"
	"github.com/blackout-bgp/blackout/internal/source/livefeed"
	"github.com/blackout-bgp/blackout/internal/source/peertest"
)

// TestMaxPrefixes: with --max-prefixes 3,3, a BGP peer that announces a
// fourth IPv4 prefix is a peer event (max_prefix) and its session is
// closed with a Cease, Maximum Number of Prefixes Reached, carrying the
// family and the limit.
func TestMaxPrefixes(t *testing.T) {
	port := peertest.FreePort(t)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	lf := livefeed.Register(fs)
	if err := fs.Parse([]string{"--bgp-listen", "127.0.0.1:" + strconv.Itoa(port), "--bgp-accept", "127.0.0.0/8", "--local-as", "65000", "--max-prefixes", "3,3"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs []string
	feed, err := lf.Build(func(f string, a ...any) { mu.Lock(); logs = append(logs, fmt.Sprintf(f, a...)); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	peerEvents := make(chan *event.Event, 16)
	opts := pipeline.Options{Config: pipeline.DefaultConfig(db), ForgetEvents: true,
		Sinks: []pipeline.Sink{event.SinkFunc(func(n event.Notice) {
			if n.Event.Kind == event.PeerEvent && n.Type == event.Start {
				peerEvents <- n.Event.Clone()
			}
		})}}
	opts.View.MaxPrefixes, opts.View.OnMaxPrefix = feed.MaxPrefixes()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, _, err := feed.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _, _ = pipeline.Run(ctx, src, opts) }()
	defer func() { cancel(); <-done }()

	var c *peertest.BGPClient
	for deadline := time.Now().Add(5 * time.Second); ; {
		mu.Lock()
		up := strings.Contains(strings.Join(logs, "\n"), "listening as")
		mu.Unlock()
		if up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("collector not listening")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c = peertest.DialBGP(t, "127.0.6.1", "127.0.0.1:"+strconv.Itoa(port))
	c.Handshake(t, 65061, [4]byte{127, 0, 6, 1})
	attrs := &bgp.Attrs{Origin: bgp.OriginIGP, NextHop: netip.MustParseAddr("198.51.100.1"),
		Path: bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: []bgp.ASN{65061, 3356}}}}}
	attrs.Set(bgp.AttrOrigin)
	attrs.Set(bgp.AttrASPath)
	attrs.Set(bgp.AttrNextHop)
	var nlri []wire.NLRI
	for i := range 4 {
		nlri = append(nlri, wire.NLRI{Prefix: netip.MustParsePrefix(fmt.Sprintf("192.0.%d.0/24", i))})
	}
	upd, err := wire.AppendUpdate(nil, nil, attrs, nlri, wire.UpdateOptions{AS4: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Write(t, upd)
	for {
		typ, body, err := c.Read(10 * time.Second)
		if err != nil {
			t.Fatalf("no NOTIFICATION: %v", err)
		}
		if typ != 3 {
			continue
		}
		if want := []byte{6, 1, 0, 1, 1, 0, 0, 0, 3}; string(body) != string(want) {
			t.Errorf("NOTIFICATION %x, want %x (Cease, max prefixes, IPv4 unicast, 3)", body, want)
		}
		break
	}
	select {
	case ev := <-peerEvents:
		if ev.EntityCode != "127.0.6.1" || ev.Cause != "max_prefix" || ev.PeerRoutes != 4 {
			t.Errorf("peer event %s cause %q routes %d", ev.EntityCode, ev.Cause, ev.PeerRoutes)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no peer event")
	}
}
