package scenario

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/mrt"
)

// TruthFile is the name of the ground truth in an output directory.
const TruthFile = "truth.json"

// File is one generated MRT file.
type File struct {
	Name  string    // "bview.20141219.0000", "updates.20141219.0100" (+ ".gz" with Config.Gzip)
	Path  string    // where Generate wrote it; empty for GenerateTo
	Kind  string    // "rib" or "updates"
	Start time.Time // the RIB's time, or the start of the updates' span
	End   time.Time // the end of the span (exclusive); Start for the RIB
	Size  int64     // bytes written
	Data  []byte    // the content, from GenerateInMemory only
}

// Generated is what a generation produced.
type Generated struct {
	Config Config // with the defaults filled in
	Files  []File // the RIB first, then the updates files in time order
	Truth  []TruthEvent
	World  World
	// Counts of what was written.
	RIBEntries, Announcements, Withdrawals, StateChanges int
}

// Paths returns the paths (or names, in memory) of the files in order.
func (g *Generated) Paths() []string {
	out := make([]string, len(g.Files))
	for i, f := range g.Files {
		out[i] = f.Path
		if f.Path == "" {
			out[i] = f.Name
		}
	}
	return out
}

// Generate writes the MRT files of cfg and truth.json into dir (created if
// needed) and returns what it wrote.
func Generate(ctx context.Context, cfg Config, db *geo.DB, dir string) (*Generated, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var open []*os.File
	defer func() {
		for _, f := range open {
			f.Close()
		}
	}()
	g, err := GenerateTo(ctx, cfg, db, func(name string) (io.WriteCloser, error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		open = append(open, f)
		return f, nil
	})
	if err != nil {
		return nil, err
	}
	for i := range g.Files {
		g.Files[i].Path = filepath.Join(dir, g.Files[i].Name)
	}
	f, err := os.Create(filepath.Join(dir, TruthFile))
	if err != nil {
		return nil, err
	}
	if err := WriteTruth(f, g.Truth); err != nil {
		f.Close()
		return nil, err
	}
	return g, f.Close()
}

// GenerateInMemory is Generate without files: each File carries its Data.
func GenerateInMemory(ctx context.Context, cfg Config, db *geo.DB) (*Generated, error) {
	bufs := map[string]*bytes.Buffer{}
	g, err := GenerateTo(ctx, cfg, db, func(name string) (io.WriteCloser, error) {
		b := &bytes.Buffer{}
		bufs[name] = b
		return nopCloser{b}, nil
	})
	if err != nil {
		return nil, err
	}
	for i := range g.Files {
		g.Files[i].Data = bufs[g.Files[i].Name].Bytes()
	}
	return g, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// GenerateTo generates cfg with the geo data of db (normally the embedded
// snapshot: geo.Open(nil, geo.WithoutCache()) for output that does not
// depend on the machine) and writes each MRT file to a writer that create
// returns for its name, closing it when the file is complete. The truth is
// returned, not written. The same cfg and db always give the same bytes.
func GenerateTo(ctx context.Context, cfg Config, db *geo.DB, create func(name string) (io.WriteCloser, error)) (*Generated, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15))
	w, err := buildWorld(&cfg, db, rng)
	if err != nil {
		return nil, err
	}
	if err := addOtherOrigins(&cfg, w); err != nil {
		return nil, err
	}
	// The world as it is at the start of the data: planning an upstream
	// change moves the ASes' upstreams (wAS.ups) to their later state.
	info := w.info()
	pl := newPlanner(&cfg, w, rng)
	pl.db = db
	specs := slices.Clone(cfg.Events)
	slices.SortStableFunc(specs, func(a, b EventSpec) int { return cmp.Compare(a.At, b.At) })
	for _, s := range specs {
		if err := pl.plan(s); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pl.addBackground()
	pl.addChurn()
	slices.SortFunc(pl.ops, func(a, b op) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	slices.SortStableFunc(pl.truth, func(a, b TruthEvent) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		// By the type's name ("asn" before "country"), as the truth
		// has always been ordered.
		if c := cmp.Compare(a.EntityType.String(), b.EntityType.String()); c != 0 {
			return c
		}
		return cmp.Compare(a.EntityCode, b.EntityCode)
	})
	g := &Generated{Config: cfg, Truth: pl.truth, World: info}
	if g.Truth == nil {
		g.Truth = []TruthEvent{}
	}
	s := newSim(&cfg, w, pl.initUp, rng, g)
	if err := s.run(ctx, pl.ops, create); err != nil {
		return nil, err
	}
	return g, nil
}

// sim replays the ops over the routing state and writes the MRT records.
type sim struct {
	cfg     *Config
	w       *world
	g       *Generated
	rng     *rand.Rand
	np      int
	want    []bool // per (peer, prefix): the world says the peer has a route
	present []bool // per (peer, prefix): the peer has announced it (and not withdrawn)
	variant []uint8
	up      []bgp.ASN
	session []bool // per peer: established
	flushed []bool // per peer: holding its routes back

	mw   *mrt.Writer
	out  io.WriteCloser
	gz   *gzip.Writer
	cw   *countWriter
	file int

	attrs   bgp.Attrs
	ann, wd []netip.Prefix
}

