// Package store keeps what `blackout serve` learns: the signal bins of
// every entity, the events with their explanations, the entities seen with
// their upstreams, a little metadata (how far the data went), and the alert
// outbox: every notice of an event change, written in the same transaction
// as the change, with what became of its delivery to each alert sink. The
// default backend is SQLite (modernc.org/sqlite,
// pure Go) in one file; the Store interface lets another backend come later.
//
// Every write is idempotent: bins are upserted on (entity, family, time)
// and events on their natural key (entity, kind at start, family, start),
// so replaying the same data again after a crash rewrites the same rows
// and never adds one twice. Notices are kept once per (event natural key,
// notice type, data time): a replay after a crash adds only the notices
// the crashed run had not stored, so each is announced once.
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

// ErrFenced is the error of a write refused because the writer's fencing
// token is no longer the store's: another writer took over (a lease
// revision higher than the one this writer was given). A fenced writer
// must stop; its writes are never applied.
var ErrFenced = errors.New("fenced: a newer writer holds the store")

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
	// Notice, if set, is the notice announcing this change: it goes into
	// the outbox in the same transaction as the change (unless the outbox
	// holds it already). Write sets its Seq (0 when it was there).
	Notice *NoticeOp
}

// NoticeOp is a notice handed in with its event operation.
type NoticeOp struct {
	Type  event.NoticeType
	Time  time.Time   // data time of the change
	Event event.Event // the event as readers see it (stored ids); the Writer fills it in
	Seq   int64       // set by Write: the notice's sequence number, 0 if it was stored before
}

// Notice is a notice as the outbox keeps it.
type Notice struct {
	Seq     int64 // sequence number: 1, 2, ... in the order the notices were stored
	Type    event.NoticeType
	Time    time.Time   // data time of the change
	Key     string      // the event's natural key (what orders one event's notices)
	Event   event.Event // the event as it was announced
	Created time.Time   // wall time it was stored
}

// Delivery states.
const (
	Delivered = "delivered"
	Dead      = "dead"
)

// Delivery is what became of a notice's delivery to one alert sink.
type Delivery struct {
	Seq      int64
	Sink     string
	State    string // Delivered or Dead
	Attempts int
	Error    string    // the last attempt's error ("" when delivered)
	Time     time.Time // wall time of the last attempt
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

// DeadLetter is a notice that could not be delivered to a sink.
type DeadLetter struct {
	Delivery
	Notice Notice
}

// DeadFilter selects dead letters. Zero fields do not filter.
type DeadFilter struct {
	Sink  string
	Seqs  []int64 // only these notices
	Limit int     // default 100
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
	// Notices returns up to limit notices with a sequence number above
	// after, in order.
	Notices(ctx context.Context, after int64, limit int) ([]Notice, error)
	// NoticesOf returns the notices of an event by its natural key (Notice.Key), in order.
	NoticesOf(ctx context.Context, key string) ([]Notice, error)
	// NoticesIn returns the notices with from <= data time < until, in order.
	NoticesIn(ctx context.Context, from, until time.Time) ([]Notice, error)
	// LastNoticeSeq returns the highest notice sequence number (0 if none).
	LastNoticeSeq(ctx context.Context) (int64, error)
	// Sink registers an alert sink the first time it is seen (it then
	// starts after the latest notice: a new sink is not sent the
	// history) and returns the sequence number it starts after and the
	// one up to which every notice is handled.
	Sink(ctx context.Context, name string) (from, done int64, err error)
	// SetSinkDone records that every notice up to done is handled for the sink.
	SetSinkDone(ctx context.Context, name string, done int64) error
	// Handled returns the notices in (after, through] with a delivery
	// recorded for the sink.
	Handled(ctx context.Context, sink string, after, through int64) (map[int64]bool, error)
	// RecordDelivery records (or replaces) what became of a delivery.
	RecordDelivery(ctx context.Context, d Delivery) error
	// DeadLetters returns the dead letters, the latest first.
	DeadLetters(ctx context.Context, f DeadFilter) ([]DeadLetter, error)
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
	// MetaOutboxFrom is the data time the outbox started at, in a store
	// made before it had one: the notices up to it were announced by the
	// older version and are not stored again.
	MetaOutboxFrom = "outbox_from"
	// MetaAlertsFloor is the notice sequence number up to which no alert
	// is sent (set by a rebuild, whose notices were announced before).
	MetaAlertsFloor = "alerts_floor"
)
