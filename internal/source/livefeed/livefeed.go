// Package livefeed is the live side of `blackout watch` and `blackout
// serve`: the flags of every live source (RIS Live, BGP sessions, BMP, the
// recorder), the sources they build, and their run: joined in arrival
// order, recorded if asked, and the limits the view applies to live peers
// (the maximum prefix count, whose breach closes a BGP session with a
// Cease).
// The commands keep only the wiring.
package livefeed

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/cliflag"
	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/archive"
	"github.com/blackout-bgp/blackout/internal/source/bgpsession"
	"github.com/blackout-bgp/blackout/internal/source/bmp"
	"github.com/blackout-bgp/blackout/internal/source/record"
	"github.com/blackout-bgp/blackout/internal/source/rislive"
	"github.com/blackout-bgp/blackout/internal/source/routeviews"
)

// Default maximum prefix counts per peer: about twice a full table of
// 2025 (1.04 M IPv4, 0.22 M IPv6 prefixes).
const (
	DefaultMaxPrefixesV4 = 2_000_000
	DefaultMaxPrefixesV6 = 500_000
)

// Flags are the live sources' flags.
type Flags struct {
	ris        risLiveURL
	risFilter  rislive.Filter
	risFilters int
	risBackoff time.Duration
	boot       bootstrapFlags

	bgpListen, routerID string
	localAS             uint
	peers               []bgpsession.Neighbor
	accept              []netip.Prefix
	maxSessions         int
	handshake           time.Duration
	quiet               time.Duration
	maxPrefixes         [2]int

	bmpListen string
	bmpViews  bmp.View

	recordDir   string
	recordEvery time.Duration

	routeviews *routeviews.Flags
	rvBoot     string // --routeviews-bootstrap
	rvBase     string
}

// Register registers the flags on fs.
func Register(fs *flag.FlagSet) *Flags {
	f := &Flags{bmpViews: bmp.DefaultViews, maxPrefixes: [2]int{DefaultMaxPrefixesV4, DefaultMaxPrefixesV6}}
	fs.Var(&f.ris, "ris-live", "follow RIPE RIS Live (--ris-live alone: "+rislive.DefaultURL+"; --ris-live=URL: another endpoint)")
	fs.Func("ris-filter", "RIS Live subscription filter `KEY=VALUE` (host, prefix, moreSpecific, lessSpecific, path, peer, type, require; repeatable; implies --ris-live)", func(kv string) error {
		f.risFilters++
		return f.risFilter.Set(kv)
	})
	cliflag.DurationVar(fs, &f.risBackoff, "ris-max-backoff", time.Minute, false, "longest wait between two RIS Live reconnection attempts, a positive `duration`")
	f.boot.register(fs)
	fs.StringVar(&f.bgpListen, "bgp-listen", "", "accept BGP sessions from routers on `ADDR:PORT` (blackout is a passive collector; it announces nothing)")
	fs.UintVar(&f.localAS, "local-as", 0, "the collector's `AS` number (with --bgp-listen)")
	fs.StringVar(&f.routerID, "router-id", "", "the collector's BGP identifier, an IPv4 `ADDR` (default: the listen address, or 192.0.2.1)")
	fs.Func("bgp-peer", "a router that may peer, `ADDR=AS` (ADDR alone: any AS; repeatable)", func(s string) error {
		n, err := bgpsession.ParseNeighbor(s)
		if err == nil {
			f.peers = append(f.peers, n)
		}
		return err
	})
	fs.Func("bgp-accept", "accept sessions from any router in `PREFIX`, with any AS (repeatable)", func(s string) error {
		p, err := netip.ParsePrefix(s)
		if err == nil {
			f.accept = append(f.accept, p)
		}
		return err
	})
	cliflag.PositiveVar(fs, &f.maxSessions, "bgp-max-sessions", bgpsession.DefaultMaxSessions, "at most `N` BGP connections open at once (one more is closed at once)")
	cliflag.DurationVar(fs, &f.handshake, "bgp-handshake-timeout", bgpsession.DefaultHandshakeTimeout, false, "longest a BGP connection may take to reach Established, a positive `duration`")
	cliflag.DurationVar(fs, &f.quiet, "ready-quiet", source.DefaultQuiet, false, "a live peer without End-of-RIB is ready when its table stopped growing for this `duration`")
	fs.Func("max-prefixes", "most prefixes a live peer may have, `V4,V6` (default 2000000,500000; over it: a peer event, its routes dropped, a BGP session closed)", func(s string) error {
		v4, v6, ok := strings.Cut(s, ",")
		a, err1 := strconv.Atoi(v4)
		b, err2 := strconv.Atoi(v6)
		if !ok || err1 != nil || err2 != nil || a <= 0 || b <= 0 {
			return errors.New("want V4,V6: two positive numbers")
		}
		f.maxPrefixes = [2]int{a, b}
		return nil
	})
	fs.StringVar(&f.bmpListen, "bmp-listen", "", "a BMP station: accept routers' BMP streams on `ADDR:PORT`")
	fs.Func("bmp-views", "BMP route-monitoring views that become vantage points: `LIST` of pre, post, loc-rib (default pre,loc-rib)", func(s string) error {
		v, err := bmp.ParseViews(s)
		if err == nil {
			f.bmpViews = v
		}
		return err
	})
	fs.StringVar(&f.recordDir, "record", "", "record what the live sources receive into rotating MRT files in `DIR` (updates.YYYYMMDD.HHMM, bview.YYYYMMDD.HHMM)")
	cliflag.DurationVar(fs, &f.recordEvery, "record-every", 15*time.Minute, false, "rotate the recorded files every `D` of data time")
	f.routeviews = routeviews.RegisterFlags(fs)
	fs.StringVar(&f.rvBoot, "routeviews-bootstrap", "", "start --routeviews with each collector's table from the RouteViews archive (latest RIB, then the update files), the Kafka feed started at their end: `LIST` of collectors, e.g. route-views.linx,route-views.amsix")
	fs.StringVar(&f.rvBase, "routeviews-base", archive.DefaultRouteViewsBase, "base `URL` of the RouteViews archive (or a mirror), for --routeviews-bootstrap")
	return f
}

