package livefeed

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/archive"
)

// RouteViewsBootstrap is RouteViews' Kafka feed with a starting table; it
// implements source.Runner. Kafka keeps the feed's past, so there is no
// waiting for the archive: the join time J is the end of the latest
// update file the archive has published for every collector (probed
// backwards from now, 15 minutes at a time, up to MaxBack). The feed is
// started at J-Margin (Kafka's seek by time) and buffered while each
// collector's latest RIB at or before J and its update files up to J are
// read; then the archive's events dated before J are delivered (merged in
// time order), then the feed's events dated J or later. The feed's
// collector names ("linx", as RouteViews' OpenBMP header says) become the
// archive's ("route-views.linx"), so that a live route replaces the
// archive's route of the same peer.
//
// A peer is ready from its RIB (the archive's table dump: the family is
// judged from it); a peer whose session comes up on the feed after J is
// learning until its End-of-RIB or a quiet table.
type RouteViewsBootstrap struct {
	// Live returns the Kafka consumer started at start.
	Live       func(start time.Time) (source.Runner, error)
	Collectors []archive.Collector
	Bases      archive.Bases
	Fetcher    *archive.Fetcher
	// Now is the time the archive is probed from (default time.Now).
	Now func() time.Time
	// MaxBack bounds how far back from Now the latest published update
	// file is looked for (default 2 hours).
	MaxBack time.Duration
	// Margin is how long before J the feed is started (default 5 minutes):
	// Kafka's timestamps are the producer's clock, the events' times the
	// router's.
	Margin time.Duration
	// MaxBuffer bounds the live events buffered while the archive is read
	// (default 4 M).
	MaxBuffer int
	Logf      func(format string, args ...any)
	// Joined, if set, is told the join time and how long the bootstrap took.
	Joined func(j time.Time, took time.Duration)
	name   string
}

// Name returns "routeviews bootstrap" and the collectors.
func (b *RouteViewsBootstrap) Name() string {
	if b.name != "" {
		return b.name
	}
	return "routeviews (bootstrap " + names(b.Collectors) + ")"
}

// Run bootstraps, then follows the feed until ctx is done.
func (b *RouteViewsBootstrap) Run(ctx context.Context, out chan<- bgp.Event) error {
	if b.Logf == nil {
		b.Logf = func(string, ...any) {}
	}
	if b.Now == nil {
		b.Now = time.Now
	}
	if b.MaxBack <= 0 {
		b.MaxBack = 2 * time.Hour
	}
	if b.Margin <= 0 {
		b.Margin = 5 * time.Minute
	}
	if b.MaxBuffer <= 0 {
		b.MaxBuffer = 4 << 20
	}
	if len(b.Collectors) == 0 {
		return errors.New("routeviews bootstrap: no collector")
	}
	began := time.Now()
	j, err := b.joinTime(ctx)
	if err != nil {
		return err
	}
	live, err := b.Live(j.Add(-b.Margin))
	if err != nil {
		return err
	}
	b.name = live.Name()
	liveCh := make(chan bgp.Event, 4096)
	liveErr := make(chan error, 1)
	go func() {
		liveErr <- live.Run(ctx, liveCh)
		close(liveCh)
	}()
	b.Logf("routeviews bootstrap: the feed started at %s (Kafka time) and buffered; reading %s from the archive up to %s",
		j.Add(-b.Margin).UTC().Format(time.RFC3339), names(b.Collectors), j.UTC().Format(time.RFC3339))
	files, err := archive.Plan(j.Add(-time.Second), j, b.Collectors, b.Bases)
	if err != nil {
		return err
	}
	rename := b.renamer()
	jn := joiner{what: "routeviews bootstrap", maxBuffer: b.MaxBuffer, logf: b.Logf, joined: b.Joined, rename: rename, missedUp: true}
	return jn.run(ctx, j, began, nil, liveCh, liveErr, func(ctx context.Context, out chan<- bgp.Event) error {
		return deliverArchive(ctx, b.Fetcher, files, j, out, func(err error) { b.Logf("routeviews bootstrap: %v", err) })
	}, out)
}

// joinTime returns the end of the latest update file that every
// collector has published.
func (b *RouteViewsBootstrap) joinTime(ctx context.Context) (time.Time, error) {
	sch := archive.ScheduleOf(archive.RouteViews)
	now := b.Now().UTC()
	var j time.Time
	for _, c := range b.Collectors {
		end, err := b.latest(ctx, c, now, sch.UpdatesEvery)
		if err != nil {
			return time.Time{}, err
		}
		if j.IsZero() || end.Before(j) {
			j = end
		}
	}
	return j, nil
}

// latest returns the end of collector c's latest update file published
// at now.
func (b *RouteViewsBootstrap) latest(ctx context.Context, c archive.Collector, now time.Time, every time.Duration) (time.Time, error) {
	var tried []string
	for t := now.Truncate(every).Add(-every); !t.Before(now.Add(-b.MaxBack)); t = t.Add(-every) {
		files, err := archive.Plan(t, t.Add(time.Second), []archive.Collector{c}, b.Bases)
		if err != nil {
			return time.Time{}, err
		}
		f := files[len(files)-1] // the update file starting at t
		_, err = b.Fetcher.Fetch(ctx, []archive.File{f})[0].Wait(ctx)
		if err == nil {
			return t.Add(every), nil
		}
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		if !errors.Is(err, archive.ErrNotFound) {
			return time.Time{}, fmt.Errorf("routeviews bootstrap: the archive's %s: %w", f.Name(), err)
		}
		tried = append(tried, f.Name())
	}
	return time.Time{}, fmt.Errorf("routeviews bootstrap: %s has no update file in the %s before %s (%s)", c.Name, b.MaxBack,
		now.Format(time.RFC3339), strings.Join(tried, ", "))
}

// renamer returns the function that gives the feed's vantage points the
// archive's collector names: "linx" (and "linx/post", "linx/loc-rib")
// become "route-views.linx" when that collector is bootstrapped; a name
// that already is a bootstrapped collector's stays.
func (b *RouteViewsBootstrap) renamer() func(*bgp.Event) {
	to := map[string]string{}
	for _, c := range b.Collectors {
		to[c.Name] = c.Name
		if short, ok := strings.CutPrefix(c.Name, "route-views."); ok {
			to[short] = c.Name
		}
	}
	return func(ev *bgp.Event) {
		name, view, _ := strings.Cut(ev.Peer.Collector, "/")
		if full, ok := to[name]; ok && full != name {
			if view != "" {
				full += "/" + view
			}
			ev.Peer.Collector = full
		}
	}
}
