// Package compress opens an input (file, standard input or http(s) URL) and
// undoes its compression.
//
// The compression is detected from the first bytes of the input, never from
// its name: gzip (multi-member), bzip2 (multi-stream, decoded in parallel),
// zstd and plain data are supported. RouteViews ships its MRT archives as
// bzip2, and Go's compress/bzip2 is single-threaded and slow, so this package
// splits bzip2 streams into their independent blocks and decodes them on all
// cores (see NewBzip2Reader). Memory stays bounded whatever the input size.
package compress
