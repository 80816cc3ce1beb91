package cluster

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bus"
	"github.com/blackout-bgp/blackout/internal/partview"
	"github.com/blackout-bgp/blackout/internal/view"
)

// TestCodecRoundTrip: every route event of the demo comes back from the
// wire form as it went in, and from the JSON form written before it as
// from the binary form; bad messages are errors.
func TestCodecRoundTrip(t *testing.T) {
	evs := demoEvents(t)
	evs = append(evs, bgp.Event{Time: time.Date(2014, 12, 22, 16, 15, 0, 123456000, time.UTC), Kind: bgp.PeerState,
		Peer: bgp.Peer{Collector: "rrc00", Addr: netip.MustParseAddr("2001:db8::1"), AS: 4200000001}, OldState: bgp.StateEstablished, NewState: bgp.StateIdle})
	var jsonBytes, binBytes int
	for i := range evs {
		b, err := Encode(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != tagEventV1 {
			t.Fatalf("event %d: written with tag %#x", i, b[0])
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		again, _ := Encode(&got)
		if !bytes.Equal(again, b) || !reflect.DeepEqual(got, evs[i]) {
			t.Fatalf("event %d: %+v came back as %+v", i, evs[i], got)
		}
		j, err := encodeJSON(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := Decode(j)
		if err != nil {
			t.Fatalf("event %d: JSON: %v", i, err)
		}
		if !reflect.DeepEqual(fromJSON, got) {
			t.Fatalf("event %d: from JSON %+v, from binary %+v", i, fromJSON, got)
		}
		jsonBytes += len(j)
		binBytes += len(b)
	}
	t.Logf("%d demo events: %d bytes of JSON, %d binary (%.1f and %.1f per event)", len(evs), jsonBytes, binBytes,
		float64(jsonBytes)/float64(len(evs)), float64(binBytes)/float64(len(evs)))
	for _, bad := range []string{``, `{}`, `{"k":9}`, `{"k":1}`, `{"k":2,"p":"10.0.0.0/33"}`, `[1]`, "\xa1", "\xa2\x01", "\xff"} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// fullAttrs returns attributes with every field set.
func fullAttrs() *bgp.Attrs {
	a := &bgp.Attrs{
		Origin:           bgp.OriginIncomplete,
		Path:             bgp.Path{Segments: []bgp.Segment{{Type: bgp.ASSequence, ASNs: []bgp.ASN{3356, 4837, 4200000000}}, {Type: bgp.ASSet, ASNs: []bgp.ASN{131279, 1}}, {Type: bgp.ASConfedSequence, ASNs: []bgp.ASN{64512}}}},
		NextHop:          netip.MustParseAddr("2001:db8::2"),
		LinkLocalNextHop: netip.MustParseAddr("fe80::1%eth0"),
		MED:              4294967295,
		LocalPref:        100,
		Aggregator:       bgp.Aggregator{AS: 4200000001, Addr: netip.MustParseAddr("198.51.100.7")},
		Communities:      []bgp.Community{bgp.CommunityNoExport, 3356<<16 | 2, 0},
		LargeCommunities: []bgp.LargeCommunity{{Global: 4200000000, Local1: 1, Local2: 4294967295}, {}},
		Unknown:          []bgp.RawAttr{{Flags: 0xc0, Type: 99, Value: []byte{1, 2, 3}}, {Flags: 0x40, Type: 7, Value: []byte{}}},
	}
	for _, t := range []bgp.AttrType{bgp.AttrOrigin, bgp.AttrASPath, bgp.AttrNextHop, bgp.AttrMED, bgp.AttrLocalPref, bgp.AttrAtomicAggregate,
		bgp.AttrAggregator, bgp.AttrCommunities, bgp.AttrMPReach, bgp.AttrAS4Path, bgp.AttrLargeCommunities, 63} {
		a.Set(t)
	}
	return a
}

// TestEventCodecEveryField: an event with every field set, and events of
// every kind, with IPv4 and IPv6 prefixes with and without host bits,
// addresses with a zone and none, come back equal (reflect.DeepEqual).
func TestEventCodecEveryField(t *testing.T) {
	peer := bgp.Peer{Collector: "route-views.linx", Addr: netip.MustParseAddr("fe80::2%ens3"), AS: 4294967295}
	t0 := time.Date(2014, 12, 22, 16, 15, 0, 123456789, time.UTC)
	evs := []bgp.Event{
		{Time: t0, Kind: bgp.Announce, Peer: peer, Prefix: netip.MustParsePrefix("2001:db8:1::/48"), PathID: 4294967295, Attrs: fullAttrs(),
			OldState: bgp.StateOpenConfirm, NewState: bgp.StateEstablished, RIB: true, SignalsReady: true, Multicast: true},
		{Time: t0, Kind: bgp.Announce, Peer: bgp.Peer{Addr: netip.MustParseAddr("192.0.2.1"), AS: 1}, Prefix: netip.PrefixFrom(netip.MustParseAddr("10.1.2.3"), 8), Attrs: &bgp.Attrs{}},
		{Time: t0, Kind: bgp.Announce, Peer: peer, Prefix: netip.PrefixFrom(netip.MustParseAddr("2001:db8::1"), 0), Attrs: &bgp.Attrs{}},
		{Time: t0, Kind: bgp.Withdraw, Peer: peer, Prefix: netip.MustParsePrefix("0.0.0.0/0"), PathID: 7},
		{Time: t0, Kind: bgp.Withdraw, Peer: peer, Prefix: netip.MustParsePrefix("192.0.2.255/32")},
		{Time: t0, Kind: bgp.Withdraw, Peer: peer, Prefix: netip.MustParsePrefix("2001:db8::1/128")},
		{Time: time.Unix(0, -5).UTC(), Kind: bgp.PeerState, Peer: peer, OldState: bgp.StateEstablished, NewState: bgp.StateIdle},
		{Time: t0, Kind: bgp.PeerState, Peer: peer, OldState: bgp.StateIdle, NewState: bgp.StateEstablished, SignalsReady: true},
		bgp.EndOfRIBFor(t0, peer, bgp.IPv6),
		bgp.EndOfRIBFor(t0, bgp.Peer{Addr: netip.MustParseAddr("::ffff:192.0.2.1")}, bgp.IPv4),
	}
	for i := range evs {
		b, _ := Encode(&evs[i])
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, evs[i]) {
			t.Fatalf("event %d: %+v came back as %+v (attrs %+v, %+v)", i, evs[i], got, evs[i].Attrs, got.Attrs)
		}
		// Decoded into attributes that held another event's (their
		// slices kept, so empty ones are not nil: the same bytes).
		dec := &eventDecoder{attrs: *fullAttrs(), collector: "rrc00"}
		dec.attrs.Path.Segments = append(dec.attrs.Path.Segments, bgp.Segment{Type: 2, ASNs: []bgp.ASN{9, 9, 9, 9}})
		got, err = decodeEvent(b, dec)
		if again, _ := Encode(&got); err != nil || !bytes.Equal(again, b) || got.Attrs != nil && got.Attrs != &dec.attrs {
			t.Fatalf("event %d, attributes reused: %+v came back as %+v (%v)", i, evs[i], got, err)
		}
	}
}

// TestCodecKnowsEveryField fails when a field is added to a type that
// the binary forms carry: the codec must then carry it too (and this
// list, and the round trips above, be updated).
func TestCodecKnowsEveryField(t *testing.T) {
	for _, c := range []struct {
		typ    reflect.Type
		fields string
	}{
		{reflect.TypeFor[bgp.Event](), "Time Kind Peer Prefix PathID Attrs OldState NewState RIB SignalsReady Multicast"},
		{reflect.TypeFor[bgp.Peer](), "Collector Addr AS"},
		{reflect.TypeFor[bgp.Attrs](), "Present Origin Path NextHop LinkLocalNextHop MED LocalPref Aggregator Communities LargeCommunities Unknown"},
		{reflect.TypeFor[bgp.Path](), "Segments"},
		{reflect.TypeFor[bgp.Segment](), "Type ASNs"},
		{reflect.TypeFor[bgp.Aggregator](), "AS Addr"},
		{reflect.TypeFor[bgp.LargeCommunity](), "Global Local1 Local2"},
		{reflect.TypeFor[bgp.RawAttr](), "Flags Type Value"},
		{reflect.TypeFor[partview.Delta](), "Kind Old New Routes Family Size Before Up Signals Loading NewPeer LongPath"},
		{reflect.TypeFor[partview.PrefixPath](), "Prefix Path"},
		{reflect.TypeFor[partview.Path](), "ASes Origin id"}, // id: the Reducer's own number, not on the wire
	} {
		var got []string
		for i := range c.typ.NumField() {
			got = append(got, c.typ.Field(i).Name)
		}
		if strings.Join(got, " ") != c.fields {
			t.Errorf("%s has fields %q; the binary codec (binary.go) knows %q", c.typ, strings.Join(got, " "), c.fields)
		}
	}
	// Every field of the event and attributes above is set, so that the
	// round trip of TestEventCodecEveryField covers it.
	full := fullAttrs()
	v := reflect.ValueOf(full).Elem()
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("fullAttrs leaves %s unset", v.Type().Field(i).Name)
		}
	}
}

// TestCodecErrors: a cut message fails at every length, naming the byte
// offset; a count larger than the bytes left is refused before anything
// is allocated for it.
func TestCodecErrors(t *testing.T) {
	ev := bgp.Event{Time: time.Unix(1419264900, 0), Kind: bgp.Announce, Peer: bgp.Peer{Collector: "rrc00", Addr: netip.MustParseAddr("192.0.2.1"), AS: 3356},
		Prefix: netip.MustParsePrefix("175.45.176.0/24"), Attrs: fullAttrs()}
	b, _ := Encode(&ev)
	for n := range len(b) {
		if _, err := Decode(b[:n]); err == nil || n > 0 && !strings.Contains(err.Error(), "byte offset") {
			t.Fatalf("cut at %d of %d bytes: %v", n, len(b), err)
		}
	}
	if _, err := Decode(append(slices.Clone(b), 0)); err == nil || !strings.Contains(err.Error(), "1 bytes after the end") {
		t.Errorf("a byte after the end: %v", err)
	}
	d := partview.Delta{Kind: partview.Down, Up: false, Before: 2, Routes: []partview.PrefixPath{
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Path: &partview.Path{ASes: []bgp.ASN{1, 2}, Origin: 2}},
		{Prefix: netip.MustParsePrefix("2001:db8::/32"), Path: &partview.Path{ASes: []bgp.ASN{1, 3}, Origin: 3}}}}
	db, _ := encodeDelta(&d)
	for n := range len(db) {
		if _, err := decodeDelta(db[:n]); err == nil || n > 0 && !strings.Contains(err.Error(), "byte offset") {
			t.Fatalf("delta cut at %d of %d bytes: %v", n, len(db), err)
		}
	}
	// Lying counts: 2^62 path segments, routes, paths.
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f}
	lies := map[string][]byte{
		"segments": slices.Concat([]byte{tagEventV1, byte(bgp.Announce), evAttrs | evPrefix, 0, 0, 0, 0, 4, 8, 10, 0, 0}, huge, make([]byte, 64)),
		"paths":    slices.Concat([]byte{tagDeltaV1, byte(partview.Down), 0x80, 0x02, 0, 0, 0, 0}, huge, make([]byte, 64)),
		"routes":   slices.Concat([]byte{tagDeltaV1, byte(partview.Down), 0x80, 0x02, 0, 0, 0, 0, 0}, huge, make([]byte, 64)),
	}
	for name, m := range lies {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var err error
		if m[0] == tagEventV1 {
			_, err = Decode(m)
		} else {
			_, err = decodeDelta(m)
		}
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "count") || !strings.Contains(err.Error(), "byte offset") {
			t.Errorf("%s: a lying count: %v", name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("%s: a lying count allocated %d bytes", name, n)
		}
	}
}

