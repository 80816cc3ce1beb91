// Package bmp is a BGP Monitoring Protocol station (RFC 7854): routers open
// a TCP connection to it and stream their BGP sessions' state and routes,
// which become bgp.Events.
//
// It handles initiation (the router's sysName names it), peer up and peer
// down (PeerState events), route monitoring of pre-policy and post-policy
// Adj-RIB-In and of the Loc-RIB (RFC 9069), statistics reports (counted),
// and termination, from several routers at once. The encapsulated BGP
// UPDATEs are decoded by blackout's own decoder (wire.UpdateDecoder), with
// 4-byte AS from the per-peer header's A flag and ADD-PATH from the OPEN
// messages of the peer up notification.
//
// The messages are parsed by hand rather than with GoBGP's pkg/packet/bmp:
// GoBGP decodes each encapsulated UPDATE into its own objects (allocations
// per route, and it must be told the ADD-PATH state up front), while
// blackout's decoder is allocation-free and the one the MRT replay uses, so
// a BMP feed and its MRT recording decode the same way. The framing itself
// is small (parse.go) and fuzzed.
//
// A vantage point is (collector, peer address, peer AS), and each view of a
// peer is its own vantage point: Collector is the router's sysName (or its
// address) for the pre-policy Adj-RIB-In, with "/post" for post-policy and
// "/loc-rib" for the router's Loc-RIB (whose peer address is the router's).
// Which views become events is configurable (default: pre-policy and
// Loc-RIB); Adj-RIB-Out is counted and dropped.
package bmp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
	"github.com/blackout-bgp/blackout/internal/source"
)

// View is a set of route-monitoring views.
type View uint8

// Views of a monitored peer's routes.
const (
	ViewPre    View = 1 << iota // pre-policy Adj-RIB-In
	ViewPost                    // post-policy Adj-RIB-In
	ViewLocRIB                  // the router's Loc-RIB (RFC 9069)
	// DefaultViews: what most routers send, without counting a peer twice.
	DefaultViews = ViewPre | ViewLocRIB
)

// ParseViews parses a comma-separated list of "pre", "post", "loc-rib".
func ParseViews(s string) (View, error) {
	var v View
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != ',' {
			continue
		}
		switch s[start:i] {
		case "pre":
			v |= ViewPre
		case "post":
			v |= ViewPost
		case "loc-rib":
			v |= ViewLocRIB
		case "":
		default:
			return 0, fmt.Errorf("BMP view %q: want pre, post or loc-rib", s[start:i])
		}
		start = i + 1
	}
	if v == 0 {
		return 0, errors.New("no BMP view")
	}
	return v, nil
}

// Config configures a station.
type Config struct {
	// Listen is the TCP address routers connect to ("127.0.0.1:11019").
	Listen string
	// Views selects the views that become events (default DefaultViews).
	Views View
	// Logf receives one line per router connection, termination and error
	// (default: discard).
	Logf func(format string, args ...any)
	// Quiet is how long a monitored peer's table must stop growing to be
	// complete without an End-of-RIB marker (default source.DefaultQuiet).
	Quiet time.Duration
}

// Stats counts what the station received.
type Stats struct {
	Routers    atomic.Int64 // connections accepted
	Messages   [7]atomic.Int64
	Routes     atomic.Int64 // announcements and withdrawals delivered
	Skipped    atomic.Int64 // routes of views not selected, Adj-RIB-Out, other families
	Errors     atomic.Int64 // malformed messages
	StatCounts atomic.Int64 // statistics TLVs received
}

// Station is a BMP station; it implements source.Runner.
type Station struct {
	cfg   Config
	stats Stats
	ln    net.Listener
	mu    sync.Mutex
}

// New returns a station; nothing listens until Run (or Listen).
func New(cfg Config) *Station {
	if cfg.Views == 0 {
		cfg.Views = DefaultViews
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return &Station{cfg: cfg}
}

// Name returns "bmp ADDR".
func (s *Station) Name() string { return "bmp " + s.cfg.Listen }

// Stats returns the station's counters.
func (s *Station) Stats() *Stats { return &s.stats }

// Listen opens the listener (Run does it if not done); Addr then returns
// the bound address.
func (s *Station) Listen(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name(), err)
	}
	s.ln = ln
	return nil
}

// Addr returns the listening address (nil before Listen).
func (s *Station) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Run accepts routers and delivers their events until ctx is done.
func (s *Station) Run(ctx context.Context, out chan<- bgp.Event) error {
	if err := s.Listen(ctx); err != nil {
		return err
	}
	ln := s.ln
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("%s: accept: %w", s.Name(), err)
		}
		s.stats.Routers.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serve(ctx, conn, out)
		}()
	}
}

