package mrt_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/mrt/mrtgen"
)

// benchRIB is a generated RIB dump in memory: 5,000 prefixes seen by about
// 40 peers each (AS paths of 3-7 hops, some prepending, a few communities).
var benchRIB = sync.OnceValues(func() ([]byte, error) {
	var buf bytes.Buffer
	w := mrt.NewWriter(&buf)
	if _, err := mrtgen.WriteRIB(w, mrtgen.Options{Seed: 1, Prefixes: 5000, Peers: 40}); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
})

// benchUpdates is a generated BGP4MP_ET update stream in memory.
var benchUpdates = sync.OnceValues(func() ([]byte, error) {
	var buf bytes.Buffer
	w := mrt.NewWriter(&buf)
	if _, err := mrtgen.WriteUpdates(w, mrtgen.Options{Seed: 1, Peers: 40}, 50000); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
})

// benchRoutes reads routes from data, over and over, one route per
// iteration, calling f on each; it reports routes/s.
func benchRoutes(b *testing.B, data []byte, err error, f func(rr *mrt.RouteReader, ev *bgp.Event)) {
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(0)
	rr := mrt.NewRouteReader(bytes.NewReader(data), "bench", "")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev, err := rr.Next()
		if err == io.EOF {
			rr = mrt.NewRouteReader(bytes.NewReader(data), "bench", "")
			ev, err = rr.Next()
		}
		if err != nil {
			b.Fatal(err)
		}
		if f != nil {
			f(rr, ev)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "routes/s")
}

// BenchmarkRIBEntries decodes TABLE_DUMP_V2 RIB entries with their
// attributes: one op is one route.
func BenchmarkRIBEntries(b *testing.B) {
	data, err := benchRIB()
	var sink int
	benchRoutes(b, data, err, func(rr *mrt.RouteReader, ev *bgp.Event) { sink += len(ev.Attrs.Path.Segments) })
	_ = sink
}

// BenchmarkUpdates decodes BGP4MP_ET updates: one op is one route
// (announced or withdrawn prefix).
func BenchmarkUpdates(b *testing.B) {
	data, err := benchUpdates()
	benchRoutes(b, data, err, nil)
}

// BenchmarkBgpdumpLine decodes RIB entries and formats them as
// `bgpdump -m` lines: one op is one line.
func BenchmarkBgpdumpLine(b *testing.B) {
	data, err := benchRIB()
	var line []byte
	benchRoutes(b, data, err, func(rr *mrt.RouteReader, ev *bgp.Event) { line = mrt.AppendBgpdumpLine(line[:0], rr, ev) })
}

// BenchmarkBgpdumpDumper is BenchmarkBgpdumpLine through BgpdumpDumper:
// RIB attributes decoded only when their line's tail is not cached. One op
// is one line.
func BenchmarkBgpdumpDumper(b *testing.B) {
	data, err := benchRIB()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	d := mrt.NewBgpdumpDumper(mrt.NewRouteReader(bytes.NewReader(data), "bench", ""))
	var line []byte
	for i := 0; i < b.N; i++ {
		line, err = d.Next(line[:0])
		if err == io.EOF {
			d = mrt.NewBgpdumpDumper(mrt.NewRouteReader(bytes.NewReader(data), "bench", ""))
			line, err = d.Next(line[:0])
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkWriteBgpdump is `mrt dump -m` in process: WriteBgpdump of the
// generated RIB to a buffered io.Discard, on GOMAXPROCS workers (-cpu 1:
// one goroutine). One op is one line; the figure is for the whole RIB.
func BenchmarkWriteBgpdump(b *testing.B) {
	data, err := benchRIB()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	lines := 0
	for lines < b.N {
		rr := mrt.NewRouteReader(bytes.NewReader(data), "bench", "")
		w := bufio.NewWriterSize(io.Discard, 1<<20)
		if _, err := mrt.WriteBgpdump(context.Background(), w, rr, runtime.GOMAXPROCS(0), func(error) {}); err != nil {
			b.Fatal(err)
		}
		st := rr.Stats()
		lines += int(st.RIBEntries)
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(lines), "ns/line")
}

// BenchmarkWriteRIB measures the writer: one op is one RIB entry.
func BenchmarkWriteRIB(b *testing.B) {
	data, err := benchRIB()
	if err != nil {
		b.Fatal(err)
	}
	// Collect one record's worth of attributes to write over and over.
	rr := mrt.NewRouteReader(bytes.NewReader(data), "bench", "")
	var entries []mrt.RIBEntryOut
	for len(entries) < 40 {
		ev, err := rr.Next()
		if err != nil {
			b.Fatal(err)
		}
		entries = append(entries, mrt.RIBEntryOut{PeerIndex: uint16(len(entries)), Attrs: ev.Attrs.Clone()})
	}
	w := mrt.NewWriter(io.Discard)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for n < b.N {
		if err := w.WriteRIB(ev0Time, uint32(n), benchPrefix, entries); err != nil {
			b.Fatal(err)
		}
		n += len(entries)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "routes/s")
}

var (
	ev0Time     = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	benchPrefix = netip.MustParsePrefix("10.0.0.0/8")
)
