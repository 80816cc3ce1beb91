package detect

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/view"
)

// maxListed bounds the prefixes, paths and ASes an event lists.
const maxListed = 50

// collectAffected adds the entity's currently lost prefixes to the event.
func (d *Detector) collectAffected(t *track, ev *event.Event) {
	a := d.affected[ev]
	if a == nil {
		a = map[view.PrefixID]struct{}{}
		d.affected[ev] = a
	}
	for id := range t.lost {
		a[id] = struct{}{}
	}
}

func (d *Detector) asInfo(a uint32) event.AS {
	info, _ := d.db.ASN(a)
	return event.AS{ASN: a, Name: info.Name, Country: info.Country.String()}
}

// asLabel returns "AS4837 (China Unicom, CN)".
func (d *Detector) asLabel(a uint32) string {
	x := d.asInfo(a)
	var parts []string
	if x.Name != "" {
		parts = append(parts, x.Name)
	}
	if x.Country != "" {
		parts = append(parts, x.Country)
	}
	if len(parts) == 0 {
		return "AS" + strconv.FormatUint(uint64(a), 10)
	}
	return "AS" + strconv.FormatUint(uint64(a), 10) + " (" + strings.Join(parts, ", ") + ")"
}

func (d *Detector) entityLabel(ev *event.Event) string {
	switch ev.EntityType {
	case event.Country:
		if ev.EntityName != "" {
			return ev.EntityName + " (" + ev.EntityCode + ")"
		}
		return ev.EntityCode
	default:
		if ev.EntityName != "" {
			return "AS" + ev.EntityCode + " (" + ev.EntityName + ")"
		}
		return "AS" + ev.EntityCode
	}
}

