// Command archday writes a full-size local mirror of one day of several
// RIPE RIS collectors for bench/archday.sh, and serves it on loopback.
//
//	archday gen -dir DIR [-collectors rrc00,rrc01,rrc03,rrc04] [-day 2025-01-01]
//	            [-prefixes 1000000] [-peers 20] [-rate 3] [-hours 24] [-seed 1]
//	archday serve -dir DIR [-addr 127.0.0.1:0]
//
// gen writes DIR/ris/<collector>/<collector>/YYYY.MM/bview.YYYYMMDD.0000.gz
// (the layout of blackout's archive cache) and the day's 288 five-minute
// update files per collector
// (archivetest.Synthetic: the same mrtgen RIB on every collector, churn
// of -rate update messages per peer per second, a tenth of them flaps).
// DIR is also a blackout archive cache (`--cache DIR`: the files are
// used without a request) and, served, a mirror (`--ris-base
// http://ADDR/ris`). It prints the file count and sizes.
//
// serve prints "http://ADDR" on its first line and serves DIR as a RIS
// mirror below /ris until it is killed; it listens only on 127.0.0.0/8.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/source/archive"
	"github.com/blackout-bgp/blackout/internal/source/archive/archivetest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: archday gen|serve -dir DIR [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(ctx, os.Args[2:])
	case "serve":
		err = serve(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want gen or serve", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "archday:", err)
		os.Exit(1)
	}
}

func gen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("archday gen", flag.ExitOnError)
	dir := fs.String("dir", "", "output directory (required)")
	cols := fs.String("collectors", "rrc00,rrc01,rrc03,rrc04", "RIS collectors")
	day := fs.String("day", "2025-01-01", "the day (UTC)")
	prefixes := fs.Int("prefixes", 1000000, "IPv4 prefixes per RIB")
	peers := fs.Int("peers", 20, "full-feed peers per collector")
	rate := fs.Float64("rate", 3, "update messages per peer per second")
	hours := fs.Int("hours", 24, "hours of update files")
	seed := fs.Uint64("seed", 1, "random seed")
	fs.Parse(args)
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		os.Exit(2)
	}
	start, err := archive.ParseTime(*day)
	if err != nil {
		return err
	}
	o := archivetest.Synthetic{
		Collectors: strings.Split(*cols, ","), Start: start, Span: time.Duration(*hours) * time.Hour,
		Prefixes: *prefixes, Peers: *peers, UpdatesPerPeer: *rate, Seed: *seed,
	}
	// The cache's layout (archive.File.CachePath): ris/<collector>/<path>,
	// the path starting with the collector again.
	root := filepath.Join(*dir, "ris")
	var bytes, ribBytes int64
	t0 := time.Now()
	st, err := o.Write(ctx, func(path string) (io.WriteCloser, error) {
		c, _, _ := strings.Cut(path, "/")
		name := filepath.Join(root, c, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return nil, err
		}
		f, err := os.Create(name + ".tmp")
		if err != nil {
			return nil, err
		}
		return &file{File: f, name: name, n: &bytes, rib: strings.Contains(path, "/bview."), ribN: &ribBytes}, nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("%d files, %.1f MB (RIBs %.1f MB): %d collectors x (%d RIB routes + %d-hour updates), %d update messages in all; %s\n",
		st.Files, float64(bytes)/1e6, float64(ribBytes)/1e6, len(o.Collectors), st.RIBRoutes, *hours, st.Updates, time.Since(t0).Round(time.Second))
	return nil
}

// file is written under a temporary name and renamed into place on Close,
// so that an interrupted gen leaves no file under its real name.
type file struct {
	*os.File
	name string
	n    *int64
	rib  bool
	ribN *int64
	size int64
}

func (f *file) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.size += int64(n)
	return n, err
}

func (f *file) Close() error {
	if err := f.File.Close(); err != nil {
		return err
	}
	*f.n += f.size
	if f.rib {
		*f.ribN += f.size
	}
	return os.Rename(f.File.Name(), f.name)
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("archday serve", flag.ExitOnError)
	dir := fs.String("dir", "", "directory to serve (required)")
	addr := fs.String("addr", "127.0.0.1:0", "listen address, on 127.0.0.0/8")
	fs.Parse(args)
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		os.Exit(2)
	}
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %s: want an address on 127.0.0.0/8", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	// /ris/<collector>/<rest> is the cache's ris/<collector>/<collector>/<rest>.
	files := http.FileServer(http.Dir(*dir))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/ris/")
		c, _, _ := strings.Cut(rest, "/")
		if !ok || c == "" || strings.Contains(c, "..") {
			http.NotFound(w, r)
			return
		}
		r.URL.Path = "/ris/" + c + "/" + rest
		files.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
