package mrt

import (
	"bytes"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/bgptest"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// dumpSample returns a small MRT stream with a line of every kind: RIB
// entries, a state change, IPv4 and IPv6 updates, ADD-PATH.
func dumpSample(t testing.TB) []byte {
	attrs := bgptest.Attrs(t)
	var buf bytes.Buffer
	w := NewWriter(&buf)
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tm := wt0.Add(1500 * time.Millisecond)
	check(w.WritePeerIndex(wt0, netip.MustParseAddr("10.1.1.1"), "", peersW))
	check(w.WriteRIB(wt0, 0, netip.MustParsePrefix("175.45.176.0/24"), []RIBEntryOut{
		{PeerIndex: 0, Originated: wt0, Attrs: attrs[0]}, {PeerIndex: 2, Originated: wt0, Attrs: attrs[1]}}))
	check(w.WriteStateChange(tm, peersW[0], netip.Addr{}, 12654, bgp.StateEstablished, bgp.StateIdle))
	check(w.WriteUpdate(tm, peersW[0], netip.Addr{}, 12654, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, attrs[1], []netip.Prefix{netip.MustParsePrefix("175.45.177.0/24")}))
	check(w.WriteUpdateAddPath(tm, peersW[1], netip.Addr{}, 12654, nil, bgptest.WithV6(attrs[0], true), []wire.NLRI{{Prefix: netip.MustParsePrefix("2001:db8:2::/48"), PathID: 7}}))
	check(w.Flush())
	return buf.Bytes()
}

// formatAll formats every event of data with f.
func formatAll(t *testing.T, data []byte, collector string, f func(b []byte, rr *RouteReader, ev *bgp.Event) []byte) string {
	t.Helper()
	rr := NewRouteReader(bytes.NewReader(data), "sample", collector)
	var out []byte
	for {
		ev, err := rr.Next()
		if err == io.EOF {
			return string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		out = f(out, rr, ev)
	}
}

func TestAppendEventText(t *testing.T) {
	got := formatAll(t, dumpSample(t), "rrc00", AppendEventText)
	want := `2014-12-22T16:15:00Z rib rrc00 192.0.2.1 AS64500 175.45.176.0/24 path="3356 174 131279" origin=IGP nh=192.0.2.1
2014-12-22T16:15:00Z rib rrc00 198.51.100.3 AS3356 175.45.176.0/24 path="64500 64500 64500 4837 {131279,131280}" origin=INCOMPLETE nh=192.0.2.1 lp=100 med=10 comm=3356:100,no-export large=4200000001:1:2,3:4:5 atomic agg=4200000009/10.0.0.9
2014-12-22T16:15:01.500000Z state rrc00 192.0.2.1 AS64500 Established->Idle
2014-12-22T16:15:01.500000Z withdraw rrc00 192.0.2.1 AS64500 10.0.0.0/8
2014-12-22T16:15:01.500000Z announce rrc00 192.0.2.1 AS64500 175.45.177.0/24 path="64500 64500 64500 4837 {131279,131280}" origin=INCOMPLETE nh=192.0.2.1 lp=100 med=10 comm=3356:100,no-export large=4200000001:1:2,3:4:5 atomic agg=4200000009/10.0.0.9
2014-12-22T16:15:01.500000Z announce rrc00 2001:db8::2 AS4200000001 2001:db8:2::/48 id=7 path="3356 174 131279" origin=IGP nh=2001:db8::1 nh-ll=fe80::1
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestAppendEventJSON(t *testing.T) {
	got := formatAll(t, dumpSample(t), "", func(b []byte, rr *RouteReader, ev *bgp.Event) []byte {
		return AppendEventJSON(b, rr, ev, []byte(`"rrc00"`))
	})
	want := `{"time":"2014-12-22T16:15:00Z","kind":"announce","rib":true,"collector":"rrc00","peer":"192.0.2.1","peer_as":64500,"prefix":"175.45.176.0/24","as_path":"3356 174 131279","origin_as":131279,"origin":"IGP","next_hop":"192.0.2.1"}
{"time":"2014-12-22T16:15:00Z","kind":"announce","rib":true,"collector":"rrc00","peer":"198.51.100.3","peer_as":3356,"prefix":"175.45.176.0/24","as_path":"64500 64500 64500 4837 {131279,131280}","origin":"INCOMPLETE","next_hop":"192.0.2.1","local_pref":100,"med":10,"communities":["3356:100","no-export"],"large_communities":["4200000001:1:2","3:4:5"],"atomic_aggregate":true,"aggregator":"4200000009 10.0.0.9"}
{"time":"2014-12-22T16:15:01.500000Z","kind":"state","collector":"rrc00","peer":"192.0.2.1","peer_as":64500,"old_state":"Established","new_state":"Idle"}
{"time":"2014-12-22T16:15:01.500000Z","kind":"withdraw","collector":"rrc00","peer":"192.0.2.1","peer_as":64500,"prefix":"10.0.0.0/8"}
{"time":"2014-12-22T16:15:01.500000Z","kind":"announce","collector":"rrc00","peer":"192.0.2.1","peer_as":64500,"prefix":"175.45.177.0/24","as_path":"64500 64500 64500 4837 {131279,131280}","origin":"INCOMPLETE","next_hop":"192.0.2.1","local_pref":100,"med":10,"communities":["3356:100","no-export"],"large_communities":["4200000001:1:2","3:4:5"],"atomic_aggregate":true,"aggregator":"4200000009 10.0.0.9"}
{"time":"2014-12-22T16:15:01.500000Z","kind":"announce","collector":"rrc00","peer":"2001:db8::2","peer_as":4200000001,"prefix":"2001:db8:2::/48","path_id":7,"as_path":"3356 174 131279","origin_as":131279,"origin":"IGP","next_hop":"2001:db8::1","link_local_next_hop":"fe80::1"}
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestEventFormatAllocs checks that the text and JSON formatters allocate
// nothing once their buffer has grown.
func TestEventFormatAllocs(t *testing.T) {
	data := dumpSample(t)
	rr := NewRouteReader(bytes.NewReader(data), "sample", "c")
	var evs []*bgp.Event
	line := make([]byte, 0, 4096)
	for {
		ev, err := rr.Next()
		if err != nil {
			break
		}
		evs = append(evs, ev)
		n := testing.AllocsPerRun(10, func() {
			line = AppendEventText(line[:0], rr, ev)
			line = AppendEventJSON(line[:0], rr, ev, []byte(`"c"`))
		})
		if n != 0 {
			t.Errorf("%s %s: %v allocations", ev.Kind, ev.Prefix, n)
		}
	}
	if len(evs) != 6 {
		t.Errorf("%d events, want 6", len(evs))
	}
}
