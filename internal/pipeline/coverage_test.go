package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/source"
)

func runCoverage(t *testing.T, data []byte) *Result {
	t.Helper()
	db, err := geo.Default()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), source.Merge([]source.Source{source.NewFile(bytes.NewReader(data), "test.mrt", "")}),
		Options{Config: DefaultConfig(db)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestNotJudgedRIBAlone: a RIB dump with nothing after it judges nothing,
// and says so.
func TestNotJudgedRIBAlone(t *testing.T) {
	w := newWorld(10)
	var buf bytes.Buffer
	mw := mrt.NewWriter(&buf)
	w.rib(t, mw, time.Date(2014, 12, 22, 10, 0, 0, 0, time.UTC))
	if err := mw.Flush(); err != nil {
		t.Fatal(err)
	}
	res := runCoverage(t, buf.Bytes())
	if res.Coverage.Judged() {
		t.Errorf("a RIB alone was judged: %v", res.Coverage.Statements())
	}
	for _, f := range res.Coverage.Families {
		if f.NotJudged == "" {
			t.Errorf("%s: no reason given: %+v", f.Family, f)
		}
	}
}

// TestNotJudgedWarmingUp: five minutes of updates without a RIB dump are
// not judged (warming up), with the time judging would start.
func TestNotJudgedWarmingUp(t *testing.T) {
	w := newWorld(10)
	var buf bytes.Buffer
	mw := mrt.NewWriter(&buf)
	t0 := time.Date(2014, 12, 22, 10, 0, 0, 0, time.UTC)
	w.announce(t, mw, t0, w.prefixes)
	w.withdraw(t, mw, t0.Add(5*time.Minute), w.prefixes[:4], 9*time.Second)
	if err := mw.Flush(); err != nil {
		t.Fatal(err)
	}
	res := runCoverage(t, buf.Bytes())
	if res.Coverage.Judged() || len(res.Events) != 0 {
		t.Fatalf("judged (%d events): %v", len(res.Events), res.Coverage.Statements())
	}
	v4 := res.Coverage.Families[0]
	if !strings.Contains(v4.NotJudged, "warming up until 2014-12-22 11:00:00 UTC") {
		t.Errorf("IPv4: %q, want warming up until 11:00", v4.NotJudged)
	}
}

// TestNotJudgedUndecoded: records of a type blackout does not decode are
// counted and named: what they hold was not judged.
func TestNotJudgedUndecoded(t *testing.T) {
	var buf bytes.Buffer
	for i := 0; i < 3; i++ {
		var h [12]byte
		binary.BigEndian.PutUint32(h[0:], uint32(time.Date(1999, 9, 2, 0, 0, i, 0, time.UTC).Unix()))
		binary.BigEndian.PutUint16(h[4:], 99) // no MRT type
		binary.BigEndian.PutUint16(h[6:], 1)
		binary.BigEndian.PutUint32(h[8:], 4)
		buf.Write(h[:])
		buf.Write([]byte{0, 0, 0, 0})
	}
	res := runCoverage(t, buf.Bytes())
	var n int64
	for _, v := range res.Coverage.Undecoded {
		n += v
	}
	if n != 3 || res.Coverage.Judged() {
		t.Errorf("undecoded %v, judged %v: want 3 records not decoded and nothing judged", res.Coverage.Undecoded, res.Coverage.Judged())
	}
	if st := strings.Join(res.Coverage.Statements(), " "); !strings.Contains(st, " not decoded: what they hold was not judged.") {
		t.Errorf("statements %q", st)
	}
}

// TestJudgedFromUpdatesNoted: a day of updates without a RIB dump is
// judged after the warm-up, with a note that the view is incomplete.
func TestJudgedFromUpdatesNoted(t *testing.T) {
	w := newWorld(10)
	var buf bytes.Buffer
	mw := mrt.NewWriter(&buf)
	t0 := time.Date(2014, 12, 22, 10, 0, 0, 0, time.UTC)
	w.announce(t, mw, t0, w.prefixes)
	w.ticks(t, mw, t0, 2*time.Hour, 7*time.Minute)
	if err := mw.Flush(); err != nil {
		t.Fatal(err)
	}
	res := runCoverage(t, buf.Bytes())
	v4 := res.Coverage.Families[0]
	if v4.JudgedFrom == nil || !strings.Contains(v4.Note, "no RIB dump") {
		t.Errorf("IPv4 coverage %+v: want judged, with a note on the missing RIB dump", v4)
	}
}

// TestCoverageLongPaths: announcements with AS paths over the limit are
// dropped, counted, and said.
func TestCoverageLongPaths(t *testing.T) {
	var buf bytes.Buffer
	mw := mrt.NewWriter(&buf)
	t0 := time.Date(2014, 12, 22, 10, 0, 0, 0, time.UTC)
	peer := bgp.Peer{Addr: netip.AddrFrom4([4]byte{192, 0, 2, 1}), AS: 64500}
	local := netip.AddrFrom4([4]byte{192, 0, 2, 254})
	long := make([]bgp.ASN, 200)
	for i := range long {
		long[i] = bgp.ASN(1000 + i)
	}
	for i, n := range []int{3, 200, 64, 65, 200} {
		a := &bgp.Attrs{}
		a.Set(bgp.AttrOrigin)
		a.Set(bgp.AttrASPath)
		a.Set(bgp.AttrNextHop)
		a.NextHop = peer.Addr
		a.Path.Segments = []bgp.Segment{{Type: bgp.ASSequence, ASNs: long[:n]}}
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100 + byte(i), 0}), 24)
		if err := mw.WriteUpdate(t0.Add(time.Duration(i)*time.Second), peer, local, 65000, nil, a, []netip.Prefix{p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Flush(); err != nil {
		t.Fatal(err)
	}
	res := runCoverage(t, buf.Bytes())
	if res.Coverage.LongPaths != 3 || res.Coverage.MaxPathLen != 64 || res.Prefixes != 2 {
		t.Errorf("dropped %d (limit %d), %d prefixes in the view; want 3 dropped of paths over 64 ASes, 2 prefixes",
			res.Coverage.LongPaths, res.Coverage.MaxPathLen, res.Prefixes)
	}
	said := strings.Join(res.Coverage.Statements(), " ")
	if !strings.Contains(said, "3 announcements had AS paths longer than 64 ASes") {
		t.Errorf("the coverage does not say it: %s", said)
	}
}
