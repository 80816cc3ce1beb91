package mrt

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/blackout-bgp/blackout/internal/corpus"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/bgptest"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// fuzzCorpusDir returns the real-data corpus folder ($BLACKOUT_CORPUS, or
// ../shared/corpus seen from the repository root), or "" when absent.
func fuzzCorpusDir() string { return corpus.Dir() }

// fuzzRecord is one raw MRT record taken from the corpus.
type fuzzRecord struct {
	file    string
	typ     Type
	sub     uint16
	raw     []byte // header and body
	body    []byte // after the _ET microseconds
	peerIdx []byte // the raw PEER_INDEX_TABLE record of the file, for RIB records
}

// fuzzDecompress opens path, decompressing gzip and bzip2 by their magic.
func fuzzDecompress(path string) (io.Reader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return zr, f, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), f, nil
	}
	return br, f, nil
}

// fuzzCorpusRecords extracts up to perFile records from each corpus MRT
// file: the first ones, then a sample of the rest of its first 8 MiB.
func fuzzCorpusRecords(tb testing.TB, perFile int) []fuzzRecord {
	dir := fuzzCorpusDir()
	if dir == "" {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "mrt", "*"))
	sort.Strings(files)
	var out []fuzzRecord
	for _, path := range files {
		r, c, err := fuzzDecompress(path)
		if err != nil {
			tb.Logf("corpus: %v", err)
			continue
		}
		data, err := io.ReadAll(io.LimitReader(r, 8<<20))
		c.Close()
		if err != nil && len(data) == 0 {
			tb.Logf("corpus %s: %v", path, err)
			continue
		}
		var recs []fuzzRecord
		var peerIdx []byte
		rd := NewReader(bytes.NewReader(data), path)
		var rec Record
		for rd.Next(&rec) == nil {
			end := rd.Offset()
			raw := data[rec.Offset:end]
			fr := fuzzRecord{file: filepath.Base(path), typ: rec.Type, sub: rec.Subtype, raw: raw, body: raw[len(raw)-len(rec.Body):]}
			if rec.Type == TypeTableDumpV2 && rec.Subtype == PeerIndexTable && peerIdx == nil {
				peerIdx = raw
			}
			fr.peerIdx = peerIdx
			recs = append(recs, fr)
		}
		out = append(out, bgptest.Sample(recs, perFile)...)
	}
	return out
}

