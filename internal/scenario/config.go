package scenario

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/blackout-bgp/blackout/internal/event"
)

// Case kinds: what an EventSpec injects into a world.
const (
	CaseOutage         = "outage"          // all prefixes of an entity withdrawn by all peers, then back
	CasePartialOutage  = "partial_outage"  // a share (30-70%) of an entity's IPv4 space
	CaseIPv6Outage     = "ipv6_outage"     // only the IPv6 prefixes of an entity
	CaseInstability    = "instability"     // repeated short withdrawals, then an outage
	CasePeerReset      = "peer_reset"      // one peer's session goes down and comes back
	CasePeerFlush      = "peer_flush"      // one peer withdraws its whole table, later re-announces it
	CaseUpstreamChange = "upstream_change" // an entity's prefixes move from upstream X to Y
	CaseQuiet          = "quiet"           // normal churn only
)

// Kinds lists the case kinds, in the order Suite uses.
var Kinds = []string{CaseOutage, CasePartialOutage, CaseIPv6Outage, CaseInstability,
	CasePeerReset, CasePeerFlush, CaseUpstreamChange, CaseQuiet}

// CauseKinds lists the case kinds of known causes that Suite leaves out
// (see CaseUpstreamFailure).
var CauseKinds = []string{CaseUpstreamFailure, CaseOtherOrigin}

// Config describes one generated scenario: a world, its vantage points,
// its normal churn and the events injected into it. Zero fields take the
// defaults of withDefaults.
type Config struct {
	Name     string
	Seed     int64
	Start    time.Time     // time of the RIB dump; default 2024-03-01T00:00Z
	Duration time.Duration // length of the update data; default 12h

	Countries      int    // background countries beside Fixed; default 8
	ASesPerCountry [2]int // min, max origin ASes per country; default 1, 4
	V4PerAS        [2]int // min, max IPv4 prefixes per AS; default 1, 5
	V6PerAS        [2]int // min, max IPv6 prefixes per AS; default 0, 2
	Fixed          []FixedCountry

	Peers     int    // vantage points, each a full feed; default 12
	Collector string // default "rrc00"

	// ChurnRate is the normal churn, in actions per prefix per hour (an
	// action is one peer withdrawing and re-announcing a prefix, or
	// changing its path); default 0.2; negative for none.
	ChurnRate float64
	// FileEvery is the span of one updates file; default 1h. Negative: a
	// single updates file for the whole duration.
	FileEvery time.Duration
	// Gzip compresses the MRT files (names end in .gz).
	Gzip bool

	// Background, when set, adds the realistic background of
	// background.go to the world: big countries of hundreds of prefixes,
	// single-prefix flaps at all peers, path changes seen by a few or by
	// all peers, duplicate announcements. None of it is an event: the truth
	// has nothing for it. Nil: the classic world (Suite, NorthKorea2014).
	Background *Background

	Events []EventSpec
}

// FixedCountry is a country whose ASes and prefixes are given rather than
// drawn from the geo DB.
type FixedCountry struct {
	Country string
	ASes    []FixedAS
}

// FixedAS is one origin AS of a FixedCountry.
type FixedAS struct {
	ASN       uint32
	Prefixes  []netip.Prefix
	Upstreams []uint32 // its international upstreams
}

// EventSpec is one event to inject.
type EventSpec struct {
	Kind string // one of the Case kinds
	// Entity is event.Country or event.OriginAS for the entity kinds
	// (default, zero: country); peer kinds ignore it.
	Entity event.EntityType
	// Code names the entity ("KP", "131279") or the peer (its address); empty:
	// chosen from the world by the seed, distinct from the other events'.
	Code string
	At   time.Duration // offset from Start of the outage, reset, flush or change
	// For is how long it lasts; 0: to the end of the data (end null in the
	// truth). Ignored by upstream_change.
	For time.Duration
	// Fraction is the wanted share of IPv4 space for partial_outage
	// (default 0.3-0.7 by the seed).
	Fraction float64
	// Instability is, for instability, the length of the unstable period
	// that ends shortly (20 min) before At; default 3h.
	Instability time.Duration
	// FlapEvery is the mean pause between two down phases of an instability;
	// default 8m.
	FlapEvery time.Duration
	// Repeat, for outage, ipv6_outage and partial_outage, is how many more
	// times the same event happens on the same entity (the same prefixes),
	// every Every after At: a shutdown repeated night after night. Each
	// time is its own event in the truth. 0: once.
	Repeat int
	// Every is the period of a repeated event; default 24h.
	Every time.Duration
	// Pick restricts the seeded choice of the entity (Code empty) in a
	// realistic world: PickBig, PickOther, PickSmallAS; empty: any.
	Pick string
	// Ramp, for outage and partial_outage, makes the fall and the recovery
	// gradual: the prefixes are withdrawn one after another (each by all
	// peers) over Ramp from At, and re-announced one after another, in
	// another order, over Ramp from At+For. The truth's start is the first
	// withdrawal and its end the first re-announcement, as for a sudden
	// event; TruthEvent.Bottom and Recovered tell when the fall and the
	// recovery were complete. 0: all prefixes at once.
	Ramp time.Duration
}

