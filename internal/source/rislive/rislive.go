// Package rislive is blackout's client for RIPE RIS Live
// (https://ris-live.ripe.net), the websocket stream of the BGP messages
// RIPE's route collectors receive, under a second after they receive them.
//
// The Source subscribes with filters (ris_subscribe), turns each
// ris_message into route events (from the raw BGP message when present, from
// the JSON fields otherwise; IPv6 prefixes that RIS Live repeats once per
// next hop are emitted once), follows RIS_PEER_STATE messages as peer
// sessions going down and up, and reconnects with a bounded exponential
// backoff when the connection drops, re-subscribing and reporting how long
// it was blind. Event times are the collector's timestamps, to the
// microsecond; the wall clock is used only for backoff and blind time.
package rislive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// DefaultURL is RIS Live's websocket endpoint.
const DefaultURL = "wss://ris-live.ripe.net/v1/ws/?client=blackout"

// Filter is one RIS Live subscription (the `data` of ris_subscribe). Empty
// fields are left out: the empty Filter subscribes to everything.
type Filter struct {
	Host    string `json:"host,omitempty"`    // collector: "rrc21"
	Type    string `json:"type,omitempty"`    // "UPDATE", "RIS_PEER_STATE", ...
	Require string `json:"require,omitempty"` // "announcements" or "withdrawals"
	Peer    string `json:"peer,omitempty"`    // a peer's address
	Path    string `json:"path,omitempty"`    // AS path pattern: "4837,131279$"
	// Prefix is one or several prefixes (sent as a string or an array).
	Prefix       []string `json:"-"`
	MoreSpecific *bool    `json:"moreSpecific,omitempty"` // RIS default true
	LessSpecific *bool    `json:"lessSpecific,omitempty"` // RIS default false
}

// MarshalJSON writes the filter as RIS Live expects it, with the
// socketOptions blackout needs (raw messages).
func (f Filter) MarshalJSON() ([]byte, error) {
	type plain Filter
	out := struct {
		plain
		Prefix        any            `json:"prefix,omitempty"`
		SocketOptions map[string]any `json:"socketOptions"`
	}{plain: plain(f), SocketOptions: map[string]any{"includeRaw": true}}
	switch len(f.Prefix) {
	case 0:
	case 1:
		out.Prefix = f.Prefix[0]
	default:
		out.Prefix = f.Prefix
	}
	return json.Marshal(out)
}

// Set sets one filter field from a KEY=VALUE argument (--ris-filter):
// host, type, require, peer, path, prefix (repeatable), moreSpecific,
// lessSpecific (true/false). Keys are case-insensitive.
func (f *Filter) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("ris-live filter %q: want KEY=VALUE", kv)
	}
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(k)), "-", "") {
	case "host":
		f.Host = v
	case "type":
		f.Type = strings.ToUpper(v)
	case "require":
		f.Require = v
	case "peer":
		f.Peer = v
	case "path":
		f.Path = v
	case "prefix":
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				f.Prefix = append(f.Prefix, p)
			}
		}
	case "morespecific":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("ris-live filter %q: %w", kv, err)
		}
		f.MoreSpecific = &b
	case "lessspecific":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("ris-live filter %q: %w", kv, err)
		}
		f.LessSpecific = &b
	default:
		return fmt.Errorf("ris-live filter %q: unknown key %q (host, type, require, peer, path, prefix, moreSpecific, lessSpecific)", kv, k)
	}
	return nil
}

// Config configures a Source. Zero fields take the defaults.
type Config struct {
	URL     string   // default DefaultURL
	Filters []Filter // one ris_subscribe each; none: everything
	// MinBackoff and MaxBackoff bound the wait before reconnecting; it
	// doubles from MinBackoff (default 1 s) after each failed attempt up
	// to MaxBackoff (default 1 min), and starts again from MinBackoff once
	// messages flow.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts stops the source after this many consecutive failed
	// connection attempts (0: never give up).
	MaxAttempts int
	// Ping is how often a ping is sent; a connection with no message for
	// twice as long is dead and dropped (default 30 s).
	Ping time.Duration
	// ReadLimit is the largest message accepted (default 4 MiB).
	ReadLimit int64
	// HTTPClient dials the websocket (default http.DefaultClient).
	HTTPClient *http.Client

	// Logf, if set, receives one line per notable thing: connections,
	// drops, blind periods, server errors, bad messages.
	Logf func(format string, args ...any)
	// OnError, if set, receives each non-fatal error: a message that does
	// not decode (naming its number), a ris_error (*ServerError), a drop.
	OnError func(error)
	// OnBlind, if set, is called when the source is subscribed again after
	// a drop, with how long it received nothing and why it dropped.
	OnBlind func(blind time.Duration, cause error)
}

// Stats are a Source's counters, safe to read while it runs.
type Stats struct {
	Messages    atomic.Int64 // messages received
	Events      atomic.Int64 // route events delivered
	Errors      atomic.Int64 // messages that did not decode, ris_errors
	Connects    atomic.Int64 // successful subscriptions
	Drops       atomic.Int64 // connections lost
	BlindMicros atomic.Int64 // total time blind after drops, in microseconds
}

// Client is a RIS Live client; it implements source.Runner.
type Client struct {
	cfg   Config
	stats Stats
	dec   Decoder
	buf   []bgp.Event
}

