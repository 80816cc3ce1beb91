package mrt

import (
	"strconv"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// AppendBgpdumpLine appends the line that `bgpdump -m` prints for event ev
// read by rr, with its newline, to b. It allocates nothing.
func AppendBgpdumpLine(b []byte, rr *RouteReader, ev *bgp.Event) []byte {
	rec := rr.Record()
	switch rec.Type {
	case TypeTableDump:
		b = append(b, "TABLE_DUMP|"...)
	case TypeTableDumpV2:
		if rr.rib.AddPath {
			b = append(b, "TABLE_DUMP2_AP|"...)
		} else {
			b = append(b, "TABLE_DUMP2|"...)
		}
	case TypeBGP4MP:
		if isAddPath(rec.Subtype) {
			b = append(b, "BGP4MP_AP|"...)
		} else {
			b = append(b, "BGP4MP|"...)
		}
	case TypeBGP4MPET:
		if isAddPath(rec.Subtype) {
			b = append(b, "BGP4MP_ET_AP|"...)
		} else {
			b = append(b, "BGP4MP_ET|"...)
		}
	}
	b = strconv.AppendUint(b, uint64(rec.Timestamp), 10)
	if rec.Type == TypeBGP4MPET {
		b = append(b, '.')
		us := strconv.AppendUint(nil, uint64(rec.Microsecond)+1000000, 10) // zero-padded to 6 digits
		b = append(b, us[1:]...)
	}
	switch ev.Kind {
	case bgp.PeerState:
		b = append(b, "|STATE|"...)
		b = ev.Peer.Addr.AppendTo(b)
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(ev.Peer.AS), 10)
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(ev.OldState), 10)
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(ev.NewState), 10)
		return append(b, '\n')
	case bgp.Withdraw:
		b = append(b, "|W|"...)
	default:
		if ev.RIB {
			b = append(b, "|B|"...)
		} else {
			b = append(b, "|A|"...)
		}
	}
	b = ev.Peer.Addr.AppendTo(b)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(ev.Peer.AS), 10)
	b = append(b, '|')
	b = ev.Prefix.AppendTo(b)
	if ev.Kind == bgp.Withdraw {
		return append(b, '\n')
	}
	b = append(b, '|')
	if (rec.Type == TypeTableDumpV2 && rr.rib.AddPath) || (rec.Type != TypeTableDumpV2 && isAddPath(rec.Subtype)) {
		b = strconv.AppendUint(b, uint64(ev.PathID), 10)
		b = append(b, '|')
	}
	a := ev.Attrs
	b = a.Path.AppendString(b)
	b = append(b, '|')
	b = append(b, a.Origin.String()...)
	b = append(b, '|')
	if a.NextHop.IsValid() {
		b = a.NextHop.AppendTo(b)
	}
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(a.LocalPref), 10)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(a.MED), 10)
	b = append(b, '|')
	for i, c := range a.Communities {
		if i > 0 {
			b = append(b, ' ')
		}
		b = c.AppendString(b)
	}
	b = append(b, '|')
	if a.Has(bgp.AttrAtomicAggregate) {
		b = append(b, "AG|"...)
	} else {
		b = append(b, "NAG|"...)
	}
	if a.Has(bgp.AttrAggregator) {
		b = strconv.AppendUint(b, uint64(a.Aggregator.AS), 10)
		b = append(b, ' ')
		b = a.Aggregator.Addr.AppendTo(b)
	}
	b = append(b, '|')
	return append(b, '\n')
}
