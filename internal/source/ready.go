package source

import (
	"fmt"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// DefaultQuiet is how long a live peer's table must stop growing before
// it counts as complete when the peer sends no End-of-RIB marker.
const DefaultQuiet = 5 * time.Second

// Readiness decides when a live peer's table is complete, per family
// (IPv4 and IPv6 unicast): at its End-of-RIB marker (RFC 4724) once routes
// of the family came, or, lacking a marker (or after a marker that came
// before any route: some speakers send it at once and their routes later),
// when no route of the family came for Quiet. BGP sessions and BMP use
// one per peer; the zero value is not usable, use NewReadiness.
type Readiness struct {
	quiet time.Duration
	start time.Time
	last  [2]time.Time // last announcement of the family
	n     [2]int       // announcements of the family
	eor   [2]bool      // an End-of-RIB marker came
	done  [2]bool      // the family was declared ready
}

// NewReadiness starts tracking a peer whose session came up at start
// (quiet <= 0: DefaultQuiet).
func NewReadiness(start time.Time, quiet time.Duration) *Readiness {
	if quiet <= 0 {
		quiet = DefaultQuiet
	}
	return &Readiness{quiet: quiet, start: start}
}

// Announce records an announcement of family f at t.
func (r *Readiness) Announce(f bgp.Family, t time.Time) {
	if f <= bgp.IPv6 {
		r.last[f] = t
		r.n[f]++
	}
}

// Marker records an End-of-RIB marker of family f; it reports true, with
// the reason, when the family is ready now (it had routes). A marker
// before any route leaves the family to the quiet rule.
func (r *Readiness) Marker(f bgp.Family) (bool, string) {
	if f > bgp.IPv6 || r.done[f] {
		return false, ""
	}
	r.eor[f] = true
	if r.n[f] == 0 {
		return false, ""
	}
	r.done[f] = true
	return true, fmt.Sprintf("End-of-RIB after %d announcements", r.n[f])
}

// Due returns the families that are ready at now by the quiet rule, with
// the reason of each, and marks them ready.
func (r *Readiness) Due(now time.Time) (fams []bgp.Family, why []string) {
	for f := bgp.IPv4; f <= bgp.IPv6; f++ {
		if r.done[f] {
			continue
		}
		from := r.start
		if r.last[f].After(from) {
			from = r.last[f]
		}
		if now.Sub(from) < r.quiet {
			continue
		}
		r.done[f] = true
		fams = append(fams, f)
		switch {
		case r.n[f] == 0 && r.eor[f]:
			why = append(why, "End-of-RIB, no route")
		case r.n[f] == 0:
			why = append(why, fmt.Sprintf("no route for %s", r.quiet))
		default:
			why = append(why, fmt.Sprintf("table quiet for %s after %d announcements", r.quiet, r.n[f]))
		}
	}
	return fams, why
}

// Next returns when Due may next return a family (zero: every family is
// ready).
func (r *Readiness) Next() time.Time {
	var next time.Time
	for f := bgp.IPv4; f <= bgp.IPv6; f++ {
		if r.done[f] {
			continue
		}
		from := r.start
		if r.last[f].After(from) {
			from = r.last[f]
		}
		if t := from.Add(r.quiet); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// Ready reports whether family f was declared ready.
func (r *Readiness) Ready(f bgp.Family) bool { return f <= bgp.IPv6 && r.done[f] }
