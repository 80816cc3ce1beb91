package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/blackout-bgp/blackout/internal/source"
	"github.com/blackout-bgp/blackout/internal/source/bgpsession"
	"github.com/blackout-bgp/blackout/internal/source/bmp"
	"github.com/blackout-bgp/blackout/internal/source/routeviews"
)

func init() {
	liveSourceFlags = append(liveSourceFlags, bgpSessionFlags, bmpFlags)
}

// bgpSessionFlags registers --bgp-listen, --local-as, --router-id,
// --bgp-peer and --bgp-accept: blackout as a passive route collector.
func bgpSessionFlags(fs *flag.FlagSet) func(env liveEnv) ([]source.Runner, error) {
	var listen, routerID string
	var localAS uint
	var peers []bgpsession.Neighbor
	var accept []netip.Prefix
	fs.StringVar(&listen, "bgp-listen", "", "accept BGP sessions from routers on `ADDR:PORT` (blackout is a passive collector; it announces nothing)")
	fs.UintVar(&localAS, "local-as", 0, "the collector's `AS` number (with --bgp-listen)")
	fs.StringVar(&routerID, "router-id", "", "the collector's BGP identifier, an IPv4 `ADDR` (default: the listen address, or 192.0.2.1)")
	fs.Func("bgp-peer", "a router that may peer, `ADDR=AS` (ADDR alone: any AS; repeatable)", func(s string) error {
		n, err := bgpsession.ParseNeighbor(s)
		if err == nil {
			peers = append(peers, n)
		}
		return err
	})
	fs.Func("bgp-accept", "accept sessions from any router in `PREFIX`, with any AS (repeatable)", func(s string) error {
		p, err := netip.ParsePrefix(s)
		if err == nil {
			accept = append(accept, p)
		}
		return err
	})
	return func(env liveEnv) ([]source.Runner, error) {
		if listen == "" {
			if localAS != 0 || len(peers) > 0 || len(accept) > 0 {
				return nil, errors.New("--local-as, --bgp-peer and --bgp-accept need --bgp-listen")
			}
			return nil, nil
		}
		ap, err := netip.ParseAddrPort(listen)
		if err != nil {
			return nil, fmt.Errorf("--bgp-listen %q: want ADDR:PORT: %w", listen, err)
		}
		if localAS == 0 || localAS > 1<<32-1 {
			return nil, errors.New("--bgp-listen needs --local-as N (1 to 4294967295)")
		}
		if len(peers) == 0 && len(accept) == 0 {
			return nil, errors.New("--bgp-listen needs --bgp-peer ADDR=AS or --bgp-accept PREFIX: no router could peer")
		}
		cfg := bgpsession.Config{Listen: ap, LocalAS: uint32(localAS), Neighbors: peers, Accept: accept,
			Logger: slog.New(&logfHandler{logf: env.Logf, prefix: "bgp " + listen})}
		if routerID != "" {
			if cfg.RouterID, err = netip.ParseAddr(routerID); err != nil {
				return nil, fmt.Errorf("--router-id: %w", err)
			}
		}
		src, err := bgpsession.New(cfg)
		if err != nil {
			return nil, err
		}
		return []source.Runner{src}, nil
	}
}

// bmpFlags registers --bmp-listen and --bmp-views.
func bmpFlags(fs *flag.FlagSet) func(env liveEnv) ([]source.Runner, error) {
	var listen string
	views := bmp.DefaultViews
	fs.StringVar(&listen, "bmp-listen", "", "a BMP station: accept routers' BMP streams on `ADDR:PORT`")
	fs.Func("bmp-views", "BMP route-monitoring views that become vantage points: `LIST` of pre, post, loc-rib (default pre,loc-rib)", func(s string) error {
		v, err := bmp.ParseViews(s)
		if err == nil {
			views = v
		}
		return err
	})
	return func(env liveEnv) ([]source.Runner, error) {
		if listen == "" {
			return nil, nil
		}
		if _, err := netip.ParseAddrPort(listen); err != nil {
			return nil, fmt.Errorf("--bmp-listen %q: want ADDR:PORT: %w", listen, err)
		}
		return []source.Runner{bmp.New(bmp.Config{Listen: listen, Views: views, Logf: env.Logf})}, nil
	}
}

// logfHandler is a slog.Handler that writes warnings and errors (GoBGP's
// and the collector's) as lines through a liveEnv's Logf.
type logfHandler struct {
	logf   func(format string, args ...any)
	prefix string
	attrs  []slog.Attr
}

func (h *logfHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.logf != nil && l >= slog.LevelWarn
}

func (h *logfHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.prefix)
	b.WriteString(": ")
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.logf("%s", b.String())
	return nil
}

func (h *logfHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *logfHandler) WithGroup(string) slog.Handler { return h }

func init() {
	liveSourceFlags = append(liveSourceFlags, func(fs *flag.FlagSet) func(env liveEnv) ([]source.Runner, error) {
		build := routeviews.RegisterFlags(fs)
		return func(env liveEnv) ([]source.Runner, error) { return build(env.Logf) }
	})
}
