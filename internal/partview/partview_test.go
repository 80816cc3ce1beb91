package partview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/demo"
	"github.com/blackout-bgp/blackout/internal/geo"
	"github.com/blackout-bgp/blackout/internal/scenario"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/view"
)

// recorder writes down every observer call, paths as their ASes.
type recorder struct {
	calls []string
	path  func(view.PathID) string
}

func (r *recorder) Visibility(t time.Time, id view.PrefixID, p netip.Prefix, origin bgp.ASN, visible bool) {
	r.calls = append(r.calls, fmt.Sprintf("V %s %d %s %d %v", t.Format(time.RFC3339Nano), id, p, origin, visible))
}
func (r *recorder) Route(t time.Time, id view.PrefixID, p netip.Prefix, peer int, old, new view.PathID) {
	r.calls = append(r.calls, fmt.Sprintf("R %s %d %s %d [%s] [%s]", t.Format(time.RFC3339Nano), id, p, peer, r.path(old), r.path(new)))
}
func (r *recorder) Membership(t time.Time, id view.PrefixID, p netip.Prefix, peer int, path view.PathID, joined bool) {
	r.calls = append(r.calls, fmt.Sprintf("M %s %d %s %d [%s] %v", t.Format(time.RFC3339Nano), id, p, peer, r.path(path), joined))
}
func (r *recorder) Peer(ev view.PeerEvent) {
	r.calls = append(r.calls, fmt.Sprintf("P %+v", ev))
}

// split is the Reducer over n Workers, peers spread by a hash, run in step.
type split struct {
	red     *Reducer
	workers []*Worker
	owners  map[bgp.Peer]int
}

func owner(p bgp.Peer, n int) int {
	h := fnv.New32a()
	h.Write([]byte(p.String()))
	return int(h.Sum32() % uint32(n))
}

func newSplit(cfg view.Config, obs view.Observer, n int) *split {
	s := &split{owners: map[bgp.Peer]int{}}
	for range n {
		s.workers = append(s.workers, NewWorker(cfg))
	}
	s.red = NewReducer(cfg, obs, func(p bgp.Peer) []PrefixPath { return s.worker(p).Table(p) })
	return s
}

func (s *split) worker(p bgp.Peer) *Worker {
	i, ok := s.owners[p]
	if !ok {
		i = owner(p, len(s.workers))
		s.owners[p] = i
	}
	return s.workers[i]
}

func (s *split) Apply(ev *bgp.Event) {
	s.red.Begin(ev)
	s.red.Apply(s.worker(ev.Peer).Apply(ev))
}

// queries is what the detector asks of the view, at the end.
type querier interface {
	FamilyState(f bgp.Family) (time.Time, time.Time, int)
	Prefixes() int
	Prefix(id view.PrefixID) netip.Prefix
	Visible(id view.PrefixID) bool
	Seen(id view.PrefixID) (int, int)
	Origin(id view.PrefixID) bgp.ASN
	LastWithdrawnPath(id view.PrefixID) []bgp.ASN
	Peers() int
	FullFeed() (int, int)
	LongPaths() int64
	Readiness(f bgp.Family) (int, int)
}

func answers(q querier) []string {
	var out []string
	for _, f := range []bgp.Family{bgp.IPv4, bgp.IPv6} {
		a, b, c := q.FamilyState(f)
		p, r := q.Readiness(f)
		out = append(out, fmt.Sprintf("family %v %s %s %d ready %d/%d", f, a, b, c, r, p))
	}
	v4, v6 := q.FullFeed()
	out = append(out, fmt.Sprintf("peers %d full %d/%d prefixes %d long %d", q.Peers(), v4, v6, q.Prefixes(), q.LongPaths()))
	for i := range q.Prefixes() {
		id := view.PrefixID(i)
		s, n := q.Seen(id)
		out = append(out, fmt.Sprintf("%d %s vis %v seen %d/%d origin %d last %v", i, q.Prefix(id), q.Visible(id), s, n, q.Origin(id), q.LastWithdrawnPath(id)))
	}
	return out
}

