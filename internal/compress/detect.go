package compress

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// sniffLen is how many leading bytes detection looks at.
const sniffLen = 10

var (
	gzipMagic    = []byte{0x1f, 0x8b}
	zstdMagic    = []byte{0x28, 0xb5, 0x2f, 0xfd}
	bzip2Block   = []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}
	bzip2EOS     = []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90}
	bzip2Header  = []byte("BZh")
	zstdSkipMask = uint32(0xfffffff0)
	zstdSkip     = uint32(0x184d2a50)
)

// detect returns the format of data starting with b (b may be short when the
// input is short).
func detect(b []byte) Format {
	switch {
	case bytes.HasPrefix(b, gzipMagic):
		return Gzip
	case bytes.HasPrefix(b, zstdMagic):
		return Zstd
	case len(b) >= 4 && binary.LittleEndian.Uint32(b)&zstdSkipMask == zstdSkip:
		return Zstd // skippable frame, then zstd frames
	case len(b) >= 4 && bytes.HasPrefix(b, bzip2Header) && b[3] >= '1' && b[3] <= '9':
		if len(b) < sniffLen {
			return Bzip2 // too short to check further; the decoder will judge
		}
		if bytes.HasPrefix(b[4:], bzip2Block) || bytes.HasPrefix(b[4:], bzip2EOS) {
			return Bzip2
		}
	}
	return Plain
}

// NewReader wraps r, detecting compression from its first bytes (plain passes
// through). Closing the result releases the decoder's goroutines and buffers
// but does not close r.
func NewReader(r io.Reader) (io.ReadCloser, Format, error) {
	cr := &countReader{r: r}
	br := bufio.NewReaderSize(cr, 64<<10)
	head, err := br.Peek(sniffLen)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, Plain, fmt.Errorf("compress: reading header: %w", err)
	}
	f := detect(head)
	switch f {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, f, fmt.Errorf("gzip: %w", err)
		}
		return &streamReader{r: zr, close: zr.Close, name: "gzip", n: cr}, f, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, f, fmt.Errorf("zstd: %w", err)
		}
		return &streamReader{r: zr, close: func() error { zr.Close(); return nil }, name: "zstd", n: cr}, f, nil
	case Bzip2:
		return NewBzip2Reader(br, 0), f, nil
	}
	return io.NopCloser(br), Plain, nil
}

// countReader counts the bytes read from the compressed input.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// streamReader adapts a gzip or zstd decoder: errors are wrapped with the
// format and an approximate compressed offset (bytes read so far).
type streamReader struct {
	r     io.Reader
	close func() error
	name  string
	n     *countReader
}

func (s *streamReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: after %d compressed bytes: %w", s.name, s.n.n, err)
	}
	return n, err
}

func (s *streamReader) Close() error { return s.close() }