func famLabel(f bgp.Family) string {
	if f == bgp.IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func fmtDuration(d time.Duration) string { return event.FormatDuration(d) }

func fmtUnits(x float64) string {
	if x == float64(int64(x)) {
		return strconv.FormatInt(int64(x), 10)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// explain fills the lists and the paragraph of an outage or partial outage.
func (d *Detector) explain(t *track, ev *event.Event) {
	d.collectAffected(t, ev)
	ids := make([]view.PrefixID, 0, len(d.affected[ev]))
	for id := range d.affected[ev] {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b view.PrefixID) int { return comparePrefix(d.evidence.Prefix(a), d.evidence.Prefix(b)) })
	ev.AffectedPrefixes = len(ids)
	ev.Prefixes = ev.Prefixes[:0]
	origins := map[uint32]int{}
	paths := map[string]int{}
	var w event.Withdrawal
	for _, id := range ids {
		if len(ev.Prefixes) < maxListed {
			ev.Prefixes = append(ev.Prefixes, d.evidence.Prefix(id).String())
		}
		if o := d.evidence.Origin(id); o != 0 {
			origins[uint32(o)]++
		}
		if p := d.evidence.LastWithdrawnPath(id); len(p) > 0 {
			paths[pathString(p)]++
		}
		if first, last, n := d.evidence.Withdrawals(id); n > 0 {
			if w.First.IsZero() || first.Before(w.First) {
				w.First = first
			}
			if last.After(w.Last) {
				w.Last = last
			}
			w.Peers = max(w.Peers, n)
		}
	}
	ev.Origins = sortedKeys(origins)
	ev.OriginASes = ev.OriginASes[:0]
	for _, o := range ev.Origins {
		if len(ev.OriginASes) < maxListed {
			ev.OriginASes = append(ev.OriginASes, d.asInfo(o))
		}
	}
	ev.PathsBefore = topKeys(paths, 10)
	ev.UpstreamsBefore, ev.UpstreamASes = d.upstreamList(t.upShares())
	if w.Peers > 0 {
		v4, v6 := d.evidence.FullFeed()
		w.Full = v4
		if ev.Family == bgp.IPv6 {
			w.Full = v6
		}
		ev.Withdrawal = &w
	}
	if li := t.all.c.lastInst; li != nil && li.End != nil && ev.Start.Sub(*li.End) < 24*time.Hour && li.Start.Before(ev.Start) {
		id := li.ID
		ev.PrecededBy = &id
	}
	if ev.Prefixes == nil {
		ev.Prefixes = []string{}
	}
	d.gatherEvidence(t, ev, ids)
	ev.Explanation = d.outageText(ev, t)
}

func (d *Detector) outageText(ev *event.Event, t *track) string {
	var b strings.Builder
	fam := famLabel(ev.Family)
	what := "lost"
	if ev.Kind == event.Outage {
		what = "went dark:"
	}
	fmt.Fprintf(&b, "%s %s %.0f%% of its visible %s address space at %s (%s of %s %s blocks still visible).",
		d.entityLabel(ev), what, ev.FractionLost*100, fam, fmtTime(ev.Start), fmtUnits(ev.Lowest), fmtUnits(ev.Baseline), ev.Unit)
	if n := ev.AffectedPrefixes; n > 0 {
		list := strings.Join(ev.Prefixes[:min(len(ev.Prefixes), 6)], ", ")
		if n > 6 {
			list += fmt.Sprintf(" and %d more", n-6)
		}
		fmt.Fprintf(&b, " %s %s became unreachable", plural(n, "prefix", "prefixes"), list)
		if len(ev.Origins) > 0 {
			labels := make([]string, 0, 3)
			for _, o := range ev.Origins[:min(3, len(ev.Origins))] {
				labels = append(labels, d.asLabel(o))
			}
			s := strings.Join(labels, ", ")
			if len(ev.Origins) > 3 {
				s += fmt.Sprintf(" and %d more", len(ev.Origins)-3)
			}
			fmt.Fprintf(&b, ", originated by %s", s)
		}
		b.WriteString(".")
	}
	if len(ev.UpstreamASes) > 0 {
		if len(ev.UpstreamASes) == 1 || ev.UpstreamASes[0].Share >= 0.99 {
			fmt.Fprintf(&b, " Before the fall %s reached only through %s.", pronoun(ev), d.asLabel(ev.UpstreamASes[0].ASN))
		} else {
			parts := make([]string, 0, 4)
			for _, u := range ev.UpstreamASes[:min(4, len(ev.UpstreamASes))] {
				parts = append(parts, fmt.Sprintf("%s %.0f%%", d.asLabel(u.ASN), u.Share*100))
			}
			fmt.Fprintf(&b, " Before the fall %s reached through %s.", pronoun(ev), strings.Join(parts, ", "))
		}
	}
	if w := ev.Withdrawal; w != nil {
		fmt.Fprintf(&b, " The withdrawals spread over the full-feed peers in %s (first %s, last %s; %d of %d peers).",
			fmtDuration(w.Last.Sub(w.First)), w.First.UTC().Format("15:04:05"), w.Last.UTC().Format("15:04:05"), min(w.Peers, max(w.Full, w.Peers)), max(w.Full, w.Peers))
	}
	if len(ev.PathsBefore) > 0 {
		fmt.Fprintf(&b, " Last AS paths seen: %s.", strings.Join(ev.PathsBefore[:min(3, len(ev.PathsBefore))], "; "))
	}
	if li := t.all.c.lastInst; ev.PrecededBy != nil && li != nil {
		fmt.Fprintf(&b, " It was preceded by instability from %s to %s (%d flaps).", fmtTime(li.Start), fmtTime(*li.End), li.Flaps)
	}
	if c := t.c.crossed; !c.IsZero() && c.Sub(ev.Start) >= time.Minute {
		th := d.cfg.PartialShare
		if ev.Kind == event.Outage {
			th = d.cfg.OutageShare
		}
		fmt.Fprintf(&b, " The fall began at %s and crossed %.0f%% at %s.", fmtTime(ev.Start), th*100, fmtTime(c))
	}
	if len(ev.Causes) > 0 {
		codes := make([]string, 0, len(ev.Causes))
		for _, c := range ev.Causes {
			codes = append(codes, string(c.Cause))
		}
		fmt.Fprintf(&b, " Consistent with: %s (not a verdict; see its causes).", strings.Join(codes, ", "))
	}
	if ev.End != nil {
		fmt.Fprintf(&b, " Visibility came back at %s, after %s", fmtTime(*ev.End), fmtDuration(ev.End.Sub(ev.Start)))
		if r := ev.Recovered; r != nil && r.Sub(*ev.End) >= time.Minute {
			fmt.Fprintf(&b, "; back within its normal at %s", fmtTime(*r))
		}
		b.WriteString(".")
	}
	return b.String()
}

func pronoun(ev *event.Event) string {
	if ev.AffectedPrefixes == 1 {
		return "it was"
	}
	return "they were"
}

// pct writes a share as a percentage: "75%", "0.4%".
func pct(x float64) string {
	if x >= 0.1 {
		return strconv.Itoa(int(x*100+0.5)) + "%"
	}
	return strconv.FormatFloat(round(x*100, 1), 'f', -1, 64) + "%"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func (d *Detector) upstreamList(snap map[bgp.ASN]float64) ([]uint32, []event.AS) {
	type kv struct {
		a bgp.ASN
		s float64
	}
	var all []kv
	for a, s := range snap {
		if s >= 0.01 {
			all = append(all, kv{a, s})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].s != all[j].s {
			return all[i].s > all[j].s
		}
		return all[i].a < all[j].a
	})
	ids := []uint32{}
	var ases []event.AS
	for _, x := range all[:min(len(all), maxListed)] {
		ids = append(ids, uint32(x.a))
		as := d.asInfo(uint32(x.a))
		as.Share = round(x.s, 4)
		ases = append(ases, as)
	}
	return ids, ases
}

func (d *Detector) explainInstability(t *track, ev *event.Event) {
	ev.Prefixes = ev.Prefixes[:0]
	ps := make([]netip.Prefix, 0, len(t.c.instIDs))
	for id := range t.c.instIDs {
		ps = append(ps, d.evidence.Prefix(id))
	}
	slices.SortFunc(ps, comparePrefix)
	ev.AffectedPrefixes = len(ps)
	for _, p := range ps[:min(len(ps), maxListed)] {
		ev.Prefixes = append(ev.Prefixes, p.String())
	}
	if ev.Prefixes == nil {
		ev.Prefixes = []string{}
	}
	ev.Origins = []uint32{}
	// The upstreams and churn of the entity's families.
	snap := map[bgp.ASN]float64{}
	normal := 0.0
	for _, f := range []bgp.Family{bgp.IPv4, bgp.IPv6} {
		ft := d.tracks[efKey{t.key.e, f}]
		if ft == nil {
			continue
		}
		for a, x := range ft.upShares() {
			snap[a] = max(snap[a], x)
		}
		if ch := ft.hr().churnH; len(ch) > 0 {
			normal += median(ch)
		}
	}
	ev.UpstreamsBefore, ev.UpstreamASes = d.upstreamList(snap)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: reachability went up and down from %s", d.entityLabel(ev), fmtTime(ev.Start))
	if ev.End != nil {
		fmt.Fprintf(&b, " to %s (%s)", fmtTime(*ev.End), fmtDuration(ev.End.Sub(ev.Start)))
	}
	fmt.Fprintf(&b, ": %d times one of its prefixes lost visibility and came back within minutes", ev.Flaps)
	if ev.FractionLost > 0 {
		fmt.Fprintf(&b, ", up to %s of its address space at once", pct(ev.FractionLost))
	}
	if ev.AffectedPrefixes > 0 {
		fmt.Fprintf(&b, " (%s flapped)", plural(ev.AffectedPrefixes, "prefix", "prefixes"))
	}
	b.WriteString(".")
	fmt.Fprintf(&b, " Its normal: %s visibility losses an hour", strconv.FormatFloat(round(t.c.instRate, 2), 'f', -1, 64))
	if normal > 0 {
		fmt.Fprintf(&b, ", %s an hour", plural(int(normal+0.5), "update", "updates"))
	}
	b.WriteString(".")
	if len(ev.UpstreamASes) > 0 {
		fmt.Fprintf(&b, " Its upstream: %s.", d.asLabel(ev.UpstreamASes[0].ASN))
	}
	ev.Explanation = b.String()
}

func (d *Detector) explainUpstream(t *track, ev *event.Event, cur map[bgp.ASN]float64) {
	ev.Prefixes = []string{}
	ev.Origins = []uint32{}
	ev.UpstreamsBefore, ev.UpstreamASes = d.upstreamList(t.upShares())
	var b strings.Builder
	fmt.Fprintf(&b, "%s changed %s upstreams at %s:", d.entityLabel(ev), famLabel(t.key.f), fmtTime(ev.Start))
	for _, a := range ev.Lost {
		fmt.Fprintf(&b, " lost %s (carried %.0f%% of its routes before);", d.asLabel(a), t.upShare(bgp.ASN(a))*100)
	}
	for _, a := range ev.Gained {
		fmt.Fprintf(&b, " gained %s (now %.0f%% of its routes);", d.asLabel(a), cur[bgp.ASN(a)]*100)
	}
	s := strings.TrimSuffix(b.String(), ";") + "."
	ev.Explanation = s
}

func (d *Detector) explainPeer(ev *event.Event, pe view.PeerEvent) {
	var b strings.Builder
	who := fmt.Sprintf("Vantage point %s (AS%d", ev.EntityCode, ev.PeerAS)
	if ev.PeerCollector != "" {
		who += " at " + ev.PeerCollector
	}
	who += ")"
	switch ev.Cause {
	case "session_down":
		fmt.Fprintf(&b, "%s: its BGP session went down at %s", who, fmtTime(ev.Start))
		if pe.Kind == view.PeerDown {
			fmt.Fprintf(&b, " (%s -> %s)", pe.OldState, pe.NewState)
		}
		fmt.Fprintf(&b, " with %d routes.", ev.PeerRoutes)
	default:
		fmt.Fprintf(&b, "%s withdrew most of its %d routes within seconds from %s while the other peers kept them.", who, ev.PeerRoutes, fmtTime(ev.Start))
	}
	b.WriteString(" Its routes are treated as unknown, not withdrawn: this is not an outage.")
	if ev.End != nil {
		fmt.Fprintf(&b, " It was back with a full table at %s, after %s.", fmtTime(*ev.End), fmtDuration(ev.End.Sub(ev.Start)))
	}
	ev.Explanation = b.String()
}

func pathString(p []bgp.ASN) string {
	var b []byte
	for i, a := range p {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendUint(b, uint64(a), 10)
	}
	return string(b)
}

func sortedKeys(m map[uint32]int) []uint32 {
	ks := make([]uint32, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// topKeys returns up to n keys with the highest counts (ties by key).
func topKeys(m map[string]int, n int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if m[ks[i]] != m[ks[j]] {
			return m[ks[i]] > m[ks[j]]
		}
		return ks[i] < ks[j]
	})
	return ks[:min(n, len(ks))]
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
