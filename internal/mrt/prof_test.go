package mrt_test

import (
	"bufio"
	"bytes"
	"context"
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
		out := bufio.NewWriterSize(io.Discard, 1<<20)
		mrt.WriteBgpdump(context.Background(), out, rr, 1, func(error) {})
		out.Flush()
	}
}
