package rislive

import (
	"testing"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/source/rislive/ristest"
)

// BenchmarkDecode decodes the 1,000 real messages, from raw and from JSON.
//
//	go test -run X -bench Decode -benchmem ./internal/source/rislive
func BenchmarkDecode(b *testing.B) {
	for _, mode := range []struct {
		name string
		json bool
	}{{"raw", false}, {"json", true}} {
		b.Run(mode.name, func(b *testing.B) {
			lines := benchLines(b)
			d := Decoder{PreferJSON: mode.json}
			var buf []bgp.Event
			var size int64
			for _, l := range lines {
				size += int64(len(l))
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				for _, l := range lines {
					buf, _, _ = d.Decode(buf[:0], l)
				}
			}
			b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

func benchLines(b *testing.B) [][]byte {
	b.Helper()
	p := ristest.Corpus("ris-live.1k-messages.jsonl")
	if p == "" {
		b.Skip("corpus file rislive/ris-live.1k-messages.jsonl absent (set BLACKOUT_CORPUS)")
	}
	lines, err := ristest.Lines(p)
	if err != nil {
		b.Fatal(err)
	}
	return lines
}
