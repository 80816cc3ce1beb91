// Package archivetest builds a local mirror of the RIPE RIS and RouteViews
// archives for tests: generated MRT files with a known outage (from
// internal/scenario), laid out and compressed as each archive does (gzip
// for RIS, bzip2 for RouteViews), served by an httptest server on
// 127.0.0.1 that counts requests, can answer 404, cut a transfer half way
// or hold requests to measure concurrency.
package archivetest

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/scenario"
	"github.com/blackout-bgp/blackout/internal/source/archive"
)

// ErrNoBzip2 is returned by Build when the bzip2 program is missing;
// tests skip with "install Debian package bzip2".
var ErrNoBzip2 = errors.New("bzip2 not found: install Debian package bzip2")

// The mirror's world: data from Start for 12 hours, crossing the end of
// 2014 (so month directories change), one RIS collector (rrc00) and one
// RouteViews collector (route-views2) seeing the same world through their
// own peers; North Korea (AS131279 via AS4837) goes dark at OutageStart
// and comes back at OutageEnd.
var (
	Start       = time.Date(2014, 12, 31, 16, 0, 0, 0, time.UTC)
	End         = Start.Add(12 * time.Hour)
	OutageStart = time.Date(2014, 12, 31, 22, 15, 0, 0, time.UTC)
	OutageEnd   = time.Date(2015, 1, 1, 0, 45, 0, 0, time.UTC)
)

// Data is a mirror's content: URL paths (below the server's root) to bytes.
type Data struct {
	Files map[string][]byte
	Truth []scenario.TruthEvent
}

// Collectors of the mirror.
var (
	RIS        = archive.Collector{Name: "rrc00", Project: archive.RIS}
	RouteViews = archive.Collector{Name: "route-views2", Project: archive.RouteViews}
)

// Prefixes of the two archives below the server's root.
const (
	RISPrefix        = "/ris"
	RouteViewsPrefix = "/routeviews"
)

var (
	buildOnce sync.Once
	built     *Data
	buildErr  error
)

// Build generates the mirror's files once per process (about a second)
// and returns them; callers must not modify the maps' byte slices.
func Build(ctx context.Context) (*Data, error) {
	buildOnce.Do(func() { built, buildErr = build(ctx) })
	return built, buildErr
}

func config(collector string, every time.Duration) scenario.Config {
	var kp []netip.Prefix
	for i := 176; i <= 179; i++ {
		kp = append(kp, netip.PrefixFrom(netip.AddrFrom4([4]byte{175, 45, byte(i), 0}), 24))
	}
	return scenario.Config{
		Name: "archive-mirror", Seed: 7, Start: Start, Duration: End.Sub(Start),
		Countries: 6, Peers: 10, Collector: collector, FileEvery: every,
		Fixed: []scenario.FixedCountry{{Country: "KP", ASes: []scenario.FixedAS{{
			ASN: 131279, Prefixes: kp, Upstreams: []uint32{4837},
		}}}},
		Events: []scenario.EventSpec{{Kind: scenario.CaseOutage, Entity: event.Country, Code: "KP",
			At: OutageStart.Sub(Start), For: OutageEnd.Sub(OutageStart)}},
	}
}

func build(ctx context.Context) (*Data, error) {
	if _, err := exec.LookPath("bzip2"); err != nil {
		return nil, ErrNoBzip2
	}
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		return nil, err
	}
	d := &Data{Files: map[string][]byte{}}
	for _, c := range []struct {
		col    archive.Collector
		prefix string
	}{{RIS, RISPrefix}, {RouteViews, RouteViewsPrefix}} {
		sch := archive.ScheduleOf(c.col.Project)
		g, err := scenario.GenerateInMemory(ctx, config(c.col.Name, sch.UpdatesEvery), db)
		if err != nil {
			return nil, fmt.Errorf("generate %s: %w", c.col.Name, err)
		}
		d.Truth = g.Truth
		raw := map[string][]byte{}
		var stream [][]byte
		for _, f := range g.Files {
			k := archive.Updates
			if f.Kind == "rib" {
				k = archive.RIB
			}
			raw[archive.PathOf(c.col, k, f.Start)] = f.Data
			stream = append(stream, f.Data)
		}
		// The RIBs the collector would have dumped after the first one.
		var times []time.Time
		for t := Start.Add(sch.RIBEvery); !t.After(End); t = t.Add(sch.RIBEvery) {
			times = append(times, t)
		}
		ribs, err := deriveRIBs(stream, c.col.Name, times)
		if err != nil {
			return nil, fmt.Errorf("derive RIBs of %s: %w", c.col.Name, err)
		}
		for i, t := range times {
			raw[archive.PathOf(c.col, archive.RIB, t)] = ribs[i]
		}
		for p, b := range raw {
			var z []byte
			if c.col.Project == archive.RIS {
				z, err = gzipBytes(b)
			} else {
				z, err = bzip2Bytes(ctx, b)
			}
			if err != nil {
				return nil, fmt.Errorf("compress %s: %w", p, err)
			}
			d.Files[c.prefix+"/"+p] = z
		}
	}
	return d, nil
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	err := zw.Close()
	return buf.Bytes(), err
}

func bzip2Bytes(ctx context.Context, b []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "bzip2", "-c")
	cmd.Stdin = bytes.NewReader(b)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bzip2: %v: %s", err, stderr.String())
	}
	return out.Bytes(), nil
}

