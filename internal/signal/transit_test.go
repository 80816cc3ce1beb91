package signal_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/geo"
)

// TestTransit follows an upstream's routes (those for which it is the
// origin's neighbour) over bins: the count before a moment is the one at
// the close of the bin before it, the history is kept though the AS was
// quiet for bins, and a fall shows as then > now.
func TestTransit(t *testing.T) {
	h := newHarness(t, 3)
	for i := range 4 {
		h.announce(fmt.Sprintf("10.%d.0.0/16", i), fmt.Sprintf("3356 4837 %d", 65001+i), true)
	}
	h.settle()
	then, now := h.tr.Transit(4837, bgp.IPv4, geo.Country{}, h.now)
	if then != 12 || now != 12 {
		t.Fatalf("transit of AS4837 %d then, %d now; want 12, 12 (4 prefixes x 3 full-feed peers)", then, now)
	}
	// Quiet for an hour of bins, then two of its customers are withdrawn.
	h.now = h.now.Add(time.Hour)
	h.withdraw("10.0.0.0/16")
	h.now = h.now.Add(7 * time.Minute)
	fall := h.now
	h.withdraw("10.1.0.0/16")
	then, now = h.tr.Transit(4837, bgp.IPv4, geo.Country{}, fall)
	if then != 9 || now != 6 {
		t.Errorf("at the second fall: %d then, %d now; want 9 (after the first fall, bins before) and 6", then, now)
	}
	then, _ = h.tr.Transit(4837, bgp.IPv4, geo.Country{}, fall.Add(-30*time.Minute))
	if then != 12 {
		t.Errorf("half an hour before: %d, want 12", then)
	}
	if then, now := h.tr.Transit(4837, bgp.IPv6, geo.Country{}, fall); then != 0 || now != 0 {
		t.Errorf("IPv6 transit %d, %d; want none", then, now)
	}
	if then, now := h.tr.Transit(3356, bgp.IPv4, geo.Country{}, fall); then != 0 || now != 0 {
		t.Errorf("AS3356 is no origin's neighbour: %d, %d", then, now)
	}
	// Path hunting: path changes of a prefix then its withdrawal.
	p := netip.MustParsePrefix("10.2.0.0/16")
	id, _ := h.v.Lookup(p)
	h.now = h.now.Add(time.Hour)
	h.announce("10.2.0.0/16", "1299 4837 65003", false)
	h.now = h.now.Add(20 * time.Second)
	h.withdraw("10.2.0.0/16")
	if n := h.tr.PathHunting(id); n != 3 {
		t.Errorf("path hunting %d, want 3 (every peer changed path just before the withdrawals)", n)
	}
	var within []string
	for q, o := range h.tr.VisibleWithin(netip.MustParsePrefix("10.0.0.0/14")) {
		within = append(within, fmt.Sprintf("%s AS%d", q, o))
	}
	if fmt.Sprint(within) != "[10.3.0.0/16 AS65004]" {
		t.Errorf("visible within 10.0.0.0/14: %v", within)
	}
}