// compare feeds src through the view and through the split over n
// workers and compares every observer call, and the answers to the
// view's queries every 997 events and at the end. With restore > 0, every
// restore events each worker is replaced by the one its checkpoint gives
// (a takeover from a checkpoint, in step).
func compare(t *testing.T, src source.Source, cfg view.Config, workers int, shared bool, restore ...int) {
	t.Helper()
	var v *view.View
	vr := &recorder{path: func(id view.PathID) string {
		return fmt.Sprintf("%v o%d", v.Path(id), v.PathOrigin(id))
	}}
	v = view.New(cfg, vr)
	if shared {
		// Step gives the path without a marker's origin: compare the
		// view's paths the same way.
		vr.path = func(id view.PathID) string {
			p := v.Path(id)
			if p == nil {
				p = []bgp.ASN{}
			}
			return fmt.Sprintf("%v o%d", p, v.PathOrigin(id))
		}
	}
	var s *split
	sr := &recorder{path: func(id view.PathID) string {
		if id == 0 {
			return "[] o0"
		}
		return fmt.Sprintf("%v o%d", s.red.Path(id), s.red.PathOrigin(id))
	}}
	if shared {
		// The reducer interns into a path table of its own kind (the
		// tracker's): read the paths back from it.
		scfg := cfg
		scfg.Paths = view.NewPaths()
		sr.path = func(id view.PathID) string {
			var rev []bgp.ASN
			for n := id; n != 0; {
				var a bgp.ASN
				a, n = scfg.Paths.Step(n)
				rev = append(rev, a)
			}
			slices.Reverse(rev)
			if rev == nil {
				rev = []bgp.ASN{}
			}
			return fmt.Sprintf("%v o%d", rev, scfg.Paths.Origin(id))
		}
		cfg = scfg
	}
	s = newSplit(cfg, sr, workers)
	n := 0
	for {
		ev, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if source.Skippable(err) {
				continue
			}
			t.Fatal(err)
		}
		v.Apply(ev)
		s.Apply(ev)
		n++
		if len(restore) > 0 && n%restore[0] == 0 {
			for i, w := range s.workers {
				b := w.AppendCheckpoint(nil, CheckpointHeader{Partition: i, Seq: uint64(n)})
				ck, err := DecodeCheckpoint(b, cfg, nil)
				if err != nil {
					t.Fatalf("after %d events, worker %d: %v", n, i, err)
				}
				if again := ck.Worker.AppendCheckpoint(nil, ck.CheckpointHeader); !bytes.Equal(again, b) {
					t.Fatalf("after %d events, worker %d: the restored worker's checkpoint differs (%d vs %d bytes)", n, i, len(again), len(b))
				}
				s.workers[i] = ck.Worker
			}
		}
		if n%997 == 0 {
			// The detector asks between events too: the answers along the way.
			va, sa := answers(v), answers(s.red)
			for i := range va {
				if va[i] != sa[i] {
					t.Fatalf("after %d events, answers differ: view %q, split %q", n, va[i], sa[i])
				}
			}
		}
		if len(vr.calls) != len(sr.calls) || len(vr.calls) > 0 && vr.calls[len(vr.calls)-1] != sr.calls[len(sr.calls)-1] {
			break
		}
	}
	for i := range min(len(vr.calls), len(sr.calls)) {
		if vr.calls[i] != sr.calls[i] {
			t.Fatalf("after %d events, call %d differs:\n view  %s\n split %s", n, i, vr.calls[i], sr.calls[i])
		}
	}
	if len(vr.calls) != len(sr.calls) {
		t.Fatalf("after %d events: the view made %d calls, the split %d", n, len(vr.calls), len(sr.calls))
	}
	va, sa := answers(v), answers(s.red)
	for i := range va {
		if va[i] != sa[i] {
			t.Fatalf("answers differ: view %q, split %q", va[i], sa[i])
		}
	}
	routes := 0
	var per []int
	for _, w := range s.workers {
		routes += w.Routes()
		per = append(per, w.Routes())
	}
	kinds := map[byte]int{}
	for _, c := range vr.calls {
		kinds[c[0]]++
	}
	t.Logf("%d events, %d observer calls equal (%d visibility, %d route, %d membership, %d peer), %d workers holding %d routes %v", n, len(vr.calls),
		kinds['V'], kinds['R'], kinds['M'], kinds['P'], workers, routes, per)
	if kinds['V'] == 0 || kinds['R'] == 0 || kinds['M'] == 0 || kinds['P'] == 0 {
		t.Errorf("the input did not exercise every kind of call: %v", kinds)
	}
}

