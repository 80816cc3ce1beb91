// Package event is blackout's one vocabulary for what it reports: events
// (outages, partial outages, instability, upstream changes, vantage-point
// events), their kinds, severities and entity types, and the notices a
// detector sends about them (start, escalate, end, retract). The detector
// produces these values; the store, the API, the alerts and the reports
// consume them, and none of them needs the detector to do so.
package event

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// EntityType is what an event or a signal is about: a country, an origin
// AS, or a vantage point (peer). It is small so that it can key maps; its
// text form is "country", "asn" or "peer".
type EntityType uint8

// Entity types.
const (
	Country  EntityType = iota + 1
	OriginAS            // text form "asn"
	Peer
)

// String returns "country", "asn" or "peer".
func (t EntityType) String() string {
	switch t {
	case Country:
		return "country"
	case OriginAS:
		return "asn"
	case Peer:
		return "peer"
	}
	return "entity"
}

// ParseEntityType parses "country", "asn" (or "as") or "peer".
func ParseEntityType(s string) (EntityType, error) {
	switch s {
	case "country":
		return Country, nil
	case "asn", "as":
		return OriginAS, nil
	case "peer":
		return Peer, nil
	}
	return 0, fmt.Errorf("entity type %q: want country, asn or peer", s)
}

// MarshalText returns the type's name.
func (t EntityType) MarshalText() ([]byte, error) {
	if t < Country || t > Peer {
		return nil, fmt.Errorf("invalid entity type %d", uint8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText parses a type's name.
func (t *EntityType) UnmarshalText(b []byte) error {
	v, err := ParseEntityType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Kind is the kind of an event.
type Kind string

// Kinds of event.
const (
	Outage         Kind = "outage"          // near total: at least 95% of the address space lost
	PartialOutage  Kind = "partial_outage"  // a share of the address space lost for a while
	Instability    Kind = "instability"     // reachability going up and down
	UpstreamChange Kind = "upstream_change" // the transit an entity is reached through changed
	PeerEvent      Kind = "peer_event"      // a vantage point's session reset or table flush
)

// Kinds lists every kind, in the order reports use.
var Kinds = []Kind{Outage, PartialOutage, Instability, UpstreamChange, PeerEvent}

// ParseKind parses a kind's name.
func ParseKind(s string) (Kind, error) {
	if k := Kind(s); slices.Contains(Kinds, k) {
		return k, nil
	}
	return "", fmt.Errorf("event kind %q: want one of outage, partial_outage, instability, upstream_change, peer_event", s)
}

// Severity is how bad an event is.
type Severity string

// Severities.
const (
	Warning  Severity = "warning"
	Critical Severity = "critical" // at least half of the address space lost (IODA's critical level)
)

// Rank orders severities: 0 for an unknown one, 1 warning, 2 critical.
func (s Severity) Rank() int {
	switch s {
	case Warning:
		return 1
	case Critical:
		return 2
	}
	return 0
}

// ParseSeverity parses "warning" or "critical".
func ParseSeverity(s string) (Severity, error) {
	switch Severity(s) {
	case Warning, Critical:
		return Severity(s), nil
	}
	return "", fmt.Errorf("severity %q: want warning or critical", s)
}

// NoticeType says what happened to an event.
type NoticeType string

// Notice types.
const (
	Start    NoticeType = "start"    // the event began
	Escalate NoticeType = "escalate" // its kind or severity changed
	End      NoticeType = "end"      // it ended
	Retract  NoticeType = "retract"  // it was a transient drop, not an event: forget it
)

// NoticeTypes lists every notice type.
var NoticeTypes = []NoticeType{Start, Escalate, End, Retract}

// ParseNoticeType parses a notice type's name.
func ParseNoticeType(s string) (NoticeType, error) {
	if n := NoticeType(s); slices.Contains(NoticeTypes, n) {
		return n, nil
	}
	return "", fmt.Errorf("notice type %q: want start, escalate, end or retract", s)
}

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
	ID         int        `json:"id"`
	EntityType EntityType `json:"entity_type"` // country, asn or peer
	EntityCode string     `json:"entity_code"` // "KP", "131279", a peer address
	EntityName string     `json:"entity_name"`
	Kind       Kind       `json:"kind"`
	Family     bgp.Family `json:"family"` // ipv4, ipv6 or all
	Start      time.Time  `json:"start"`
	End        *time.Time `json:"end"` // nil while ongoing; the first recovery
	// Recovered is when the entity was back within its normal (at most
	// RecoverShare lost): the end of the recovery that End began; nil
	// while ongoing and for events that are moments.
	Recovered        *time.Time `json:"recovered,omitempty"`
	Severity         Severity   `json:"severity"`
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

	// Causes lists the causes the routing evidence is consistent with,
	// best fit first (outages, partial outages, upstream changes). It is
	// never a verdict: see Evidence for what they rest on.
	Causes []Cause `json:"causes,omitempty"`
	// Evidence is what the routing view held at the event that bears on
	// its cause.
	Evidence *Evidence `json:"evidence,omitempty"`
}

// Duration returns the event's duration, or the time since its start at now
// while it is ongoing.
func (e *Event) Duration(now time.Time) time.Duration {
	if e.End != nil {
		return e.End.Sub(e.Start)
	}
	return now.Sub(e.Start)
}

// Clone returns a deep copy of e: the detector keeps changing its own
// events, so a consumer that keeps one copies it.
func (e *Event) Clone() *Event {
	c := *e
	if e.End != nil {
		t := *e.End
		c.End = &t
	}
	if e.Recovered != nil {
		t := *e.Recovered
		c.Recovered = &t
	}
	c.Prefixes = slices.Clone(e.Prefixes)
	c.Origins = slices.Clone(e.Origins)
	c.UpstreamsBefore = slices.Clone(e.UpstreamsBefore)
	c.OriginASes = slices.Clone(e.OriginASes)
	c.UpstreamASes = slices.Clone(e.UpstreamASes)
	c.PathsBefore = slices.Clone(e.PathsBefore)
	if e.Withdrawal != nil {
		w := *e.Withdrawal
		c.Withdrawal = &w
	}
	c.Lost = slices.Clone(e.Lost)
	c.Gained = slices.Clone(e.Gained)
	if e.PrecededBy != nil {
		p := *e.PrecededBy
		c.PrecededBy = &p
	}
	c.Causes = slices.Clone(e.Causes)
	c.Evidence = e.Evidence.Clone()
	return &c
}

// Notice is what a Sink receives: an event that started, changed
// (escalated), ended, or was retracted (a transient drop, not an event).
type Notice struct {
	Type  NoticeType
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

// FormatDuration returns a duration as every report writes it: "45s",
// "4m05s", "9h31m", "2d09h" (rounded to the hour from two days on).
func FormatDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		d = d.Round(time.Hour)
		return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return d.Round(time.Second).String()
}

// Coverage says what a run could judge: per family, whether detection ran
// (and from when) or why not, and what of the input could not be read. A
// report that found no event says "nothing went dark" only for what was
// judged.
type Coverage struct {
	Families []FamilyCoverage `json:"families"`
	// Undecoded counts input records that were not decoded (record types
	// blackout does not read), by type name.
	Undecoded map[string]int64 `json:"undecoded,omitempty"`
	// InputErrors counts the input errors of the run.
	InputErrors int `json:"input_errors"`
	// LongPaths counts the announcements dropped (treated as withdrawals)
	// because their AS path had more than MaxPathLen ASes.
	LongPaths  int64 `json:"long_paths,omitempty"`
	MaxPathLen int   `json:"max_path_len,omitempty"` // set with LongPaths
}

// FamilyCoverage is one address family's part of a Coverage.
type FamilyCoverage struct {
	Family        bgp.Family `json:"family"`
	FullFeedPeers int        `json:"full_feed_peers"`
	RIB           bool       `json:"rib"` // a RIB dump of the family was read
	// JudgedFrom is when detection started for the family (nil: not yet).
	JudgedFrom *time.Time `json:"judged_from"`
	// NotJudged says why the family is not judged (empty when it is).
	NotJudged string `json:"not_judged,omitempty"`
	// Note qualifies a judged family ("no RIB dump: ...").
	Note string `json:"note,omitempty"`
	// LivePeers and ReadyPeers count the live peers that signal when
	// their tables are complete (BGP sessions, BMP), up now, and those of
	// them whose table of the family is complete. Not in a report's JSON
	// (the API shows them).
	LivePeers  int `json:"-"`
	ReadyPeers int `json:"-"`
}

// Judged reports whether some family was judged.
func (c *Coverage) Judged() bool {
	for _, f := range c.Families {
		if f.JudgedFrom != nil {
			return true
		}
	}
	return false
}

// Statements returns the coverage as sentences for people: one per family
// ("IPv4: judged from 2014-12-19 00:00:00 UTC." / "IPv6: not judged: no
// full-feed peers."), then the records that were not decoded and the
// announcements dropped for their path's length.
func (c *Coverage) Statements() []string {
	var out []string
	for _, f := range c.Families {
		switch {
		case f.JudgedFrom != nil && f.Note != "":
			out = append(out, fmt.Sprintf("%s: judged from %s (%d full-feed peers); %s.", f.Family.Label(), f.JudgedFrom.UTC().Format("2006-01-02 15:04:05 UTC"), f.FullFeedPeers, f.Note))
		case f.JudgedFrom != nil:
			out = append(out, fmt.Sprintf("%s: judged from %s (%d full-feed peers).", f.Family.Label(), f.JudgedFrom.UTC().Format("2006-01-02 15:04:05 UTC"), f.FullFeedPeers))
		default:
			out = append(out, fmt.Sprintf("%s: not judged: %s.", f.Family.Label(), f.NotJudged))
		}
	}
	if len(c.Undecoded) > 0 {
		names := make([]string, 0, len(c.Undecoded))
		for k := range c.Undecoded {
			names = append(names, k)
		}
		slices.Sort(names)
		parts := make([]string, 0, 4)
		var rest int64
		for i, k := range names {
			if i < 4 {
				rs := "records"
				if c.Undecoded[k] == 1 {
					rs = "record"
				}
				parts = append(parts, fmt.Sprintf("%s %s of MRT %s", Thousands(c.Undecoded[k]), rs, k))
			} else {
				rest += c.Undecoded[k]
			}
		}
		if rest > 0 {
			parts = append(parts, fmt.Sprintf("%s of other types", Thousands(rest)))
		}
		out = append(out, strings.Join(parts, ", ")+" not decoded: what they hold was not judged.")
	}
	if c.LongPaths > 0 {
		out = append(out, fmt.Sprintf("%d announcements had AS paths longer than %d ASes and were dropped (treated as withdrawals): what they announced was not judged.", c.LongPaths, c.MaxPathLen))
	}
	return out
}

// Thousands writes n with thousands separators, as every report does:
// 24,242.
func Thousands(n int64) string {
	if n < 0 {
		return "-" + Thousands(-n)
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
