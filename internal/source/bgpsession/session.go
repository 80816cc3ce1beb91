package bgpsession

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
	"github.com/blackout-bgp/blackout/internal/source"
)

// NOTIFICATION error codes and subcodes (RFC 4271 section 4.5, RFC 4486).
const (
	errHeader     = 1
	errOpen       = 2
	errUpdate     = 3
	errHold       = 4
	errFSM        = 5
	errCease      = 6
	openVersion   = 1 // OPEN: unsupported version number
	openPeerAS    = 2 // OPEN: bad peer AS
	openBGPID     = 3 // OPEN: bad BGP identifier
	openHoldTime  = 6 // OPEN: unacceptable hold time
	headerSync    = 1 // header: connection not synchronized
	headerLength  = 2 // header: bad message length
	headerType    = 3 // header: bad message type
	ceaseShutdown = 2 // Cease: administrative shutdown
	ceaseCollide  = 7 // Cease: connection collision resolution
	// SubcodeMaxPrefixes is Cease's "Maximum Number of Prefixes Reached".
	SubcodeMaxPrefixes = 1
)

// notification is a NOTIFICATION to send.
type notification struct {
	code, subcode uint8
	data          []byte
}

// session is one connection from a router.
type session struct {
	c     *Collector
	conn  net.Conn
	addr  netip.Addr
	peer  bgp.Peer
	hold  time.Duration
	as4   bool
	addP  [2]bool // ADD-PATH path identifiers in UPDATEs, by family
	ready *source.Readiness

	wmu    sync.Mutex // serializes writes
	once   sync.Once
	reason atomic.Pointer[string] // why the collector closed it (set by close)
	buf    msgReader
}

// msgReader frames BGP messages off a connection; a read that times out
// keeps what it has read (a deadline may pass in the middle of a message).
type msgReader struct {
	conn net.Conn
	b    []byte // buffered bytes b[r:w]
	r, w int
}

// next returns the next whole message (valid until the following call),
// or the read error. The buffer holds one message at most plus what came
// after it; its size is MaxMessageLen (no extended messages are offered).
func (m *msgReader) next() ([]byte, error) {
	for {
		if n := m.w - m.r; n >= wire.HeaderLen {
			h := m.b[m.r:]
			l := int(binary.BigEndian.Uint16(h[16:]))
			for i := 0; i < 16; i++ {
				if h[i] != 0xff {
					return nil, &protoError{notification{errHeader, headerSync, nil}, "message header: marker is not all ones"}
				}
			}
			if l < wire.HeaderLen || l > wire.MaxMessageLen {
				return nil, &protoError{notification{errHeader, headerLength, h[16:18:18]}, fmt.Sprintf("message length %d", l)}
			}
			if n >= l {
				msg := m.b[m.r : m.r+l]
				m.r += l
				return msg, nil
			}
		}
		if m.r > 0 {
			m.w = copy(m.b, m.b[m.r:m.w])
			m.r = 0
		}
		k, err := m.conn.Read(m.b[m.w:])
		m.w += k
		if err != nil && k == 0 {
			return nil, err
		}
	}
}

// protoError is a malformed message from the router: the session ends
// with the NOTIFICATION.
type protoError struct {
	n   notification
	why string
}

func (e *protoError) Error() string { return e.why }

