package source

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/mrt"
)

// collectorRE matches RIS names (rrc00) and RouteViews names: route-views2,
// route-views6, route-views.linx, route-views.sydney, ...
var collectorRE = regexp.MustCompile(`(rrc\d\d|route-views(?:\d+|\.[a-z][a-z0-9]*)?)(?:[./_-]|$)`)

// CollectorOf guesses the route collector from a file path ("rrc06",
// "route-views2"), or "" when the path does not name one. Files of one
// collector must map to the same name so their peers are the same
// vantage points.
func CollectorOf(path string) string {
	m := collectorRE.FindStringSubmatch(filepath.ToSlash(path))
	if m == nil {
		return ""
	}
	return m[1]
}

// File is an MRT file (or URL, or "-") as a Source. Its events' times are
// checked (CheckTime): an implausible one is a *TimeError naming the file
// and the record's offset, and the file goes on.
type File struct {
	rr   *mrt.RouteReader
	rc   io.Closer
	name string
	prev time.Time
	wall func() time.Time
	// The fast path of the time check: events within [lo, hi] (unix
	// nanoseconds) need no other test. The window is a minute narrower
	// than CheckTime's around a reference within a minute of prev, and
	// is recomputed when an event falls outside it or every 4,096 events
	// (the wall clock moves).
	lo, hi int64
	n      int
	// skipped takes the deferred attributes of a RIB entry refused for its
	// time (see DeferRIBAttrs), so that their errors count as before.
	skipped bgp.Attrs
}

// DeferRIBAttrs leaves the attributes of the file's TABLE_DUMP_V2 RIB
// entries undecoded after Next, for DecodeRIBAttrs to decode into the
// caller's memory (mrt.RouteReader.DeferRIBAttrs).
func (f *File) DeferRIBAttrs() { f.rr.DeferRIBAttrs() }

// DecodeRIBAttrs decodes the attributes of the RIB entry Next last
// returned into dst, if they were left undecoded, and reports whether it
// did (mrt.RouteReader.DecodeRIBAttrs).
func (f *File) DecodeRIBAttrs(dst *bgp.Attrs) bool { return f.rr.DecodeRIBAttrs(dst) }

// OpenFile opens an MRT file of any compression as a Source of the given
// collector's peers.
func OpenFile(ctx context.Context, name, collector string) (*File, error) {
	rc, err := compress.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return &File{rr: mrt.NewRouteReader(rc, name, collector), rc: rc, name: name, wall: time.Now}, nil
}

// NewFile reads MRT data from r (already decompressed, or compressed in any
// format compress.NewReader detects) as a Source named name.
func NewFile(r io.Reader, name, collector string) *File {
	return &File{rr: mrt.NewRouteReader(r, name, collector), name: name, wall: time.Now}
}

// OpenFiles opens every file, each of the collector its path names; on an
// error it closes those opened.
func OpenFiles(ctx context.Context, names []string) ([]*File, error) {
	var out []*File
	for _, n := range names {
		fs, err := OpenFile(ctx, n, CollectorOf(n))
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("open %s: %w", n, err)
		}
		out = append(out, fs)
	}
	return out, nil
}

// Name returns the file's name.
func (f *File) Name() string { return f.name }

// Reader returns the MRT route reader (for its statistics).
func (f *File) Reader() *mrt.RouteReader { return f.rr }

// ReadAhead reports true: a file shares nothing with other sources, so
// Merge reads it on a goroutine of its own.
func (f *File) ReadAhead() bool { return true }

// Next returns the next route event of the file.
func (f *File) Next() (*bgp.Event, error) {
	for {
		ev, err := f.rr.Next()
		if err != nil {
			return nil, err
		}
		f.n++
		if ns := ev.Time.UnixNano(); ns >= f.lo && ns <= f.hi && f.n&0xfff != 0 {
			f.prev = ev.Time
			return ev, nil
		}
		var wall time.Time
		if f.wall != nil {
			wall = f.wall()
		}
		if why := CheckTime(ev.Time, f.prev, wall); why != "" {
			f.rr.DecodeRIBAttrs(&f.skipped)
			return nil, &TimeError{Source: f.name, Offset: f.rr.Record().Offset, Peer: ev.Peer, Time: ev.Time, Reason: why}
		}
		f.prev = ev.Time
		f.lo = max(ev.Time.Add(-MaxJump+time.Minute).UnixNano(), Earliest.UnixNano())
		f.hi = ev.Time.Add(MaxJump - time.Minute).UnixNano()
		if !wall.IsZero() {
			f.hi = min(f.hi, wall.Add(MaxFuture).UnixNano())
		}
		return ev, nil
	}
}

// Close closes the file.
func (f *File) Close() error {
	if f.rc == nil {
		return nil
	}
	return f.rc.Close()
}

// Undecoded adds the file's records that were not decoded, by type name.
func (f *File) Undecoded(into map[string]int64) {
	for k, n := range f.rr.Stats().Skipped {
		into[k.String()] += n
	}
}