// New returns a Source with cfg (defaults filled in).
func New(cfg Config) *Client {
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.Ping <= 0 {
		cfg.Ping = 30 * time.Second
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = 4 << 20
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.OnError == nil {
		cfg.OnError = func(error) {}
	}
	return &Client{cfg: cfg}
}

// Name returns "ris-live".
func (s *Client) Name() string { return "ris-live" }

// Stats returns the source's counters.
func (s *Client) Stats() *Stats { return &s.stats }

// errDead is the cause of a drop for a connection that went silent.
var errDead = errors.New("no message for too long")

// Run connects, subscribes and delivers route events until ctx is done,
// reconnecting after drops. It returns ctx.Err() when ctx ends, or an error
// after Config.MaxAttempts consecutive failed connection attempts.
func (s *Client) Run(ctx context.Context, out chan<- bgp.Event) error {
	backoff := s.cfg.MinBackoff
	failures := 0
	var blindSince time.Time
	var cause error
	for {
		conn, err := s.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failures++
			if blindSince.IsZero() {
				blindSince, cause = time.Now(), err
			}
			if s.cfg.MaxAttempts > 0 && failures >= s.cfg.MaxAttempts {
				return fmt.Errorf("ris-live %s: giving up after %d attempts: %w", s.cfg.URL, failures, err)
			}
			s.cfg.Logf("ris-live: %v; retrying in %s", err, backoff)
			if err := sleep(ctx, backoff); err != nil {
				return err
			}
			backoff = min(2*backoff, s.cfg.MaxBackoff)
			continue
		}
		s.stats.Connects.Add(1)
		if !blindSince.IsZero() {
			blind := time.Since(blindSince)
			s.stats.BlindMicros.Add(blind.Microseconds())
			s.cfg.Logf("ris-live: blind for %.1fs (%v); subscribed again to %s", blind.Seconds(), cause, s.cfg.URL)
			if s.cfg.OnBlind != nil {
				s.cfg.OnBlind(blind, cause)
			}
		} else {
			s.cfg.Logf("ris-live: subscribed to %s", s.cfg.URL)
		}
		got, err := s.read(ctx, conn, out)
		conn.CloseNow()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.stats.Drops.Add(1)
		blindSince, cause = time.Now(), fmt.Errorf("connection dropped: %w", err)
		s.cfg.OnError(fmt.Errorf("ris-live %s: %w", s.cfg.URL, cause))
		if got {
			failures, backoff = 0, s.cfg.MinBackoff
		}
		s.cfg.Logf("ris-live: connection to %s dropped: %v; reconnecting in %s", s.cfg.URL, err, backoff)
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, s.cfg.MaxBackoff)
	}
}

// connect dials the server and sends the subscriptions.
func (s *Client) connect(ctx context.Context) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, s.cfg.URL, &websocket.DialOptions{HTTPClient: s.cfg.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", s.cfg.URL, err)
	}
	conn.SetReadLimit(s.cfg.ReadLimit)
	filters := s.cfg.Filters
	if len(filters) == 0 {
		filters = []Filter{{}}
	}
	for _, f := range filters {
		msg, err := json.Marshal(struct {
			Type string `json:"type"`
			Data Filter `json:"data"`
		}{"ris_subscribe", f})
		if err == nil {
			err = conn.Write(dctx, websocket.MessageText, msg)
		}
		if err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("subscribe at %s: %w", s.cfg.URL, err)
		}
	}
	return conn, nil
}

// read delivers the events of conn's messages until it fails; got reports
// whether any message arrived.
func (s *Client) read(ctx context.Context, conn *websocket.Conn, out chan<- bgp.Event) (got bool, err error) {
	// A connection that says nothing for two ping periods is dead; the
	// pings keep a quiet subscription alive.
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := time.NewTicker(s.cfg.Ping)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				if time.Since(time.Unix(0, last.Load())) > 2*s.cfg.Ping {
					cancel(errDead)
					return
				}
				wctx, wcancel := context.WithTimeout(rctx, s.cfg.Ping)
				_ = conn.Write(wctx, websocket.MessageText, []byte(`{"type":"ping"}`))
				wcancel()
			}
		}
	}()
	for {
		_, msg, err := conn.Read(rctx)
		if err != nil {
			if c := context.Cause(rctx); c != nil && ctx.Err() == nil {
				err = c
			}
			return got, err
		}
		got = true
		last.Store(time.Now().UnixNano())
		if err := s.handle(ctx, msg, out); err != nil {
			return got, err
		}
	}
}

// handle decodes one message and delivers its events; it returns an error
// only when ctx ends.
func (s *Client) handle(ctx context.Context, msg []byte, out chan<- bgp.Event) error {
	n := s.stats.Messages.Add(1)
	var err error
	s.buf, _, err = s.dec.Decode(s.buf[:0], msg)
	if err != nil {
		s.stats.Errors.Add(1)
		var se *ServerError
		if errors.As(err, &se) {
			err = fmt.Errorf("ris-live %s: %w", s.cfg.URL, err)
		} else {
			err = fmt.Errorf("ris-live: message %d: %w", n, err)
		}
		s.cfg.Logf("%v", err)
		s.cfg.OnError(err)
	}
	for i := range s.buf {
		select {
		case out <- s.buf[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.stats.Events.Add(int64(len(s.buf)))
	clear(s.buf)
	return nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