// Feed is the live sources asked for, ready to start.
type Feed struct {
	Runners     []source.Runner
	collectors  []*bgpsession.Collector
	maxPrefixes [2]int
	recordDir   string
	recordEvery time.Duration
	logf        func(string, ...any)
	boot        *Bootstrap
}

// Build builds the sources the flags ask for (a Feed with no Runners when
// none was asked for). logf receives the sources' log lines.
func (f *Flags) Build(logf func(format string, args ...any)) (*Feed, error) {
	fd := &Feed{maxPrefixes: f.maxPrefixes, recordDir: f.recordDir, recordEvery: f.recordEvery, logf: logf}
	if f.ris.url == "" && f.risFilters > 0 {
		f.ris.url = rislive.DefaultURL
	}
	if f.ris.url != "" {
		cfg := rislive.Config{URL: f.ris.url, MaxBackoff: f.risBackoff, Logf: logf}
		if f.risFilters > 0 {
			cfg.Filters = []rislive.Filter{f.risFilter}
		}
		r := rislive.New(cfg)
		boot, err := f.boot.build(cfg.Filters, logf)
		if err != nil {
			return nil, err
		}
		if boot != nil {
			boot.Live = r
			fd.boot = boot
			fd.Runners = append(fd.Runners, boot)
		} else {
			fd.Runners = append(fd.Runners, r)
		}
	} else if f.boot.set() {
		return nil, errors.New("--ris-bootstrap needs --ris-live")
	}
	if err := f.buildBGP(fd, logf); err != nil {
		return nil, err
	}
	if f.bmpListen != "" {
		if _, err := netip.ParseAddrPort(f.bmpListen); err != nil {
			return nil, fmt.Errorf("--bmp-listen %q: want ADDR:PORT: %w", f.bmpListen, err)
		}
		fd.Runners = append(fd.Runners, bmp.New(bmp.Config{Listen: f.bmpListen, Views: f.bmpViews, Logf: logf, Quiet: f.quiet}))
	}
	if err := f.buildRouteViews(fd, logf); err != nil {
		return nil, err
	}
	return fd, nil
}

// buildRouteViews adds the RouteViews feed, bootstrapped from the
// archive when --routeviews-bootstrap was given.
func (f *Flags) buildRouteViews(fd *Feed, logf func(string, ...any)) error {
	if f.rvBoot == "" {
		rv, err := f.routeviews.Build(logf)
		fd.Runners = append(fd.Runners, rv...)
		return err
	}
	if !f.routeviews.Enabled() {
		return errors.New("--routeviews-bootstrap needs --routeviews")
	}
	cfg := f.routeviews.Config(logf)
	cfg.Quiet = f.quiet
	if cfg.Group != "" || (cfg.Start != "" && cfg.Start != "end") {
		return errors.New("--routeviews-bootstrap chooses where the feed starts (the end of the archive's files): not with --routeviews-group or --routeviews-start")
	}
	var cols []archive.Collector
	for _, n := range strings.Split(f.rvBoot, ",") {
		n = strings.TrimSpace(n)
		c, ok := archive.Lookup(n)
		if !ok {
			c, ok = archive.Lookup("route-views." + n) // the feed's short name
		}
		if !ok || c.Project != archive.RouteViews {
			return fmt.Errorf("--routeviews-bootstrap: %q is not a RouteViews collector (route-views.linx, route-views2, ...)", n)
		}
		cols = append(cols, c)
	}
	if _, err := routeviews.New(cfg); err != nil {
		return err
	}
	fetcher, err := f.boot.fetcher("--routeviews-bootstrap")
	if err != nil {
		return err
	}
	fd.Runners = append(fd.Runners, &RouteViewsBootstrap{
		Live: func(start time.Time) (source.Runner, error) {
			c := cfg
			c.StartAt = start
			return routeviews.New(c)
		},
		Collectors: cols, Bases: archive.Bases{RouteViews: strings.TrimRight(f.rvBase, "/")}, Fetcher: fetcher, Logf: logf,
	})
	return nil
}

