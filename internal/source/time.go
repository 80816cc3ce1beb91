package source

import (
	"fmt"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// Earliest is the earliest time a route event may carry: MRT archives
// begin in 1999, so anything before 1990 is a broken timestamp.
var Earliest = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)

// Time bounds of route events.
const (
	// MaxJump is how far one file's or archive's event may be from its
	// previous event. Update files are continuous (minutes apart) and
	// files of one collector are separate sources, so a record a day ahead
	// of its neighbours is a broken timestamp, not the data's clock.
	MaxJump = 24 * time.Hour
	// MaxFuture is how far ahead of the wall clock any event may be (the
	// data cannot come from the future; a collector's clock may be a
	// little off).
	MaxFuture = 10 * time.Minute
)

// TimeError is a route event whose time is implausible. It is skippable:
// the event is dropped and the source goes on; no clock moves.
type TimeError struct {
	Source string    // the file, URL or feed
	Offset int64     // byte offset of the record in the file (-1 when unknown)
	Peer   bgp.Peer  // the vantage point that sent it
	Time   time.Time // the event's time
	Reason string    // "before 1990", "2h0m0s ahead of the wall clock", ...
}

func (e *TimeError) Error() string {
	where := e.Source
	if e.Offset >= 0 {
		where = fmt.Sprintf("%s: record at offset %d", e.Source, e.Offset)
	}
	return fmt.Sprintf("%s: route event of peer %s AS%d dated %s: %s; the event is dropped", where,
		e.Peer.Addr, e.Peer.AS, e.Time.UTC().Format(time.RFC3339), e.Reason)
}

// Skippable reports true: the source goes on after a bad timestamp.
func (e *TimeError) Skippable() bool { return true }

// CheckTime returns why t is implausible for an event, or "" when it is
// fine: before Earliest, more than MaxFuture ahead of wall (if wall is not
// zero), or more than MaxJump away from prev (if prev is not zero).
func CheckTime(t, prev, wall time.Time) string {
	switch {
	case t.Before(Earliest):
		return "before 1990"
	case !wall.IsZero() && t.After(wall.Add(MaxFuture)):
		return fmt.Sprintf("%s ahead of the wall clock", t.Sub(wall).Round(time.Second))
	case !prev.IsZero() && t.After(prev.Add(MaxJump)):
		return fmt.Sprintf("%s after the previous event of this input", t.Sub(prev).Round(time.Second))
	case !prev.IsZero() && t.Before(prev.Add(-MaxJump)):
		return fmt.Sprintf("%s before the previous event of this input", prev.Sub(t).Round(time.Second))
	}
	return ""
}
