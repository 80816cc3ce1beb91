package source_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/mrt/mrtgen"
	"github.com/blackout-bgp/blackout/internal/source"
)

// mergeInputs returns a generated RIB, updates of the same peers, and
// updates with a stretch of garbage in the middle (input errors), as MRT.
func mergeInputs(t *testing.T) [][]byte {
	t.Helper()
	opt := mrtgen.Options{Seed: 5, Prefixes: 3000, Peers: 5}
	var rib, upd, bad bytes.Buffer
	w := mrt.NewWriter(&rib)
	if _, err := mrtgen.WriteRIB(w, opt); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	w = mrt.NewWriter(&upd)
	opt.Time = time.Date(2025, 1, 1, 0, 0, 1, 0, time.UTC)
	if _, err := mrtgen.WriteUpdates(w, opt, 4000); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	w = mrt.NewWriter(&bad)
	opt.Seed, opt.Time = 6, opt.Time.Add(3*time.Second)
	if _, err := mrtgen.WriteUpdates(w, opt, 2000); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	b := bad.Bytes()
	// A record header claiming a length beyond the end, in the middle of
	// the file, and one with an unknown type.
	mid := len(b) / 2
	junk := []byte{0x5f, 0, 0, 0, 0, 16, 0, 4, 0, 0, 0, 4, 1, 2, 3, 4}
	b = append(append(append([]byte(nil), b[:mid]...), junk...), b[mid:]...)
	return [][]byte{rib.Bytes(), upd.Bytes(), b}
}

func describe(ev *bgp.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %v %v %d %v %d %d", ev.Time.Format(time.RFC3339Nano), ev.Kind, ev.Peer, ev.Prefix, ev.PathID, ev.RIB, ev.OldState, ev.NewState)
	if a := ev.Attrs; a != nil {
		fmt.Fprintf(&b, " %s %v %v %d %d %v %v %v", a.Path.AppendString(nil), a.NextHop, a.Origin, a.MED, a.LocalPref, a.Communities, a.LargeCommunities, a.Unknown)
	}
	return b.String()
}

func readAll(t *testing.T, in [][]byte, serial bool) []string {
	t.Helper()
	var srcs []source.Source
	for i, b := range in {
		srcs = append(srcs, source.NewFile(bytes.NewReader(b), fmt.Sprint("in", i), "rrc00"))
	}
	m := source.Merge(srcs)
	m.Serial = serial
	defer m.Stop()
	var out []string
	for {
		ev, err := m.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			out = append(out, "error: "+err.Error())
			continue
		}
		out = append(out, describe(ev))
	}
}

// TestMergeAheadSameStream checks that reading the sources ahead on their
// own goroutines gives the stream, errors included, of reading them in turn.
func TestMergeAheadSameStream(t *testing.T) {
	in := mergeInputs(t)
	serial := readAll(t, in, true)
	ahead := readAll(t, in, false)
	var errs int
	for _, s := range serial {
		if strings.HasPrefix(s, "error: ") {
			errs++
		}
	}
	if len(serial) < 10000 || errs == 0 {
		t.Fatalf("the inputs gave %d events and %d errors: want many events and some errors", len(serial), errs)
	}
	sameItems(t, ahead, serial)
}

// TestMergeStop checks that a stream stopped before its end lets its
// readers go.
func TestMergeStop(t *testing.T) {
	in := mergeInputs(t)
	var srcs []source.Source
	for i, b := range in {
		srcs = append(srcs, source.NewFile(bytes.NewReader(b), fmt.Sprint("in", i), "rrc00"))
	}
	before := runtime.NumGoroutine()
	m := source.Merge(srcs)
	for range 10 {
		if _, err := m.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if n := runtime.NumGoroutine(); n < before+len(in) {
		t.Fatalf("%d goroutines while reading %d sources ahead, %d before", n, len(in), before)
	}
	m.Stop()
	m.Stop() // twice is fine
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines 10 s after Stop, %d before the merge", runtime.NumGoroutine(), before)
		}
	}
}