// serve reads one router's stream until it ends or ctx is done.
func (s *Station) serve(ctx context.Context, conn net.Conn, out chan<- bgp.Event) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	raddr := netip.Addr{}
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		raddr = ta.AddrPort().Addr().Unmap()
	}
	r := newRouter(raddr, s.cfg.Views, &s.stats)
	r.quiet, r.logf = s.cfg.Quiet, s.cfg.Logf
	emit := func(ev bgp.Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	s.cfg.Logf("bmp: router %s connected", raddr)
	br := bufio.NewReaderSize(conn, 1<<16)
	var buf []byte
	var err error
	// The quiet rule of readiness needs a clock when the router says
	// nothing: checked every second beside the reads. Quiet is measured
	// in arrival time (a router that falls silent advances no data
	// clock); the EndOfRIB it makes due carries the data time of the
	// router's last message, so that the events stay in data-time order.
	done := make(chan struct{})
	defer close(done)
	go func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tk.C:
				r.mu.Lock()
				r.readyDue(now, emit)
				r.mu.Unlock()
			}
		}
	}()
	for {
		buf, err = ReadMessage(br, buf)
		if err != nil {
			break
		}
		r.mu.Lock()
		herr := r.handle(buf, time.Now(), emit)
		r.mu.Unlock()
		if herr != nil {
			s.stats.Errors.Add(1)
			s.cfg.Logf("bmp: router %s: %v", r.name(), herr)
		}
		if r.terminated || ctx.Err() != nil {
			break
		}
	}
	switch {
	case ctx.Err() != nil:
	case r.terminated:
		s.cfg.Logf("bmp: router %s terminated the session (%s)", r.name(), r.termReason)
	case errors.Is(err, io.EOF):
		s.cfg.Logf("bmp: router %s closed the connection", r.name())
	default:
		s.cfg.Logf("bmp: router %s: %v; connection dropped", r.name(), err)
		s.stats.Errors.Add(1)
	}
	if ctx.Err() == nil {
		r.mu.Lock()
		r.closeAll(time.Now(), emit)
		r.mu.Unlock()
	}
}

// peerKey identifies a monitored peer of a router.
type peerKey struct {
	typ  uint8
	dist uint64
	addr netip.Addr
}

// peerInfo is what the station knows of a monitored peer.
type peerInfo struct {
	as      uint32
	addPath map[[2]uint16]bool   // families whose UPDATEs carry path identifiers
	up      [3]bool              // PeerState Established sent, per view
	upAS    [3]uint32            // the AS of that event
	ready   [3]*source.Readiness // nil: the view's peer up was missed, no table dump is coming
	vp      [3]bgp.Peer          // the vantage point of each view that is up
}

// router is the state of one router's BMP stream.
type router struct {
	mu    sync.Mutex // handle and the readiness clock
	quiet time.Duration
	// dataClock: the quiet rule runs on the messages' data times, checked
	// as messages come (a feed replayed from a broker, where arrival time
	// says nothing); else on arrival time, checked by the station's
	// ticker.
	dataClock  bool
	last       time.Time // the data time of the latest message
	nextDue    time.Time // with dataClock: when readyDue may next find a family
	logf       func(string, ...any)
	addr       netip.Addr
	sysName    string
	fixedName  bool // sysName was given: Initiation does not change it
	views      View
	stats      *Stats
	peers      map[peerKey]*peerInfo
	dec        wire.UpdateDecoder
	upd        wire.Update
	terminated bool
	termReason string
}

func newRouter(addr netip.Addr, views View, st *Stats) *router {
	return &router{addr: addr, views: views, stats: st, peers: map[peerKey]*peerInfo{}}
}

// Router is the state of one router's BMP stream, for BMP messages that
// come another way than a TCP session to the station (RouteViews' Kafka
// feed, package source/routeviews). It is not safe for concurrent use.
type Router struct{ r *router }

// NewRouter returns a router's state. name, if not empty, is the
// collector name of its vantage points (else the Initiation's sysName,
// else addr); views chooses which routes become events (0: DefaultViews);
// st, if not nil, counts what was received.
func NewRouter(name string, addr netip.Addr, views View, st *Stats) *Router {
	if views == 0 {
		views = DefaultViews
	}
	if st == nil {
		st = &Stats{}
	}
	r := newRouter(addr, views, st)
	r.sysName, r.fixedName = name, name != ""
	r.dataClock = true
	r.logf = func(string, ...any) {}
	return &Router{r: r}
}