// serve runs one connection to its end.
func (c *Collector) serve(ctx context.Context, conn net.Conn, addr netip.Addr, nb Neighbor, out chan<- bgp.Event) {
	s := &session{c: c, conn: conn, addr: addr, buf: msgReader{conn: conn, b: make([]byte, wire.MaxMessageLen)}}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(c.cfg.HandshakeTimeout))
	if err := s.handshake(nb); err != nil {
		var pe *protoError
		switch {
		case errors.As(err, &pe):
			s.notify(pe.n)
			c.reject(addr, uint32(s.peer.AS), pe.why)
		case ctx.Err() != nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			c.reject(addr, uint32(s.peer.AS), fmt.Sprintf("no session within %s (--bgp-handshake-timeout)", c.cfg.HandshakeTimeout))
		default:
			c.reject(addr, uint32(s.peer.AS), "connection ended before the session was established: "+errText(err))
		}
		return
	}
	if !c.register(s) {
		s.notify(notification{code: errCease, subcode: ceaseCollide})
		c.reject(addr, uint32(s.peer.AS), "a session with this address is established already (connection collision)")
		return
	}
	defer c.unregister(s)
	_ = conn.SetDeadline(time.Time{})
	c.stats.Established.Add(1)
	c.stats.Sessions.Add(1)
	defer c.stats.Sessions.Add(-1)

	now := time.Now().UTC()
	s.ready = source.NewReadiness(now, c.cfg.Quiet)
	emit := func(ev bgp.Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var ap []string
	for f, on := range s.addP {
		if on {
			ap = append(ap, bgp.Family(f).String())
		}
	}
	extra := ""
	if len(ap) > 0 {
		extra = ", ADD-PATH " + strings.Join(ap, " ")
	}
	c.cfg.Logf("bgp %s: session up: %s AS%d (hold time %s%s)", c.cfg.Listen, addr, s.peer.AS, s.hold, extra)
	if !emit(bgp.Event{Time: now, Kind: bgp.PeerState, Peer: s.peer, OldState: bgp.StateOpenConfirm,
		NewState: bgp.StateEstablished, SignalsReady: true}) {
		return
	}
	done := make(chan struct{})
	defer close(done)
	if s.hold > 0 {
		go s.keepalives(done)
	}
	err := s.established(ctx, emit)
	if ctx.Err() != nil {
		s.notify(notification{code: errCease, subcode: ceaseShutdown})
		return
	}
	var pe *protoError
	why := errText(err)
	switch {
	case s.reason.Load() != nil:
		why = *s.reason.Load()
	case errors.As(err, &pe):
		s.notify(pe.n)
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.notify(notification{code: errHold})
		why = fmt.Sprintf("hold timer expired (%s without a message)", s.hold)
	}
	c.cfg.Logf("bgp %s: session down: %s AS%d: %s", c.cfg.Listen, addr, s.peer.AS, why)
	emit(bgp.Event{Time: time.Now().UTC(), Kind: bgp.PeerState, Peer: s.peer, OldState: bgp.StateEstablished, NewState: bgp.StateIdle})
}

// errText says how a connection ended.
func errText(err error) string {
	var ne *notifError
	switch {
	case err == nil:
		return "closed"
	case errors.As(err, &ne):
		return ne.Error()
	case errors.Is(err, io.EOF):
		return "the router closed the connection"
	case errors.Is(err, net.ErrClosed):
		return "connection closed"
	}
	return err.Error()
}

// notifError is a NOTIFICATION the router sent.
type notifError struct{ code, subcode uint8 }

func (e *notifError) Error() string {
	names := map[uint8]string{errHeader: "message header error", errOpen: "OPEN message error", errUpdate: "UPDATE message error",
		errHold: "hold timer expired", errFSM: "finite state machine error", errCease: "cease"}
	n := names[e.code]
	if n == "" {
		n = fmt.Sprintf("error %d", e.code)
	}
	return fmt.Sprintf("the router sent a NOTIFICATION: %s (%d/%d)", n, e.code, e.subcode)
}

