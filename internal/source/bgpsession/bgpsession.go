// Package bgpsession makes blackout a passive route collector: routers open
// BGP sessions to it (IPv4 and IPv6 unicast, 4-byte ASNs, ADD-PATH receive)
// and every route each of them sends becomes a bgp.Event. It never
// announces anything.
//
// The speaker is blackout's own (session.go): it only listens, negotiates
// the OPEN, answers keepalives and decodes UPDATEs with the decoder the
// MRT and BMP readers use (wire.UpdateDecoder). It replaced GoBGP (used as
// a library until issue 12) because a collector facing the Internet must
// bound what a connection costs before it costs it: GoBGP allocates a
// peer (FSM goroutines, channels, an Adj-RIB-In per family that duplicates
// the view's tables) for every accepted connection before the OPEN is
// read, has no cap on sessions, no handshake timeout of its own and no way
// to say why a peer was turned away; 3,000 connections that sent only an
// OPEN took 1.4 GB and kept it. Here a connection costs a goroutine and a
// 4 KB buffer until its OPEN is accepted, at most MaxSessions of them
// exist, and each must reach Established within HandshakeTimeout.
//
// A session that goes down is one PeerState event (Established -> Idle);
// its routes are not withdrawn one by one (the view drops a down peer's
// routes by itself). A session that comes up is a PeerState event with
// SignalsReady, and each family's table, once complete (End-of-RIB, or a
// quiet table: source.Readiness), an EndOfRIB event.
package bgpsession

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// Neighbor is a router configured to peer with the collector.
type Neighbor struct {
	Addr netip.Addr
	AS   uint32 // 0: accept whatever AS the router announces in its OPEN
}

// Defaults of Config's limits.
const (
	DefaultMaxSessions      = 256
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultHoldTime         = 90 * time.Second
)

// Config configures a collector.
type Config struct {
	// Listen is the address and port to accept sessions on ("127.0.0.1:1179").
	Listen netip.AddrPort
	// LocalAS is the collector's AS.
	LocalAS uint32
	// RouterID is the collector's BGP identifier (default: the listen
	// address when it is IPv4, else 192.0.2.1).
	RouterID netip.Addr
	// Neighbors are routers configured one by one.
	Neighbors []Neighbor
	// Accept lists address ranges from which any router may peer, with any
	// AS.
	Accept []netip.Prefix
	// Collector names the collector in the events' Peer.Collector (default
	// "bgp:" + Listen).
	Collector string
	// Logf receives one line per session up and down, peer ready, and
	// connection turned away with the reason (default: discard).
	Logf func(format string, args ...any)
	// MaxSessions caps the connections open at once, established or not
	// (default DefaultMaxSessions); one more is closed at once.
	MaxSessions int
	// HandshakeTimeout is how long a connection may take from accept to
	// Established (default DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// HoldTime is the hold time the collector proposes (default
	// DefaultHoldTime; the smaller of both sides' applies).
	HoldTime time.Duration
	// Quiet is how long a table must stop growing to be complete without
	// an End-of-RIB marker (default source.DefaultQuiet).
	Quiet time.Duration
}

// Stats counts what the collector did.
type Stats struct {
	Accepted    atomic.Int64 // TCP connections accepted
	Rejected    atomic.Int64 // connections turned away (not allowed, bad OPEN, over the cap, timeouts)
	Established atomic.Int64 // sessions that reached Established
	Open        atomic.Int64 // connections open now
	Sessions    atomic.Int64 // sessions established now
}

// Collector is a passive BGP route collector; it implements source.Runner.
type Collector struct {
	cfg   Config
	stats Stats
	slots chan struct{} // one per open connection

	mu       sync.Mutex
	ln       net.Listener
	sessions map[netip.Addr]*session // established (or in OpenConfirm) by peer address
	logs     logLimiter
}

