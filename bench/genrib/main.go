// Command genrib writes a full-size synthetic RIB dump (TABLE_DUMP_V2) for
// benchmarks: by default 1,000,000 IPv4 prefixes seen by 40 peers, about
// 39 M RIB entries and 3 GB. The output depends only on the flags.
//
//	genrib -o bench/out/rib.1m.mrt [-prefixes N] [-peers N] [-seed N] [-updates N -updates-o FILE]
//
// With -updates N it also writes N BGP4MP_ET update messages of the RIB's
// peers about the RIB's prefixes to -updates-o, from the RIB's time on, 10
// ms apart: a quarter withdrawals, the rest path changes through another
// transit that keep the prefix's origin (what a day of a collector looks
// like, compressed).
//
// With -crafted-path-len N it writes instead a hostile RIB: -prefixes
// prefixes from one peer, each with a distinct AS path of N ASes (a
// distinct first AS, then the same run of N-1), which compresses to a few
// MB and costs an unbounded interning table gigabytes (bench/longpaths.sh).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/mrt/mrtgen"
)

func main() {
	out := flag.String("o", "", "output file (required)")
	prefixes := flag.Int("prefixes", 1000000, "IPv4 prefixes")
	peers := flag.Int("peers", 40, "collector peers")
	seed := flag.Uint64("seed", 1, "random seed")
	updates := flag.Int("updates", 0, "also write this many update messages")
	updOut := flag.String("updates-o", "", "the update file (with -updates)")
	crafted := flag.Int("crafted-path-len", 0, "write a hostile RIB of distinct paths this long instead")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 || (*updates > 0) != (*updOut != "") {
		flag.Usage()
		os.Exit(2)
	}
	opt := mrtgen.Options{Seed: *seed, Prefixes: *prefixes, Peers: *peers}
	gen := func(w *mrt.Writer) (int64, error) { return mrtgen.WriteRIB(w, opt) }
	if *crafted > 0 {
		gen = func(w *mrt.Writer) (int64, error) { return writeCrafted(w, opt, *crafted) }
	}
	err := write(*out, gen)
	if err == nil && *updates > 0 {
		err = write(*updOut, func(w *mrt.Writer) (int64, error) { return churn(w, *out, opt, *updates) })
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genrib:", err)
		os.Exit(1)
	}
}

// write writes one file through gen, atomically (a temporary file renamed).
func write(name string, gen func(w *mrt.Writer) (int64, error)) error {
	start := time.Now()
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	w := mrt.NewWriter(f)
	n, err := gen(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "genrib: %s: %d routes in %.1fs\n", name, n, time.Since(start).Seconds())
	return nil
}

// writeCrafted writes the hostile RIB of -crafted-path-len.
func writeCrafted(w *mrt.Writer, opt mrtgen.Options, pathLen int) (int64, error) {
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	peer := bgp.Peer{Addr: netip.AddrFrom4([4]byte{192, 0, 2, 1}), AS: 64500}
	if err := w.WritePeerIndex(t, netip.AddrFrom4([4]byte{10, 0, 0, 1}), "", []bgp.Peer{peer}); err != nil {
		return 0, err
	}
	run := make([]bgp.ASN, pathLen)
	for i := range run {
		run[i] = bgp.ASN(100000 + i)
	}
	attrs := &bgp.Attrs{}
	for i := range opt.Prefixes {
		run[0] = bgp.ASN(1000000 + i)
		attrs.Reset()
		attrs.Set(bgp.AttrOrigin)
		attrs.Set(bgp.AttrASPath)
		attrs.Set(bgp.AttrNextHop)
		attrs.NextHop = peer.Addr
		for j := 0; j < len(run); j += 250 {
			attrs.Path.Segments = append(attrs.Path.Segments, bgp.Segment{Type: bgp.ASSequence, ASNs: run[j:min(j+250, len(run))]})
		}
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(11 + i>>16), byte(i >> 8), byte(i), 0}), 24)
		if err := w.WriteRIB(t, uint32(i), p, []mrt.RIBEntryOut{{PeerIndex: 0, Originated: t, Attrs: attrs}}); err != nil {
			return int64(i), err
		}
	}
	return int64(opt.Prefixes), nil
}

// churn writes the updates of -updates about the RIB file rib.
func churn(w *mrt.Writer, rib string, opt mrtgen.Options, n int) (int64, error) {
	f, err := os.Open(rib)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return mrtgen.WriteChurn(w, bufio.NewReaderSize(f, 1<<20), opt, n)
}
