package routeviews

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// BMP message builders (RFC 7854), as a RouteViews collector sends them.

func bmpMsg(typ uint8, body []byte) []byte {
	b := []byte{3, 0, 0, 0, 0, typ}
	binary.BigEndian.PutUint32(b[1:], uint32(6+len(body)))
	return append(b, body...)
}

func peerHdr(addr netip.Addr, as uint32, ts time.Time) []byte {
	b := make([]byte, 42)
	a := addr.As4()
	copy(b[22:26], a[:])
	binary.BigEndian.PutUint32(b[26:], as)
	copy(b[30:34], []byte{10, 0, 0, 1})
	binary.BigEndian.PutUint32(b[34:], uint32(ts.Unix()))
	binary.BigEndian.PutUint32(b[38:], uint32(ts.Nanosecond()/1000))
	return b
}

func bgpMsg(typ uint8, body []byte) []byte {
	b := bytes.Repeat([]byte{0xff}, 16)
	b = binary.BigEndian.AppendUint16(b, uint16(19+len(body)))
	b = append(b, typ)
	return append(b, body...)
}

func open(as uint32) []byte {
	caps := []byte{65, 4, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(caps[2:], as)
	body := []byte{4, 0x5b, 0xa0, 0, 90, 10, 0, 0, 1, byte(2 + len(caps)), 2, byte(len(caps))}
	return bgpMsg(1, append(body, caps...))
}

// update announces pfx with the 4-byte AS path, or withdraws wd.
func update(pfx string, path []uint32, wd string) []byte {
	nlri := func(s string) []byte {
		if s == "" {
			return nil
		}
		p := netip.MustParsePrefix(s)
		a := p.Addr().As4()
		return append([]byte{byte(p.Bits())}, a[:(p.Bits()+7)/8]...)
	}
	w := nlri(wd)
	var attrs []byte
	if pfx != "" {
		attrs = append(attrs, 0x40, 1, 1, 0)
		seg := []byte{2, byte(len(path))}
		for _, as := range path {
			seg = binary.BigEndian.AppendUint32(seg, as)
		}
		attrs = append(attrs, 0x40, 2, byte(len(seg)))
		attrs = append(attrs, seg...)
		attrs = append(attrs, 0x40, 3, 4, 198, 51, 100, 1)
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(len(w)))
	b = append(b, w...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(attrs)))
	b = append(b, attrs...)
	b = append(b, nlri(pfx)...)
	return bgpMsg(2, b)
}

func peerUp(h []byte, sent, recv []byte) []byte {
	b := append([]byte(nil), h...)
	b = append(b, make([]byte, 16)...)
	b = append(b, 0, 179, 0xc0, 0x01)
	b = append(b, sent...)
	return bmpMsg(3, append(b, recv...))
}

func routeMon(h, upd []byte) []byte { return bmpMsg(0, append(append([]byte(nil), h...), upd...)) }

var t0 = time.Date(2014, 12, 22, 16, 15, 0, 0, time.UTC)

func wrap(router string, bmp []byte) []byte {
	return AppendOpenBMP(nil, Header{Collected: t0.Add(time.Second), Collector: "bmp01", Router: router,
		RouterAddr: netip.MustParseAddr("128.223.51.108"), RouterHash: [16]byte{1}}, bmp)
}

