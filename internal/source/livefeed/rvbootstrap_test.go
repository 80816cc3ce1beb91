package livefeed_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/archive"
	"github.com/blackout-bgp/blackout/internal/source/archive/archivetest"
	"github.com/blackout-bgp/blackout/internal/source/livefeed"
	"github.com/blackout-bgp/blackout/internal/source/routeviews"
)

// BMP messages (RFC 7854) as a RouteViews collector's feed carries them.

func bmpMessage(typ uint8, body []byte) []byte {
	b := []byte{3, 0, 0, 0, 0, typ}
	binary.BigEndian.PutUint32(b[1:], uint32(6+len(body)))
	return append(b, body...)
}

func perPeer(p bgp.Peer, t time.Time) []byte {
	b := make([]byte, 42)
	if p.Addr.Is4() {
		a := p.Addr.As4()
		copy(b[22:26], a[:])
	} else {
		b[1] = 0x80
		a := p.Addr.As16()
		copy(b[10:26], a[:])
	}
	binary.BigEndian.PutUint32(b[26:], uint32(p.AS))
	copy(b[30:34], []byte{10, 0, 0, 1})
	binary.BigEndian.PutUint32(b[34:], uint32(t.Unix()))
	binary.BigEndian.PutUint32(b[38:], uint32(t.Nanosecond()/1000))
	return b
}