// deriveRIBs replays the files (a RIB, then updates, uncompressed) and
// writes the table of every peer at each of times as a TABLE_DUMP_V2 RIB.
func deriveRIBs(stream [][]byte, collector string, times []time.Time) ([][]byte, error) {
	type route struct {
		attrs *bgp.Attrs
		since time.Time
	}
	var peers []bgp.Peer
	index := map[bgp.Peer]int{}
	tables := map[int]map[netip.Prefix]route{}
	var out [][]byte
	next := 0
	dump := func() error {
		t := times[next]
		var buf bytes.Buffer
		w := mrt.NewWriter(&buf)
		if err := w.WritePeerIndex(t, netip.MustParseAddr("192.0.2.254"), "", peers); err != nil {
			return err
		}
		byPrefix := map[netip.Prefix][]mrt.RIBEntryOut{}
		for p := range peers {
			for pfx, r := range tables[p] {
				byPrefix[pfx] = append(byPrefix[pfx], mrt.RIBEntryOut{PeerIndex: uint16(p), Originated: r.since, Attrs: r.attrs})
			}
		}
		pfxs := make([]netip.Prefix, 0, len(byPrefix))
		for p := range byPrefix {
			pfxs = append(pfxs, p)
		}
		slices.SortFunc(pfxs, func(a, b netip.Prefix) int {
			if a.Addr().Is4() != b.Addr().Is4() {
				if a.Addr().Is4() {
					return -1
				}
				return 1
			}
			return a.Compare(b)
		})
		for seq, p := range pfxs {
			es := byPrefix[p]
			slices.SortFunc(es, func(a, b mrt.RIBEntryOut) int { return cmp.Compare(a.PeerIndex, b.PeerIndex) })
			if err := w.WriteRIB(t, uint32(seq), p, es); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		out = append(out, buf.Bytes())
		next++
		return nil
	}
	for _, data := range stream {
		rr := mrt.NewRouteReader(bytes.NewReader(data), "generated", collector)
		for {
			ev, err := rr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			for next < len(times) && !ev.Time.Before(times[next]) {
				if err := dump(); err != nil {
					return nil, err
				}
			}
			p, ok := index[ev.Peer]
			if !ok {
				p = len(peers)
				index[ev.Peer] = p
				peers = append(peers, bgp.Peer{Addr: ev.Peer.Addr, AS: ev.Peer.AS})
				tables[p] = map[netip.Prefix]route{}
			}
			switch ev.Kind {
			case bgp.Announce:
				tables[p][ev.Prefix] = route{attrs: ev.Attrs.Clone(), since: ev.Time}
			case bgp.Withdraw:
				delete(tables[p], ev.Prefix)
			case bgp.PeerState:
				if ev.NewState != bgp.StateEstablished {
					clear(tables[p])
				}
			}
		}
	}
	for next < len(times) {
		if err := dump(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Request is one request the server received.
type Request struct {
	Path  string
	Range string
}

// Server serves a mirror's Data on 127.0.0.1.
type Server struct {
	*httptest.Server
	data *Data

	mu          sync.Mutex
	files       map[string][]byte
	requests    []Request
	inflight    int
	maxInflight int
	cut         map[string]int64 // path -> bytes sent before the first response is cut
	fail        map[string]int   // path -> responses still to answer 503
	// Hook, if set, runs at the start of every request, outside the lock
	// (to hold requests in a test of concurrency).
	Hook func(r *http.Request)
}

// Run builds the mirror and serves it until tb ends; it skips tb when
// the bzip2 program (needed for the RouteViews layout) is missing.
func Run(tb testing.TB) *Server {
	tb.Helper()
	d, err := Build(context.Background())
	if errors.Is(err, ErrNoBzip2) {
		tb.Skip("bzip2 is needed to build the RouteViews mirror: install Debian package bzip2")
	}
	if err != nil {
		tb.Fatal(err)
	}
	s := Serve(d)
	tb.Cleanup(s.Close)
	return s
}

// Serve starts a server for d. Close it with Close.
func Serve(d *Data) *Server {
	s := &Server{data: d, files: map[string][]byte{}, cut: map[string]int64{}, fail: map[string]int{}}
	for p, b := range d.Files {
		s.files[p] = b
	}
	s.Server = httptest.NewServer(s)
	return s
}

// Bases returns the archive base URLs of the server.
func (s *Server) Bases() archive.Bases {
	return archive.Bases{RIS: s.URL + RISPrefix, RouteViews: s.URL + RouteViewsPrefix}
}

// Remove makes path (below the root, "/ris/rrc00/...") answer 404.
func (s *Server) Remove(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files, path)
}

// Replace serves b at path.
func (s *Server) Replace(path string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = b
}

// CutAfter makes the first response for path stop after n bytes, the
// connection closed, though its Content-Length announced the whole file.
func (s *Server) CutAfter(path string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cut[path] = n
}

// FailNext makes the next n requests for path answer 503 Service Unavailable.
func (s *Server) FailNext(path string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[path] = n
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// MaxInFlight returns the largest number of requests served at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInflight
}

// ServeHTTP serves the files, with Range support (http.ServeContent).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{Path: r.URL.Path, Range: r.Header.Get("Range")})
	s.inflight++
	s.maxInflight = max(s.maxInflight, s.inflight)
	data, ok := s.files[r.URL.Path]
	cut, isCut := s.cut[r.URL.Path]
	if isCut {
		delete(s.cut, r.URL.Path)
	}
	hook := s.Hook
	failing := s.fail[r.URL.Path] > 0
	if failing {
		s.fail[r.URL.Path]--
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()
	if hook != nil {
		hook(r)
	}
	if failing {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	if isCut {
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:cut])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler) // closes the connection mid-body
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}