// New returns a collector source; nothing listens until Run.
func New(cfg Config) (*Collector, error) {
	if !cfg.Listen.IsValid() {
		return nil, errors.New("bgp session source: no listen address")
	}
	if cfg.LocalAS == 0 {
		return nil, errors.New("bgp session source: no local AS")
	}
	if len(cfg.Neighbors) == 0 && len(cfg.Accept) == 0 {
		return nil, errors.New("bgp session source: no neighbor and no accepted range: no router could peer")
	}
	if !cfg.RouterID.IsValid() {
		if a := cfg.Listen.Addr(); a.Is4() && !a.IsUnspecified() {
			cfg.RouterID = a
		} else {
			cfg.RouterID = netip.MustParseAddr("192.0.2.1")
		}
	}
	if !cfg.RouterID.Is4() {
		return nil, fmt.Errorf("bgp session source: router id %s is not an IPv4 address", cfg.RouterID)
	}
	if cfg.Collector == "" {
		cfg.Collector = "bgp:" + cfg.Listen.String()
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.HoldTime <= 0 {
		cfg.HoldTime = DefaultHoldTime
	}
	if cfg.HoldTime < 3*time.Second {
		cfg.HoldTime = 3 * time.Second
	}
	return &Collector{cfg: cfg, slots: make(chan struct{}, cfg.MaxSessions), sessions: map[netip.Addr]*session{}}, nil
}

// Name returns "bgp ADDR:PORT".
func (c *Collector) Name() string { return "bgp " + c.cfg.Listen.String() }

// CollectorName is the Peer.Collector of the collector's events.
func (c *Collector) CollectorName() string { return c.cfg.Collector }

// Stats returns the collector's counters.
func (c *Collector) Stats() *Stats { return &c.stats }

// Listen opens the listening socket (Run calls it when it was not).
func (c *Collector) Listen(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln != nil {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", c.cfg.Listen.String())
	if err != nil {
		return fmt.Errorf("%s: %w", c.Name(), err)
	}
	c.ln = ln
	return nil
}

// Addr returns the listening address (nil before Listen).
func (c *Collector) Addr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln == nil {
		return nil
	}
	return c.ln.Addr()
}

// Run accepts sessions and delivers their events until ctx is done.
func (c *Collector) Run(ctx context.Context, out chan<- bgp.Event) error {
	if err := c.Listen(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	ln := c.ln
	c.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	c.cfg.Logf("bgp %s: listening as AS%d (router id %s), %d neighbors, %d accepted ranges, at most %d sessions",
		c.cfg.Listen, c.cfg.LocalAS, c.cfg.RouterID, len(c.cfg.Neighbors), len(c.cfg.Accept), c.cfg.MaxSessions)
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
			return fmt.Errorf("%s: accept: %w", c.Name(), err)
		}
		c.stats.Accepted.Add(1)
		remote := netip.Addr{}
		if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
			remote = ta.AddrPort().Addr().Unmap()
		}
		// Turned away before anything is allocated for them: addresses
		// that may not peer, and connections over the cap.
		nb, ok := c.allowed(remote)
		if !ok {
			conn.Close()
			c.reject(remote, 0, "not in --bgp-peer or --bgp-accept")
			continue
		}
		select {
		case c.slots <- struct{}{}:
		default:
			conn.Close()
			c.reject(remote, 0, fmt.Sprintf("%d connections open already (--bgp-max-sessions)", c.cfg.MaxSessions))
			continue
		}
		c.stats.Open.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-c.slots; c.stats.Open.Add(-1) }()
			c.serve(ctx, conn, remote, nb, out)
		}()
	}
}

// allowed returns the neighbor configuration of addr: a configured
// neighbor (with its AS), or any AS for an address of an accepted range.
func (c *Collector) allowed(addr netip.Addr) (Neighbor, bool) {
	for _, n := range c.cfg.Neighbors {
		if n.Addr.Unmap() == addr {
			return n, true
		}
	}
	for _, p := range c.cfg.Accept {
		if p.Contains(addr) {
			return Neighbor{Addr: addr}, true
		}
	}
	return Neighbor{}, false
}

