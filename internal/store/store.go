// Package store keeps what `blackout serve` learns: the signal bins of
// every entity, the events with their explanations, the entities seen with
// their upstreams, a little metadata (how far the data went), and the alert
// deliveries that failed. The default backend is SQLite (modernc.org/sqlite,
// pure Go) in one file; the Store interface lets another backend come later.
//
// Every write is idempotent: bins are upserted on (entity, family, time)
// and events on their natural key (entity, kind at start, family, start),
// so replaying the same data again after a crash rewrites the same rows
// and never adds one twice.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
)

// ErrNotFound is returned for an unknown event or entity.
var ErrNotFound = errors.New("not found")

// Bin is one closed signal bin of an entity and family.
type Bin struct {
	EntityType event.EntityType // event.Country or event.OriginAS
	EntityCode string           // "KP", "131279"
	Family     bgp.Family       // bgp.IPv4 or bgp.IPv6
	Time       time.Time
	Space      float64
	MinSpace   float64
	Baseline   float64
	Prefixes   int32
	Origins    int32
	Churn      int32
}

// EventKey is an event's natural key: what identifies it across runs over
// the same data. Kind is the kind the event had when it started (an event
// may escalate from partial_outage to outage later).
type EventKey struct {
	EntityType event.EntityType
	EntityCode string
	Kind       event.Kind
	Family     bgp.Family
	Start      time.Time
}

// KeyOf returns the natural key of an event as it is when it starts.
func KeyOf(ev *event.Event) EventKey {
	return EventKey{EntityType: ev.EntityType, EntityCode: ev.EntityCode, Kind: ev.Kind, Family: ev.Family, Start: ev.Start}
}

// EventOp is one change of an event: an upsert of its current state, or its
// deletion (a retracted transient outage).
type EventOp struct {
	Key   EventKey
	DetID int // the detector's id of the event (to resolve preceded_by_instability)
	// ID is the stored id, when the caller assigned it (the Writer does):
	// the event is then inserted or updated under this id, and
	// Event.PrecededBy already holds a stored id. Zero lets the store find
	// the id by the natural key or assign the next one, and resolve
	// Event.PrecededBy from the detector ids it has seen.
	ID     int64
	Event  event.Event // a copy of the event; its ID is replaced by the stored one
	Delete bool
}

// Entity is what is known of an entity seen in the data.
type Entity struct {
	Type      event.EntityType
	Code      string
	Families  []bgp.Family // the families it was seen in, in order
	Upstreams []event.AS   // current upstreams with their share of the entity's routes
	Updated   time.Time    // data time of the last change
}

// Batch is written in one transaction.
type Batch struct {
	Bins     []Bin
	Events   []EventOp // applied in order
	Entities []Entity
	Meta     map[string]string
}

// Empty reports whether the batch holds nothing.
func (b *Batch) Empty() bool {
	return len(b.Bins) == 0 && len(b.Events) == 0 && len(b.Entities) == 0 && len(b.Meta) == 0
}

// StoredEvent is an event as stored.
type StoredEvent struct {
	ID       int64
	Key      EventKey
	Kind     event.Kind // current kind
	Severity event.Severity
	End      *time.Time
	Updated  time.Time
	Event    event.Event // with ID set to the stored id
}

// Cursor is a position in the newest-first list of events.
type Cursor struct {
	Start time.Time
	ID    int64
}

// EventFilter selects events. Zero fields do not filter.
type EventFilter struct {
	EntityType  event.EntityType
	EntityCode  string
	Kind        event.Kind     // the current kind
	Severity    event.Severity // the minimum severity (warning includes critical)
	From, Until time.Time      // events overlapping [From, Until]
	Ongoing     bool           // only events without an end
	Limit       int            // default 100
	After       *Cursor        // continue after this position (exclusive)
}

// DeadLetter is an alert that could not be delivered.
type DeadLetter struct {
	ID       int64
	Time     time.Time // wall time of the last attempt
	Sink     string
	Payload  []byte
	Error    string
	Attempts int
}

// Store is a backend.
type Store interface {
	// Write applies a batch in one transaction and returns the stored ids
	// of the event operations (0 for deletions), in order.
	Write(ctx context.Context, b *Batch) ([]int64, error)
	// Bins returns the bins of an entity and family with from <= time <=
	// until, in time order, preceded by the last bin before from if any
	// (so that a series can be carried forward into the range).
	Bins(ctx context.Context, typ event.EntityType, code string, family bgp.Family, from, until time.Time) ([]Bin, error)
	// LastBinTime returns the time of the latest bin stored (zero if none).
	LastBinTime(ctx context.Context) (time.Time, error)
	// EventIDs returns the stored id of every event by its natural key,
	// and the highest id ever assigned (deleted events included, so that
	// an id is never given twice).
	EventIDs(ctx context.Context) (map[EventKey]int64, int64, error)
	Events(ctx context.Context, f EventFilter) ([]StoredEvent, error)
	Event(ctx context.Context, id int64) (*StoredEvent, error)
	// CountOpen returns the number of events without an end.
	CountOpen(ctx context.Context) (int, error)
	// Entities returns the entities of a type (all of them for 0).
	Entities(ctx context.Context, typ event.EntityType) ([]Entity, error)
	Entity(ctx context.Context, typ event.EntityType, code string) (*Entity, error)
	Meta(ctx context.Context, key string) (string, bool, error)
	AddDeadLetter(ctx context.Context, d DeadLetter) error
	DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// PruneBins deletes the bins before t and returns how many went.
	PruneBins(ctx context.Context, before time.Time) (int64, error)
	Close() error
}

// Meta keys.
const (
	MetaDataTime = "data_time"    // RFC 3339 data time the pipeline had reached at the last flush
	MetaSource   = "source"       // a description of the source (files and their sizes)
	MetaEvents   = "route_events" // route events fed up to data_time
	MetaBin      = "bin"          // the bin width (a Go duration)
)