func newSim(cfg *Config, w *world, initUp []bgp.ASN, rng *rand.Rand, g *Generated) *sim {
	n := len(w.peers) * len(w.prefixes)
	s := &sim{cfg: cfg, w: w, g: g, rng: rng, np: len(w.prefixes),
		want: make([]bool, n), present: make([]bool, n), variant: make([]uint8, n),
		up: slices.Clone(initUp), session: make([]bool, len(w.peers)), flushed: make([]bool, len(w.peers))}
	for i := range s.want {
		late := w.prefixes[i%s.np].late
		s.want[i], s.present[i] = !late, !late
	}
	for i := range s.session {
		s.session[i] = true
	}
	return s
}

func fileName(kind string, t time.Time, gz bool) string {
	n := kind + "." + t.UTC().Format("20060102.1504")
	if gz {
		n += ".gz"
	}
	return n
}

func (s *sim) open(create func(string) (io.WriteCloser, error), f File) error {
	if s.cfg.Gzip {
		f.Name += ".gz"
	}
	out, err := create(f.Name)
	if err != nil {
		return err
	}
	s.out = out
	s.cw = &countWriter{w: out}
	var w io.Writer = s.cw
	if s.cfg.Gzip {
		s.gz, _ = gzip.NewWriterLevel(s.cw, gzip.BestCompression)
		w = s.gz
	}
	s.mw = mrt.NewWriter(w)
	s.g.Files = append(s.g.Files, f)
	return nil
}

func (s *sim) close() error {
	if s.mw == nil {
		return nil
	}
	err := s.mw.Flush()
	if s.gz != nil {
		err = cmp.Or(err, s.gz.Close())
		s.gz = nil
	}
	err = cmp.Or(err, s.out.Close())
	s.g.Files[len(s.g.Files)-1].Size = s.cw.n
	s.mw = nil
	return err
}

func (s *sim) run(ctx context.Context, ops []op, create func(string) (io.WriteCloser, error)) error {
	cfg := s.cfg
	start, end := cfg.Start, cfg.Start.Add(cfg.Duration)
	if err := s.open(create, File{Name: fileName("bview", start, false), Kind: "rib", Start: start, End: start}); err != nil {
		return err
	}
	if err := s.writeRIB(start); err != nil {
		return err
	}
	if err := s.close(); err != nil {
		return err
	}
	every := cfg.FileEvery
	if every < 0 {
		every = cfg.Duration
	}
	fileStart := start
	openUpdates := func() error {
		return s.open(create, File{Name: fileName("updates", fileStart, false), Kind: "updates", Start: fileStart, End: min64(fileStart.Add(every), end)})
	}
	if err := openUpdates(); err != nil {
		return err
	}
	for i := range ops {
		o := &ops[i]
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !o.t.Before(end) {
			break
		}
		for !o.t.Before(fileStart.Add(every)) {
			if err := s.close(); err != nil {
				return err
			}
			fileStart = fileStart.Add(every)
			if err := openUpdates(); err != nil {
				return err
			}
		}
		if err := s.apply(o); err != nil {
			return err
		}
	}
	// Empty files for the quiet spans at the end, as a collector writes them.
	for {
		if err := s.close(); err != nil {
			return err
		}
		fileStart = fileStart.Add(every)
		if !fileStart.Before(end) {
			return nil
		}
		if err := openUpdates(); err != nil {
			return err
		}
	}
}

func min64(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// path builds the attributes of peer p's route to prefix x.
func (s *sim) path(p, x int) *bgp.Attrs {
	wp := s.w.prefixes[x]
	i := p*s.np + x
	v := int(s.variant[i])
	a := &s.attrs
	a.Reset()
	a.Set(bgp.AttrOrigin)
	a.Set(bgp.AttrASPath)
	a.Origin = bgp.OriginIGP
	asns := []bgp.ASN{s.w.peers[p].AS, tier1s[(p*5+x*3+v)%len(tier1s)]}
	up := s.up[i]
	asns = append(asns, up)
	if v >= 6 {
		asns = append(asns, up) // an upstream prepend now and then
	}
	for range 1 + wp.prepend {
		asns = append(asns, wp.as.asn)
	}
	a.Path.Segments = append(a.Path.Segments[:0], bgp.Segment{Type: bgp.ASSequence, ASNs: asns})
	if wp.v6 {
		a.NextHop = s.w.nh6[p]
	} else {
		a.NextHop = s.w.nh4[p]
	}
	a.Set(bgp.AttrNextHop)
	return a
}

func (s *sim) writeRIB(t time.Time) error {
	if err := s.mw.WritePeerIndex(t, collectorID, "", s.w.peers); err != nil {
		return err
	}
	// IPv4 then IPv6, each in address order, as collectors dump them.
	order := make([]int, len(s.w.prefixes))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		pa, pb := s.w.prefixes[a].p, s.w.prefixes[b].p
		if pa.Addr().Is4() != pb.Addr().Is4() {
			if pa.Addr().Is4() {
				return -1
			}
			return 1
		}
		return pa.Compare(pb)
	})
	entries := make([]mrt.RIBEntryOut, 0, len(s.w.peers))
	attrs := make([]bgp.Attrs, len(s.w.peers))
	seq := -1
	for _, x := range order {
		entries = entries[:0]
		for p := range s.w.peers {
			if s.w.prefixes[x].late && !s.present[p*s.np+x] {
				continue
			}
			attrs[p] = *s.path(p, x).Clone()
			// Routes learnt some time in the past days.
			orig := t.Add(-time.Duration(60+s.rng.IntN(7*24*3600)) * time.Second)
			entries = append(entries, mrt.RIBEntryOut{PeerIndex: uint16(p), Originated: orig, Attrs: &attrs[p]})
		}
		if len(entries) == 0 {
			continue
		}
		seq++
		if err := s.mw.WriteRIB(t, uint32(seq), s.w.prefixes[x].p, entries); err != nil {
			return err
		}
		s.g.RIBEntries += len(entries)
	}
	return nil
}

