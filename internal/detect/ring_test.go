package detect

import (
	"slices"
	"testing"
)

// TestPushRing checks that pushRing keeps the last n values in order and
// never holds more than n.
func TestPushRing(t *testing.T) {
	var r []float64
	for i := 1; i <= 60; i++ {
		r = pushRing(r, float64(i), 24)
		want := make([]float64, 0, 24)
		for v := max(1, i-23); v <= i; v++ {
			want = append(want, float64(v))
		}
		if !slices.Equal(r, want) {
			t.Fatalf("after %d: %v, want %v", i, r, want)
		}
		if cap(r) > 24 {
			t.Fatalf("after %d: capacity %d, more than 24", i, cap(r))
		}
	}
}

// TestMedian checks median (which leaves its argument alone) against
// medianInPlace on odd and even lengths.
func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{2, 2, 9, 1, 7, 7}, 4.5}} {
		in := slices.Clone(tc.v)
		if got := median(in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.v, got, tc.want)
		}
		if !slices.Equal(in, tc.v) {
			t.Errorf("median changed its argument: %v, was %v", in, tc.v)
		}
		if got := medianInPlace(in); got != tc.want || !slices.IsSorted(in) {
			t.Errorf("medianInPlace(%v) = %v (left %v), want %v, sorted", tc.v, got, in, tc.want)
		}
	}
}
