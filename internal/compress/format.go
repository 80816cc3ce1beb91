package compress

import "fmt"

// Format is a compression format recognised by NewReader.
type Format int

// The formats NewReader detects.
const (
	// Plain is uncompressed data, passed through unchanged.
	Plain Format = iota
	// Gzip is RFC 1952 gzip, possibly several concatenated members.
	Gzip
	// Bzip2 is bzip2, possibly several concatenated streams.
	Bzip2
	// Zstd is Zstandard, possibly several frames.
	Zstd
)

// String returns the lower-case name of the format.
func (f Format) String() string {
	switch f {
	case Plain:
		return "plain"
	case Gzip:
		return "gzip"
	case Bzip2:
		return "bzip2"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}