// demoDeltas returns the deltas one Worker makes of the demo's events,
// plus deltas with routes (a session down of every peer at the end).
func demoDeltas(t testing.TB) []partview.Delta {
	t.Helper()
	evs := demoEvents(t)
	w := partview.NewWorker(view.DefaultConfig())
	var out []partview.Delta
	peers := map[bgp.Peer]bool{}
	for i := range evs {
		out = append(out, w.Apply(&evs[i]))
		peers[evs[i].Peer] = true
	}
	last := evs[len(evs)-1].Time
	for p := range peers {
		out = append(out, w.Apply(&bgp.Event{Time: last, Kind: bgp.PeerState, Peer: p, OldState: bgp.StateEstablished, NewState: bgp.StateIdle}))
	}
	return out
}

// sortedRoutes returns d with its routes in prefix order.
func sortedRoutes(d partview.Delta) partview.Delta {
	d.Routes = slices.Clone(d.Routes)
	slices.SortFunc(d.Routes, func(a, b partview.PrefixPath) int { return a.Prefix.Compare(b.Prefix) })
	return d
}

// TestDeltaCodecRoundTrip: every delta of the demo, and a delta with
// every field set, comes back from the binary form as it went in (its
// routes in prefix order), and from the JSON form as from the binary
// form (less NewPeer, which the JSON form never carried); the bytes do
// not depend on the routes' order nor on which pointer holds a path.
func TestDeltaCodecRoundTrip(t *testing.T) {
	ds := demoDeltas(t)
	p1, p2 := &partview.Path{ASes: []bgp.ASN{3356, 4837, 131279}, Origin: 131279}, &partview.Path{ASes: []bgp.ASN{64500}, Origin: 0}
	ds = append(ds, partview.Delta{Kind: partview.Limit, Old: p1, New: p2, Family: bgp.IPv6, Size: [2]int{1 << 40, 3}, Before: -1,
		Up: true, Signals: true, Loading: [2]bool{true, true}, NewPeer: true, LongPath: true,
		Routes: []partview.PrefixPath{{Prefix: netip.MustParsePrefix("2001:db8::/32"), Path: p2}, {Prefix: netip.PrefixFrom(netip.MustParseAddr("10.0.0.1"), 8), Path: p1},
			{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Path: &partview.Path{ASes: slices.Clone(p1.ASes), Origin: p1.Origin}}, {Prefix: netip.MustParsePrefix("10.0.0.0/9"), Path: nil}}})
	var jsonBytes, binBytes, routes int
	for i := range ds {
		b, err := encodeDelta(&ds[i])
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeDelta(b)
		if err != nil {
			t.Fatalf("delta %d: %v", i, err)
		}
		want := sortedRoutes(ds[i])
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("delta %d: %+v came back as %+v", i, want, got)
		}
		again, _ := encodeDelta(&got)
		if !bytes.Equal(again, b) {
			t.Fatalf("delta %d: encoded again to other bytes", i)
		}
		// The routes in another order, each path under a pointer of its own.
		if len(ds[i].Routes) > 1 {
			shuffled := ds[i]
			shuffled.Routes = slices.Clone(ds[i].Routes)
			rand.Shuffle(len(shuffled.Routes), func(a, b int) { shuffled.Routes[a], shuffled.Routes[b] = shuffled.Routes[b], shuffled.Routes[a] })
			for k, r := range shuffled.Routes {
				if r.Path != nil {
					shuffled.Routes[k].Path = &partview.Path{ASes: r.Path.ASes, Origin: r.Path.Origin}
				}
			}
			if b2, _ := encodeDelta(&shuffled); !bytes.Equal(b2, b) {
				t.Fatalf("delta %d: the routes in another order give other bytes", i)
			}
		}
		if slices.ContainsFunc(ds[i].Routes, func(r partview.PrefixPath) bool { return r.Path == nil }) {
			continue // the JSON form cannot hold a route without a path
		}
		j, err := encodeDeltaJSON(&ds[i])
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := decodeDelta(j)
		if err != nil {
			t.Fatalf("delta %d: JSON: %v", i, err)
		}
		want.NewPeer = false
		if !reflect.DeepEqual(fromJSON, want) {
			t.Fatalf("delta %d: from JSON %+v, want %+v", i, fromJSON, want)
		}
		jsonBytes += len(j)
		binBytes += len(b)
		routes += len(ds[i].Routes)
	}
	t.Logf("%d deltas (%d routes in down deltas): %d bytes of JSON, %d binary", len(ds), routes, jsonBytes, binBytes)
}