// SetLogf sets where the router's log lines (peers ready) go.
func (r *Router) SetLogf(logf func(format string, args ...any)) {
	if logf != nil {
		r.r.logf = logf
	}
}

// SetQuiet sets the quiet time of the readiness rule (default
// source.DefaultQuiet), measured in the messages' data time: a monitored
// peer whose Peer Up came is ready for a family at its End-of-RIB marker,
// or once no route of the family came for quiet of data time.
func (r *Router) SetQuiet(quiet time.Duration) { r.r.quiet = quiet }

// Handle processes one whole BMP message (common header included); now is
// the time of events whose per-peer header has none. emit returns false
// to stop. The quiet rule of readiness runs on the messages' times (see
// SetQuiet): its EndOfRIB events come from Handle.
func (r *Router) Handle(b []byte, now time.Time, emit func(bgp.Event) bool) error {
	return r.r.handle(b, now, emit)
}

// Terminated reports whether the router sent a Termination message.
func (r *Router) Terminated() bool { return r.r.terminated }

// Close reports every peer that was up as down (nothing is known of them
// once the router's stream is gone).
func (r *Router) Close(t time.Time, emit func(bgp.Event) bool) { r.r.closeAll(t, emit) }

// name is the collector name of the router: its sysName, else its address.
func (r *router) name() string {
	if r.sysName != "" {
		return r.sysName
	}
	return r.addr.String()
}

var viewSuffix = [3]string{"", "/post", "/loc-rib"}

// vantage returns the bgp.Peer of view vi (0 pre, 1 post, 2 Loc-RIB) of a
// monitored peer.
func (r *router) vantage(vi int, h *PeerHeader) bgp.Peer {
	p := bgp.Peer{Collector: r.name() + viewSuffix[vi], Addr: h.Addr.Unmap(), AS: bgp.ASN(h.AS)}
	if vi == 2 {
		p.Addr = r.addr
	}
	return p
}

func (r *router) peer(h *PeerHeader) *peerInfo {
	k := peerKey{h.Type, h.Distinguisher, h.Addr}
	p := r.peers[k]
	if p == nil {
		p = &peerInfo{as: h.AS}
		r.peers[k] = p
	}
	return p
}

// handle processes one whole BMP message received at now.
func (r *router) handle(b []byte, now time.Time, emit func(bgp.Event) bool) error {
	m, err := ParseMessage(b)
	if err != nil {
		return err
	}
	if int(m.Type) < len(r.stats.Messages) {
		r.stats.Messages[m.Type].Add(1)
	}
	t := m.Peer.Time
	if t.IsZero() {
		t = now.UTC()
	}
	if t.After(r.last) && !m.Peer.Time.IsZero() {
		r.last = t // the router's clock: not the arrival time of a message without one
	}
	if r.dataClock && !r.nextDue.IsZero() && !r.last.Before(r.nextDue) {
		r.readyDue(r.last, emit)
	}
	switch m.Type {
	case TypeInitiation:
		tlvs, err := ParseTLVs(m.Body)
		for _, tlv := range tlvs {
			if tlv.Type == 2 && len(tlv.Value) > 0 && !r.fixedName { // sysName
				r.sysName = string(tlv.Value)
			}
		}
		if err != nil {
			return fmt.Errorf("initiation: %w", err)
		}
	case TypeTermination:
		r.terminated = true
		tlvs, _ := ParseTLVs(m.Body)
		for _, tlv := range tlvs {
			switch {
			case tlv.Type == 0:
				r.termReason = string(tlv.Value)
			case tlv.Type == 1 && len(tlv.Value) == 2 && r.termReason == "":
				r.termReason = [...]string{"administratively closed", "unspecified", "out of resources", "redundant connection", "permanently administratively closed"}[min(int(tlv.Value[1]), 4)]
			}
		}
	case TypePeerUp:
		p := r.peer(&m.Peer)
		p.as = m.Peer.AS
		up, err := ParsePeerUp(m.Body, m.Peer.Flags&FlagV != 0 && m.Peer.Type != PeerLocRIB)
		if err != nil {
			return fmt.Errorf("peer %s AS%d: %w", m.Peer.Addr, m.Peer.AS, err)
		}
		sent, err1 := ParseOpen(up.SentOpen)
		recv, err2 := ParseOpen(up.RecvOpen)
		p.addPath = nil
		if err1 == nil && err2 == nil {
			// Adj-RIB-In UPDATEs carry path ids when the peer sends them
			// and the router receives them.
			for fam, mode := range recv.AddPath {
				if mode&2 != 0 && sent.AddPath[fam]&1 != 0 {
					if p.addPath == nil {
						p.addPath = map[[2]uint16]bool{}
					}
					p.addPath[fam] = true
				}
			}
		}
		for vi := range 3 {
			if vi == 2 && m.Peer.Type == PeerLocRIB || vi < 2 && m.Peer.Type != PeerLocRIB {
				if r.views&(1<<vi) != 0 && !r.setUp(p, vi, &m.Peer, t, true, emit) {
					return nil
				}
			}
		}
	case TypePeerDown:
		k := peerKey{m.Peer.Type, m.Peer.Distinguisher, m.Peer.Addr}
		p := r.peers[k]
		if p == nil {
			return nil
		}
		delete(r.peers, k)
		r.setDown(p, &m.Peer, t, emit)
	case TypeRouteMonitoring:
		return r.routes(&m, t, emit)
	case TypeStatistics:
		st, err := ParseStats(m.Body)
		r.stats.StatCounts.Add(int64(len(st)))
		if err != nil {
			return fmt.Errorf("statistics of peer %s AS%d: %w", m.Peer.Addr, m.Peer.AS, err)
		}
	case TypeRouteMirroring:
		// Mirrored messages are verbatim PDUs for debugging; not routes.
	}
	return nil
}