// handshake reads the router's OPEN, answers it and waits for its
// KEEPALIVE.
func (s *session) handshake(nb Neighbor) error {
	msg, err := s.buf.next()
	if err != nil {
		return err
	}
	switch msg[18] {
	case wire.MsgOpen:
	case wire.MsgNotification:
		return notifErr(msg)
	default:
		return &protoError{notification{errFSM, 0, nil}, fmt.Sprintf("message type %d before OPEN", msg[18])}
	}
	o, err := parseOpen(msg)
	if err != nil {
		return &protoError{notification{errOpen, 0, nil}, "malformed OPEN: " + err.Error()}
	}
	s.peer = bgp.Peer{Collector: s.c.cfg.Collector, Addr: s.addr, AS: bgp.ASN(o.as)}
	switch {
	case o.version != 4:
		return &protoError{notification{errOpen, openVersion, []byte{0, 4}}, fmt.Sprintf("bad OPEN version %d (want 4)", o.version)}
	case nb.AS != 0 && o.as != nb.AS:
		return &protoError{notification{errOpen, openPeerAS, nil}, fmt.Sprintf("wrong AS: its OPEN says AS%d, --bgp-peer says AS%d", o.as, nb.AS)}
	case o.as == 0:
		return &protoError{notification{errOpen, openPeerAS, nil}, "AS 0 in OPEN"}
	case o.hold == 1 || o.hold == 2:
		return &protoError{notification{errOpen, openHoldTime, nil}, fmt.Sprintf("hold time %ds (want 0 or at least 3)", o.hold)}
	case o.id == 0:
		return &protoError{notification{errOpen, openBGPID, nil}, "BGP identifier 0"}
	}
	s.as4 = o.as4
	s.addP = o.addPathSend
	s.hold = min(s.c.cfg.HoldTime, time.Duration(o.hold)*time.Second)
	if err := s.write(s.openMsg(), keepaliveMsg); err != nil {
		return err
	}
	msg, err = s.buf.next()
	if err != nil {
		return err
	}
	switch msg[18] {
	case wire.MsgKeepalive:
		return nil
	case wire.MsgNotification:
		return notifErr(msg)
	}
	return &protoError{notification{errFSM, 0, nil}, fmt.Sprintf("message type %d in OpenConfirm", msg[18])}
}

func notifErr(msg []byte) error {
	if len(msg) < 21 {
		return &notifError{}
	}
	return &notifError{msg[19], msg[20]}
}

// established reads the session's messages until it ends.
func (s *session) established(ctx context.Context, emit func(bgp.Event) bool) error {
	var dec wire.UpdateDecoder
	var u wire.Update
	var lastMsg = time.Now()
	for {
		deadline := time.Time{}
		if s.hold > 0 {
			deadline = lastMsg.Add(s.hold)
		}
		if next := s.ready.Next(); !next.IsZero() && (deadline.IsZero() || next.Before(deadline)) {
			deadline = next
		}
		_ = s.conn.SetReadDeadline(deadline)
		msg, err := s.buf.next()
		now := time.Now()
		if !s.readyDue(now, emit) {
			return ctx.Err()
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && (s.hold == 0 || now.Sub(lastMsg) < s.hold) {
				continue // a readiness check, not the hold timer
			}
			return err
		}
		lastMsg = now
		switch msg[18] {
		case wire.MsgKeepalive, wire.MsgRouteRefresh:
		case wire.MsgNotification:
			return notifErr(msg)
		case wire.MsgUpdate:
			if !s.update(&dec, &u, msg, now.UTC(), emit) {
				return ctx.Err()
			}
		default:
			return &protoError{notification{errHeader, headerType, msg[18:19:19]}, fmt.Sprintf("message type %d", msg[18])}
		}
	}
}

// readyDue emits the EndOfRIB events the quiet rule makes due.
func (s *session) readyDue(now time.Time, emit func(bgp.Event) bool) bool {
	fams, why := s.ready.Due(now)
	for i, f := range fams {
		s.c.cfg.Logf("bgp %s: peer ready: %s AS%d %s (%s)", s.c.cfg.Listen, s.addr, s.peer.AS, f, why[i])
		if !emit(bgp.EndOfRIBFor(now.UTC(), s.peer, f)) {
			return false
		}
	}
	return true
}

