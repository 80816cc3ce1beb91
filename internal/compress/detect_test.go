package compress

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func gzipBytes(tb testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func zstdBytes(tb testing.TB, data []byte) []byte {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(data, nil)
}

func TestDetect(t *testing.T) {
	data := mrtLike(50_000, 20)
	bz := seedBytes(t, bzip2Seeds[0])
	cases := []struct {
		name string
		in   []byte
		want Format
	}{
		{"empty", nil, Plain},
		{"one byte", []byte{0x1f}, Plain},
		{"plain mrt", data, Plain},
		{"plain text starting BZh9", []byte("BZh9 is not a bzip2 header here"), Plain},
		{"gzip", gzipBytes(t, data), Gzip},
		{"zstd", zstdBytes(t, data), Zstd},
		{"zstd skippable frame", append([]byte{0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0}, zstdBytes(t, data)...), Zstd},
		{"bzip2", bz, Bzip2},
		{"bzip2 empty stream", seedBytes(t, bzip2Seeds[1]), Bzip2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := detect(c.in); got != c.want {
				t.Errorf("detect = %v, want %v", got, c.want)
			}
			r, f, err := NewReader(bytes.NewReader(c.in))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if f != c.want {
				t.Errorf("NewReader format = %v, want %v", f, c.want)
			}
			if _, err := io.ReadAll(r); err != nil {
				t.Errorf("read: %v", err)
			}
		})
	}
}

func TestFormatString(t *testing.T) {
	for f, s := range map[Format]string{Plain: "plain", Gzip: "gzip", Bzip2: "bzip2", Zstd: "zstd", Format(9): "Format(9)"} {
		if f.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(f), f.String(), s)
		}
	}
}

func TestNewReaderRoundTrip(t *testing.T) {
	data := mrtLike(2_000_000, 21)
	twoGzip := append(gzipBytes(t, data[:1_000_000]), gzipBytes(t, data[1_000_000:])...)
	twoZstd := append(zstdBytes(t, data[:1_000_000]), zstdBytes(t, data[1_000_000:])...)
	for name, in := range map[string][]byte{"plain": data, "gzip multi-member": twoGzip, "zstd two frames": twoZstd} {
		t.Run(name, func(t *testing.T) {
			r, _, err := NewReader(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("got %d bytes, want %d", len(got), len(data))
			}
		})
	}
}

func TestNewReaderTruncated(t *testing.T) {
	data := mrtLike(1_000_000, 22)
	for name, in := range map[string][]byte{"gzip": gzipBytes(t, data), "zstd": zstdBytes(t, data)} {
		t.Run(name, func(t *testing.T) {
			r, _, err := NewReader(bytes.NewReader(in[:len(in)/2]))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v, want io.ErrUnexpectedEOF", err)
			}
			if len(got) == 0 || !bytes.HasPrefix(data, got) {
				t.Fatalf("got %d bytes that are not a prefix of the data", len(got))
			}
		})
	}
}