// fuzzWriterSample returns a small MRT stream written by Writer: every
// record kind it produces.
func fuzzWriterSample(tb testing.TB) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	attrs := bgptest.Attrs(tb)
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(w.WritePeerIndex(wt0, netip.MustParseAddr("10.1.1.1"), "v", peersW))
	must(w.WriteRIB(wt0, 0, netip.MustParsePrefix("10.0.0.0/8"), []RIBEntryOut{{PeerIndex: 0, Attrs: attrs[1]}, {PeerIndex: 2, Attrs: attrs[2]}}))
	must(w.WriteRIB(wt0, 1, netip.MustParsePrefix("2001:db8::/32"), []RIBEntryOut{{PeerIndex: 1, PathID: 3, Attrs: bgptest.WithV6(attrs[0], true)}}))
	must(w.WriteStateChange(wt0, peersW[0], netip.Addr{}, 1, bgp.StateIdle, bgp.StateEstablished))
	must(w.WriteUpdate(wt0, peersW[0], netip.Addr{}, 1, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, attrs[1], []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")}))
	must(w.WriteUpdate(wt0, peersW[1], netip.Addr{}, 1, []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/48")}, bgptest.WithV6(attrs[1], false), []netip.Prefix{netip.MustParsePrefix("2001:db8:2::/48")}))
	must(w.WriteUpdateAddPath(wt0, peersW[2], netip.Addr{}, 1, []wire.NLRI{{Prefix: netip.MustParsePrefix("10.3.0.0/16"), PathID: 9}}, attrs[0], []wire.NLRI{{Prefix: netip.MustParsePrefix("10.4.0.0/16"), PathID: 1}}))
	must(w.Flush())
	return buf.Bytes()
}

// fuzzMessages splits an MRT stream into its records.
func fuzzMessages(data []byte) []fuzzRecord {
	var out []fuzzRecord
	rd := NewReader(bytes.NewReader(data), "sample")
	var rec Record
	for rd.Next(&rec) == nil {
		raw := data[rec.Offset:rd.Offset()]
		out = append(out, fuzzRecord{typ: rec.Type, sub: rec.Subtype, raw: raw, body: raw[len(raw)-len(rec.Body):]})
	}
	return out
}

// checkReadError fails unless err is a *RecordError or wraps an I/O error.
func checkReadError(t *testing.T, err error) {
	var re *RecordError
	if errors.As(err, &re) || errors.Is(err, io.ErrUnexpectedEOF) {
		return
	}
	t.Fatalf("error of type %T: %v", err, err)
}

func FuzzReader(f *testing.F) {
	sample := fuzzWriterSample(f)
	f.Add(sample)
	for _, r := range fuzzMessages(sample) {
		f.Add(append(append([]byte(nil), sample[:len(fuzzMessages(sample)[0].raw)]...), r.raw...))
	}
	recs := fuzzCorpusRecords(f, 40)
	for i, r := range recs {
		seed := r.raw
		if r.peerIdx != nil && &r.peerIdx[0] != &r.raw[0] {
			seed = append(append([]byte(nil), r.peerIdx...), r.raw...)
		}
		// Join some records in pairs, so the reader crosses records.
		if i%4 == 0 && i+1 < len(recs) && recs[i+1].file == r.file {
			seed = append(append([]byte(nil), seed...), recs[i+1].raw...)
		}
		f.Add(seed)
	}
	// The legacy forms: type 5, the early BGP4MP, host bits everywhere.
	for _, lf := range legacyFiles {
		f.Add(lf.data())
	}
	var line []byte
	f.Fuzz(func(t *testing.T, data []byte) {
		rr := NewRouteReader(bytes.NewReader(data), "fuzz", "c")
		// Every call consumes input or hands out a route of a record whose
		// entries or prefixes take at least one byte each.
		limit := 2*len(data) + 10
		for calls := 0; ; calls++ {
			if calls > limit {
				t.Fatalf("no end after %d calls on %d bytes", calls, len(data))
			}
			ev, err := rr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				checkReadError(t, err)
				continue
			}
			if ev.Kind != bgp.PeerState && !ev.Prefix.IsValid() {
				t.Fatalf("event without a prefix: %+v", ev)
			}
			if ev.Kind == bgp.Announce && ev.Attrs == nil {
				t.Fatalf("announcement without attributes: %+v", ev)
			}
			if ev.Prefix != ev.Prefix.Masked() {
				t.Fatalf("event prefix %s not masked", ev.Prefix)
			}
			line = AppendBgpdumpLine(line[:0], rr, ev)
		}
		if _, err := rr.Next(); err != io.EOF {
			t.Fatalf("after io.EOF: %v", err)
		}
		_ = rr.Stats()
	})
}

func FuzzRIB(f *testing.F) {
	add := func(recs []fuzzRecord) {
		for _, r := range recs {
			if r.typ == TypeTableDumpV2 && r.sub != PeerIndexTable {
				f.Add(r.body, r.sub)
			}
		}
	}
	add(fuzzMessages(fuzzWriterSample(f)))
	add(fuzzCorpusRecords(f, 40))
	var rib RIBRecord
	var e RIBEntry
	var d wire.AttrDecoder
	var a bgp.Attrs
	var none []wire.NLRI
	f.Fuzz(func(t *testing.T, body []byte, sub uint16) {
		if err := rib.Init(body, sub); err != nil {
			return
		}
		for i := 0; ; i++ {
			if i > rib.Count {
				t.Fatalf("more than the %d entries announced", rib.Count)
			}
			ok, err := rib.Next(&e)
			if err != nil || !ok {
				break
			}
			_ = d.Decode(e.Attrs, wire.AttrOptions{AS4: true, RIB: true}, &a, &none, &none)
			_ = a.Path.String()
			// The same attributes as a 2-byte speaker's.
			_ = d.Decode(e.Attrs, wire.AttrOptions{}, &a, &none, &none)
			_ = a.Path.String()
		}
	})
}

func FuzzPeerIndex(f *testing.F) {
	add := func(recs []fuzzRecord) {
		for _, r := range recs {
			if r.typ == TypeTableDumpV2 && r.sub == PeerIndexTable {
				f.Add(r.body)
			}
		}
	}
	add(fuzzMessages(fuzzWriterSample(f)))
	add(fuzzCorpusRecords(f, 10))
	var pi PeerIndex
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := DecodePeerIndex(body, &pi); err != nil {
			return
		}
		for _, p := range pi.Peers {
			if !p.Addr.IsValid() {
				t.Fatalf("peer without an address")
			}
		}
	})
}

// FuzzWriteBgpdump checks that WriteBgpdump makes the same lines, errors
// and counters on several goroutines, with batches of a few records, as on
// one, on any input (the seeds: the legacy files and damaged joins).
func FuzzWriteBgpdump(f *testing.F) {
	for _, lf := range legacyFiles {
		d := lf.data()
		f.Add(d)
		f.Add(append(append(append([]byte(nil), d...), 0xff, 0, 0x13), d...))
	}
	f.Add(lgHostBits())
	f.Fuzz(func(t *testing.T, data []byte) {
		defer func(n int) { batchSize = n }(batchSize)
		batchSize = 64
		want, wst, werrs := writeBgpdumpAll(t, data, 1)
		got, gst, gerrs := writeBgpdumpAll(t, data, 3)
		if got != want || gerrs != werrs {
			t.Fatalf("3 goroutines: %d errors, 1: %d; %s", gerrs, werrs, firstDiff(got, want))
		}
		if !reflect.DeepEqual(gst, wst) {
			t.Fatalf("stats differ:\n%+v\n%+v", gst, wst)
		}
	})
}
