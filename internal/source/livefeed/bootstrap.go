package livefeed

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/cliflag"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/archive"
	"github.com/blackout-bgp/blackout/internal/source/rislive"
)

// bootstrapFlags are the flags of the RIS Live bootstrap.
type bootstrapFlags struct {
	on, given  bool
	collectors string
	base       string
	cache      string
	wait       time.Duration
}

// boolOrList is --ris-bootstrap: alone, the collectors of --ris-filter
// host; =LIST, those collectors.
type boolOrList struct{ b *bootstrapFlags }

func (v boolOrList) String() string   { return "" }
func (v boolOrList) IsBoolFlag() bool { return true }
func (v boolOrList) Set(s string) error {
	v.b.given = true
	switch s {
	case "true":
		v.b.on = true
	case "false":
		v.b.on = false
	default:
		v.b.on, v.b.collectors = true, s
	}
	return nil
}

func (b *bootstrapFlags) register(fs *flag.FlagSet) {
	fs.Var(boolOrList{b}, "ris-bootstrap", "start RIS Live with each collector's table from the RIS archive (latest bview, then the update files up to the live stream), joined without gap or double count (--ris-bootstrap alone: the collector of --ris-filter host; =`LIST`: those collectors)")
	fs.StringVar(&b.base, "ris-base", archive.DefaultRISBase, "base URL of the RIPE RIS archive (or a mirror), for --ris-bootstrap")
	fs.StringVar(&b.cache, "cache", "", "cache directory for archive files, for --ris-bootstrap and --routeviews-bootstrap (default $BLACKOUT_ARCHIVE_CACHE or <user cache dir>/blackout/archive)")
	cliflag.DurationVar(fs, &b.wait, "ris-bootstrap-wait", 30*time.Minute, false, "longest wait for the archive to publish the update file that reaches the live stream, a positive `duration`")
}

func (b *bootstrapFlags) set() bool { return b.given && b.on }

// build returns the bootstrap (nil when not asked for).
func (b *bootstrapFlags) build(filters []rislive.Filter, logf func(string, ...any)) (*Bootstrap, error) {
	if !b.set() {
		return nil, nil
	}
	for _, f := range filters {
		if f.Type != "" || f.Require != "" || f.Peer != "" || f.Path != "" || len(f.Prefix) > 0 {
			return nil, errors.New("--ris-bootstrap needs a subscription to whole collectors (--ris-filter host=... only): the archive has their whole tables")
		}
	}
	names := b.collectors
	if names == "" {
		for _, f := range filters {
			names = f.Host
		}
	}
	if names == "" {
		return nil, errors.New("--ris-bootstrap: which collectors? give --ris-filter host=rrcNN or --ris-bootstrap=rrc00,rrc01")
	}
	var cols []archive.Collector
	for _, n := range strings.Split(names, ",") {
		c, ok := archive.Lookup(strings.TrimSuffix(strings.TrimSpace(n), ".ripe.net"))
		if !ok || c.Project != archive.RIS {
			return nil, fmt.Errorf("--ris-bootstrap: %q is not a RIPE RIS collector", n)
		}
		cols = append(cols, c)
	}
	fetcher, err := b.fetcher("--ris-bootstrap")
	if err != nil {
		return nil, err
	}
	return &Bootstrap{Collectors: cols, Bases: archive.Bases{RIS: strings.TrimRight(b.base, "/")},
		Fetcher: fetcher, Wait: b.wait, Logf: logf}, nil
}

// fetcher returns the archive fetcher of --cache, for flag's bootstrap.
func (b *bootstrapFlags) fetcher(flag string) (*archive.Fetcher, error) {
	dir := b.cache
	if dir == "" {
		d, err := archive.DefaultCacheDir()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		dir = d
	}
	return &archive.Fetcher{Dir: dir}, nil
}