// update turns one UPDATE into events.
func (s *session) update(dec *wire.UpdateDecoder, u *wire.Update, msg []byte, t time.Time, emit func(bgp.Event) bool) bool {
	if afi, safi, ok := wire.EndOfRIB(msg); ok {
		if safi != wire.SAFIUnicast || (afi != wire.AFIIPv4 && afi != wire.AFIIPv6) {
			return true
		}
		f := bgp.IPv4
		if afi == wire.AFIIPv6 {
			f = bgp.IPv6
		}
		if ok, why := s.ready.Marker(f); ok {
			s.c.cfg.Logf("bgp %s: peer ready: %s AS%d %s (%s)", s.c.cfg.Listen, s.addr, s.peer.AS, f, why)
			return emit(bgp.EndOfRIBFor(t, s.peer, f))
		}
		return true
	}
	addPath := s.addP[0]
	if wire.UpdateAFI(msg) == wire.AFIIPv6 {
		addPath = s.addP[1]
	}
	_, err := dec.DecodeMessage(msg, s.as4, addPath, u)
	if err != nil {
		s.c.logf("bgp %s: peer %s AS%d: UPDATE: %v", s.c.cfg.Listen, s.addr, s.peer.AS, err)
		if len(u.Withdrawn) == 0 && len(u.Announced) == 0 {
			return true
		}
	}
	for _, n := range u.Withdrawn {
		if n.Multicast {
			continue
		}
		if !emit(bgp.Event{Time: t, Kind: bgp.Withdraw, Peer: s.peer, Prefix: n.Prefix, PathID: n.PathID}) {
			return false
		}
	}
	// The routes of one message share one copy of its attributes (read
	// only); those of the NLRI field get their own when MP_REACH_NLRI's
	// next hop differs.
	var mp, plain *bgp.Attrs
	attrNH, _ := dec.NextHops()
	for i, n := range u.Announced {
		if n.Multicast {
			continue
		}
		var a *bgp.Attrs
		if u.InNLRIField(i) && attrNH.IsValid() && attrNH != u.Attrs.NextHop {
			if plain == nil {
				plain = u.Attrs.Clone()
				plain.NextHop = attrNH
			}
			a = plain
		} else {
			if mp == nil {
				mp = u.Attrs.Clone()
			}
			a = mp
		}
		s.ready.Announce(bgp.FamilyOf(n.Prefix), t)
		if !emit(bgp.Event{Time: t, Kind: bgp.Announce, Peer: s.peer, Prefix: n.Prefix, PathID: n.PathID, Attrs: a}) {
			return false
		}
	}
	return true
}

// keepalives sends a KEEPALIVE every third of the hold time until done.
func (s *session) keepalives(done <-chan struct{}) {
	tk := time.NewTicker(s.hold / 3)
	defer tk.Stop()
	for {
		select {
		case <-done:
			return
		case <-tk.C:
			if s.write(keepaliveMsg) != nil {
				return
			}
		}
	}
}

// write writes messages with a deadline (a router that does not read
// must not hold a goroutine for ever).
func (s *session) write(msgs ...[]byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	for _, m := range msgs {
		if _, err := s.conn.Write(m); err != nil {
			return err
		}
	}
	return nil
}

// notify sends a NOTIFICATION (best effort).
func (s *session) notify(n notification) {
	m := header(wire.MsgNotification, 2+len(n.data))
	m = append(append(m, n.code, n.subcode), n.data...)
	_ = s.write(m)
}

// close ends the session from the collector's side with a NOTIFICATION.
func (s *session) close(n notification, why string) {
	s.once.Do(func() {
		s.reason.Store(&why)
		s.notify(n)
		s.conn.Close()
	})
}

var keepaliveMsg = header(wire.MsgKeepalive, 0)

// header returns a message header for a body of n bytes.
func header(typ uint8, n int) []byte {
	b := make([]byte, wire.HeaderLen, wire.HeaderLen+n)
	for i := 0; i < 16; i++ {
		b[i] = 0xff
	}
	binary.BigEndian.PutUint16(b[16:], uint16(wire.HeaderLen+n))
	b[18] = typ
	return b
}