// setUp emits the Established event of view vi of p once. signals is
// true at a Peer Up: the router dumps the peer's table next, so the peer
// is learning it until its End-of-RIB or a quiet table. A view whose Peer
// Up was missed (routes came first: the station or the feed started after
// the session) sends no dump; it does not signal readiness, and is judged
// like a source without such a signal.
func (r *router) setUp(p *peerInfo, vi int, h *PeerHeader, t time.Time, signals bool, emit func(bgp.Event) bool) bool {
	if p.up[vi] {
		return true
	}
	p.up[vi], p.upAS[vi] = true, h.AS
	p.ready[vi] = nil
	if signals {
		p.ready[vi] = source.NewReadiness(r.clock(t), r.quiet)
		r.due(p.ready[vi])
	}
	p.vp[vi] = r.vantage(vi, h)
	return emit(bgp.Event{Time: t, Kind: bgp.PeerState, Peer: p.vp[vi],
		OldState: bgp.StateOpenConfirm, NewState: bgp.StateEstablished, SignalsReady: signals})
}

// clock returns the readiness clock of a message of data time t: t with
// a data clock, else the arrival time.
func (r *router) clock(t time.Time) time.Time {
	if r.dataClock {
		return t
	}
	return time.Now()
}

// due notes, with a data clock, when rd may next have a family ready.
func (r *router) due(rd *source.Readiness) {
	if !r.dataClock {
		return
	}
	if n := rd.Next(); !n.IsZero() && (r.nextDue.IsZero() || n.Before(r.nextDue)) {
		r.nextDue = n
	}
}

// readyDue emits the EndOfRIB events that the quiet rule makes due at now
// (on the readiness clock), for every view of every monitored peer that
// is up. Each carries the data time of the router's latest message.
func (r *router) readyDue(now time.Time, emit func(bgp.Event) bool) {
	stamp := r.last
	if stamp.IsZero() {
		stamp = now
	}
	r.nextDue = time.Time{}
	for _, p := range r.peers {
		for vi := range 3 {
			if !p.up[vi] || p.ready[vi] == nil {
				continue
			}
			fams, why := p.ready[vi].Due(now)
			for i, f := range fams {
				r.logf("bmp: router %s: peer ready: %s AS%d (%s) %s (%s)", r.name(), p.vp[vi].Addr, p.vp[vi].AS, p.vp[vi].Collector, f, why[i])
				if !emit(bgp.EndOfRIBFor(stamp.UTC(), p.vp[vi], f)) {
					return
				}
			}
			r.due(p.ready[vi])
		}
	}
}

// setDown emits the Idle event of every view of p that was up.
func (r *router) setDown(p *peerInfo, h *PeerHeader, t time.Time, emit func(bgp.Event) bool) {
	for vi := range 3 {
		if !p.up[vi] {
			continue
		}
		p.up[vi] = false
		hh := *h
		hh.AS = p.upAS[vi]
		if !emit(bgp.Event{Time: t, Kind: bgp.PeerState, Peer: r.vantage(vi, &hh),
			OldState: bgp.StateEstablished, NewState: bgp.StateIdle}) {
			return
		}
	}
}

// closeAll reports every peer that was up as down: once the router's BMP
// session is gone, nothing is known of its peers.
func (r *router) closeAll(t time.Time, emit func(bgp.Event) bool) {
	for k, p := range r.peers {
		h := PeerHeader{Type: k.typ, Distinguisher: k.dist, Addr: k.addr, AS: p.as}
		r.setDown(p, &h, t, emit)
	}
	clear(r.peers)
}

