package archivetest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/mrt"
	"github.com/blackout-bgp/blackout/internal/mrt/mrtgen"
	"github.com/blackout-bgp/blackout/internal/source/archive"
)

// Synthetic describes a generated RIPE RIS mirror of any size: for each
// collector, a RIB dump (internal/mrt/mrtgen) at Start and the 5-minute
// update files from Start for Span, each with churn on the RIB's routes.
//
// Every collector holds the same RIB (the same prefixes, peers and
// paths: a vantage point is the collector and the peer, so they are
// distinct vantage points) and update files of its own. Each peer sends
// UpdatesPerPeer update messages a second, one prefix each, evenly
// spread over each file's five minutes: a tenth are withdrawals of a
// route that comes back (the same path) a random 10 s to 10 min later, a
// flap; the rest move a route to another transit, keeping its origin.
// So the view churns all day but holds about the RIB's routes.
type Synthetic struct {
	Collectors []string  // RIS collector names ("rrc00")
	Start      time.Time // the RIB's time: a RIS dump time (00:00, 08:00 or 16:00 UTC)
	Span       time.Duration
	Prefixes   int // IPv4 prefixes of the RIB
	Peers      int // peers of each collector, full feeds
	// UpdatesPerPeer is update messages per peer per second (default 3).
	UpdatesPerPeer float64
	Seed           uint64
	// Level is the gzip level (default gzip.BestSpeed).
	Level int
}

// SyntheticStats counts what Write wrote.
type SyntheticStats struct {
	Files     int
	RIBRoutes int64 // per collector
	Updates   int64 // update messages, all collectors
}

// Write generates the mirror's files, in RIS layout, through create
// (called with each file's path below the RIS base, "rrc00/2025.01/
// bview.20250101.0000.gz"; the caller closes nothing: Write closes what
// create returns).
func (o Synthetic) Write(ctx context.Context, create func(path string) (io.WriteCloser, error)) (SyntheticStats, error) {
	var st SyntheticStats
	if o.UpdatesPerPeer == 0 {
		o.UpdatesPerPeer = 3
	}
	if o.Level == 0 {
		o.Level = gzip.BestSpeed
	}
	if len(o.Collectors) == 0 || o.Prefixes <= 0 || o.Peers <= 0 {
		return st, fmt.Errorf("synthetic mirror: want collectors, prefixes and peers")
	}
	cols := make([]archive.Collector, len(o.Collectors))
	for i, n := range o.Collectors {
		c, ok := archive.Lookup(n)
		if !ok || c.Project != archive.RIS {
			return st, fmt.Errorf("synthetic mirror: %q is not a RIS collector", n)
		}
		cols[i] = c
	}
	opt := mrtgen.Options{Seed: o.Seed, Prefixes: o.Prefixes, Peers: o.Peers, Time: o.Start}
	// The RIB once, compressed in memory, written for every collector.
	var rib bytes.Buffer
	zw, err := gzip.NewWriterLevel(&rib, o.Level)
	if err != nil {
		return st, err
	}
	w := mrt.NewWriter(zw)
	if st.RIBRoutes, err = mrtgen.WriteRIB(w, opt); err != nil {
		return st, fmt.Errorf("synthetic mirror: RIB: %w", err)
	}
	if err := w.Flush(); err != nil {
		return st, err
	}
	if err := zw.Close(); err != nil {
		return st, err
	}
	for _, c := range cols {
		if err := writeFile(create, archive.PathOf(c, archive.RIB, o.Start), func(w io.Writer) error {
			_, err := w.Write(rib.Bytes())
			return err
		}); err != nil {
			return st, err
		}
		st.Files++
	}
	routes, err := ribRoutes(rib.Bytes())
	if err != nil {
		return st, err
	}
	rib = bytes.Buffer{}
	peers := mrtgen.Peers(opt)
	gens := make([]*churn, len(cols))
	for i := range cols {
		gens[i] = &churn{rng: rand.New(rand.NewPCG(o.Seed, uint64(100+i))), routes: routes, peers: peers}
	}
	every := archive.ScheduleOf(archive.RIS).UpdatesEvery
	perFile := int(o.UpdatesPerPeer * float64(o.Peers) * every.Seconds())
	for t := o.Start; t.Before(o.Start.Add(o.Span)); t = t.Add(every) {
		for i, c := range cols {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			var n int64
			err := writeFile(create, archive.PathOf(c, archive.Updates, t), func(out io.Writer) error {
				zw, err := gzip.NewWriterLevel(out, o.Level)
				if err != nil {
					return err
				}
				w := mrt.NewWriter(zw)
				if n, err = gens[i].file(w, t, every, perFile); err != nil {
					return err
				}
				if err := w.Flush(); err != nil {
					return err
				}
				return zw.Close()
			})
			if err != nil {
				return st, err
			}
			st.Files++
			st.Updates += n
		}
	}
	return st, nil
}