// Values of EventSpec.Pick.
const (
	PickBig     = "big"      // a big country (Background.Big), or an AS of one
	PickOther   = "other"    // a country that is not big, or an AS of one
	PickSmallAS = "small_as" // an AS of a big country holding 1-2 % of its IPv4 space (Entity asn)
	// PickSharedUpstream: an AS each of whose upstreams carries other ASes
	// too (so that the upstreams' other routes can tell where a loss sits).
	PickSharedUpstream = "shared_upstream"
)

const (
	defaultStart = "2024-03-01T00:00:00Z"
	// caseMargin is kept free of churn around every injected event.
	caseMargin = 3 * time.Minute
)

func (c Config) withDefaults() Config {
	if c.Start.IsZero() {
		c.Start, _ = time.Parse(time.RFC3339, defaultStart)
	}
	c.Start = c.Start.UTC()
	if c.Duration <= 0 {
		c.Duration = 12 * time.Hour
	}
	if c.Countries == 0 && len(c.Fixed) == 0 {
		c.Countries = 8
	}
	if c.ASesPerCountry == [2]int{} {
		c.ASesPerCountry = [2]int{1, 4}
	}
	if c.V4PerAS == [2]int{} {
		c.V4PerAS = [2]int{1, 5}
	}
	if c.V6PerAS == [2]int{} {
		c.V6PerAS = [2]int{0, 2}
	}
	if c.Peers <= 0 {
		c.Peers = 12
	}
	if c.Collector == "" {
		c.Collector = "rrc00"
	}
	if c.ChurnRate == 0 {
		c.ChurnRate = 0.2
	}
	if c.FileEvery == 0 {
		c.FileEvery = time.Hour
	}
	if c.Background != nil {
		bg := c.Background.withDefaults()
		c.Background = &bg
	}
	for i := range c.Events {
		if c.Events[i].Repeat > 0 && c.Events[i].Every <= 0 {
			c.Events = slices.Clone(c.Events)
			c.Events[i].Every = 24 * time.Hour
		}
	}
	return c
}

func (c *Config) validate() error {
	if c.Peers > 200 {
		return fmt.Errorf("scenario: %d peers: at most 200", c.Peers)
	}
	if c.ASesPerCountry[0] < 1 || c.ASesPerCountry[1] < c.ASesPerCountry[0] ||
		c.V4PerAS[0] < 1 || c.V4PerAS[1] < c.V4PerAS[0] || c.V6PerAS[0] < 0 || c.V6PerAS[1] < c.V6PerAS[0] {
		return fmt.Errorf("scenario: bad per-country or per-AS ranges")
	}
	for i, e := range c.Events {
		known := false
		for _, k := range append(slices.Clone(Kinds), CauseKinds...) {
			known = known || k == e.Kind
		}
		if !known {
			return fmt.Errorf("scenario: event %d: unknown kind %q", i, e.Kind)
		}
		if e.Kind != CaseQuiet && (e.At <= 0 || e.At >= c.Duration) {
			return fmt.Errorf("scenario: event %d (%s): time %v outside the data (0..%v)", i, e.Kind, e.At, c.Duration)
		}
		if e.Entity != 0 && e.Entity != event.Country && e.Entity != event.OriginAS {
			return fmt.Errorf("scenario: event %d: entity %s: want country or asn", i, e.Entity)
		}
		if e.Repeat < 0 || (e.Repeat > 0 && e.Kind != CaseOutage && e.Kind != CaseIPv6Outage && e.Kind != CasePartialOutage) {
			return fmt.Errorf("scenario: event %d (%s): repeat %d: only outages repeat", i, e.Kind, e.Repeat)
		}
		if last := e.At + time.Duration(e.Repeat)*e.Every + e.For; e.Repeat > 0 && (e.For <= 0 || last >= c.Duration || e.For+e.Ramp >= e.Every) {
			return fmt.Errorf("scenario: event %d (%s): %d repetitions every %v of %v each: outside the data or overlapping", i, e.Kind, e.Repeat+1, e.Every, e.For)
		}
		if e.Pick != "" && e.Pick != PickBig && e.Pick != PickOther && e.Pick != PickSmallAS && e.Pick != PickSharedUpstream {
			return fmt.Errorf("scenario: event %d: pick %q: want %s, %s, %s or %s", i, e.Pick, PickBig, PickOther, PickSmallAS, PickSharedUpstream)
		}
		if e.Ramp < 0 || (e.Ramp > 0 && e.Kind != CaseOutage && e.Kind != CasePartialOutage) {
			return fmt.Errorf("scenario: event %d (%s): ramp %v: only outage and partial_outage ramp", i, e.Kind, e.Ramp)
		}
		if e.Ramp > 0 && e.For > 0 && e.At+e.For+e.Ramp >= c.Duration-time.Minute {
			return fmt.Errorf("scenario: event %d (%s): the gradual recovery ends after the data", i, e.Kind)
		}
		if e.Ramp > 0 && e.For > 0 && e.For <= e.Ramp {
			return fmt.Errorf("scenario: event %d (%s): the recovery (at %v) starts before the fall (%v) is complete", i, e.Kind, e.For, e.Ramp)
		}
	}
	if c.Background != nil {
		if err := c.Background.validate(); err != nil {
			return err
		}
	}
	return nil
}