func TestOpenBMPRoundTrip(t *testing.T) {
	payload := bmpMsg(4, []byte("init"))
	for _, addr := range []string{"128.223.51.108", "2001:468:d01:33::80df:336c"} {
		h := Header{Collected: t0.Add(123456 * time.Microsecond), Collector: "bmp01", Router: "linx", RouterAddr: netip.MustParseAddr(addr), RouterHash: [16]byte{9}}
		b := AppendOpenBMP(nil, h, payload)
		got, msg, err := ParseOpenBMP(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(msg, payload) || got.Router != "linx" || got.Collector != "bmp01" || got.RouterAddr != h.RouterAddr || !got.Collected.Equal(h.Collected) || got.Rows != 1 || got.RouterHash != h.RouterHash {
			t.Errorf("%s: parsed %+v", addr, got)
		}
		// Every truncation is an error, never a panic.
		for i := range len(b) - len(payload) {
			if _, _, err := ParseOpenBMP(b[:i]); err == nil {
				t.Errorf("%s: %d of %d bytes parsed", addr, i, len(b))
			}
		}
	}
	bad := AppendOpenBMP(nil, Header{}, payload)
	bad[13] = 1 // a collector heartbeat object
	if _, _, err := ParseOpenBMP(bad); err == nil || !strings.Contains(err.Error(), "object type 1") {
		t.Errorf("object type 1: %v", err)
	}
}

func FuzzOpenBMP(f *testing.F) {
	f.Add(wrap("linx", bmpMsg(4, nil)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, msg, err := ParseOpenBMP(b); err == nil && len(msg) > len(b) {
			t.Fatal("message longer than the input")
		}
	})
}

// TestKafkaFeed: a RouteViews-like feed on franz-go's in-process Kafka
// (kfake): a topic per (collector, peer AS), OpenBMP-wrapped BMP, a broken
// record, a topic that does not match, and a new peer's topic created
// while the consumer runs.
func TestKafkaFeed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.SeedTopics(1, "routeviews.linx.6939.bmp_raw", "other.topic"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(topic string, values ...[]byte) {
		t.Helper()
		for _, v := range values {
			if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: v}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	he := netip.MustParseAddr("192.0.2.1")
	h := peerHdr(he, 6939, t0)
	// RouteViews' collector (AS6447) prepends its AS to the path.
	produce("routeviews.linx.6939.bmp_raw",
		wrap("linx", peerUp(h, open(6447), open(6939))),
		wrap("linx", routeMon(h, update("175.45.176.0/24", []uint32{6447, 6939, 4837, 131279}, ""))),
		[]byte("not openbmp"),
		wrap("linx", routeMon(peerHdr(he, 6939, t0.Add(time.Minute)), update("", nil, "175.45.176.0/24"))))
	produce("other.topic", wrap("linx", routeMon(h, update("10.0.0.0/8", []uint32{6939}, ""))))

	var mu sync.Mutex
	var logs []string
	src, err := New(Config{Brokers: c.ListenAddrs(), Start: "start", Refresh: 200 * time.Millisecond,
		Logf: func(f string, a ...any) { mu.Lock(); logs = append(logs, f); mu.Unlock() },
		Opts: []kgo.Opt{kgo.MetadataMinAge(100 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan bgp.Event, 64)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, out) }()
	next := func() bgp.Event {
		t.Helper()
		select {
		case ev := <-out:
			return ev
		case <-ctx.Done():
			t.Fatal("no event")
		}
		return bgp.Event{}
	}
	up, ann, eor4, eor6, wd := next(), next(), next(), next(), next()
	vp := bgp.Peer{Collector: "linx", Addr: he, AS: 6939}
	if up.Kind != bgp.PeerState || up.NewState != bgp.StateEstablished || up.Peer != vp || !up.Time.Equal(t0) {
		t.Errorf("peer up: %+v", up)
	}
	if ann.Kind != bgp.Announce || ann.Prefix.String() != "175.45.176.0/24" || ann.Peer != vp || ann.Attrs == nil ||
		!slices.Equal(ann.Attrs.Path.Segments[0].ASNs, []bgp.ASN{6939, 4837, 131279}) {
		t.Errorf("announcement (collector AS stripped): %+v %+v", ann, ann.Attrs)
	}
	// The quiet rule runs on the records' data time: a minute with no
	// route of the peer's makes both families ready, stamped with the
	// data time of the record that showed it (no wall clock).
	for i, e := range []bgp.Event{eor4, eor6} {
		if e.Kind != bgp.EndOfRIB || e.Peer != vp || bgp.FamilyOf(e.Prefix) != bgp.Family(i) || !e.Time.Equal(t0.Add(time.Minute)) {
			t.Errorf("end-of-RIB %d by the quiet rule: %+v", i, e)
		}
	}
	if wd.Kind != bgp.Withdraw || !wd.Time.Equal(t0.Add(time.Minute)) || wd.Peer != vp {
		t.Errorf("withdrawal: %+v", wd)
	}
	// A new peer's topic, created while the consumer runs, is found.
	h2 := peerHdr(netip.MustParseAddr("192.0.2.2"), 3356, t0.Add(2*time.Minute))
	produce("routeviews.linx.3356.bmp_raw", wrap("linx", routeMon(h2, update("175.45.177.0/24", []uint32{3356, 4837, 131279}, ""))))
	if ev := next(); ev.Kind != bgp.PeerState || ev.Peer.AS != 3356 {
		t.Errorf("new topic's first event: %+v", ev)
	}
	if ev := next(); ev.Kind != bgp.Announce || ev.Prefix.String() != "175.45.177.0/24" || len(ev.Attrs.Path.Segments[0].ASNs) != 3 {
		t.Errorf("new topic's route: %+v", ev)
	}
	cancel()
	<-done
	select {
	case ev := <-out:
		t.Errorf("event from the non-matching topic: %+v", ev)
	default:
	}
	st := src.Stats()
	if st.Errors.Load() != 1 || st.Stripped.Load() != 1 || st.Records.Load() != 5 {
		t.Errorf("records %d, errors %d, stripped %d; want 5, 1, 1", st.Records.Load(), st.Errors.Load(), st.Stripped.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.ContainsFunc(logs, func(s string) bool { return strings.Contains(s, "offset %d") }) {
		t.Errorf("the broken record was not logged with its offset: %q", logs)
	}
}

func TestStart(t *testing.T) {
	for _, s := range []string{"", "end", "start", "2014-12-22T16:00:00Z"} {
		if _, err := New(Config{Start: s}); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := New(Config{Start: "yesterday"}); err == nil {
		t.Error("start yesterday accepted")
	}
	if _, err := New(Config{Topics: "("}); err == nil {
		t.Error("a broken regex accepted")
	}
	if got := collectorOfTopic("routeviews.route-views.linx.6939.bmp_raw"); got != "route-views.linx" {
		t.Errorf("collector of topic: %q", got)
	}
}
