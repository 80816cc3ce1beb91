package mrt_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/blackout-bgp/blackout/internal/mrt"
)

func BenchmarkProfDump(b *testing.B) {
	data, err := os.ReadFile(os.Getenv("PROF_FILE"))
	if err != nil {
		b.Skip(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rr := mrt.NewRouteReader(bytes.NewReader(data), "x", "")
		rr.IncludeMulticast = true
		d := mrt.NewBgpdumpDumper(rr)
		_ = d
		out := bufio.NewWriterSize(io.Discard, 1<<20)
		var line []byte
		for {
			ev, err := rr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				continue
			}
			line = mrt.AppendBgpdumpLine(line[:0], rr, ev)
			out.Write(line)
		}
		out.Flush()
	}
}
