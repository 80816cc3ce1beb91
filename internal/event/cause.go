package event

import (
	"slices"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// CauseCode names a cause an event's routing evidence is consistent with.
type CauseCode string

// Cause codes, in no particular order (an event orders its own by fit).
const (
	// OriginSide: the upstreams kept their other routes; the loss is at
	// the network itself or its link to the upstream.
	OriginSide CauseCode = "origin_side"
	// UpstreamFailure: the upstream the entity was reached through lost
	// many of its other routes at the same time.
	UpstreamFailure CauseCode = "upstream_failure"
	// UpstreamCut: routes moved off (or were withdrawn from) one upstream
	// while the entity stayed reachable through others, or the upstream
	// changed just before the fall.
	UpstreamCut CauseCode = "upstream_cut"
	// AfterInstability: the fall came after a period of instability.
	AfterInstability CauseCode = "after_instability"
	// Recurring: the same entity fell at the same time of day on earlier
	// days (a scheduled shutdown looks like this).
	Recurring CauseCode = "recurring"
	// OtherOrigin: another AS announced the same prefixes or more-specifics
	// around the fall (a hijack or a leak rather than a shutdown).
	OtherOrigin CauseCode = "other_origin"
	// UnknownCause: the evidence fits none of the above.
	UnknownCause CauseCode = "unknown"
)

// Cause is one cause an event is consistent with, with one sentence of
// the evidence for it.
type Cause struct {
	Cause    CauseCode `json:"cause"`
	Evidence string    `json:"evidence"`
}

// Evidence is what the routing view held at an event that bears on its
// cause. Every part is optional: nil or empty where the view could not
// tell.
type Evidence struct {
	// Upstreams says, for each upstream the entity was reached through
	// before the fall, how many of its other routes (routes of other
	// origins through it) it kept across the fall.
	Upstreams []UpstreamHealth `json:"upstreams,omitempty"`
	// Convergence says how the withdrawals went over the vantage points.
	Convergence *Convergence `json:"convergence,omitempty"`
	// Before says what came before the fall.
	Before *Before `json:"before,omitempty"`
	// Recurrences lists the starts of earlier events of the same entity
	// and kind at about the same time of day on earlier days.
	Recurrences []time.Time `json:"recurrences,omitempty"`
	// OtherOrigins lists other ASes announcing the entity's prefixes or
	// more-specifics of them around the fall.
	OtherOrigins []OtherOriginRoute `json:"other_origins,omitempty"`
	// Scope says how much of the country (or of the origin's country) the
	// event involves.
	Scope *Scope `json:"scope,omitempty"`
	// Unseen says what BGP routing data cannot see, for every reader.
	Unseen string `json:"unseen,omitempty"`
}

// UpstreamHealth is one upstream's other routes before and after a fall.
type UpstreamHealth struct {
	ASN  uint32 `json:"asn"`
	Name string `json:"name,omitempty"`
	// Before is how many routes of other origins went through the
	// upstream just before the fall (prefixes, over all full-feed peers'
	// best paths); After how many of those it still carried after it.
	Before int `json:"other_routes_before"`
	After  int `json:"other_routes_after"`
	// Country is the entity's country (empty: none, or the upstream is
	// registered there); OutsideBefore and OutsideAfter count the other
	// routes to prefixes outside it. A loss across a whole country (a
	// national shutdown) takes the upstream's routes in the country with
	// it, not those elsewhere; an upstream's own failure takes both.
	Country       string `json:"country,omitempty"`
	OutsideBefore int    `json:"other_routes_outside_before,omitempty"`
	OutsideAfter  int    `json:"other_routes_outside_after,omitempty"`
}

// Judged returns the other routes an upstream's health is judged on,
// before and after, and whether they are those outside the entity's
// country: those when Country is set and there were at least min of them,
// else all of them.
func (u UpstreamHealth) Judged(min int) (before, after int, outside bool) {
	if u.Country != "" && u.OutsideBefore >= min {
		return u.OutsideBefore, u.OutsideAfter, true
	}
	return u.Before, u.After, false
}

// Convergence says how a fall spread over the vantage points.
type Convergence struct {
	// Spread is the time from the first to the last full-feed peer's
	// withdrawal.
	Spread time.Duration `json:"spread_ns"`
	Peers  int           `json:"peers"`
	// PathChanges counts path changes (a route announced again with a
	// different AS path) of the lost prefixes in the minutes before they
	// were withdrawn: path hunting.
	PathChanges int `json:"path_changes"`
	// Abrupt is true when the withdrawals came within seconds with no path
	// hunting: an announcement that stopped.
	Abrupt bool `json:"abrupt"`
}

// Before says what came before a fall.
type Before struct {
	// Instability is how long the instability before the fall lasted (0:
	// none).
	Instability time.Duration `json:"instability_ns,omitempty"`
	Flaps       int           `json:"flaps,omitempty"`
	// InstabilityEnd is when that instability ended.
	InstabilityEnd *time.Time `json:"instability_end,omitempty"`
	// UpstreamChange is when the entity's upstreams last changed before the
	// fall (nil: not in the look-back).
	UpstreamChange *time.Time `json:"upstream_change,omitempty"`
	// Updates counts the entity's route events (announcements and
	// withdrawals) in about the hour before the fall; NormalUpdates is its
	// median hourly count of the last day.
	Updates       int `json:"updates_hour_before"`
	NormalUpdates int `json:"normal_updates_hour"`
}

// OtherOriginRoute is a route of another origin over an entity's address
// space around a fall.
type OtherOriginRoute struct {
	ASN    uint32    `json:"asn"`
	Prefix string    `json:"prefix"`
	Covers string    `json:"covers"` // the entity's prefix it equals or lies in
	Seen   time.Time `json:"seen"`
}

// Scope says how much of a country an event involves.
type Scope struct {
	Country string `json:"country,omitempty"`
	// Origins is how many of the country's origin ASes were involved, of
	// CountryOrigins seen.
	Origins        int          `json:"origins"`
	CountryOrigins int          `json:"country_origins"`
	Families       []bgp.Family `json:"families,omitempty"`
}

// Clone returns a deep copy of e (nil for nil).
func (e *Evidence) Clone() *Evidence {
	if e == nil {
		return nil
	}
	c := *e
	c.Upstreams = slices.Clone(e.Upstreams)
	if e.Convergence != nil {
		v := *e.Convergence
		c.Convergence = &v
	}
	if e.Before != nil {
		v := *e.Before
		if e.Before.UpstreamChange != nil {
			t := *e.Before.UpstreamChange
			v.UpstreamChange = &t
		}
		if e.Before.InstabilityEnd != nil {
			t := *e.Before.InstabilityEnd
			v.InstabilityEnd = &t
		}
		c.Before = &v
	}
	c.Recurrences = slices.Clone(e.Recurrences)
	c.OtherOrigins = slices.Clone(e.OtherOrigins)
	if e.Scope != nil {
		v := *e.Scope
		v.Families = slices.Clone(e.Scope.Families)
		c.Scope = &v
	}
	return &c
}