func (s *sim) local(p int) netip.Addr {
	if s.w.peers[p].Addr.Is4() {
		return local4
	}
	return local6
}

func (s *sim) withdraw(t time.Time, p int) error {
	if len(s.wd) == 0 {
		return nil
	}
	s.g.Withdrawals += len(s.wd)
	err := s.mw.WriteUpdate(t, s.w.peers[p], s.local(p), localAS, s.wd, nil, nil)
	s.wd = s.wd[:0]
	return err
}

// announce writes peer p's routes to pfx, grouped by identical attributes.
func (s *sim) announce(t time.Time, p int, pfx []int32) error {
	type group struct {
		key   string
		attrs *bgp.Attrs
		pfx   []netip.Prefix
	}
	var groups []*group
	for _, x := range pfx {
		a := s.path(p, int(x))
		key := string(a.Path.AppendString(nil)) + "|" + a.NextHop.String()
		var g *group
		for _, h := range groups {
			if h.key == key {
				g = h
			}
		}
		if g == nil {
			g = &group{key: key, attrs: a.Clone()}
			groups = append(groups, g)
		}
		g.pfx = append(g.pfx, s.w.prefixes[x].p)
	}
	for _, g := range groups {
		s.g.Announcements += len(g.pfx)
		if err := s.mw.WriteUpdate(t, s.w.peers[p], s.local(p), localAS, nil, g.attrs, g.pfx); err != nil {
			return err
		}
	}
	return nil
}

func (s *sim) live(p int) bool { return s.session[p] && !s.flushed[p] }

func (s *sim) apply(o *op) error {
	p := int(o.peer)
	base := p * s.np
	var ann []int32
	switch o.kind {
	case opWithdraw:
		for _, x := range o.pfx {
			i := base + int(x)
			s.want[i] = false
			if s.present[i] {
				s.present[i] = false
				s.wd = append(s.wd, s.w.prefixes[x].p)
			}
		}
		return s.withdraw(o.t, p)
	case opAnnounce:
		for _, x := range o.pfx {
			i := base + int(x)
			s.want[i] = true
			if s.live(p) && !s.present[i] {
				s.present[i] = true
				ann = append(ann, x)
			}
		}
	case opDuplicate:
		if !s.live(p) {
			return nil
		}
		for _, x := range o.pfx {
			if s.present[base+int(x)] {
				ann = append(ann, x)
			}
		}
	case opVariant, opUpstream:
		for _, x := range o.pfx {
			i := base + int(x)
			if o.kind == opVariant {
				if s.variant[i] == uint8(o.arg) {
					continue
				}
				s.variant[i] = uint8(o.arg)
			} else {
				s.up[i] = bgp.ASN(o.arg)
			}
			if s.present[i] {
				ann = append(ann, x)
			}
		}
	case opState:
		old, nw := bgp.State(o.arg>>8), bgp.State(o.arg&0xff)
		s.g.StateChanges++
		if err := s.mw.WriteStateChange(o.t, s.w.peers[p], s.local(p), localAS, old, nw); err != nil {
			return err
		}
		if old == bgp.StateEstablished {
			s.session[p] = false
			for x := range s.np {
				s.present[base+x] = false
			}
		}
		return nil
	case opTable, opFlushEnd:
		if o.kind == opTable {
			s.session[p] = true
		} else {
			s.flushed[p] = false
		}
		if !s.live(p) {
			return nil
		}
		for x := range s.np {
			if s.want[base+x] && !s.present[base+x] {
				s.present[base+x] = true
				ann = append(ann, int32(x))
			}
		}
	case opFlushStart:
		s.flushed[p] = true
		for x := range s.np {
			if s.present[base+x] {
				s.present[base+x] = false
				s.wd = append(s.wd, s.w.prefixes[x].p)
			}
		}
		return s.withdraw(o.t, p)
	default:
		return fmt.Errorf("scenario: internal: op %d", o.kind)
	}
	if len(ann) == 0 {
		return nil
	}
	return s.announce(o.t, p, ann)
}
