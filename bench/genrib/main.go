// Command genrib writes a full-size synthetic RIB dump (TABLE_DUMP_V2) for
// benchmarks: by default 1,000,000 IPv4 prefixes seen by 40 peers, about
// 39 M RIB entries and 3 GB. The output depends only on the flags.
//
//	genrib -o bench/out/rib.1m.mrt [-prefixes N] [-peers N] [-seed N] [-updates N -updates-o FILE]
//
// With -updates N it also writes N BGP4MP_ET update messages of the same
// peers (mrtgen.WriteUpdates, one every 10 ms from the RIB's time) to
// -updates-o.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

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
	flag.Parse()
	if *out == "" || flag.NArg() > 0 || (*updates > 0) != (*updOut != "") {
		flag.Usage()
		os.Exit(2)
	}
	opt := mrtgen.Options{Seed: *seed, Prefixes: *prefixes, Peers: *peers}
	err := write(*out, func(w *mrt.Writer) (int64, error) { return mrtgen.WriteRIB(w, opt) })
	if err == nil && *updates > 0 {
		err = write(*updOut, func(w *mrt.Writer) (int64, error) { return mrtgen.WriteUpdates(w, opt, *updates) })
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
