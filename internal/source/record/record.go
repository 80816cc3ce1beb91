// Package record writes the route events a live source received into
// rotating MRT files, the way a route collector does, so that any live
// period can be replayed exactly with `blackout replay`.
//
// For each collector (a subdirectory named after it, so replay recognises
// its peers as the same vantage points; events with no collector go in the
// directory itself) the recorder writes:
//
//   - updates.YYYYMMDD.HHMM: BGP4MP_ET MESSAGE_AS4 records for
//     announcements and withdrawals (consecutive events of one peer at one
//     time with the same attributes share one UPDATE) and STATE_CHANGE_AS4
//     records for peer sessions, one file per rotation period of data time;
//   - bview.YYYYMMDD.HHMM: at each rotation, a TABLE_DUMP_V2 snapshot
//     (PEER_INDEX_TABLE, then RIB records) of every peer's current table,
//     which the recorder maintains from the events. Routes that came as a
//     RIB snapshot (Event.RIB) are written in a bview at their own time,
//     not as updates.
//
// Files are written under a temporary name and renamed when complete, so a
// replay never reads half a file.
package record

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
	"github.com/blackout-bgp/blackout/internal/mrt"
)

// Config configures a Recorder.
type Config struct {
	Dir   string        // output directory (created if needed)
	Every time.Duration // rotation period of data time (default 15 minutes)
	// CollectorID is the BGP identifier written in PEER_INDEX_TABLE
	// (default 0.0.0.0).
	CollectorID netip.Addr
	// OnError receives non-fatal errors (an event that cannot be encoded);
	// it may be nil.
	OnError func(error)
}

// Recorder writes events into rotating MRT files. It is not safe for
// concurrent use; Tee runs one on its own goroutine.
type Recorder struct {
	cfg     Config
	streams map[string]*stream
	order   []string // collectors in order of first event
	period  time.Time
	now     time.Time
	closed  bool
}

// route is one peer's route to a prefix in the recorder's table.
type route struct {
	peer   uint16
	pathID uint32
	attrs  *bgp.Attrs
	since  time.Time
}

// stream is the files and table of one collector.
type stream struct {
	dir   string
	peers []bgp.Peer
	index map[bgp.Peer]uint16
	table map[netip.Prefix][]route
	ribAt time.Time // RIB events pending a bview, at this time
	f     *os.File
	w     *mrt.Writer
	tmp   string
	final string
	g     group
	prefW []netip.Prefix
	prefA []netip.Prefix
}

// group is an UPDATE being gathered: one peer, one time, withdrawals then
// announcements with one set of attributes.
type group struct {
	open    bool
	peer    bgp.Peer
	t       time.Time
	addPath bool
	attrs   *bgp.Attrs
	wd, ann []wire.NLRI
}

// New returns a Recorder writing into cfg.Dir.
func New(cfg Config) (*Recorder, error) {
	if cfg.Every <= 0 {
		cfg.Every = 15 * time.Minute
	}
	if cfg.OnError == nil {
		cfg.OnError = func(error) {}
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	return &Recorder{cfg: cfg, streams: map[string]*stream{}}, nil
}

// Write records one event. Errors that concern only this event go to
// Config.OnError; the returned error means a file could not be written.
func (r *Recorder) Write(ev *bgp.Event) error {
	if r.closed {
		return errors.New("record: recorder closed")
	}
	if ev.Time.After(r.now) {
		r.now = ev.Time
	}
	if p := r.now.Truncate(r.cfg.Every); p.After(r.period) {
		if !r.period.IsZero() {
			if err := r.rotate(p); err != nil {
				return err
			}
		}
		r.period = p
	}
	s, err := r.stream(ev.Peer.Collector)
	if err != nil {
		return err
	}
	if ev.RIB {
		// A table snapshot: into the table, and into a bview at its time.
		if ev.Kind == bgp.Announce && ev.Attrs != nil {
			s.set(ev)
			if s.ribAt.IsZero() || ev.Time.After(s.ribAt) {
				s.ribAt = ev.Time
			}
		}
		return nil
	}
	if !s.ribAt.IsZero() {
		if err := s.writeBview(r.cfg, s.ribAt); err != nil {
			return err
		}
		s.ribAt = time.Time{}
	}
	switch ev.Kind {
	case bgp.Announce, bgp.Withdraw:
		if ev.Kind == bgp.Announce && ev.Attrs == nil {
			r.cfg.OnError(fmt.Errorf("record: announcement of %s by %s without attributes", ev.Prefix, ev.Peer))
			return nil
		}
		if !s.g.fits(ev) {
			if err := s.flush(r.cfg); err != nil {
				return err
			}
		}
		if err := s.open(r.period); err != nil {
			return err
		}
		s.g.add(ev)
		if ev.Kind == bgp.Announce {
			s.set(ev)
		} else {
			s.unset(ev)
		}
	case bgp.PeerState:
		if err := s.flush(r.cfg); err != nil {
			return err
		}
		if err := s.open(r.period); err != nil {
			return err
		}
		if err := s.w.WriteStateChange(ev.Time, ev.Peer, netip.Addr{}, 0, ev.OldState, ev.NewState); err != nil {
			r.cfg.OnError(fmt.Errorf("record: state change of %s: %w", ev.Peer, err))
		}
		if ev.NewState != bgp.StateEstablished {
			// Its routes are gone with the session, as in the view.
			s.dropPeer(ev.Peer)
		}
	}
	return nil
}

// Close finishes the current files (the updates files are renamed to their
// final names) and writes the bview of RIB events not yet written.
func (r *Recorder) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	for _, c := range r.order {
		s := r.streams[c]
		if !s.ribAt.IsZero() {
			errs = append(errs, s.writeBview(r.cfg, s.ribAt))
		}
		errs = append(errs, s.finish(r.cfg))
	}
	return errors.Join(errs...)
}

