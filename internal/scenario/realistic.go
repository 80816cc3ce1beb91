package scenario

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
)

// Kinds of the cases of RealisticSuite (Case.Kind).
const (
	RealNightly   = "nightly"    // a country's outage repeated on four or five nights after a clean baseline
	RealGradual   = "gradual"    // a big country loses 40 % of its IPv4 space gradually, recovers gradually
	RealSmallAS   = "small_as"   // a small AS (1-2 % of a big country) dark for two hours: no country event
	RealLong      = "long"       // a three-day outage of a country
	RealQuietWeek = "quiet_week" // seven days of realistic churn only: no event at all
	RealFewPeers  = "few_peers"  // collectors with 3-5 peers: an outage, a peer reset
	RealCombined  = "realistic"  // the full realistic world with one or two events
)

// RealisticKinds lists the kinds of RealisticSuite's cases, in its order.
var RealisticKinds = []string{RealNightly, RealGradual, RealSmallAS, RealLong, RealQuietWeek, RealFewPeers, RealCombined}

// RealisticConfig returns the realistic world of RealisticSuite: 30
// countries (the 9 of DefaultBigCountries and 21 others of 2-5 ASes of
// 5-30 IPv4 and 0-6 IPv6 prefixes each: about 6,000 IPv4 and 850 IPv6
// prefixes in all), 20 full-feed peers, the classic churn (0.2 per prefix
// per hour) and the realistic Background with its defaults. Set Events,
// Duration and anything else on the result.
func RealisticConfig(name string, seed int64, start time.Time, d time.Duration) Config {
	return Config{
		Name:           name,
		Seed:           seed,
		Start:          start,
		Duration:       d,
		Countries:      30,
		ASesPerCountry: [2]int{2, 5},
		V4PerAS:        [2]int{5, 30},
		V6PerAS:        [2]int{0, 6},
		Peers:          20,
		ChurnRate:      0.2,
		Background:     &Background{},
	}
}

// RealisticSuite returns the cases that measure a detector on worlds that
// look like the Internet (RealisticConfig), from seed:
//
//   - nightly-1, nightly-2: a country (not a big one) dark on four, then
//     five, nights running, after a clean baseline of 36 h and 30 h: each
//     night its own outage of the country and of each of its ASes;
//   - gradual-1, gradual-2: a big country loses 40 % of its IPv4 space,
//     prefix after prefix, over an hour (45 min), and gets it back the
//     same way from 3 h (2 h) after the first withdrawal: one
//     partial_outage from the first withdrawal to the first
//     re-announcement, no AS losing all of its prefixes (their implied
//     partial outages are optional, outages when 95 % or more is lost);
//   - small_as-1, small_as-2: one of the two small ASes of a big country
//     (1.2-1.8 % of its IPv4 space) dark for two hours: an AS outage and
//     no country event of any kind;
//   - long-1: a country dark for three days (from 36 h into a five-day
//     world);
//   - quiet_week-1: seven days of realistic churn only, no event;
//   - few_peers-1..3: 3, 4 and 5 peers: a country outage, a peer reset,
//     and both;
//   - realistic-1, realistic-2: the full world over 30-100 h with one or
//     two events (a country outage and a peer reset; an AS outage and an
//     upstream change).
//
// Every case is a realistic world of 20 peers (but the few_peers ones);
// Suite's cases are not changed by it.
func RealisticSuite(seed int64) []Case {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x4ea1))
	start, _ := time.Parse(time.RFC3339, "2024-06-03T00:00:00Z")
	var cases []Case
	n := 0
	// jit is a few minutes and seconds of jitter.
	jit := func(m int) time.Duration {
		return time.Duration(rng.IntN(m))*time.Minute + time.Duration(rng.IntN(60))*time.Second
	}
	mk := func(kind string, i int, d time.Duration, events ...EventSpec) *Config {
		cfg := RealisticConfig(fmt.Sprintf("%s-%d", kind, i), seed*1000+500+int64(n), start.Add(time.Duration(n)*8*24*time.Hour), d)
		cfg.Events = events
		n++
		cases = append(cases, Case{Name: cfg.Name, Kind: kind, Config: cfg})
		return &cases[len(cases)-1].Config
	}
	// Nightly shutdowns: from about 22:00 to about 02:00 (3-5 h).
	mk(RealNightly, 1, 130*time.Hour, EventSpec{Kind: CaseOutage, Entity: event.Country, Pick: PickOther,
		At: 46*time.Hour + jit(30), For: 4*time.Hour + jit(60), Repeat: 3, Every: 24 * time.Hour})
	mk(RealNightly, 2, 136*time.Hour, EventSpec{Kind: CaseOutage, Entity: event.Country, Pick: PickOther,
		At: 30*time.Hour + jit(30), For: 3*time.Hour + jit(30), Repeat: 4, Every: 24 * time.Hour})
	// Gradual 40 % of a big country.
	for i, r := range []struct{ ramp, hold time.Duration }{{time.Hour, 3 * time.Hour}, {45 * time.Minute, 2 * time.Hour}} {
		mk(RealGradual, i+1, 30*time.Hour, EventSpec{Kind: CasePartialOutage, Entity: event.Country, Pick: PickBig,
			At: 20*time.Hour + jit(60), For: r.hold, Fraction: 0.4, Ramp: r.ramp})
	}
	// A small AS of a big country for two hours.
	for i := range 2 {
		mk(RealSmallAS, i+1, 30*time.Hour, EventSpec{Kind: CaseOutage, Entity: event.OriginAS, Pick: PickSmallAS,
			At: 18*time.Hour + jit(300), For: 2 * time.Hour})
	}
	mk(RealLong, 1, 5*24*time.Hour, EventSpec{Kind: CaseOutage, Entity: event.Country, Pick: PickOther,
		At: 36*time.Hour + jit(60), For: 72 * time.Hour})
	mk(RealQuietWeek, 1, 7*24*time.Hour)
	for i, peers := range []int{3, 4, 5} {
		var ev []EventSpec
		if i != 1 {
			ev = append(ev, EventSpec{Kind: CaseOutage, Entity: event.Country, Pick: PickOther, At: 20*time.Hour + jit(120), For: 90*time.Minute + jit(60)})
		}
		if i != 0 {
			ev = append(ev, EventSpec{Kind: CasePeerReset, At: 14*time.Hour + jit(120), For: 10*time.Minute + jit(30)})
		}
		c := mk(RealFewPeers, i+1, 30*time.Hour, ev...)
		c.Peers = peers
	}
	for i := range 2 {
		d := time.Duration(30+rng.IntN(71)) * time.Hour
		at := func() time.Duration { return 24*time.Hour + time.Duration(rng.Int64N(int64(d-30*time.Hour))) + jit(60) }
		ev := []EventSpec{
			{Kind: CaseOutage, Entity: event.Country, At: at(), For: time.Hour + jit(120)},
			{Kind: CasePeerReset, At: at(), For: 5*time.Minute + jit(20)},
		}
		if i == 1 {
			ev = []EventSpec{
				{Kind: CaseOutage, Entity: event.OriginAS, At: at(), For: 2*time.Hour + jit(60)},
				{Kind: CaseUpstreamChange, Entity: event.Country, At: at()},
			}
		}
		mk(RealCombined, i+1, d, ev...)
	}
	return cases
}
