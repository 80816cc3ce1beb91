// Package detect finds outages, partial outages, instability, upstream
// changes and vantage-point events in the signals, and explains them.
//
// The baseline of each entity and family is the median of the last 24
// hourly values of its visible address space, each the median of that
// hour's bins (IODA's 24-hour moving median, made cheap enough to keep for
// every AS). While an event is open the bins are replaced by the baseline
// itself (in-painting, as IODA does), so an outage never becomes its own
// normal. Detection does not wait for a bin to close: every change of an
// entity's visible space is compared with its baseline at once, so an
// event's start and end are the moments, to the route event, when
// visibility crossed the thresholds.
package detect

import (
	"time"

	"github.com/blackout-bgp/blackout/internal/view"
)

// Kinds of event.
const (
	KindOutage         = "outage"
	KindPartialOutage  = "partial_outage"
	KindInstability    = "instability"
	KindUpstreamChange = "upstream_change"
	KindPeerEvent      = "peer_event"
)

// Severities.
const (
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// AS describes an AS in an explanation.
type AS struct {
	ASN     uint32  `json:"asn"`
	Name    string  `json:"name,omitempty"`
	Country string  `json:"country,omitempty"`
	Share   float64 `json:"share,omitempty"` // share of the entity's routes (upstreams)
}

// Withdrawal says how a fall spread over the vantage points.
type Withdrawal struct {
	First time.Time `json:"first"` // the first withdrawal by a full-feed peer
	Last  time.Time `json:"last"`  // the last one
	Peers int       `json:"peers"` // full-feed withdrawals counted
	Full  int       `json:"full_feed_peers"`
}

// Event is one detected event. Times are data times (UTC).
type Event struct {
	ID               int        `json:"id"`
	EntityType       string     `json:"entity_type"` // "country", "asn" or "peer"
	EntityCode       string     `json:"entity_code"` // "KP", "131279", a peer address
	EntityName       string     `json:"entity_name"`
	Kind             string     `json:"kind"`
	Family           string     `json:"family"` // "ipv4", "ipv6" or "all"
	Start            time.Time  `json:"start"`
	End              *time.Time `json:"end"` // nil while ongoing
	Severity         string     `json:"severity"`
	FractionLost     float64    `json:"fraction_lost"`
	AffectedPrefixes int        `json:"affected_prefixes"`
	Prefixes         []string   `json:"prefixes"`
	Origins          []uint32   `json:"origins"`
	UpstreamsBefore  []uint32   `json:"upstreams_before"`
	Explanation      string     `json:"explanation"`

	// Details for people and programs that want more than the summary.
	Baseline      float64     `json:"baseline,omitempty"` // visible space before (/24 or /48 units)
	Lowest        float64     `json:"lowest,omitempty"`   // the lowest visible space during the event
	Unit          string      `json:"unit,omitempty"`
	OriginASes    []AS        `json:"origin_ases,omitempty"`
	UpstreamASes  []AS        `json:"upstream_ases,omitempty"`
	PathsBefore   []string    `json:"paths_before,omitempty"` // AS paths last seen before the fall
	Withdrawal    *Withdrawal `json:"withdrawal,omitempty"`
	Lost          []uint32    `json:"upstreams_lost,omitempty"`   // upstream_change
	Gained        []uint32    `json:"upstreams_gained,omitempty"` // upstream_change
	Flaps         int         `json:"flaps,omitempty"`            // instability: visibility losses
	ChurnRatio    float64     `json:"churn_ratio,omitempty"`      // instability: churn / normal churn
	PeerAS        uint32      `json:"peer_as,omitempty"`
	PeerCollector string      `json:"peer_collector,omitempty"`
	PeerRoutes    int         `json:"peer_routes,omitempty"`
	Cause         string      `json:"cause,omitempty"`                   // peer_event: session_down or table_flush
	PrecededBy    *int        `json:"preceded_by_instability,omitempty"` // id of an instability event just before

	affected map[view.PrefixID]struct{}
}

// Duration returns the event's duration, or the time since its start at now
// while it is ongoing.
func (e *Event) Duration(now time.Time) time.Duration {
	if e.End != nil {
		return e.End.Sub(e.Start)
	}
	return now.Sub(e.Start)
}

// Notice is what a Sink receives: an event that started, changed
// (escalated), ended, or was retracted (an outage that ended within
// Config.TransientOutage: a transient drop, not an outage).
type Notice struct {
	Type  string // "start", "escalate", "end", "retract"
	Event *Event // the event as it is now; the detector keeps updating it
	Time  time.Time
}

// Sink receives notices as the detector emits them, in data-time order.
type Sink interface {
	Notify(n Notice)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Notice)

// Notify calls f(n).
func (f SinkFunc) Notify(n Notice) { f(n) }