// Dirs returns the directories the recorder wrote into, one per collector.
func (r *Recorder) Dirs() []string {
	var out []string
	for _, c := range r.order {
		out = append(out, r.streams[c].dir)
	}
	return out
}

// rotate finishes every collector's updates file and writes its bview at
// the new period's start.
func (r *Recorder) rotate(p time.Time) error {
	for _, c := range r.order {
		s := r.streams[c]
		if err := s.finish(r.cfg); err != nil {
			return err
		}
		if !s.ribAt.IsZero() {
			if err := s.writeBview(r.cfg, s.ribAt); err != nil {
				return err
			}
			s.ribAt = time.Time{}
		}
		if err := s.writeBview(r.cfg, p); err != nil {
			return err
		}
	}
	return nil
}

func (r *Recorder) stream(collector string) (*stream, error) {
	if s := r.streams[collector]; s != nil {
		return s, nil
	}
	dir := r.cfg.Dir
	if collector != "" {
		dir = filepath.Join(dir, safeName(collector))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
	}
	s := &stream{dir: dir, index: map[bgp.Peer]uint16{}, table: map[netip.Prefix][]route{}}
	r.streams[collector] = s
	r.order = append(r.order, collector)
	return s, nil
}

// safeName keeps letters, digits, '-', '_' and '.' of a collector name.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
	if s == "" || s == "." || s == ".." {
		s = "_"
	}
	return s
}

// stamp formats a period start as collectors name their files.
func stamp(t time.Time) string { return t.UTC().Format("20060102.1504") }

// open opens the updates file of period p if none is open.
func (s *stream) open(p time.Time) error {
	if s.f != nil {
		return nil
	}
	s.final = filepath.Join(s.dir, "updates."+stamp(p))
	f, err := os.CreateTemp(s.dir, ".updates."+stamp(p)+".*.tmp")
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	f.Chmod(0o644) // CreateTemp makes it 0600
	s.f, s.tmp = f, f.Name()
	s.w = mrt.NewWriter(f)
	return nil
}

// finish flushes the gathered UPDATE and renames the updates file into place.
func (s *stream) finish(cfg Config) error {
	if err := s.flush(cfg); err != nil {
		return err
	}
	if s.f == nil {
		return nil
	}
	f, w, tmp, final := s.f, s.w, s.tmp, s.final
	s.f, s.w = nil, nil
	return commit(f, w, tmp, final)
}

// commit flushes w (if any), syncs and closes f, and renames tmp to final.
func commit(f *os.File, w *mrt.Writer, tmp, final string) error {
	var err error
	if w != nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("record %s: %w", final, err)
	}
	return nil
}

func (g *group) fits(ev *bgp.Event) bool {
	if !g.open {
		return true
	}
	if ev.Peer != g.peer || !ev.Time.Equal(g.t) || (ev.PathID != 0) != g.addPath {
		return false
	}
	if ev.Kind == bgp.Withdraw {
		return len(g.ann) == 0 // withdrawals come first in an UPDATE
	}
	return g.attrs == nil || g.attrs == ev.Attrs
}

func (g *group) add(ev *bgp.Event) {
	if !g.open {
		*g = group{open: true, peer: ev.Peer, t: ev.Time, addPath: ev.PathID != 0, wd: g.wd[:0], ann: g.ann[:0]}
	}
	n := wire.NLRI{Prefix: ev.Prefix, PathID: ev.PathID}
	if ev.Kind == bgp.Withdraw {
		g.wd = append(g.wd, n)
		return
	}
	g.attrs = ev.Attrs
	g.ann = append(g.ann, n)
}

// flush writes the gathered UPDATE.
func (s *stream) flush(cfg Config) error {
	g := &s.g
	if !g.open {
		return nil
	}
	g.open = false
	var err error
	if g.addPath {
		err = s.w.WriteUpdateAddPath(g.t, g.peer, netip.Addr{}, 0, g.wd, g.attrs, g.ann)
	} else {
		s.prefW, s.prefA = s.prefW[:0], s.prefA[:0]
		for _, n := range g.wd {
			s.prefW = append(s.prefW, n.Prefix)
		}
		for _, n := range g.ann {
			s.prefA = append(s.prefA, n.Prefix)
		}
		err = s.w.WriteUpdate(g.t, g.peer, netip.Addr{}, 0, s.prefW, g.attrs, s.prefA)
	}
	if err != nil {
		cfg.OnError(fmt.Errorf("record: update of %d routes from %s: %w", len(g.wd)+len(g.ann), g.peer, err))
	}
	return nil
}

