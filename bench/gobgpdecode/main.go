// Command gobgpdecode decodes an MRT file with gobgp v4's pkg/packet/mrt,
// the way gobgp's own `mrt inject` reads one, and prints the number of
// routes. It is the GoBGP side of bench/mrt.sh.
//
// Usage: gobgpdecode FILE   (gzip, bzip2 or zstd are decompressed with the
// same code as blackout's, so that only the MRT decoding differs)
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/packet/mrt"

	"github.com/blackout-bgp/blackout/internal/compress"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gobgpdecode FILE")
		os.Exit(2)
	}
	routes, errs, err := decode(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "gobgpdecode:", err)
		os.Exit(1)
	}
	fmt.Printf("%d routes, %d records not decoded\n", routes, errs)
}

func decode(name string) (routes, errs int64, err error) {
	rc, err := compress.Open(context.Background(), name)
	if err != nil {
		return 0, 0, err
	}
	defer rc.Close()
	r := bufio.NewReaderSize(rc, 1<<20)
	hdr := make([]byte, mrt.MRT_COMMON_HEADER_LEN)
	var body []byte
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			if err == io.EOF {
				return routes, errs, nil
			}
			return routes, errs, fmt.Errorf("%s: header: %w", name, err)
		}
		h, err := mrt.ParseHeader(hdr)
		if err != nil {
			return routes, errs, fmt.Errorf("%s: %w", name, err)
		}
		if cap(body) < int(h.Len) {
			body = make([]byte, h.Len)
		}
		body = body[:h.Len]
		if _, err := io.ReadFull(r, body); err != nil {
			return routes, errs, fmt.Errorf("%s: body: %w", name, err)
		}
		msg, err := mrt.ParseBody(body, h)
		if err != nil {
			errs++
			continue
		}
		switch b := msg.Body.(type) {
		case *mrt.Rib:
			routes += int64(len(b.Entries))
		case *mrt.BGP4MPMessage:
			u, ok := b.BGPMessage.Body.(*bgp.BGPUpdate)
			if !ok {
				continue
			}
			routes += int64(len(u.WithdrawnRoutes) + len(u.NLRI))
			for _, a := range u.PathAttributes {
				switch a := a.(type) {
				case *bgp.PathAttributeMpReachNLRI:
					routes += int64(len(a.Value))
				case *bgp.PathAttributeMpUnreachNLRI:
					routes += int64(len(a.Value))
				}
			}
		}
	}
}
