// Command genrib writes a full-size synthetic RIB dump (TABLE_DUMP_V2) for
// benchmarks: by default 1,000,000 IPv4 prefixes seen by 40 peers, about
// 39 M RIB entries and 3 GB. The output depends only on the flags.
//
//	genrib -o bench/out/rib.1m.mrt [-prefixes N] [-peers N] [-seed N]
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
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*out, mrtgen.Options{Seed: *seed, Prefixes: *prefixes, Peers: *peers}); err != nil {
		fmt.Fprintln(os.Stderr, "genrib:", err)
		os.Exit(1)
	}
}

func run(name string, opt mrtgen.Options) error {
	start := time.Now()
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	w := mrt.NewWriter(f)
	n, err := mrtgen.WriteRIB(w, opt)
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
	fmt.Fprintf(os.Stderr, "genrib: %s: %d prefixes, %d entries in %.1fs\n", name, opt.Prefixes, n, time.Since(start).Seconds())
	return nil
}