func (s *stream) peerIndex(p bgp.Peer) uint16 {
	if i, ok := s.index[p]; ok {
		return i
	}
	i := uint16(len(s.peers))
	s.index[p] = i
	s.peers = append(s.peers, p)
	return i
}

// set puts ev's route in the table.
func (s *stream) set(ev *bgp.Event) {
	pi := s.peerIndex(ev.Peer)
	rs := s.table[ev.Prefix]
	for i := range rs {
		if rs[i].peer == pi && rs[i].pathID == ev.PathID {
			rs[i].attrs, rs[i].since = ev.Attrs, ev.Time
			return
		}
	}
	s.table[ev.Prefix] = append(rs, route{peer: pi, pathID: ev.PathID, attrs: ev.Attrs, since: ev.Time})
}

// unset removes ev's route from the table.
func (s *stream) unset(ev *bgp.Event) {
	pi := s.peerIndex(ev.Peer)
	rs := s.table[ev.Prefix]
	for i := range rs {
		if rs[i].peer == pi && rs[i].pathID == ev.PathID {
			rs = slices.Delete(rs, i, i+1)
			if len(rs) == 0 {
				delete(s.table, ev.Prefix)
			} else {
				s.table[ev.Prefix] = rs
			}
			return
		}
	}
}

// dropPeer forgets every route of a peer whose session went down.
func (s *stream) dropPeer(p bgp.Peer) {
	pi, ok := s.index[p]
	if !ok {
		return
	}
	for pfx, rs := range s.table {
		rs = slices.DeleteFunc(rs, func(r route) bool { return r.peer == pi })
		if len(rs) == 0 {
			delete(s.table, pfx)
		} else {
			s.table[pfx] = rs
		}
	}
}

// writeBview writes the table as bview.<t> (temporary file, then rename).
func (s *stream) writeBview(cfg Config, t time.Time) error {
	final := filepath.Join(s.dir, "bview."+stamp(t))
	f, err := os.CreateTemp(s.dir, ".bview."+stamp(t)+".*.tmp")
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	f.Chmod(0o644) // CreateTemp makes it 0600
	w := mrt.NewWriter(f)
	err = s.dumpTable(w, cfg, t)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("record %s: %w", final, err)
	}
	return commit(f, w, f.Name(), final)
}

func (s *stream) dumpTable(w *mrt.Writer, cfg Config, t time.Time) error {
	if err := w.WritePeerIndex(t, cfg.CollectorID, "blackout", s.peers); err != nil {
		return err
	}
	prefixes := make([]netip.Prefix, 0, len(s.table))
	for p := range s.table {
		prefixes = append(prefixes, p)
	}
	// IPv4 first, then IPv6, each in address order (as collectors dump).
	slices.SortFunc(prefixes, func(a, b netip.Prefix) int {
		if a.Addr().Is4() != b.Addr().Is4() {
			if a.Addr().Is4() {
				return -1
			}
			return 1
		}
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	var entries []mrt.RIBEntryOut
	for seq, p := range prefixes {
		entries = entries[:0]
		for _, r := range s.table[p] {
			entries = append(entries, mrt.RIBEntryOut{PeerIndex: r.peer, Originated: r.since, PathID: r.pathID, Attrs: r.attrs})
		}
		if err := w.WriteRIB(t, uint32(seq), p, entries); err != nil {
			cfg.OnError(fmt.Errorf("record: RIB entry for %s: %w", p, err))
		}
	}
	return nil
}

// Tee passes the events of in on to the returned channel and records them
// with r. Recording runs on its own goroutine behind a buffer of buffer
// events, so that writing (a bview at a rotation in particular) does not
// delay the events on their way to detection; when the buffer is full the
// tee waits: nothing is lost. The returned channel is closed when in is
// closed or ctx is done; wait then returns once everything received is
// written and the files are closed (Recorder.Close), with the first error
// that stopped writing.
func Tee(ctx context.Context, in <-chan bgp.Event, r *Recorder, buffer int) (out <-chan bgp.Event, wait func() error) {
	o := make(chan bgp.Event, buffer)
	rec := make(chan bgp.Event, buffer)
	done := make(chan error, 1)
	go func() {
		defer close(o)
		defer close(rec)
		for {
			select {
			case ev, ok := <-in:
				if !ok {
					return
				}
				select {
				case o <- ev:
				case <-ctx.Done():
					return
				}
				select {
				case rec <- ev:
				case <-ctx.Done():
					rec <- ev // keep what was received; the writer drains
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		var first error
		for ev := range rec {
			if first != nil {
				continue
			}
			if err := r.Write(&ev); err != nil {
				first = err
			}
		}
		done <- errors.Join(first, r.Close())
	}()
	return o, func() error { return <-done }
}
