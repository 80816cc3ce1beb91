package mrt

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/bgptest"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// writerEventString formats every field of ev, for exact comparisons.
func writerEventString(ev *bgp.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s id=%d rib=%v", ev.Time.UTC().Format(time.RFC3339Nano), ev.Kind, ev.Peer, ev.Prefix, ev.PathID, ev.RIB)
	if ev.Kind == bgp.PeerState {
		fmt.Fprintf(&b, " %d->%d", ev.OldState, ev.NewState)
	}
	if a := ev.Attrs; a != nil {
		fmt.Fprintf(&b, " present=%#x origin=%d nh=%s ll=%s med=%d lp=%d", a.Present, a.Origin, a.NextHop, a.LinkLocalNextHop, a.MED, a.LocalPref)
		b.WriteString(" path=")
		for _, s := range a.Path.Segments {
			fmt.Fprintf(&b, "%d%v", s.Type, s.ASNs)
		}
		if a.Has(bgp.AttrAggregator) {
			fmt.Fprintf(&b, " agg=%d/%s", a.Aggregator.AS, a.Aggregator.Addr)
		}
		fmt.Fprintf(&b, " comm=%v large=%v", a.Communities, a.LargeCommunities)
		for _, u := range a.Unknown {
			fmt.Fprintf(&b, " raw=%#x/%d/%s", u.Flags&^0x10, u.Type, hex.EncodeToString(u.Value))
		}
	}
	return b.String()
}

// readAll reads every event of data, failing on any error.
func readAllEvents(t testing.TB, data []byte) []string {
	t.Helper()
	rr := NewRouteReader(bytes.NewReader(data), "test", "c")
	var got []string
	for {
		ev, err := rr.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got = append(got, writerEventString(ev))
	}
}