// route is a RIB route the churn moves: its prefix and the tail of its
// path (the origin's provider and the origin).
type route struct {
	p    netip.Prefix
	tail []bgp.ASN
}

// ribRoutes reads the prefixes of a gzipped RIB and one path tail each.
func ribRoutes(gz []byte) ([]route, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	rr := mrt.NewRouteReader(zr, "rib", "")
	var out []route
	var last netip.Prefix
	for {
		ev, err := rr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("synthetic mirror: reading the RIB back: %w", err)
		}
		if ev.Prefix != last {
			last = ev.Prefix
			flat := ev.Attrs.Path.AppendFlat(nil)
			out = append(out, route{p: ev.Prefix, tail: flat[max(0, len(flat)-2):]})
		}
	}
}

// churn is one collector's update generator; flaps carry over files.
type churn struct {
	rng    *rand.Rand
	routes []route
	peers  []bgp.Peer
	flaps  []flap // withdrawn routes to announce again, in due order
	attrs  bgp.Attrs
	path   []bgp.ASN
}

type flap struct {
	due  time.Time
	peer int
	r    int
}

var transits = []bgp.ASN{174, 1299, 2914, 3257, 3356, 6453, 6762, 7018, 7000, 7003, 262147, 7009}

// file writes n update messages over [t, t+span), then any flap due in
// it; it returns the messages written.
func (c *churn) file(w *mrt.Writer, t time.Time, span time.Duration, n int) (int64, error) {
	local := netip.AddrFrom4([4]byte{192, 0, 2, 254})
	var total int64
	step := span / time.Duration(max(n, 1))
	end := t.Add(span)
	announce := func(tm time.Time, pi, ri int, transit bgp.ASN) error {
		r := c.routes[ri]
		c.path = append(append(c.path[:0], c.peers[pi].AS, transit), r.tail...)
		a := &c.attrs
		a.Reset()
		a.Set(bgp.AttrOrigin)
		a.Set(bgp.AttrASPath)
		a.Set(bgp.AttrNextHop)
		a.NextHop = c.peers[pi].Addr
		a.Path.Segments = append(a.Path.Segments, bgp.Segment{Type: bgp.ASSequence, ASNs: c.path})
		total++
		return w.WriteUpdate(tm, c.peers[pi], local, 12654, nil, a, []netip.Prefix{r.p})
	}
	due := func(before time.Time) error {
		for len(c.flaps) > 0 && c.flaps[0].due.Before(before) {
			f := c.flaps[0]
			c.flaps = c.flaps[1:]
			if err := announce(f.due, f.peer, f.r, transits[f.r%len(transits)]); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range n {
		tm := t.Add(time.Duration(i) * step)
		if err := due(tm); err != nil {
			return total, err
		}
		pi, ri := c.rng.IntN(len(c.peers)), c.rng.IntN(len(c.routes))
		if c.rng.IntN(10) == 0 {
			total++
			if err := w.WriteUpdate(tm, c.peers[pi], local, 12654, []netip.Prefix{c.routes[ri].p}, nil, nil); err != nil {
				return total, err
			}
			f := flap{due: tm.Add(10*time.Second + time.Duration(c.rng.IntN(590))*time.Second), peer: pi, r: ri}
			k := len(c.flaps)
			for k > 0 && c.flaps[k-1].due.After(f.due) {
				k--
			}
			c.flaps = append(c.flaps, flap{})
			copy(c.flaps[k+1:], c.flaps[k:])
			c.flaps[k] = f
			continue
		}
		if err := announce(tm, pi, ri, transits[c.rng.IntN(len(transits))]); err != nil {
			return total, err
		}
	}
	return total, due(end)
}

func writeFile(create func(string) (io.WriteCloser, error), path string, body func(io.Writer) error) error {
	f, err := create(path)
	if err != nil {
		return fmt.Errorf("synthetic mirror: %s: %w", path, err)
	}
	err = body(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("synthetic mirror: %s: %w", path, err)
	}
	return nil
}

// ServeSynthetic generates a small synthetic mirror in memory and serves
// it (RIS layout below RISPrefix) until tb ends.
func ServeSynthetic(tb testing.TB, o Synthetic) *Server {
	tb.Helper()
	files := map[string][]byte{}
	_, err := o.Write(context.Background(), func(path string) (io.WriteCloser, error) {
		return &memFile{files: files, path: RISPrefix + "/" + path}, nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	s := Serve(&Data{Files: files})
	tb.Cleanup(s.Close)
	return s
}

type memFile struct {
	bytes.Buffer
	files map[string][]byte
	path  string
}

func (m *memFile) Close() error { m.files[m.path] = m.Bytes(); return nil }
