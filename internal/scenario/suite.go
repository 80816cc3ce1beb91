package scenario

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
)

// Case is one scenario of a suite.
type Case struct {
	Name   string // e.g. "outage-1", "combined-2"
	Kind   string // the case kind, or "combined"
	Config Config
}

// Suite returns a suite of generated cases from seed: three or more of each
// kind (with different entities, entity types, times, sizes, durations,
// open-ended events among them) and three worlds where several kinds are
// combined. Every world is small (6-10 countries, 10-16 peers, 12 hours)
// so that the whole suite generates in about a second.
func Suite(seed int64) []Case {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	start, _ := time.Parse(time.RFC3339, defaultStart)
	var cases []Case
	n := 0
	mk := func(kind string, i int, events ...EventSpec) {
		cfg := Config{
			Name:      fmt.Sprintf("%s-%d", kind, i+1),
			Seed:      seed*1000 + int64(n),
			Start:     start.Add(time.Duration(n) * 24 * time.Hour),
			Duration:  12 * time.Hour,
			Countries: 6 + rng.IntN(5),
			Peers:     10 + rng.IntN(7),
			V4PerAS:   [2]int{2, 6},
			V6PerAS:   [2]int{0, 2},
			Events:    events,
		}
		if kind == CaseIPv6Outage {
			cfg.V6PerAS = [2]int{1, 3}
		}
		n++
		cases = append(cases, Case{Name: cfg.Name, Kind: kind, Config: cfg})
	}
	at := func(h int) time.Duration {
		return time.Duration(h)*time.Hour + time.Duration(rng.IntN(50))*time.Minute + time.Duration(rng.IntN(60))*time.Second
	}
	ents := []event.EntityType{event.Country, event.OriginAS, event.Country}
	for i := range 3 {
		mk(CaseOutage, i, EventSpec{Kind: CaseOutage, Entity: ents[i], At: at(4 + i), For: []time.Duration{2 * time.Hour, 45 * time.Minute, 0}[i]})
	}
	for i := range 3 {
		mk(CasePartialOutage, i, EventSpec{Kind: CasePartialOutage, Entity: ents[i], At: at(5), For: []time.Duration{90 * time.Minute, 3 * time.Hour, 40 * time.Minute}[i],
			Fraction: []float64{0.5, 0, 0.35}[i]})
	}
	for i := range 3 {
		mk(CaseIPv6Outage, i, EventSpec{Kind: CaseIPv6Outage, Entity: ents[i], At: at(3 + 2*i), For: []time.Duration{time.Hour, 2 * time.Hour, 0}[i]})
	}
	for i := range 3 {
		mk(CaseInstability, i, EventSpec{Kind: CaseInstability, Entity: ents[i], At: at(6 + i), For: []time.Duration{2 * time.Hour, time.Hour, 0}[i],
			Instability: []time.Duration{3 * time.Hour, 2 * time.Hour, 4 * time.Hour}[i], FlapEvery: []time.Duration{8 * time.Minute, 5 * time.Minute, 10 * time.Minute}[i]})
	}
	for i := range 3 {
		mk(CasePeerReset, i, EventSpec{Kind: CasePeerReset, At: at(3 + 2*i), For: []time.Duration{20 * time.Minute, time.Hour, 5 * time.Minute}[i]})
	}
	for i := range 3 {
		mk(CasePeerFlush, i, EventSpec{Kind: CasePeerFlush, At: at(4 + 2*i), For: []time.Duration{10 * time.Minute, 40 * time.Minute, 3 * time.Minute}[i]})
	}
	for i := range 3 {
		mk(CaseUpstreamChange, i, EventSpec{Kind: CaseUpstreamChange, Entity: ents[i], At: at(4 + 2*i)})
	}
	for i := range 3 {
		mk(CaseQuiet, i)
		if i == 2 {
			cases[len(cases)-1].Config.ChurnRate = 0.6 // a noisier world, still no event
		}
	}
	combined := [][]EventSpec{
		{
			{Kind: CaseOutage, Entity: event.Country, At: at(2), For: time.Hour},
			{Kind: CasePeerReset, At: at(4), For: 15 * time.Minute},
			{Kind: CaseUpstreamChange, Entity: event.OriginAS, At: at(6)},
			{Kind: CasePartialOutage, Entity: event.Country, At: at(8), For: 2 * time.Hour},
		},
		{
			{Kind: CaseInstability, Entity: event.OriginAS, At: at(5), For: 90 * time.Minute, Instability: 2 * time.Hour},
			{Kind: CasePeerFlush, At: at(3), For: 20 * time.Minute},
			{Kind: CaseIPv6Outage, Entity: event.Country, At: at(9), For: time.Hour},
			{Kind: CaseOutage, Entity: event.OriginAS, At: at(5), For: 30 * time.Minute},
		},
		{
			{Kind: CasePeerReset, At: at(2), For: 30 * time.Minute},
			{Kind: CasePeerFlush, At: at(2), For: 5 * time.Minute},
			{Kind: CaseOutage, Entity: event.Country, At: at(6), For: 0},
			{Kind: CaseUpstreamChange, Entity: event.Country, At: at(3)},
		},
	}
	for i, ev := range combined {
		mk("combined", i, ev...)
		c := &cases[len(cases)-1].Config
		c.Countries, c.Peers, c.V6PerAS = 12+rng.IntN(4), 14, [2]int{1, 2}
	}
	return cases
}