func compareEventLists(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d events, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

var (
	wt0    = time.Date(2014, 12, 22, 16, 15, 0, 0, time.UTC)
	peersW = []bgp.Peer{
		{Addr: netip.MustParseAddr("192.0.2.1"), AS: 64500},
		{Addr: netip.MustParseAddr("2001:db8::2"), AS: 4200000001},
		{Addr: netip.MustParseAddr("198.51.100.3"), AS: 3356},
	}
)

// expect builds the event RouteReader should give for a route written with
// attributes a; mpBits are the attribute bits the writer adds.
func wantEvent(tm time.Time, kind bgp.EventKind, peer bgp.Peer, p string, id uint32, a *bgp.Attrs, rib bool, mpBits uint64) string {
	peer.Collector = "c"
	ev := bgp.Event{Time: tm, Kind: kind, Peer: peer, Prefix: netip.MustParsePrefix(p), PathID: id, RIB: rib}
	if a != nil {
		c := a.Clone()
		c.Present |= mpBits
		if c.NextHop.Is4() && mpBits&(1<<bgp.AttrMPReach) == 0 {
			c.Present |= 1 << bgp.AttrNextHop
		}
		ev.Attrs = c
	}
	return writerEventString(&ev)
}

func TestWriterRIBRoundTrip(t *testing.T) {
	attrs := bgptest.Attrs(t)
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WritePeerIndex(wt0, netip.MustParseAddr("10.1.1.1"), "view", peersW); err != nil {
		t.Fatal(err)
	}
	var want []string
	mp := uint64(1 << bgp.AttrMPReach)
	// IPv4 records, one entry per attribute set.
	for i, a := range attrs {
		p := fmt.Sprintf("10.%d.0.0/16", i)
		var entries []RIBEntryOut
		for j := range peersW {
			entries = append(entries, RIBEntryOut{PeerIndex: uint16(j), Originated: wt0, Attrs: a})
			want = append(want, wantEvent(wt0, bgp.Announce, peersW[j], p, 0, a, true, 0))
		}
		if err := w.WriteRIB(wt0, uint32(i), netip.MustParsePrefix(p), entries); err != nil {
			t.Fatal(err)
		}
	}
	// IPv6 records, with and without a link-local next hop, and add-path.
	for i, a := range attrs {
		a6 := bgptest.WithV6(a, i%2 == 0)
		p := fmt.Sprintf("2001:db8:%x::/48", i)
		entries := []RIBEntryOut{{PeerIndex: 1, Originated: wt0, Attrs: a6}, {PeerIndex: 0, Originated: wt0, Attrs: a6, PathID: uint32(i)}}
		want = append(want, wantEvent(wt0, bgp.Announce, peersW[1], p, 0, a6, true, mp))
		want = append(want, wantEvent(wt0, bgp.Announce, peersW[0], p, uint32(i), a6, true, mp))
		if err := w.WriteRIB(wt0, uint32(10+i), netip.MustParsePrefix(p), entries); err != nil {
			t.Fatal(err)
		}
	}
	// An add-path IPv4 record.
	entries := []RIBEntryOut{{PeerIndex: 2, Originated: wt0, PathID: 7, Attrs: attrs[1]}, {PeerIndex: 2, Originated: wt0, PathID: 8, Attrs: attrs[0]}}
	want = append(want, wantEvent(wt0, bgp.Announce, peersW[2], "203.0.113.0/24", 7, attrs[1], true, 0))
	want = append(want, wantEvent(wt0, bgp.Announce, peersW[2], "203.0.113.0/24", 8, attrs[0], true, 0))
	if err := w.WriteRIB(wt0, 99, netip.MustParsePrefix("203.0.113.0/24"), entries); err != nil {
		t.Fatal(err)
	}
	// A record over 64 KiB.
	entries = entries[:0]
	for range 600 {
		entries = append(entries, RIBEntryOut{PeerIndex: 0, Originated: wt0, Attrs: attrs[2]})
		want = append(want, wantEvent(wt0, bgp.Announce, peersW[0], "198.18.0.0/15", 0, attrs[2], true, 0))
	}
	if err := w.WriteRIB(wt0, 100, netip.MustParsePrefix("198.18.0.0/15"), entries); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// The big record really is over 64 KiB.
	rd := NewReader(bytes.NewReader(buf.Bytes()), "test")
	var rec Record
	biggest := 0
	for rd.Next(&rec) == nil {
		biggest = max(biggest, len(rec.Body))
	}
	if biggest <= 65535 {
		t.Errorf("largest record %d bytes, want > 64 KiB", biggest)
	}
	compareEventLists(t, readAllEvents(t, buf.Bytes()), want)
}

func TestWriterUpdateRoundTrip(t *testing.T) {
	attrs := bgptest.Attrs(t)
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var want []string
	local4, local6 := netip.MustParseAddr("192.0.2.254"), netip.MustParseAddr("2001:db8::fe")
	tm := wt0.Add(1234567 * time.Microsecond)
	mp := uint64(1 << bgp.AttrMPReach)
	unreach := uint64(1 << bgp.AttrMPUnreach)

	// State changes.
	if err := w.WriteStateChange(tm, peersW[0], local4, 12654, bgp.StateEstablished, bgp.StateIdle); err != nil {
		t.Fatal(err)
	}
	want = append(want, "2014-12-22T16:15:01.234567Z state c 192.0.2.1 AS64500 invalid Prefix id=0 rib=false 6->1")
	if err := w.WriteStateChange(tm, peersW[1], local6, 12654, bgp.StateOpenConfirm, bgp.StateEstablished); err != nil {
		t.Fatal(err)
	}
	want = append(want, "2014-12-22T16:15:01.234567Z state c 2001:db8::2 AS4200000001 invalid Prefix id=0 rib=false 5->6")

	// IPv4 announcements and withdrawals.
	for i, a := range attrs {
		wd := []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16"), netip.MustParsePrefix("0.0.0.0/0")}
		ann := []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", i)), netip.MustParsePrefix("10.10.10.128/25")}
		if err := w.WriteUpdate(tm, peersW[0], local4, 12654, wd, a, ann); err != nil {
			t.Fatal(err)
		}
		for _, p := range wd {
			want = append(want, wantEvent(tm, bgp.Withdraw, peersW[0], p.String(), 0, nil, false, 0))
		}
		for _, p := range ann {
			want = append(want, wantEvent(tm, bgp.Announce, peersW[0], p.String(), 0, a, false, 0))
		}
	}
	// IPv6 announcements, with the IPv4 and IPv6 withdrawals in separate
	// messages.
	for i, a := range attrs {
		a6 := bgptest.WithV6(a, i == 1)
		ann := []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", i)), netip.MustParsePrefix("2001:db8:ffff:ff80::/57")}
		wd := []netip.Prefix{netip.MustParsePrefix("10.99.0.0/16"), netip.MustParsePrefix("2001:db8:9::/48")}
		if err := w.WriteUpdate(tm, peersW[1], local6, 12654, wd, a6, ann); err != nil {
			t.Fatal(err)
		}
		want = append(want, wantEvent(tm, bgp.Withdraw, peersW[1], "10.99.0.0/16", 0, nil, false, 0))
		want = append(want, wantEvent(tm, bgp.Withdraw, peersW[1], "2001:db8:9::/48", 0, nil, false, 0))
		for _, p := range ann {
			want = append(want, wantEvent(tm, bgp.Announce, peersW[1], p.String(), 0, a6, false, mp|unreach))
		}
	}
	// An IPv4 route with an IPv6 next hop goes in MP_REACH_NLRI.
	a6 := bgptest.WithV6(attrs[0], false)
	if err := w.WriteUpdate(tm, peersW[1], local6, 12654, nil, a6, []netip.Prefix{netip.MustParsePrefix("10.200.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	want = append(want, wantEvent(tm, bgp.Announce, peersW[1], "10.200.0.0/16", 0, a6, false, mp))

	// ADD-PATH.
	apw := []wire.NLRI{{Prefix: netip.MustParsePrefix("10.1.0.0/16"), PathID: 5}, {Prefix: netip.MustParsePrefix("2001:db8:1::/48"), PathID: 6}}
	apa := []wire.NLRI{{Prefix: netip.MustParsePrefix("10.2.0.0/16"), PathID: 7}, {Prefix: netip.MustParsePrefix("10.3.0.0/16"), PathID: 0}}
	if err := w.WriteUpdateAddPath(tm, peersW[2], local4, 12654, apw, attrs[1], apa); err != nil {
		t.Fatal(err)
	}
	want = append(want, wantEvent(tm, bgp.Withdraw, peersW[2], "10.1.0.0/16", 5, nil, false, 0))
	want = append(want, wantEvent(tm, bgp.Announce, peersW[2], "10.2.0.0/16", 7, attrs[1], false, 0))
	want = append(want, wantEvent(tm, bgp.Announce, peersW[2], "10.3.0.0/16", 0, attrs[1], false, 0))
	want = append(want, wantEvent(tm, bgp.Withdraw, peersW[2], "2001:db8:1::/48", 6, nil, false, 0))

	// Large updates are split at 4096 bytes.
	var many4, many6 []netip.Prefix
	for i := range 3000 {
		many4 = append(many4, netip.PrefixFrom(netip.AddrFrom4([4]byte{20, byte(i >> 8), byte(i), 0}), 24))
		many6 = append(many6, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)}), 48))
	}
	if err := w.WriteUpdate(tm, peersW[0], local4, 12654, many4[:1500], attrs[2], many4[1500:]); err != nil {
		t.Fatal(err)
	}
	for _, p := range many4[:1500] {
		want = append(want, wantEvent(tm, bgp.Withdraw, peersW[0], p.String(), 0, nil, false, 0))
	}
	for _, p := range many4[1500:] {
		want = append(want, wantEvent(tm, bgp.Announce, peersW[0], p.String(), 0, attrs[2], false, 0))
	}
	if err := w.WriteUpdate(tm, peersW[1], local6, 12654, many6[:1500], nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteUpdate(tm, peersW[1], local6, 12654, nil, bgptest.WithV6(attrs[2], true), many6[1500:]); err != nil {
		t.Fatal(err)
	}
	for _, p := range many6[:1500] {
		want = append(want, wantEvent(tm, bgp.Withdraw, peersW[1], p.String(), 0, nil, false, 0))
	}
	for _, p := range many6[1500:] {
		want = append(want, wantEvent(tm, bgp.Announce, peersW[1], p.String(), 0, bgptest.WithV6(attrs[2], true), false, mp))
	}
	// End-of-RIB: an empty update, no events.
	if err := w.WriteUpdate(tm, peersW[0], local4, 12654, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	compareEventLists(t, readAllEvents(t, buf.Bytes()), want)

	// Every BGP message fits in 4096 bytes.
	rd := NewReader(bytes.NewReader(buf.Bytes()), "test")
	var rec Record
	for {
		err := rd.Next(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var h BGP4MPHeader
		msg, err := DecodeBGP4MPHeader(rec.Body, rec.Subtype, &h)
		if err != nil {
			t.Fatal(err)
		}
		if len(msg) > wire.MaxMessageLen {
			t.Errorf("record at %d: BGP message of %d bytes", rec.Offset, len(msg))
		}
		if rec.Subtype == BGP4MPMessageAS4 && int(binary.BigEndian.Uint16(msg[16:])) != len(msg) {
			t.Errorf("record at %d: BGP length field %d, message %d bytes", rec.Offset, binary.BigEndian.Uint16(msg[16:]), len(msg))
		}
	}
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter(io.Discard)
	a := bgptest.Attrs(t)[0]
	if err := w.WriteRIB(wt0, 0, netip.Prefix{}, nil); err == nil {
		t.Error("invalid prefix accepted")
	}
	if err := w.WriteUpdate(wt0, peersW[0], netip.Addr{}, 1, nil, nil, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); err == nil {
		t.Error("announcement without attributes accepted")
	}
	if err := w.WriteUpdate(wt0, peersW[0], netip.MustParseAddr("::1"), 1, nil, a, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); err == nil {
		t.Error("mixed address families accepted")
	}
	huge := a.Clone()
	huge.Unknown = []bgp.RawAttr{{Flags: 0xc0, Type: 99, Value: make([]byte, 5000)}}
	if err := w.WriteUpdate(wt0, peersW[0], netip.Addr{}, 1, nil, huge, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); err == nil {
		t.Error("attributes beyond 4096 bytes accepted")
	}
	if err := w.WritePeerIndex(wt0, netip.MustParseAddr("::1"), "", nil); err == nil {
		t.Error("IPv6 collector ID accepted")
	}
}

func TestWriterAllocs(t *testing.T) {
	a := bgptest.Attrs(t)[1]
	w := NewWriter(io.Discard)
	entries := make([]RIBEntryOut, 40)
	for i := range entries {
		entries[i] = RIBEntryOut{PeerIndex: uint16(i), Originated: wt0, Attrs: a}
	}
	p := netip.MustParsePrefix("10.0.0.0/8")
	ann := []netip.Prefix{p, netip.MustParsePrefix("2001:db8::/32")}
	n := testing.AllocsPerRun(100, func() {
		if err := w.WriteRIB(wt0, 1, p, entries); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteUpdate(wt0, peersW[1], netip.Addr{}, 1, ann, a, ann); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per record", n)
	}
}

// TestWriterBgpdump checks that bgpdump reads what Writer writes.
func TestWriterBgpdump(t *testing.T) {
	bin, err := exec.LookPath("bgpdump")
	if err != nil {
		t.Skip("bgpdump not found: install Debian package bgpdump")
	}
	attrs := bgptest.Attrs(t)
	var buf bytes.Buffer
	w := NewWriter(&buf)
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(w.WritePeerIndex(wt0, netip.MustParseAddr("10.1.1.1"), "", peersW))
	check(w.WriteRIB(wt0, 0, netip.MustParsePrefix("175.45.176.0/24"), []RIBEntryOut{
		{PeerIndex: 0, Originated: wt0, Attrs: attrs[0]}, {PeerIndex: 2, Originated: wt0, Attrs: attrs[1]}}))
	check(w.WriteRIB(wt0, 1, netip.MustParsePrefix("2001:db8::/32"), []RIBEntryOut{{PeerIndex: 1, Originated: wt0, Attrs: bgptest.WithV6(attrs[0], true)}}))
	tm := wt0.Add(1500 * time.Millisecond)
	check(w.WriteStateChange(tm, peersW[0], netip.Addr{}, 12654, bgp.StateEstablished, bgp.StateIdle))
	check(w.WriteUpdate(tm, peersW[0], netip.Addr{}, 12654, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, attrs[1], []netip.Prefix{netip.MustParsePrefix("175.45.177.0/24")}))
	check(w.WriteUpdate(tm, peersW[1], netip.Addr{}, 12654, []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/48")}, nil, nil))
	check(w.WriteUpdate(tm, peersW[1], netip.Addr{}, 12654, nil, bgptest.WithV6(attrs[0], false), []netip.Prefix{netip.MustParsePrefix("2001:db8:2::/48")}))
	check(w.Flush())
	file := filepath.Join(t.TempDir(), "w.mrt")
	check(os.WriteFile(file, buf.Bytes(), 0o644))
	out, err := exec.Command(bin, "-m", file).Output()
	if err != nil {
		t.Fatalf("bgpdump: %v", err)
	}
	want := `TABLE_DUMP2|1419264900|B|192.0.2.1|64500|175.45.176.0/24|3356 174 131279|IGP|192.0.2.1|0|0||NAG||
TABLE_DUMP2|1419264900|B|198.51.100.3|3356|175.45.176.0/24|64500 64500 64500 4837 {131279,131280}|INCOMPLETE|192.0.2.1|100|10|3356:100 no-export|AG|4200000009 10.0.0.9|
TABLE_DUMP2|1419264900|B|2001:db8::2|4200000001|2001:db8::/32|3356 174 131279|IGP|2001:db8::1|0|0||NAG||
BGP4MP_ET|1419264901.500000|STATE|192.0.2.1|64500|6|1
BGP4MP_ET|1419264901.500000|W|192.0.2.1|64500|10.0.0.0/8
BGP4MP_ET|1419264901.500000|A|192.0.2.1|64500|175.45.177.0/24|64500 64500 64500 4837 {131279,131280}|INCOMPLETE|192.0.2.1|100|10|3356:100 no-export|AG|4200000009 10.0.0.9|
BGP4MP_ET|1419264901.500000|W|2001:db8::2|4200000001|2001:db8:1::/48
BGP4MP_ET|1419264901.500000|A|2001:db8::2|4200000001|2001:db8:2::/48|3356 174 131279|IGP|2001:db8::1|0|0||NAG||
`
	if got := string(out); got != want {
		t.Errorf("bgpdump -m:\n%s\nwant:\n%s", got, want)
	}
}