func (f *Flags) buildBGP(fd *Feed, logf func(string, ...any)) error {
	if f.bgpListen == "" {
		if f.localAS != 0 || len(f.peers) > 0 || len(f.accept) > 0 {
			return errors.New("--local-as, --bgp-peer and --bgp-accept need --bgp-listen")
		}
		return nil
	}
	ap, err := netip.ParseAddrPort(f.bgpListen)
	if err != nil {
		return fmt.Errorf("--bgp-listen %q: want ADDR:PORT: %w", f.bgpListen, err)
	}
	if f.localAS == 0 || f.localAS > 1<<32-1 {
		return errors.New("--bgp-listen needs --local-as N (1 to 4294967295)")
	}
	if len(f.peers) == 0 && len(f.accept) == 0 {
		return errors.New("--bgp-listen needs --bgp-peer ADDR=AS or --bgp-accept PREFIX: no router could peer")
	}
	cfg := bgpsession.Config{Listen: ap, LocalAS: uint32(f.localAS), Neighbors: f.peers, Accept: f.accept, Logf: logf,
		MaxSessions: f.maxSessions, HandshakeTimeout: f.handshake, Quiet: f.quiet}
	if f.routerID != "" {
		if cfg.RouterID, err = netip.ParseAddr(f.routerID); err != nil {
			return fmt.Errorf("--router-id: %w", err)
		}
	}
	c, err := bgpsession.New(cfg)
	if err != nil {
		return err
	}
	fd.collectors = append(fd.collectors, c)
	fd.Runners = append(fd.Runners, c)
	return nil
}

// Names names the sources, for a log line.
func (fd *Feed) Names() string {
	names := make([]string, len(fd.Runners))
	for i, r := range fd.Runners {
		names[i] = r.Name()
	}
	return strings.Join(names, ", ")
}

// MaxPrefixes returns the view's limits for live peers (set them as
// view.Config.MaxPrefixes and OnMaxPrefix): the maximum prefix counts, and
// the function that closes the BGP session of a peer over them with a
// Cease (Maximum Number of Prefixes Reached).
func (fd *Feed) MaxPrefixes() ([2]int, func(p bgp.Peer, f bgp.Family, limit int)) {
	return fd.maxPrefixes, func(p bgp.Peer, f bgp.Family, limit int) {
		fd.logf("peer %s AS%d (%s) went over %d %s prefixes (--max-prefixes): its routes are dropped", p.Addr, p.AS, p.Collector, limit, f)
		for _, c := range fd.collectors {
			if c.CollectorName() == p.Collector {
				c.Cease(p.Addr, bgpsession.SubcodeMaxPrefixes, bgpsession.MaxPrefixData(f, limit),
					fmt.Sprintf("over %d %s prefixes (--max-prefixes): Cease sent", limit, f))
			}
		}
	}
}

// Sessions returns the BGP connections open now and the sessions
// established now, over the feed's collectors.
func (fd *Feed) Sessions() (open, established int) {
	for _, c := range fd.collectors {
		open += int(c.Stats().Open.Load())
		established += int(c.Stats().Sessions.Load())
	}
	return open, established
}

// Start runs the sources until ctx ends: their events in arrival order,
// through the recorder when --record was given. onError receives the
// error of a source that stops by itself. The returned function waits
// for the recorder to finish its files (call it after ctx ended).
func (fd *Feed) Start(ctx context.Context, onError func(source.Runner, error)) (*source.LiveSource, func() error, error) {
	events := source.Join(ctx, fd.Runners, 4096, onError)
	closeRec := func() error { return nil }
	if fd.recordDir != "" {
		rec, err := record.New(record.Config{Dir: fd.recordDir, Every: fd.recordEvery, OnError: func(err error) { fd.logf("%v", err) }})
		if err != nil {
			return nil, nil, err
		}
		out, wait := record.Tee(ctx, events, rec, 1<<16)
		fd.logf("recording into %s (rotating every %s of data time)", fd.recordDir, fd.recordEvery)
		events, closeRec = out, wait
	}
	return source.FromChannel(events), closeRec, nil
}

// risLiveURL is the --ris-live flag: a boolean that may carry a URL.
type risLiveURL struct{ url string }

func (u *risLiveURL) String() string   { return u.url }
func (u *risLiveURL) IsBoolFlag() bool { return true }
func (u *risLiveURL) Set(v string) error {
	switch v {
	case "true":
		u.url = rislive.DefaultURL
	case "false":
		u.url = ""
	default:
		if !strings.HasPrefix(v, "ws://") && !strings.HasPrefix(v, "wss://") {
			return fmt.Errorf("%q is not a ws:// or wss:// URL", v)
		}
		u.url = v
	}
	return nil
}
