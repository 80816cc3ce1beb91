// Command mrtroutes is blackout's side of bench/mrt.sh: it times the
// pieces the script compares with other tools.
//
//	mrtroutes routes FILE        decode every route with mrt.RouteReader, print the count
//	mrtroutes bzip2 ours FILE    decompress with compress.NewBzip2Reader to nowhere
//	mrtroutes bzip2 stdlib FILE  decompress with Go's compress/bzip2 to nowhere
//
// FILE may be plain, gzip, bzip2 or zstd (detected by content).
package main

import (
	"bufio"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/mrt"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 3 && os.Args[1] == "routes":
		err = routes(os.Args[2])
	case len(os.Args) == 4 && os.Args[1] == "bzip2":
		err = bunzip(os.Args[2], os.Args[3])
	default:
		fmt.Fprintln(os.Stderr, "usage: mrtroutes routes FILE | mrtroutes bzip2 ours|stdlib FILE")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mrtroutes:", err)
		os.Exit(1)
	}
}

func routes(name string) error {
	rc, err := compress.Open(context.Background(), name)
	if err != nil {
		return err
	}
	defer rc.Close()
	rr := mrt.NewRouteReader(rc, name, "")
	var n, errs int64
	for {
		_, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var s interface{ Skippable() bool }
			if !errors.As(err, &s) || !s.Skippable() {
				return err
			}
			errs++
			continue
		}
		n++
	}
	fmt.Printf("%d routes, %d record errors\n", n, errs)
	return nil
}

func bunzip(impl, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader
	switch impl {
	case "ours":
		rc := compress.NewBzip2Reader(f, 0)
		defer rc.Close()
		r = rc
	case "stdlib":
		r = bzip2.NewReader(bufio.NewReaderSize(f, 1<<20))
	default:
		return fmt.Errorf("unknown bzip2 implementation %q", impl)
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Printf("%d bytes\n", n)
	return nil
}