// TestMergeAheadRIBAttrs checks the RIB entries whose attributes the
// reading ahead decodes into its own memory (File.DeferRIBAttrs): AS sets,
// unknown attributes, an entry whose attributes do not decode and one
// dated in 2097 come out as when the file is read in turn, errors
// included, and stay right after the batches have been reused.
func TestMergeAheadRIBAttrs(t *testing.T) {
	var b bytes.Buffer
	w := mrt.NewWriter(&b)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	peers := []bgp.Peer{
		{Addr: netip.MustParseAddr("192.0.2.1"), AS: 64501},
		{Addr: netip.MustParseAddr("192.0.2.2"), AS: 64502},
		{Addr: netip.MustParseAddr("2001:db8::3"), AS: 64503},
	}
	if err := w.WritePeerIndex(t0, netip.MustParseAddr("192.0.2.254"), "", peers); err != nil {
		t.Fatal(err)
	}
	attrs := func(i int, unknown ...bgp.RawAttr) *bgp.Attrs {
		a := &bgp.Attrs{Origin: bgp.OriginIGP, NextHop: netip.MustParseAddr("192.0.2.1"), Unknown: unknown}
		a.Set(bgp.AttrOrigin)
		a.Set(bgp.AttrASPath)
		a.Set(bgp.AttrNextHop)
		a.Path.Segments = []bgp.Segment{{Type: bgp.ASSequence, ASNs: []bgp.ASN{64501, bgp.ASN(65000 + i%7), bgp.ASN(100 + i)}}}
		if i%3 == 0 {
			a.Path.Segments = append(a.Path.Segments, bgp.Segment{Type: bgp.ASSet, ASNs: []bgp.ASN{bgp.ASN(200 + i), bgp.ASN(300 + i)}})
		}
		return a
	}
	// Enough records for the batches to be reused several times.
	for i := range 3000 {
		at := t0
		var entries []mrt.RIBEntryOut
		for p := range peers {
			var unk []bgp.RawAttr
			switch {
			case i%5 == 0:
				unk = []bgp.RawAttr{{Flags: 0xc0, Type: 99, Value: []byte(fmt.Sprintf("value %d/%d", i, p))}}
			case i%397 == 0 && p == 1:
				// An attribute of a known type that does not decode.
				unk = []bgp.RawAttr{{Flags: 0x40, Type: bgp.AttrMED, Value: []byte{1, 2, 3}}}
			}
			entries = append(entries, mrt.RIBEntryOut{PeerIndex: uint16(p), Originated: t0, Attrs: attrs(i+p, unk...)})
		}
		if i == 1234 {
			at = time.Date(2097, 1, 1, 0, 0, 0, 0, time.UTC)
			entries[0].Attrs.Unknown = []bgp.RawAttr{{Flags: 0x40, Type: bgp.AttrMED, Value: []byte{9}}}
		}
		pfx := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
		if err := w.WriteRIB(at, uint32(i), pfx, entries); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	in := [][]byte{b.Bytes()}
	serial := readAll(t, in, true)
	ahead := readAll(t, in, false)
	var errs, unknown, sets int
	for _, s := range serial {
		switch {
		case strings.HasPrefix(s, "error: "):
			errs++
		case strings.Contains(s, "{192 99 ["): // a RawAttr of type 99
			unknown++
		}
		if strings.Contains(s, "{") {
			sets++
		}
	}
	if errs < 5 || unknown < 1000 || sets < 1000 {
		t.Fatalf("the input gave %d errors, %d events with unknown attributes, %d with AS sets: want some of each", errs, unknown, sets)
	}
	sameItems(t, ahead, serial)
}

// wallAhead is the part of an error that depends on when the record was
// read: how far ahead of the wall clock it is dated.
var wallAhead = regexp.MustCompile(`[0-9hms.]+ ahead of the wall clock`)

// sameItems checks that the read-ahead gave the items of the serial read,
// errors included, up to how far ahead of the wall clock a record was when
// each read it (the two reads may straddle a second).
func sameItems(t *testing.T, ahead, serial []string) {
	t.Helper()
	if len(ahead) != len(serial) {
		t.Errorf("ahead: %d items, serial %d", len(ahead), len(serial))
	}
	for i := range min(len(ahead), len(serial)) {
		a := wallAhead.ReplaceAllString(ahead[i], "... ahead of the wall clock")
		b := wallAhead.ReplaceAllString(serial[i], "... ahead of the wall clock")
		if a != b {
			t.Fatalf("item %d differs:\nahead  %s\nserial %s", i, ahead[i], serial[i])
		}
	}
}