// Bootstrap is RIS Live with a starting table; it implements
// source.Runner. It starts the live stream at once and buffers it; the
// join time J is the first whole second after the first live event. It
// reads each collector's table from the archive: the latest bview at or
// before J, then the update files up to the one that holds J (waiting for
// the archive to publish it, up to Wait), and delivers the archive's events
// dated before J (merged in time order), then the buffered and further
// live events dated J or later. An event of the archive and its twin on
// the live stream carry the same time (the collector's), so each is
// delivered once, and nothing between the two is missed.
type Bootstrap struct {
	Live       source.Runner // the RIS Live client
	Collectors []archive.Collector
	Bases      archive.Bases
	Fetcher    *archive.Fetcher
	// Wait bounds the wait for the update file that holds J (default 30
	// minutes); Poll is how often it is asked for again (default 30 s).
	Wait, Poll time.Duration
	// MaxBuffer bounds the live events buffered meanwhile (default 4 M);
	// beyond it the bootstrap is abandoned (said so) and the live stream
	// goes on from where the archive stopped.
	MaxBuffer int
	Logf      func(format string, args ...any)
	// Joined, if set, is told the join time and how long the bootstrap took.
	Joined func(j time.Time, took time.Duration)
}

// Name returns the live stream's name.
func (b *Bootstrap) Name() string { return b.Live.Name() }

// Run bootstraps, then follows the live stream until ctx is done.
func (b *Bootstrap) Run(ctx context.Context, out chan<- bgp.Event) error {
	if b.Logf == nil {
		b.Logf = func(string, ...any) {}
	}
	if b.Wait <= 0 {
		b.Wait = 30 * time.Minute
	}
	if b.Poll <= 0 {
		b.Poll = 30 * time.Second
	}
	if b.MaxBuffer <= 0 {
		b.MaxBuffer = 4 << 20
	}
	began := time.Now()
	liveCh := make(chan bgp.Event, 4096)
	liveErr := make(chan error, 1)
	go func() {
		liveErr <- b.Live.Run(ctx, liveCh)
		close(liveCh)
	}()
	var first bgp.Event
	select {
	case ev, ok := <-liveCh:
		if !ok {
			return <-liveErr
		}
		first = ev
	case <-ctx.Done():
		return ctx.Err()
	}
	j := first.Time.Truncate(time.Second).Add(time.Second)
	buf := []bgp.Event{first}
	b.Logf("ris-live bootstrap: live stream from %s buffered; reading %s from the archive up to %s",
		first.Time.UTC().Format(time.RFC3339Nano), names(b.Collectors), j.UTC().Format(time.RFC3339))

	jn := joiner{what: "ris-live bootstrap", maxBuffer: b.MaxBuffer, logf: b.Logf, joined: b.Joined}
	return jn.run(ctx, j, began, buf, liveCh, liveErr, func(ctx context.Context, out chan<- bgp.Event) error {
		return b.archive(ctx, j, out)
	}, out)
}

// joiner joins an archive's events dated before a join time J with a
// live stream's events dated J or later, buffering the live stream while
// the archive is read.
type joiner struct {
	what      string // "ris-live bootstrap", for the log lines
	maxBuffer int
	logf      func(string, ...any)
	joined    func(j time.Time, took time.Duration)
	// rename, if set, renames a live event's vantage point (the archive's
	// collector names).
	rename func(*bgp.Event)
	// missedUp: the live stream says a session is up when it sees a
	// peer's routes before its Peer Up (a BMP feed joined mid-stream);
	// such an event of a peer the archive already had up says nothing
	// new, and is left out (up is what is known of each peer).
	missedUp bool
	up       map[bgp.Peer]bool
}

// note records what ev says of its peer's session.
func (jn *joiner) note(ev *bgp.Event) {
	switch ev.Kind {
	case bgp.Announce, bgp.Withdraw:
		jn.up[ev.Peer] = true
	case bgp.PeerState:
		jn.up[ev.Peer] = ev.NewState == bgp.StateEstablished
	}
}

// live prepares a live event dated j or later; it reports false to leave
// it out.
func (jn *joiner) live(ev *bgp.Event) bool {
	if jn.rename != nil {
		jn.rename(ev)
	}
	if !jn.missedUp {
		return true
	}
	if ev.Kind == bgp.PeerState && ev.NewState == bgp.StateEstablished && !ev.SignalsReady && jn.up[ev.Peer] {
		return false
	}
	jn.note(ev)
	return true
}