// routes turns a Route Monitoring message into events.
func (r *router) routes(m *Message, t time.Time, emit func(bgp.Event) bool) error {
	h := &m.Peer
	vi := 0
	switch {
	case h.Type == PeerLocRIB:
		vi = 2
	case h.AdjRIBOut():
		r.stats.Skipped.Add(1)
		return nil
	case h.PostPolicy():
		vi = 1
	}
	if r.views&(1<<vi) == 0 {
		r.stats.Skipped.Add(1)
		return nil
	}
	p := r.peer(h)
	if afi, safi, ok := wire.EndOfRIB(m.Body); ok {
		if !r.setUp(p, vi, h, t, false, emit) || safi != wire.SAFIUnicast || afi < 1 || afi > 2 || p.ready[vi] == nil {
			return nil
		}
		f := bgp.Family(afi - 1)
		if ok, why := p.ready[vi].Marker(f); ok {
			r.logf("bmp: router %s: peer ready: %s AS%d (%s) %s (%s)", r.name(), p.vp[vi].Addr, p.vp[vi].AS, p.vp[vi].Collector, f, why)
			emit(bgp.EndOfRIBFor(t, p.vp[vi], f))
		}
		return nil
	}
	addPath := false
	if len(p.addPath) > 0 {
		addPath = p.addPath[[2]uint16{updateAFI(m.Body), 1}]
	}
	typ, err := r.dec.DecodeMessage(m.Body, h.AS4(), addPath, &r.upd)
	if typ != wire.MsgUpdate && err == nil {
		return fmt.Errorf("route monitoring of peer %s AS%d: BGP message type %d, want UPDATE", h.Addr, h.AS, typ)
	}
	if err != nil && len(r.upd.Withdrawn) == 0 && len(r.upd.Announced) == 0 {
		return fmt.Errorf("route monitoring of peer %s AS%d: %w", h.Addr, h.AS, err)
	}
	// Routes of a peer whose Peer Up we missed (the station started late)
	// still mean the session is up.
	if !r.setUp(p, vi, h, t, false, emit) {
		return nil
	}
	vp := r.vantage(vi, h)
	for _, n := range r.upd.Withdrawn {
		if n.Multicast {
			r.stats.Skipped.Add(1)
			continue
		}
		r.stats.Routes.Add(1)
		if !emit(bgp.Event{Time: t, Kind: bgp.Withdraw, Peer: vp, Prefix: n.Prefix, PathID: n.PathID}) {
			return nil
		}
	}
	var attrs *bgp.Attrs
	for _, n := range r.upd.Announced {
		if n.Multicast {
			r.stats.Skipped.Add(1)
			continue
		}
		if attrs == nil {
			attrs = r.upd.Attrs.Clone() // shared, read-only, by the routes of this message
		}
		r.stats.Routes.Add(1)
		if rd := p.ready[vi]; rd != nil && !rd.Ready(bgp.FamilyOf(n.Prefix)) {
			rd.Announce(bgp.FamilyOf(n.Prefix), r.clock(t))
			r.due(rd)
		}
		if !emit(bgp.Event{Time: t, Kind: bgp.Announce, Peer: vp, Prefix: n.Prefix, PathID: n.PathID, Attrs: attrs}) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("route monitoring of peer %s AS%d: %w", h.Addr, h.AS, err)
	}
	return nil
}

// updateAFI returns the AFI of an UPDATE message (with header): 1 when it
// has IPv4 NLRI or withdrawn routes, else the AFI of its MP_REACH or
// MP_UNREACH attribute, else 1.
func updateAFI(msg []byte) uint16 {
	if len(msg) < 23 {
		return 1
	}
	b := msg[19:]
	wl := int(b[0])<<8 | int(b[1])
	if wl > 0 || len(b) < 4+wl {
		return 1
	}
	al := int(b[2+wl])<<8 | int(b[3+wl])
	if len(b) > 4+wl+al {
		return 1 // plain NLRI follow the attributes
	}
	a := b[4+wl : min(len(b), 4+wl+al)]
	for len(a) >= 3 {
		flags, typ := a[0], a[1]
		hl, n := 3, int(a[2])
		if flags&0x10 != 0 {
			if len(a) < 4 {
				return 1
			}
			hl, n = 4, int(a[2])<<8|int(a[3])
		}
		if len(a) < hl+n {
			return 1
		}
		if (typ == 14 || typ == 15) && n >= 2 {
			return uint16(a[hl])<<8 | uint16(a[hl+1])
		}
		a = a[hl+n:]
	}
	return 1
}
