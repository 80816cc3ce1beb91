package compress

import (
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// mrtLike returns n bytes of deterministic MRT-like data: BGP4MP update
// records with a common header, peers, AS paths and prefixes drawn from
// small pools, so it compresses like real archives.
func mrtLike(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 42))
	out := make([]byte, 0, n+4096)
	ts := uint32(1427846400)
	peers := make([][4]byte, 40)
	for i := range peers {
		binary.BigEndian.PutUint32(peers[i][:], rng.Uint32())
	}
	asns := make([]uint32, 300)
	for i := range asns {
		asns[i] = rng.Uint32N(400000)
	}
	for len(out) < n {
		ts += rng.Uint32N(3)
		var body []byte
		peer := peers[rng.IntN(len(peers))]
		body = binary.BigEndian.AppendUint32(body, asns[rng.IntN(8)])
		body = binary.BigEndian.AppendUint32(body, 6447)
		body = binary.BigEndian.AppendUint16(body, 0)
		body = binary.BigEndian.AppendUint16(body, 1)
		body = append(body, peer[:]...)
		body = append(body, 128, 223, 51, 102)
		body = append(body, bytes.Repeat([]byte{0xff}, 16)...)
		pathLen := 2 + rng.IntN(6)
		attrs := []byte{0x40, 1, 1, byte(rng.IntN(3)), 0x50, 2, 0, byte(2 + 4*pathLen), 2, byte(pathLen)}
		for i := 0; i < pathLen; i++ {
			attrs = binary.BigEndian.AppendUint32(attrs, asns[rng.IntN(len(asns))])
		}
		attrs = append(attrs, 0x40, 3, 4)
		attrs = append(attrs, peer[:]...)
		var nlri []byte
		for k := 1 + rng.IntN(4); k > 0; k-- {
			plen := byte(16 + rng.IntN(9))
			nlri = append(nlri, plen, byte(rng.IntN(224)), byte(rng.IntN(256)), byte(rng.IntN(256)))
		}
		msgLen := 19 + 2 + 2 + len(attrs) + len(nlri)
		body = binary.BigEndian.AppendUint16(body, uint16(msgLen))
		body = append(body, 2, 0, 0)
		body = binary.BigEndian.AppendUint16(body, uint16(len(attrs)))
		body = append(body, attrs...)
		body = append(body, nlri...)
		out = binary.BigEndian.AppendUint32(out, ts)
		out = binary.BigEndian.AppendUint16(out, 16)
		out = binary.BigEndian.AppendUint16(out, 4)
		out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out[:n]
}

// randomBytes returns n deterministic incompressible bytes.
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// textLike returns n bytes of deterministic log-like text.
func textLike(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 9))
	words := []string{"announce", "withdraw", "prefix", "peer", "AS6447", "10.0.0.0/8", "route-views", "update", "keepalive", "\n"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

// runCmd pipes in through an external program, skipping the test if the
// program is missing.
func runCmd(tb testing.TB, pkg string, in []byte, name string, args ...string) []byte {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		tb.Skipf("%s not found: install Debian package %s", name, pkg)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s %v: %v", name, args, err)
	}
	return out
}

// bzip2Cmd compresses with the bzip2 command.
func bzip2Cmd(tb testing.TB, in []byte, args ...string) []byte {
	return runCmd(tb, "bzip2", in, "bzip2", append([]string{"-c"}, args...)...)
}

// stdBzip2 decodes with compress/bzip2, returning what it produced before
// any error.
func stdBzip2(in []byte) ([]byte, error) {
	return io.ReadAll(bzip2.NewReader(bytes.NewReader(in)))
}

// ourBzip2 decodes with NewBzip2Reader.
func ourBzip2(in []byte, workers int) ([]byte, error) {
	r := NewBzip2Reader(bytes.NewReader(in), workers)
	defer r.Close()
	return io.ReadAll(r)
}

// samplePeakHeap samples the live heap (bytes in heap objects, including
// garbage not yet collected) every millisecond until the returned function
// is called, which returns the peak seen.
func samplePeakHeap() func() uint64 {
	runtime.GC()
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}