// TestSplitEqualsViewDemo: the demo through the view and through the
// reducer over 1, 3 and 7 workers: the same calls, the same answers.
func TestSplitEqualsViewDemo(t *testing.T) {
	for _, n := range []int{1, 3, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			compare(t, source.Merge(demo.Sources()), view.DefaultConfig(), n, false)
		})
	}
	// Interning into a view.Paths, as under the pipeline's tracker.
	t.Run("3-shared-paths", func(t *testing.T) {
		compare(t, source.Merge(demo.Sources()), view.DefaultConfig(), 3, true)
	})
}

// TestSplitEqualsViewSuite: every kind of the generated scenario suite
// (table flushes, session resets, ADD-PATH, RIB dumps, IPv6 ...) through
// the view and through the reducer over 4 workers.
func TestSplitEqualsViewSuite(t *testing.T) {
	db, err := geo.Open(nil, geo.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range scenario.Suite(1) {
		if seen[c.Kind] {
			continue
		}
		seen[c.Kind] = true
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			g, err := scenario.GenerateInMemory(ctx, c.Config, db)
			if err != nil {
				t.Fatal(err)
			}
			var srcs []source.Source
			for _, f := range g.Files {
				rc, _, err := compress.NewReader(bytes.NewReader(f.Data))
				if err != nil {
					t.Fatal(err)
				}
				srcs = append(srcs, source.NewFile(rc, f.Name, source.CollectorOf(f.Name)))
			}
			compare(t, source.Merge(srcs), view.DefaultConfig(), 4, false)
		})
	}
}

// BenchmarkSplit: the demo's route events through the view, and through
// the reducer over 3 workers in step (the cost of the split in one
// process, before any bus).
func BenchmarkSplit(b *testing.B) {
	evs := demoEvents(b)
	b.Run("view", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			v := view.New(view.DefaultConfig(), nil)
			for i := range evs {
				v.Apply(&evs[i])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
	})
	b.Run("split3", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			s := newSplit(view.DefaultConfig(), nopObserver{}, 3)
			for i := range evs {
				s.Apply(&evs[i])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
	})
}

type nopObserver struct{}

func (nopObserver) Visibility(time.Time, view.PrefixID, netip.Prefix, bgp.ASN, bool)            {}
func (nopObserver) Route(time.Time, view.PrefixID, netip.Prefix, int, view.PathID, view.PathID) {}
func (nopObserver) Membership(time.Time, view.PrefixID, netip.Prefix, int, view.PathID, bool)   {}
func (nopObserver) Peer(view.PeerEvent)                                                         {}

// demoEvents returns the demo's route events, in stream order, each its own copy.
func demoEvents(tb testing.TB) []bgp.Event {
	tb.Helper()
	var evs []bgp.Event
	src := source.Merge(demo.Sources())
	for {
		ev, err := src.Next()
		if errors.Is(err, io.EOF) {
			return evs
		}
		if err != nil {
			tb.Fatal(err)
		}
		evs = append(evs, ev.Clone())
	}
}
