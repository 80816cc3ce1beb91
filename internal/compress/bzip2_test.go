package compress

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestBzip2RoundTrip(t *testing.T) {
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte{'x'}},
		{"text 10k", textLike(10_000, 1)},
		{"mrt 100k", mrtLike(100_000, 2)},
		{"random exactly 100k", randomBytes(100_000, 3)},
		{"random exactly 900k", randomBytes(900_000, 4)},
		{"zeros 3M", make([]byte, 3_000_000)},
		{"mrt 3M", mrtLike(3_000_000, 5)},
		{"random 2M", randomBytes(2_000_000, 6)},
	}
	for _, c := range cases {
		for _, level := range []string{"-1", "-9"} {
			t.Run(c.name+level, func(t *testing.T) {
				comp := bzip2Cmd(t, c.data, level)
				checkSame(t, comp, c.data)
			})
		}
	}
}

// checkSame decodes comp with several worker counts and compress/bzip2 and
// checks all give want.
func checkSame(t *testing.T, comp, want []byte) {
	t.Helper()
	std, err := stdBzip2(comp)
	if err != nil {
		t.Fatalf("compress/bzip2: %v", err)
	}
	if !bytes.Equal(std, want) {
		t.Fatalf("compress/bzip2 output differs from input")
	}
	for _, w := range []int{0, 1, 2, 5} {
		got, err := ourBzip2(comp, w)
		if err != nil {
			t.Fatalf("workers=%d: %v", w, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("workers=%d: output differs: got %d bytes, want %d", w, len(got), len(want))
		}
	}
}

func TestBzip2Concatenated(t *testing.T) {
	a, b := mrtLike(1_500_000, 10), textLike(700_000, 11)
	ca, cb := bzip2Cmd(t, a, "-9"), bzip2Cmd(t, b, "-1")
	empty := bzip2Cmd(t, nil)
	want := append(append([]byte{}, a...), b...)
	t.Run("cat", func(t *testing.T) {
		comp := append(append(append([]byte{}, ca...), empty...), cb...)
		checkSame(t, comp, want)
	})
	for _, tool := range []string{"pbzip2", "lbzip2"} {
		t.Run(tool, func(t *testing.T) {
			args := []string{"-c", "-9", "-p2"}
			if tool == "lbzip2" {
				args = []string{"-c", "-9", "-n", "2"}
			}
			comp := runCmd(t, tool, want, tool, args...)
			checkSame(t, comp, want)
		})
	}
}

// TestBzip2FalseMagic forces extra cuts inside every block, as a chance magic
// inside compressed data would, and checks the pieces are merged back.
func TestBzip2FalseMagic(t *testing.T) {
	falseCuts = true
	defer func() { falseCuts = false }()
	data := mrtLike(2_500_000, 12)
	for _, level := range []string{"-1", "-9"} {
		comp := bzip2Cmd(t, data, level)
		checkSame(t, comp, data)
		comp = append(comp, comp...)
		checkSame(t, comp, append(append([]byte{}, data...), data...))
	}
}

func TestBzip2Truncated(t *testing.T) {
	data := mrtLike(2_000_000, 13)
	comp := bzip2Cmd(t, data, "-1")
	cuts := []int{1, 3, 4, 9, 12, 14, 100, len(comp) / 3, len(comp) / 2, len(comp) - 11, len(comp) - 6, len(comp) - 1}
	for _, cut := range cuts {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			std, stdErr := stdBzip2(comp[:cut])
			if stdErr == nil {
				t.Fatalf("compress/bzip2 accepted a truncated input")
			}
			got, err := ourBzip2(comp[:cut], 2)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v, want io.ErrUnexpectedEOF", err)
			}
			if !bytes.Equal(got, std) {
				t.Fatalf("got %d bytes before the error, compress/bzip2 got %d", len(got), len(std))
			}
			if cut > len(comp)/3 && len(got) == 0 {
				t.Fatalf("no data before the cut")
			}
		})
	}
}

func TestBzip2Corrupt(t *testing.T) {
	data := mrtLike(1_000_000, 14)
	comp := bzip2Cmd(t, data, "-1")
	for _, pos := range []int{0, 2, 3, 5, 10, 40, 1000, len(comp) / 2, len(comp) - 5, len(comp) - 1} {
		bad := append([]byte{}, comp...)
		bad[pos] ^= 0x10
		got, err := ourBzip2(bad, 2)
		if err == nil {
			t.Errorf("byte %d corrupted: no error", pos)
		}
		if !bytes.HasPrefix(data, got) {
			t.Errorf("byte %d corrupted: output is not a prefix of the data", pos)
		}
	}
	// Trailing garbage after a valid stream is an error, as for compress/bzip2.
	bad := append(append([]byte{}, comp...), "garbage!"...)
	if _, err := stdBzip2(bad); err == nil {
		t.Fatal("compress/bzip2 accepted trailing garbage")
	}
	if _, err := ourBzip2(bad, 2); err == nil {
		t.Error("trailing garbage: no error")
	}
}

func TestBzip2ErrorOffset(t *testing.T) {
	data := mrtLike(1_000_000, 15)
	comp := bzip2Cmd(t, data, "-1")
	bad := append([]byte{}, comp...)
	bad[len(comp)/2] ^= 0xff
	_, err := ourBzip2(bad, 2)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("compressed offset")) {
		t.Fatalf("error %v does not give the compressed offset", err)
	}
}

func TestBzip2CloseEarly(t *testing.T) {
	data := mrtLike(3_000_000, 16)
	comp := bzip2Cmd(t, data, "-1")
	r := NewBzip2Reader(bytes.NewReader(comp), 2)
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(buf); err == nil {
		t.Fatal("read after Close succeeded")
	}
}

// TestBzip2MemoryBounded checks the heap stays bounded while decoding
// realistic data and highly expanding blocks (each 900k block of zeros
// decodes to ~45 MB). Only the compressed input and a hash of the expected
// output are kept, so the peak is the decoder's (garbage included).
func TestBzip2MemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	cases := []struct {
		name string
		data func() []byte
	}{
		{"mrt 32MB", func() []byte { return mrtLike(32<<20, 40) }},
		{"zeros 200MB", func() []byte { return make([]byte, 200<<20) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := c.data()
			want := sha256.Sum256(data)
			size := int64(len(data))
			comp := bzip2Cmd(t, data, "-9")
			data = nil
			peak := samplePeakHeap()
			r := NewBzip2Reader(bytes.NewReader(comp), 2)
			h := sha256.New()
			n, err := io.Copy(h, r)
			r.Close()
			p := peak()
			if err != nil || n != size || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("decoded %d bytes (want %d), %v", n, size, err)
			}
			t.Logf("peak heap %.1f MB decoding %d MB from %.1f MB", float64(p)/1e6, size>>20, float64(len(comp))/1e6)
			if p > 64<<20 {
				t.Fatalf("peak heap %d bytes, want under 64 MB", p)
			}
		})
	}
}