// NorthKorea2014 is the demo scenario, from the public facts of December
// 2014: AS131279 (Star Joint Venture, KP) announces 175.45.176.0/24 to
// 175.45.179.0/24, reached only through AS4837 (China Unicom, CN); its
// reachability is up and down from 20 December (short withdrawals of one
// to three of the four prefixes by all peers, about every 15 minutes);
// all four are withdrawn at 16:15 UTC on 22 December and come back at
// 01:46 UTC on 23 December (9 h 31 min); they go again from 15:41 to
// 16:41 UTC on 23 December. 30 peers of collector rrc00 see it beside 30
// other countries with their normal churn. The RIB is at 2014-12-19T00:00Z
// (a day of baseline); the updates run to 2014-12-24T00:00Z, one file a day.
func NorthKorea2014() Config {
	start := time.Date(2014, 12, 19, 0, 0, 0, 0, time.UTC)
	at := func(s string) time.Duration {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t.Sub(start)
	}
	var kp []netip.Prefix
	for i := 176; i <= 179; i++ {
		kp = append(kp, netip.PrefixFrom(netip.AddrFrom4([4]byte{175, 45, byte(i), 0}), 24))
	}
	return Config{
		Name:           "northkorea-2014",
		Seed:           20141222,
		Start:          start,
		Duration:       5 * 24 * time.Hour,
		Countries:      30,
		ASesPerCountry: [2]int{1, 5},
		V4PerAS:        [2]int{1, 6},
		V6PerAS:        [2]int{0, 2},
		Peers:          30,
		Collector:      "rrc00",
		ChurnRate:      0.15,
		FileEvery:      24 * time.Hour,
		Fixed: []FixedCountry{{Country: "KP", ASes: []FixedAS{{
			ASN: 131279, Prefixes: kp, Upstreams: []uint32{4837},
		}}}},
		Events: []EventSpec{
			{
				Kind: CaseInstability, Entity: event.Country, Code: "KP",
				At:          at("2014-12-22T16:15:00Z"),
				For:         9*time.Hour + 31*time.Minute,
				Instability: at("2014-12-22T16:15:00Z") - at("2014-12-20T06:00:00Z"),
				FlapEvery:   15 * time.Minute,
			},
			{
				Kind: CaseOutage, Entity: event.Country, Code: "KP",
				At:  at("2014-12-23T15:41:00Z"),
				For: time.Hour,
			},
		},
	}
}