// reject logs a connection turned away, and why.
func (c *Collector) reject(addr netip.Addr, as uint32, why string) {
	c.stats.Rejected.Add(1)
	who := addr.String()
	if as != 0 {
		who += " AS" + strconv.FormatUint(uint64(as), 10)
	}
	c.logf("bgp %s: rejected peer %s: %s", c.cfg.Listen, who, why)
}

// logf writes a line of the kinds a flood could multiply (connections
// turned away, bad UPDATEs) unless too many came lately: at most 20 lines per 10 seconds, the
// count of lines left out told in the next one.
func (c *Collector) logf(format string, args ...any) {
	if n, ok := c.logs.allow(time.Now()); ok {
		if n > 0 {
			format += " (%d similar lines left out)"
			args = append(args, n)
		}
		c.cfg.Logf(format, args...)
	}
}

// logLimiter allows a burst of lines per window.
type logLimiter struct {
	mu      sync.Mutex
	start   time.Time
	n, left int
}

func (l *logLimiter) allow(now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) > 10*time.Second {
		l.start, l.n = now, 0
	}
	l.n++
	if l.n > 20 {
		l.left++
		return 0, false
	}
	n := l.left
	l.left = 0
	return n, true
}

// Cease closes the session of the peer at addr with a Cease NOTIFICATION
// of the given subcode (RFC 4486; SubcodeMaxPrefixes with the family and
// the limit); it reports whether such a session was established. The
// session's end is then a PeerState event like any other.
func (c *Collector) Cease(addr netip.Addr, subcode uint8, data []byte, why string) bool {
	c.mu.Lock()
	s := c.sessions[addr.Unmap()]
	c.mu.Unlock()
	if s == nil {
		return false
	}
	go s.close(notification{code: errCease, subcode: subcode, data: data}, why)
	return true
}

// MaxPrefixData is the data of a Cease/Maximum Number of Prefixes Reached
// NOTIFICATION (RFC 4486 section 4): AFI, SAFI, the limit.
func MaxPrefixData(f bgp.Family, limit int) []byte {
	afi := byte(1)
	if f == bgp.IPv6 {
		afi = 2
	}
	l := uint32(min(max(limit, 0), 1<<32-1))
	return []byte{0, afi, 1, byte(l >> 24), byte(l >> 16), byte(l >> 8), byte(l)}
}

// register records an established session; a second session of the same
// address is a collision (RFC 4271 section 6.8: the new one is closed).
func (c *Collector) register(s *session) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions[s.addr] != nil {
		return false
	}
	c.sessions[s.addr] = s
	return true
}

func (c *Collector) unregister(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions[s.addr] == s {
		delete(c.sessions, s.addr)
	}
}

// ParseNeighbor parses "ADDR=AS" (or "ADDR" for any AS).
func ParseNeighbor(s string) (Neighbor, error) {
	addrS, asS, hasAS := cut(s, '=')
	addr, err := netip.ParseAddr(addrS)
	if err != nil {
		return Neighbor{}, fmt.Errorf("neighbor %q: %w", s, err)
	}
	n := Neighbor{Addr: addr}
	if hasAS {
		as, err := parseASN(asS)
		if err != nil {
			return Neighbor{}, fmt.Errorf("neighbor %q: AS: %w", s, err)
		}
		n.AS = as
	}
	return n, nil
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// parseASN parses "65001", "AS65001" or asdot "1.10".
func parseASN(s string) (uint32, error) {
	if len(s) > 2 && (s[:2] == "AS" || s[:2] == "as") {
		s = s[2:]
	}
	if hi, lo, dot := cut(s, '.'); dot {
		h, err := strconv.ParseUint(hi, 10, 16)
		if err != nil {
			return 0, err
		}
		l, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return 0, err
		}
		return uint32(h<<16 | l), nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	return uint32(v), err
}