// openMsg is the collector's OPEN: IPv4 and IPv6 unicast, route refresh,
// graceful restart awareness with no family preserved (so that the
// router sends End-of-RIB markers, RFC 4724), 4-byte ASNs and ADD-PATH
// receive for both families.
func (s *session) openMsg() []byte {
	as := s.c.cfg.LocalAS
	as2 := uint16(as)
	if as > 0xffff {
		as2 = 23456 // AS_TRANS
	}
	caps := []byte{
		1, 4, 0, 1, 0, 1, // MP: IPv4 unicast
		1, 4, 0, 2, 0, 1, // MP: IPv6 unicast
		2, 0, // route refresh
		64, 2, 0, 0, // graceful restart: restart time 0, no family
		65, 4, byte(as >> 24), byte(as >> 16), byte(as >> 8), byte(as),
		69, 8, 0, 1, 1, 1, 0, 2, 1, 1, // ADD-PATH: receive, IPv4 and IPv6 unicast
	}
	body := []byte{4, byte(as2 >> 8), byte(as2)}
	hold := uint16(s.c.cfg.HoldTime / time.Second)
	body = append(body, byte(hold>>8), byte(hold))
	id := s.c.cfg.RouterID.As4()
	body = append(body, id[:]...)
	body = append(body, byte(2+len(caps)), 2, byte(len(caps)))
	body = append(body, caps...)
	return append(header(wire.MsgOpen, len(body)), body...)
}

// open is what a router's OPEN says.
type open struct {
	version     uint8
	as          uint32 // the 4-byte AS capability's when present
	hold        uint16
	id          uint32
	as4         bool
	addPathSend [2]bool // the router sends path identifiers, by family
}

// parseOpen reads an OPEN message (with header), including RFC 9072
// extended optional parameters.
func parseOpen(msg []byte) (open, error) {
	var o open
	b := msg[wire.HeaderLen:]
	if len(b) < 10 {
		return o, errors.New("shorter than 10 bytes")
	}
	o.version = b[0]
	o.as = uint32(binary.BigEndian.Uint16(b[1:]))
	o.hold = binary.BigEndian.Uint16(b[3:])
	o.id = binary.BigEndian.Uint32(b[5:])
	optLen := int(b[9])
	b = b[10:]
	ext := false
	if optLen == 255 && len(b) >= 3 && b[0] == 255 {
		ext = true
		optLen = int(binary.BigEndian.Uint16(b[1:]))
		b = b[3:]
	}
	if optLen > len(b) {
		return o, errors.New("optional parameters longer than the message")
	}
	b = b[:optLen]
	for len(b) > 0 {
		var typ uint8
		var n int
		if ext {
			if len(b) < 3 {
				return o, errors.New("truncated optional parameter")
			}
			typ, n, b = b[0], int(binary.BigEndian.Uint16(b[1:])), b[3:]
		} else {
			if len(b) < 2 {
				return o, errors.New("truncated optional parameter")
			}
			typ, n, b = b[0], int(b[1]), b[2:]
		}
		if n > len(b) {
			return o, fmt.Errorf("optional parameter %d longer than the message", typ)
		}
		if typ == 2 {
			o.caps(b[:n])
		}
		b = b[n:]
	}
	return o, nil
}

func (o *open) caps(b []byte) {
	for len(b) >= 2 {
		code, n := b[0], int(b[1])
		if 2+n > len(b) {
			return
		}
		v := b[2 : 2+n]
		switch code {
		case 65:
			if len(v) == 4 {
				o.as4 = true
				o.as = binary.BigEndian.Uint32(v)
			}
		case 69:
			for ; len(v) >= 4; v = v[4:] {
				afi, safi, mode := binary.BigEndian.Uint16(v), v[2], v[3]
				if safi == 1 && (afi == 1 || afi == 2) && mode&2 != 0 {
					o.addPathSend[afi-1] = true
				}
			}
		}
		b = b[2+n:]
	}
}