// FuzzDecodeEvent: no input crashes the route event decoder; what it
// accepts encodes to a message that decodes to the same event, and
// encodes again to the same bytes.
//
//	go test -run X -fuzz FuzzDecodeEvent -fuzztime 60s ./internal/cluster
func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"t":1,"k":1,"a":"192.0.2.1","as":1,"p":"10.0.0.0/8","at":{"Path":{"Segments":[{"Type":2,"ASNs":[1,2]}]}}}`))
	peer := bgp.Peer{Collector: "rrc00", Addr: netip.MustParseAddr("192.0.2.1"), AS: 3356}
	for _, ev := range []bgp.Event{
		{Time: time.Unix(1419264900, 0), Kind: bgp.Announce, Peer: peer, Prefix: netip.MustParsePrefix("175.45.176.0/24"), Attrs: fullAttrs(), RIB: true},
		{Time: time.Unix(1419264900, 0), Kind: bgp.Withdraw, Peer: peer, Prefix: netip.MustParsePrefix("2001:db8::/32"), PathID: 3},
		{Time: time.Unix(1419264900, 0), Kind: bgp.PeerState, Peer: peer, OldState: 6, NewState: 1},
	} {
		b, _ := Encode(&ev)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Decode(b)
		if err != nil {
			return
		}
		if ev.Kind != bgp.PeerState && !ev.Prefix.IsValid() {
			t.Fatal("a route without a prefix decoded")
		}
		e1, _ := Encode(&ev)
		again, err := Decode(e1)
		if err != nil {
			t.Fatalf("%+v encodes to a message that does not decode: %v", ev, err)
		}
		// From the binary form, the same event; from JSON, the same up
		// to nil and empty slices (the bytes below).
		if b[0] == tagEventV1 && !reflect.DeepEqual(again, ev) {
			t.Fatalf("%+v came back as %+v", ev, again)
		}
		if e2, _ := Encode(&again); !bytes.Equal(e1, e2) {
			t.Fatalf("%+v: encoded twice to other bytes", ev)
		}
	})
}

// FuzzDecodeDelta: no input crashes the table delta decoder; what it
// accepts encodes to a message that decodes to the same delta, and
// encodes again to the same bytes.
//
//	go test -run X -fuzz FuzzDecodeDelta -fuzztime 60s ./internal/cluster
func FuzzDecodeDelta(f *testing.F) {
	f.Add([]byte(`{"k":2,"new":{"a":[1,2],"o":2},"s":[3,0],"ld":[false,false]}`))
	f.Add([]byte(`{"k":5,"r":[{"p":"10.0.0.0/8","a":[1],"o":1}],"s":[0,0],"b":1,"ld":[false,false]}`))
	p := &partview.Path{ASes: []bgp.ASN{3356, 4837}, Origin: 4837}
	for _, d := range []partview.Delta{
		{Kind: partview.Route, Old: p, New: &partview.Path{Origin: 7}, Size: [2]int{10, 2}, Up: true, NewPeer: true},
		{Kind: partview.Down, Before: 3, Routes: []partview.PrefixPath{{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Path: p},
			{Prefix: netip.PrefixFrom(netip.MustParseAddr("10.0.0.1"), 8), Path: p}, {Prefix: netip.MustParsePrefix("2001:db8::/32"), Path: &partview.Path{ASes: []bgp.ASN{1}, Origin: 1}}}},
		{Kind: partview.Ready, Family: bgp.IPv6, Signals: true, Loading: [2]bool{true, false}},
	} {
		b, _ := encodeDelta(&d)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeDelta(b)
		if err != nil {
			return
		}
		if b[0] != tagDeltaV1 && hasDuplicatePrefix(d.Routes) {
			return // the same prefix twice in a JSON delta: no worker writes one, the binary form cannot hold one
		}
		e1, _ := encodeDelta(&d)
		again, err := decodeDelta(e1)
		if err != nil {
			t.Fatalf("%+v encodes to a message that does not decode: %v", d, err)
		}
		if b[0] == tagDeltaV1 && !reflect.DeepEqual(again, sortedRoutes(d)) {
			t.Fatalf("%+v came back as %+v", d, again)
		}
		if e2, _ := encodeDelta(&again); !bytes.Equal(e1, e2) {
			t.Fatalf("%+v: encoded twice to other bytes", d)
		}
	})
}

func hasDuplicatePrefix(rs []partview.PrefixPath) bool {
	seen := map[netip.Prefix]bool{}
	for _, r := range rs {
		if seen[r.Prefix] {
			return true
		}
		seen[r.Prefix] = true
	}
	return false
}

// TestStreamOfBothForms: a route stream whose first half an earlier
// version wrote (JSON) and whose second half is binary, as after an
// upgrade of the ingest mid-stream: the stream's reader gives back every
// event of the demo, and a view worker and a table-less reducer over it
// make the view's calls.
func TestStreamOfBothForms(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	urls := startBus(t, 1)
	js := jsOf(t, urls)
	if _, err := bus.EnsureStream(ctx, js, StreamConfig(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	evs := demoEvents(t)
	var futs []jetstream.PubAckFuture
	for i := range evs {
		enc := Encode
		if i < len(evs)/2 {
			enc = encodeJSON
		}
		b, err := enc(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		m := &nats.Msg{Subject: SubjectRoute + "." + strconv.Itoa(Partition(evs[i].Peer, DefaultPartitions)), Data: b,
			Header: nats.Header{HeaderSeq: []string{strconv.Itoa(i + 1)}, HeaderSource: []string{"test"}}}
		if i%1000 == 999 {
			<-js.PublishAsyncComplete() // under the client's limit of publishes in flight
		}
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			t.Fatal(err)
		}
		futs = append(futs, f)
	}
	for i, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatalf("route event %d: %v", i+1, err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: SubjectEOF, Header: nats.Header{HeaderSeq: []string{strconv.Itoa(len(evs) + 1)}, HeaderSource: []string{"test"}}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	eachStreamEvent(t, ctx, js, func(ev *bgp.Event, _ uint64, _ int) {
		if n >= len(evs) {
			t.Fatalf("route event %d: %+v, beyond the %d published", n+1, ev, len(evs))
		}
		got, _ := Encode(ev)
		want, _ := Encode(&evs[n])
		if !bytes.Equal(got, want) {
			t.Fatalf("route event %d: %+v, want %+v", n+1, ev, evs[n])
		}
		n++
	})
	if n != len(evs) {
		t.Fatalf("read %d route events of %d", n, len(evs))
	}
	nc, wjs, err := bus.Connect(urls, "view")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	vctx, vcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- RunView(vctx, wjs, ViewConfig{Node: "view", LeaseTTL: 5 * time.Second, Replicas: 1, View: view.DefaultConfig(), Logger: workerLogger(t)})
	}()
	defer func() { vcancel(); <-done }()
	reducerEqualsView(t, ctx, js)
}