// run delivers to out the archive's events (archive sends them, dated
// before j, in time order), then the buffered live events and those of
// liveCh dated j or later, until liveCh closes (then liveErr's error) or
// ctx is done.
func (jn *joiner) run(ctx context.Context, j, began time.Time, buf []bgp.Event, liveCh <-chan bgp.Event, liveErr <-chan error,
	archive func(context.Context, chan<- bgp.Event) error, out chan<- bgp.Event) error {
	send := func(ev bgp.Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	actx, stopArchive := context.WithCancel(ctx)
	defer stopArchive()
	archCh := make(chan bgp.Event, 4096)
	archErr := make(chan error, 1)
	go func() {
		archErr <- archive(actx, archCh)
		close(archCh)
	}()
	var n int64
	liveOpen := true
	jn.up = map[bgp.Peer]bool{}
	for archCh != nil {
		select {
		case ev, ok := <-archCh:
			if !ok {
				archCh = nil
				break
			}
			n++
			if jn.missedUp {
				jn.note(&ev)
			}
			if !send(ev) {
				return ctx.Err()
			}
		case ev, ok := <-liveCh:
			if !ok {
				liveOpen, liveCh = false, nil
				break
			}
			buf = append(buf, ev)
			if len(buf) > jn.maxBuffer {
				stopArchive()
				jn.logf("%s abandoned: %d live events buffered while the archive was read; the archive's events after the %d delivered are missing", jn.what, len(buf), n)
				for range archCh {
				}
				archCh = nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := <-archErr; err != nil && ctx.Err() == nil {
		jn.logf("%s: %v; the live stream goes on from %s", jn.what, err, j.UTC().Format(time.RFC3339))
	}
	dropped := 0
	for _, ev := range buf {
		if ev.Time.Before(j) {
			dropped++ // the archive had it
			continue
		}
		if !jn.live(&ev) {
			continue
		}
		if !send(ev) {
			return ctx.Err()
		}
	}
	took := time.Since(began)
	jn.logf("%s: joined at %s: %d events from the archive, %d buffered live events (%d before the join, in the archive), took %s",
		jn.what, j.UTC().Format(time.RFC3339), n, len(buf), dropped, took.Round(time.Millisecond))
	if jn.joined != nil {
		jn.joined(j, took)
	}
	buf = nil
	if !liveOpen {
		return <-liveErr
	}
	for ev := range liveCh {
		if ev.Time.Before(j) {
			continue // a late event of another partition or peer: the archive had it
		}
		if !jn.live(&ev) {
			continue
		}
		if !send(ev) {
			return ctx.Err()
		}
	}
	return <-liveErr
}

// archive delivers the archive's events dated before j to out.
func (b *Bootstrap) archive(ctx context.Context, j time.Time, out chan<- bgp.Event) error {
	files, err := archive.Plan(j.Add(-time.Second), j, b.Collectors, b.Bases)
	if err != nil {
		return err
	}
	// The file that holds j may not be published yet: ask again until it
	// is, up to Wait.
	last := files[len(files)-1:]
	deadline := time.Now().Add(b.Wait)
	for {
		_, err := b.Fetcher.Fetch(ctx, last)[0].Wait(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, archive.ErrNotFound) || time.Now().After(deadline) {
			return fmt.Errorf("the archive's %s: %w", last[0].Name(), err)
		}
		b.Logf("ris-live bootstrap: %s not published yet; asking again in %s", last[0].URL, b.Poll)
		select {
		case <-time.After(b.Poll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return deliverArchive(ctx, b.Fetcher, files, j, out, func(err error) { b.Logf("ris-live bootstrap: %v", err) })
}

// deliverArchive reads the files (RIBs first, then updates in time order,
// as archive.Plan lists them) through the fetcher and sends their events
// dated before j to out, merged in time order. A file that cannot be read
// is told to skipped and left out.
func deliverArchive(ctx context.Context, fetcher *archive.Fetcher, files []archive.File, j time.Time, out chan<- bgp.Event, skipped func(error)) error {
	downloads := fetcher.Fetch(ctx, files)
	streams := archive.NewSources(ctx, downloads, nil)
	srcs := make([]source.Source, len(streams))
	for i, s := range streams {
		srcs[i] = s
		defer s.Close()
	}
	m := source.Merge(srcs)
	// Each collector's stream is read ahead on its own goroutine: stop
	// them (and wait for them) before the streams are closed.
	defer m.Stop()
	for {
		ev, err := m.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if source.Skippable(err) {
				skipped(err)
				continue
			}
			return err
		}
		if !ev.Time.Before(j) {
			continue
		}
		select {
		case out <- ev.Clone():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func names(cols []archive.Collector) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = c.Name
	}
	return strings.Join(s, ",")
}
