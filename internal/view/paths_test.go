package view

import (
	"fmt"
	"slices"
	"testing"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

func mustPath(t *testing.T, s string) bgp.Path {
	t.Helper()
	p, err := bgp.ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPathTableInternsAndFrees(t *testing.T) {
	for sh := range pathShards {
		t.Run(fmt.Sprint("shard ", sh), func(t *testing.T) { testPathTableInternsAndFrees(t, sh) })
	}
}

func testPathTableInternsAndFrees(t *testing.T, sh int) {
	tb := newPathTable()
	other := (sh + 1) % pathShards
	intern := func(s string) PathID {
		t.Helper()
		id, ok := tb.intern(sh, mustPath(t, s), nil, 0)
		if id.shard() != sh {
			t.Fatalf("intern %q in shard %d: id %#x is of shard %d", s, sh, id, id.shard())
		}
		if !ok || id == 0 {
			t.Fatalf("intern %q: %d, %v", s, id, ok)
		}
		return id
	}
	a := intern("64500 3356 65001")
	b := intern("64500 3356 3356 65001") // prepending removed: the same path
	c := intern("64500 3356 65002")
	d := intern("64500 3356 {65001}") // a singleton set: origin 65001, sequence 64500 3356
	e := intern("64500 3356 {65001,65002}")
	f := intern("") // an empty path is still a route
	if a != b {
		t.Errorf("prepended path got id %d, the plain one %d", b, a)
	}
	if len(slices.Compact([]PathID{a, c, d, e, f})) != 5 || slices.Contains([]PathID{c, d, e, f}, a) {
		t.Errorf("distinct paths share ids: %d %d %d %d %d", a, c, d, e, f)
	}
	for _, tc := range []struct {
		id         PathID
		path       string
		origin, nb bgp.ASN
	}{
		{a, "[64500 3356 65001]", 65001, 3356},
		{c, "[64500 3356 65002]", 65002, 3356},
		{d, "[64500 3356]", 65001, 64500},
		{e, "[64500 3356]", 0, 64500},
		{f, "[]", 0, 0},
	} {
		p := &Paths{t: tb}
		if got := fmt.Sprint(tb.appendPath(nil, tc.id)); got != tc.path {
			t.Errorf("path %d: %s, want %s", tc.id, got, tc.path)
		}
		if p.Origin(tc.id) != tc.origin || p.Neighbour(tc.id) != tc.nb {
			t.Errorf("path %d %s: origin %d neighbour %d, want %d %d", tc.id, tc.path, p.Origin(tc.id), p.Neighbour(tc.id), tc.origin, tc.nb)
		}
		var walked []bgp.ASN
		for n := tc.id; n != 0; {
			var as bgp.ASN
			as, n = p.Step(n)
			if as != 0 {
				walked = append(walked, as)
			}
		}
		slices.Reverse(walked)
		if got := fmt.Sprint(walked); got != tc.path {
			t.Errorf("path %d: Step walks %s, want %s", tc.id, got, tc.path)
		}
	}
	// The trie shares the first ASes: 64500, 3356, then 65001 and 65002,
	// the marker of d (65001) and of e (0), the marker of the empty path.
	if n := tb.nodes(); n != 7 {
		t.Errorf("%d nodes, want 7", n)
	}
	// A hint: the same ids, whatever the previous path was.
	var h pathHint
	for _, s := range []string{"64500 3356 65001", "64500 3356 65002", "64500 3356 {65001}", "64500 3356 65002", "", "64500 3356 65002"} {
		want, _ := tb.intern(sh, mustPath(t, s), nil, 0)
		if id, _ := tb.intern(sh, mustPath(t, s), &h, 0); id != want {
			t.Errorf("intern %q with the hint: %d, want %d", s, id, want)
		}
		tb.release(want)
		tb.release(want)
	}
	// Every reference let go: nothing is left.
	for _, id := range []PathID{a, b, c, d, e, f} {
		tb.release(id)
	}
	if n, s := tb.nodes(), tb.shards[sh]; n != 0 || s.used != 0 || s.routes != 0 {
		t.Errorf("after releasing every route: %d nodes, %d slots used, %d references", n, s.used, s.routes)
	}
	// Freed ids are reused, and a new path is found again.
	g := intern("64501 174 65003")
	if int(g)&localMask > 7 {
		t.Errorf("a freed id was not reused: %d", g)
	}
	if h := intern("64501 174 65003"); h != g {
		t.Errorf("the same path again: %d, want %d", h, g)
	}
	// The same path in the other shard is another id, read the same.
	o, _ := tb.intern(other, mustPath(t, "64501 174 65003"), nil, 0)
	p := &Paths{t: tb}
	if o == g || o.shard() != other || fmt.Sprint(tb.appendPath(nil, o)) != "[64501 174 65003]" || p.Origin(o) != 65003 || p.Neighbour(o) != 174 {
		t.Errorf("the path in shard %d: id %#x (shard %d's: %#x), %v, origin %d, neighbour %d", other, o, sh, g, tb.appendPath(nil, o), p.Origin(o), p.Neighbour(o))
	}
	tb.release(o)
	if tb.shards[other].nodes() != 0 {
		t.Errorf("shard %d holds %d nodes after its only path was released", other, tb.shards[other].nodes())
	}
}

func TestPathTableLimit(t *testing.T) {
	tb := newPathTable()
	long := "64500"
	for i := range 64 {
		long += fmt.Sprintf(" %d", 1000+i)
	}
	if _, ok := tb.intern(0, mustPath(t, long), nil, 64); ok {
		t.Errorf("a path of 65 ASes was accepted with a limit of 64")
	}
	if tb.nodes() != 0 {
		t.Errorf("a refused path left %d nodes", tb.nodes())
	}
	if _, ok := tb.intern(0, mustPath(t, long), nil, 0); !ok {
		t.Errorf("refused with no limit")
	}
	// Prepending does not count.
	if _, ok := tb.intern(0, mustPath(t, "64500 3356"+fmt.Sprint(slices.Repeat([]string{" 65001"}, 100))), nil, 64); !ok {
		t.Errorf("a path of 3 ASes prepended 100 times was refused")
	}
}

// TestPathTableChurn interns and releases many distinct paths (a peer's
// route changing over and over) and checks that the table follows the
// routes held, not the paths ever seen.
func TestPathTableChurn(t *testing.T) {
	tb := newPathTable()
	var held []PathID
	var h pathHint
	for i := range 100_000 {
		id, _ := tb.intern(0, mustPath(t, fmt.Sprintf("64500 %d %d", 1000+i%500, 70000+i)), &h, 0)
		held = append(held, id)
		if len(held) > 100 {
			tb.release(held[0])
			held = held[1:]
		}
	}
	if n := tb.nodes(); n > 1+2*100 {
		t.Errorf("%d nodes for 100 paths held", n)
	}
	if tb.shards[0].n > 1000 || len(tb.shards[0].slots) > 4096 {
		t.Errorf("the table grew with its history: %d node slots, %d hash slots", tb.shards[0].n, len(tb.shards[0].slots))
	}
}

// TestPathTableManyReferences holds one path by more routes than a
// node's count byte holds (the rest is counted aside) and lets them go.
func TestPathTableManyReferences(t *testing.T) {
	tb := newPathTable()
	id, _ := tb.intern(0, mustPath(t, "64500 3356 65001"), nil, 0)
	for range 999 {
		tb.retain(id)
	}
	s := tb.shards[0]
	if n := uint32(id) & localMask; s.refs(n) != 1000 {
		t.Fatalf("path held by 1000 routes counts %d", s.refs(n))
	}
	for i := 1000; i > 1; i-- {
		tb.release(id)
		if s.nodes() != 3 {
			t.Fatalf("after %d releases of 1000: %d nodes, want 3", 1001-i, s.nodes())
		}
	}
	if len(s.big) != 0 {
		t.Errorf("%d counts aside with one route left, want none", len(s.big))
	}
	tb.release(id)
	if s.nodes() != 0 || s.routes != 0 {
		t.Errorf("after the last release: %d nodes, %d references", s.nodes(), s.routes)
	}
}