func openMsg(as uint32) []byte {
	caps := []byte{65, 4, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(caps[2:], as)
	body := []byte{4, 0x5b, 0xa0, 0, 90, 10, 0, 0, 1, byte(2 + len(caps)), 2, byte(len(caps))}
	body = append(body, caps...)
	b := bytes.Repeat([]byte{0xff}, 16)
	b = binary.BigEndian.AppendUint16(b, uint16(19+len(body)))
	return append(append(b, 1), body...)
}

// bmpOf returns the BMP message that carries ev (false: none can).
func bmpOf(t *testing.T, ev bgp.Event) ([]byte, bool) {
	h := perPeer(ev.Peer, ev.Time)
	switch ev.Kind {
	case bgp.PeerState:
		if ev.NewState == bgp.StateEstablished {
			b := append(h, make([]byte, 20)...)
			b = append(b, openMsg(6447)...)
			return bmpMessage(3, append(b, openMsg(uint32(ev.Peer.AS))...)), true
		}
		if ev.OldState != bgp.StateEstablished {
			return nil, false
		}
		return bmpMessage(2, append(h, 4)), true
	case bgp.Announce, bgp.Withdraw:
		opt := wire.UpdateOptions{AS4: true}
		if ev.Prefix.Addr().Is6() {
			opt.MPAFI = 2
		}
		n := []wire.NLRI{{Prefix: ev.Prefix, PathID: ev.PathID}}
		var upd []byte
		var err error
		if ev.Kind == bgp.Announce {
			upd, err = wire.AppendUpdate(nil, nil, ev.Attrs, n, opt)
		} else {
			upd, err = wire.AppendUpdate(nil, n, nil, nil, opt)
		}
		if err != nil {
			t.Fatalf("%s: %v", key(ev), err)
		}
		return bmpMessage(0, append(h, upd...)), true
	}
	return nil, false
}

// TestRouteViewsBootstrapJoin is the RouteViews bootstrap on a scripted
// timeline: a RouteViews-layout mirror on loopback HTTP holds
// route-views2's RIBs (every 2 h) and update files (every 15 min), the
// one of 22:00 not yet published at 22:25; franz-go's in-process Kafka
// holds the collector's feed, a topic per peer AS, from 21:30 to 02:00
// (North Korea's outage of 22:15 is in it). The join is at 22:00, the end
// of the latest file published; the feed is read from 21:55 (Kafka's seek
// by time), not from its start. The events (the archive's before 22:00,
// the feed's after) equal those of replaying the files from the 20:00
// RIB to 02:00, peer by peer in order: no gap, no double count.
func TestRouteViewsBootstrapJoin(t *testing.T) {
	mirror := archivetest.Run(t)
	rv := archivetest.RouteViews
	bases := mirror.Bases()
	now := time.Date(2014, 12, 31, 22, 25, 0, 0, time.UTC)
	j := time.Date(2014, 12, 31, 22, 0, 0, 0, time.UTC)
	feedFrom, feedTo := j.Add(-30*time.Minute), time.Date(2015, 1, 1, 2, 0, 0, 0, time.UTC)
	want := replayOf(t, rv, bases, j.Add(-time.Second), feedTo)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var records []*kgo.Record
	fed, afterSeek, inFeed := 0, 0, 0
	for _, ev := range replayOf(t, rv, bases, feedFrom, feedTo) {
		if ev.RIB || ev.Time.Before(feedFrom) {
			continue
		}
		msg, ok := bmpOf(t, ev)
		if !ok {
			continue
		}
		if !ev.Time.Before(j) {
			inFeed++
		}
		fed++
		if !ev.Time.Before(j.Add(-5 * time.Minute)) {
			afterSeek++
		}
		v := routeviews.AppendOpenBMP(nil, routeviews.Header{Collected: ev.Time, Collector: "bmp01", Router: rv.Name,
			RouterAddr: netip.MustParseAddr("128.223.51.102"), RouterHash: [16]byte{2}}, msg)
		records = append(records, &kgo.Record{Topic: fmt.Sprintf("routeviews.%s.%d.bmp_raw", rv.Name, ev.Peer.AS), Value: v, Timestamp: ev.Time})
	}
	if err := prod.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	mirror.Remove(archivetest.RouteViewsPrefix + "/" + archive.PathOf(rv, archive.Updates, j))
	if inFeed < 50 || len(want) < inFeed+200 {
		t.Fatalf("timeline of %d events, %d in the feed after the join: too small to test", len(want), inFeed)
	}

	var mu sync.Mutex
	var logs []string
	logf := func(f string, a ...any) { mu.Lock(); logs = append(logs, fmt.Sprintf(f, a...)); mu.Unlock() }
	var src *routeviews.Source
	var joined time.Time
	b := &livefeed.RouteViewsBootstrap{
		Live: func(start time.Time) (source.Runner, error) {
			var err error
			src, err = routeviews.New(routeviews.Config{Brokers: kc.ListenAddrs(), StartAt: start, Logf: logf})
			return src, err
		},
		Collectors: []archive.Collector{rv}, Bases: bases, Fetcher: &archive.Fetcher{Dir: t.TempDir()},
		Now: func() time.Time { return now }, Logf: logf, Joined: func(at time.Time, _ time.Duration) { joined = at },
	}
	out := make(chan bgp.Event, 1024)
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, out) }()
	var got []bgp.Event
	for len(got) < len(want) {
		select {
		case ev := <-out:
			got = append(got, ev)
		case <-ctx.Done():
			mu.Lock()
			t.Fatalf("%d events of %d\n%s", len(got), len(want), strings.Join(logs, "\n"))
		}
	}
	select {
	case ev := <-out:
		t.Errorf("an event more than the replay: %s", key(ev))
	case <-time.After(500 * time.Millisecond):
	}
	cancel()
	<-done
	if !joined.Equal(j) {
		t.Errorf("joined at %s, want %s (the end of the latest published file)", joined, j)
	}
	// The archive's part, in time order, exactly.
	n := 0
	for n < len(want) && want[n].Time.Before(j) {
		if key(got[n]) != key(want[n]) {
			t.Fatalf("archive event %d:\n got %s\nwant %s", n, key(got[n]), key(want[n]))
		}
		n++
	}
	// The feed's part: each peer's events in order (the topics of
	// different peers interleave as the consumer fetches them).
	per := func(evs []bgp.Event) map[bgp.Peer][]string {
		m := map[bgp.Peer][]string{}
		for _, ev := range evs {
			m[ev.Peer] = append(m[ev.Peer], key(ev))
		}
		return m
	}
	gp, wp := per(got[n:]), per(want[n:])
	if len(gp) != len(wp) {
		t.Errorf("%d peers on the feed, want %d", len(gp), len(wp))
	}
	for p, w := range wp {
		if g := gp[p]; !slices.Equal(g, w) {
			t.Errorf("peer %s: %d events, want %d; first difference:\n%s", p, len(g), len(w), firstDiff(g, w))
		}
	}
	if r := src.Stats().Records.Load(); r > int64(afterSeek) || r < int64(inFeed) {
		t.Errorf("%d records read; want the %d from 21:55 (%d fed from 21:30)", r, afterSeek, fed)
	}
	mu.Lock()
	t.Logf("%d events (%d from the feed, %d records read of %d), equal to the replay; %s", len(got), len(got)-n, src.Stats().Records.Load(), fed, logs[len(logs)-1])
	mu.Unlock()
}

func firstDiff(g, w []string) string {
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return " got " + g[i] + "\nwant " + w[i]
		}
	}
	if len(g) > len(w) {
		return " extra " + g[len(w)]
	}
	if len(w) > len(g) {
		return " missing " + w[len(g)]
	}
	return ""
}
