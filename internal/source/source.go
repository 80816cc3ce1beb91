// Package source holds every source of route events: MRT files (File), the
// RIPE RIS and RouteViews archives (package source/archive), RIS Live, BGP
// sessions (blackout as a passive route collector) and BMP (the live feeds,
// Runners), plus the recorder that writes what a live feed received into
// rotating MRT files, so that any live period can be replayed exactly.
//
// There is one interface, Source, and two ways to join sources: Merge
// orders files and archives by time (replay), Join joins live feeds in
// arrival order (FromChannel makes it a Source). Both check every event's time (see CheckTime): a record
// dated 2097 in a 2016 file is an input error naming the file and offset,
// never a new clock.
package source

import (
	"context"
	"errors"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// Source is a stream of route events.
type Source interface {
	// Next returns the next route event, valid until the following call,
	// or io.EOF at the end. An error for which Skippable reports true
	// (one bad record, a gap in an archive) leaves the source going; any
	// other error ends it.
	Next() (*bgp.Event, error)
}

// Runner is a live feed: RIS Live, BGP sessions, BMP. Join and
// FromChannel turn runners into one Source.
type Runner interface {
	// Name names the feed in logs and errors ("ris-live", "bgp 127.0.0.2").
	Name() string
	// Run delivers events to out until ctx is done (it then returns
	// ctx.Err()) or the feed fails for good. Sessions that end are
	// reported as PeerState events, never as withdrawals. The events are
	// the runner's own copies: they alias none of its buffers.
	Run(ctx context.Context, out chan<- bgp.Event) error
}

// Skippable reports whether a source goes on after err: err, or an error
// it wraps, has a method Skippable() bool that returns true (mrt's record
// errors, archive gaps, time errors).
func Skippable(err error) bool {
	var s interface{ Skippable() bool }
	return errors.As(err, &s) && s.Skippable()
}

// Undecoder is implemented by sources that can tell which of their input
// records they did not decode (record types blackout does not read), by
// type name, so that a report can say what was not judged.
type Undecoder interface {
	Undecoded(into map[string]int64)
}

// AheadReader is implemented by sources that Merge may read ahead, on a
// goroutine of their own (File, an archive collector's stream).
type AheadReader interface {
	// ReadAhead reports whether the source may be read on a goroutine of
	// its own: its Next shares no unsynchronised state with the other
	// sources of the merge nor with the merge's reader. The reading
	// goroutine copies each event before the next call of Next.
	ReadAhead() bool
}

// Blocker is implemented by sources whose Next can wait for input that
// has not arrived yet (an archive stream whose next file is still
// downloading). A source read ahead (Merge) hands over the events it
// holds before such a wait, so that what has arrived flows on at once.
type Blocker interface {
	// BeforeWait sets f (nil: none) to be called by Next, on Next's
	// goroutine, before it waits for input.
	BeforeWait(f func())
}
