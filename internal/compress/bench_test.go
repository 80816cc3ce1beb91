package compress

import (
	"bytes"
	"compress/bzip2"
	"io"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// benchSize is the amount of MRT-like data the benchmarks decode.
const benchSize = 32 << 20

var bench struct {
	once              sync.Once
	raw, bz2, gz, zst []byte
	haveBzip2Cmd      bool
}

// benchData generates the benchmark data once, deterministically, and
// compresses it with the bzip2 command (-9, as RouteViews), gzip and zstd.
func benchData(b *testing.B) {
	bench.once.Do(func() {
		bench.raw = mrtLike(benchSize, 99)
		if _, err := exec.LookPath("bzip2"); err == nil {
			bench.haveBzip2Cmd = true
			bench.bz2 = bzip2Cmd(b, bench.raw, "-9")
		}
		bench.gz = gzipBytes(b, bench.raw)
		bench.zst = zstdBytes(b, bench.raw)
	})
}

func benchDecode(b *testing.B, comp []byte, open func(io.Reader) io.Reader) {
	b.SetBytes(int64(len(bench.raw)))
	b.ReportMetric(float64(len(comp))/float64(len(bench.raw)), "ratio")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := open(bytes.NewReader(comp))
		n, err := io.Copy(io.Discard, r)
		if err != nil || n != int64(len(bench.raw)) {
			b.Fatalf("decoded %d bytes: %v", n, err)
		}
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
	}
}

func needBzip2(b *testing.B) {
	benchData(b)
	if !bench.haveBzip2Cmd {
		b.Skip("bzip2 command missing: install Debian package bzip2")
	}
}

// BenchmarkBzip2Parallel decodes with NewBzip2Reader using GOMAXPROCS workers
// (set with -cpu).
func BenchmarkBzip2Parallel(b *testing.B) {
	needBzip2(b)
	benchDecode(b, bench.bz2, func(r io.Reader) io.Reader { return NewBzip2Reader(r, 0) })
}

// BenchmarkBzip2Stdlib decodes with compress/bzip2.
func BenchmarkBzip2Stdlib(b *testing.B) {
	needBzip2(b)
	benchDecode(b, bench.bz2, bzip2.NewReader)
}

// BenchmarkGzip decodes gzip through NewReader (klauspost/compress).
func BenchmarkGzip(b *testing.B) {
	benchData(b)
	benchDecode(b, bench.gz, func(r io.Reader) io.Reader {
		rc, _, err := NewReader(r)
		if err != nil {
			b.Fatal(err)
		}
		return rc
	})
}

// BenchmarkZstd decodes zstd through NewReader (klauspost/compress).
func BenchmarkZstd(b *testing.B) {
	benchData(b)
	benchDecode(b, bench.zst, func(r io.Reader) io.Reader {
		rc, _, err := NewReader(r)
		if err != nil {
			b.Fatal(err)
		}
		return rc
	})
}

// BenchmarkBzip2Ratio alternates compress/bzip2 and NewBzip2Reader on the
// same data, so both see the same load on a shared machine, and reports the
// speed-up (stdlib time / parallel time) as "x-stdlib".
func BenchmarkBzip2Ratio(b *testing.B) {
	needBzip2(b)
	var std, par time.Duration
	decode := func(r io.Reader) time.Duration {
		t0 := time.Now()
		n, err := io.Copy(io.Discard, r)
		if err != nil || n != int64(len(bench.raw)) {
			b.Fatalf("decoded %d bytes: %v", n, err)
		}
		return time.Since(t0)
	}
	b.SetBytes(int64(len(bench.raw)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		std += decode(bzip2.NewReader(bytes.NewReader(bench.bz2)))
		r := NewBzip2Reader(bytes.NewReader(bench.bz2), 0)
		par += decode(r)
		r.Close()
	}
	b.ReportMetric(float64(std)/float64(par), "x-stdlib")
	b.ReportMetric(float64(len(bench.raw))*float64(b.N)/par.Seconds()/1e6, "parallel-MB/s")
	b.ReportMetric(float64(len(bench.raw))*float64(b.N)/std.Seconds()/1e6, "stdlib-MB/s")
}
