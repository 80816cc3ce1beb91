package mrt

import (
	"math"
	"strconv"
	"testing"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

func TestAppendUint(t *testing.T) {
	vals := []uint32{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65535, 65536, 99999, 100000, 999999, 1000000,
		9999999, 10000000, 99999999, 100000000, 999999999, 1000000000, math.MaxUint32 - 1, math.MaxUint32}
	for v := uint32(0); v < 20000; v += 7 {
		vals = append(vals, v)
	}
	for _, v := range vals {
		for _, prefix := range [][]byte{nil, []byte("ab"), make([]byte, 3, 4)} {
			got := string(appendUint(append([]byte(nil), prefix...), v))
			want := string(prefix) + strconv.FormatUint(uint64(v), 10)
			if got != want {
				t.Fatalf("appendUint(%q, %d) = %q, want %q", prefix, v, got, want)
			}
		}
		if got, want := string(appendInt(nil, int32(v))), strconv.FormatInt(int64(int32(v)), 10); got != want {
			t.Fatalf("appendInt(%d) = %q, want %q", int32(v), got, want)
		}
	}
}

func TestAppendASPath(t *testing.T) {
	p := bgp.Path{Segments: []bgp.Segment{
		{Type: bgp.ASSequence, ASNs: []bgp.ASN{3333, 1, 4294967295}},
		{Type: bgp.ASSet, ASNs: []bgp.ASN{7, 8}},
		{Type: bgp.ASConfedSequence, ASNs: []bgp.ASN{65000, 65001}},
		{Type: bgp.ASConfedSet, ASNs: []bgp.ASN{9}},
		{Type: bgp.ASSequence, ASNs: []bgp.ASN{10}},
	}}
	if got, want := string(appendASPath(nil, &p)), p.String(); got != want {
		t.Errorf("appendASPath = %q, bgp.Path.String = %q", got, want)
	}
}
