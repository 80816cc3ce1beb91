package pipeline

import (
	"slices"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/signal"
)

// entityState is what the pipeline last told the EntitySinks of an entity.
type entityState struct {
	fams [2]bool
	ups  [2]map[bgp.ASN]int32
	tot  [2]int32
	last EntityInfo
	sent bool
}

// noteEntity tells the EntitySinks an entity's families and upstreams
// (over both families, with their share of the routes) when they changed.
func (o *fanout) noteEntity(ent signal.Entity, f bgp.Family, t time.Time) {
	info := o.entities[ent]
	if info == nil {
		info = &entityState{}
		o.entities[ent] = info
	}
	info.fams[f] = true
	ups := map[bgp.ASN]int32{}
	var tot int32
	if st := o.p.track.State(ent, f); st != nil {
		st.Upstreams(func(a bgp.ASN, routes int32) {
			if routes > 0 {
				ups[a] = routes
			}
		})
		tot = st.Routes()
	}
	info.ups[f], info.tot[f] = ups, tot
	sum := map[bgp.ASN]int32{}
	var all int32
	for i := 0; i < 2; i++ {
		for a, n := range info.ups[i] {
			sum[a] += n
		}
		all += info.tot[i]
	}
	list := make([]event.AS, 0, len(sum))
	for a, n := range sum {
		share := 0.0
		if all > 0 {
			share = float64(int(float64(n)/float64(all)*1000+0.5)) / 1000
		}
		list = append(list, event.AS{ASN: uint32(a), Share: share})
	}
	slices.SortFunc(list, func(a, b event.AS) int {
		if a.Share != b.Share {
			if a.Share > b.Share {
				return -1
			}
			return 1
		}
		return int(a.ASN) - int(b.ASN)
	})
	var fams []bgp.Family
	for i, ok := range info.fams {
		if ok {
			fams = append(fams, bgp.Family(i))
		}
	}
	if info.sent && slices.Equal(fams, info.last.Families) && slices.Equal(list, info.last.Upstreams) {
		return
	}
	info.sent = true
	info.last = EntityInfo{Entity: ent, Families: fams, Upstreams: list, Time: t}
	for _, s := range o.ents {
		s.Entity(info.last)
	}
}
