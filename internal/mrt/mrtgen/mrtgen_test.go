package mrtgen

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/blackout-bgp/blackout/internal/mrt"
)

func generate(t *testing.T, seed uint64) ([]byte, int64) {
	t.Helper()
	var buf bytes.Buffer
	w := mrt.NewWriter(&buf)
	n, err := WriteRIB(w, Options{Seed: seed, Prefixes: 2000, Peers: 40})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), n
}

func TestWriteRIB(t *testing.T) {
	data, n := generate(t, 7)
	again, _ := generate(t, 7)
	if !bytes.Equal(data, again) {
		t.Error("same seed, different output")
	}
	if other, _ := generate(t, 8); bytes.Equal(data, other) {
		t.Error("different seeds, same output")
	}
	if n < 2000*35 || n > 2000*40 {
		t.Errorf("%d entries for 2000 prefixes x 40 peers", n)
	}
	rr := mrt.NewRouteReader(bytes.NewReader(data), "gen", "")
	var got int64
	for {
		ev, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got++
		l := ev.Attrs.Path.Len()
		if l < 3 || l > 7 {
			t.Fatalf("%s from %s: path %s of length %d", ev.Prefix, ev.Peer, ev.Attrs.Path, l)
		}
		if first, _ := ev.Attrs.Path.First(); first != ev.Peer.AS {
			t.Fatalf("%s from %s: path %s does not start with the peer's AS", ev.Prefix, ev.Peer, ev.Attrs.Path)
		}
		if ev.Attrs.NextHop != ev.Peer.Addr {
			t.Fatalf("next hop %s from peer %s", ev.Attrs.NextHop, ev.Peer.Addr)
		}
	}
	if got != n {
		t.Errorf("read %d entries, wrote %d", got, n)
	}
}

func TestWriteUpdates(t *testing.T) {
	var buf bytes.Buffer
	w := mrt.NewWriter(&buf)
	n, err := WriteUpdates(w, Options{Seed: 1, Peers: 10}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	rr := mrt.NewRouteReader(bytes.NewReader(buf.Bytes()), "gen", "")
	var got int64
	for {
		_, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got++
	}
	if got != n {
		t.Errorf("read %d routes, wrote %d", got, n)
	}
}

func TestPrefixes(t *testing.T) {
	pg := &prefixGen{rng: rand.New(rand.NewPCG(1, 1)), next: 1 << 24}
	seen := map[netip.Prefix]bool{}
	var prev netip.Prefix
	for i := range 200000 {
		p, err := pg.nextPrefix()
		if err != nil {
			t.Fatal(i, err)
		}
		if seen[p] || p != p.Masked() {
			t.Fatalf("prefix %d: %s repeated or not masked", i, p)
		}
		seen[p] = true
		if prev.IsValid() && p.Addr().Less(prev.Addr()) {
			t.Fatalf("prefix %d: %s after %s", i, p, prev)
		}
		prev = p
	}
}
