package rislive

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// ServerError is a `ris_error` message: the server's complaint (a bad
// subscription, a client too slow to keep up).
type ServerError struct {
	Message string
}

// Error returns the message with its control and other unprintable
// characters escaped (\x1b, \u202e): the server's text never reaches a
// terminal raw. It is cut to 512 bytes.
func (e *ServerError) Error() string { return "server error: " + Printable(e.Message, 512) }

// Printable returns s with every unprintable rune (control characters,
// terminal escapes, bidirectional overrides) written as a Go escape, and
// cut to at most max bytes of s with "..." when longer.
func Printable(s string, max int) string {
	cut := len(s) > max
	if cut {
		s = s[:max]
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r)
		b.WriteString(q[1 : len(q)-1])
	}
	if cut {
		b.WriteString("...")
	}
	return b.String()
}

// Info says what a decoded message was, besides its route events.
type Info struct {
	Type    string // the envelope type: "ris_message", "ris_error", "pong", "ris_subscribe_ok", ...
	MsgType string // ris_message: "UPDATE", "RIS_PEER_STATE", "KEEPALIVE", "OPEN", "NOTIFICATION"
	FromRaw bool   // the route events were decoded from the raw BGP message
}

// Decoder turns RIS Live server messages into route events. It decodes the
// `raw` BGP message (hex, or base64) when there is one, unless PreferJSON is
// set, and the JSON fields otherwise. A Decoder is not safe for concurrent
// use; it reuses its buffers between calls.
type Decoder struct {
	// PreferJSON makes the decoder read the JSON fields even when the raw
	// message is present (for comparisons).
	PreferJSON bool

	ud   wire.UpdateDecoder
	u    wire.Update
	raw  []byte
	seen map[netip.Prefix]struct{}
}

// envelope is the outer object of every RIS Live message.
type envelope struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// message is the `data` of a ris_message (the fields blackout reads).
type message struct {
	Timestamp     json.Number       `json:"timestamp"`
	Peer          string            `json:"peer"`
	PeerASN       flexASN           `json:"peer_asn"`
	ID            string            `json:"id"`
	Host          string            `json:"host"`
	Type          string            `json:"type"`
	Raw           string            `json:"raw"`
	Path          []json.RawMessage `json:"path"`
	Community     [][]uint32        `json:"community"`
	Large         [][]uint32        `json:"large_community"`
	Origin        string            `json:"origin"`
	MED           *uint32           `json:"med"`
	LocalPref     *uint32           `json:"local_pref"`
	Aggregator    string            `json:"aggregator"`
	Announcements []announcement    `json:"announcements"`
	Withdrawals   []string          `json:"withdrawals"`
	State         string            `json:"state"`
}

// head is the part of a ris_message needed when the raw message is read.
type head struct {
	Timestamp json.Number `json:"timestamp"`
	Peer      string      `json:"peer"`
	PeerASN   flexASN     `json:"peer_asn"`
	ID        string      `json:"id"`
	Host      string      `json:"host"`
	Type      string      `json:"type"`
	Raw       string      `json:"raw"`
	State     string      `json:"state"`
}

type announcement struct {
	NextHop  string   `json:"next_hop"`
	Prefixes []string `json:"prefixes"`
}

type errorData struct {
	Message string `json:"message"`
}

// flexASN accepts an AS number as a JSON number or a string ("57695").
type flexASN uint32

func (a *flexASN) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		*a = 0
		return nil
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(s, "AS"), "as"), 10, 32)
	if err != nil {
		return fmt.Errorf("AS number %s: %w", b, err)
	}
	*a = flexASN(v)
	return nil
}

// Decode decodes one server message and appends its route events to dst.
// The events own their memory (they alias no buffer of the decoder). A
// ris_error message returns a *ServerError. Messages that carry no route
// (keepalives, OPEN, NOTIFICATION, pong, ris_subscribe_ok) append nothing.
// On an error inside an UPDATE, the routes that could be read are still
// appended.
func (d *Decoder) Decode(dst []bgp.Event, b []byte) ([]bgp.Event, Info, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return dst, Info{}, fmt.Errorf("invalid JSON: %w", err)
	}
	info := Info{Type: env.Type}
	switch env.Type {
	case "ris_message":
	case "ris_error":
		var e errorData
		if err := json.Unmarshal(env.Data, &e); err != nil {
			return dst, info, fmt.Errorf("ris_error: invalid JSON: %w", err)
		}
		return dst, info, &ServerError{Message: e.Message}
	default:
		return dst, info, nil
	}
	// The head first: with a raw message, the JSON fields are not needed.
	var h head
	if err := json.Unmarshal(env.Data, &h); err != nil {
		return dst, info, fmt.Errorf("ris_message: invalid JSON: %w", err)
	}
	m := message{Timestamp: h.Timestamp, Peer: h.Peer, PeerASN: h.PeerASN, ID: h.ID, Host: h.Host, Type: h.Type, Raw: h.Raw, State: h.State}
	info.MsgType = m.Type
	if m.Type != "UPDATE" && m.Type != "RIS_PEER_STATE" {
		return dst, info, nil
	}
	t, err := parseTimestamp(m.Timestamp)
	if err != nil {
		return dst, info, fmt.Errorf("ris_message %s: %w", m.ID, err)
	}
	addr, err := netip.ParseAddr(m.Peer)
	if err != nil {
		return dst, info, fmt.Errorf("ris_message %s: peer %q: %w", m.ID, m.Peer, err)
	}
	peer := bgp.Peer{Collector: Collector(m.Host), Addr: addr.Unmap(), AS: bgp.ASN(m.PeerASN)}
	if m.Type == "RIS_PEER_STATE" {
		ev := bgp.Event{Time: t, Kind: bgp.PeerState, Peer: peer}
		switch m.State {
		case "down":
			ev.OldState, ev.NewState = bgp.StateEstablished, bgp.StateIdle
		case "connected":
			ev.OldState, ev.NewState = bgp.StateOpenConfirm, bgp.StateEstablished
		default:
			return dst, info, fmt.Errorf("ris_message %s: peer %s: unknown RIS_PEER_STATE state %q", m.ID, peer, m.State)
		}
		return append(dst, ev), info, nil
	}
	if m.Raw != "" && !d.PreferJSON {
		out, err := d.decodeRaw(dst, &m, t, peer)
		if err == nil {
			info.FromRaw = true
			return out, info, nil
		}
		// A raw message that does not decode (a malformed attribute):
		// the JSON fields are RIS's own reading.
	}
	if err := json.Unmarshal(env.Data, &m); err != nil {
		return dst, info, fmt.Errorf("ris_message %s: invalid JSON: %w", m.ID, err)
	}
	return d.decodeJSON(dst, &m, t, peer)
}

// Collector returns the collector name of a RIS Live host:
// "rrc21.ripe.net" -> "rrc21".
func Collector(host string) string {
	if i := strings.IndexByte(host, '.'); i >= 0 {
		return host[:i]
	}
	return host
}

// parseTimestamp reads seconds with a fraction ("1558620047.08") exactly to
// the microsecond, without going through a float.
func parseTimestamp(n json.Number) (time.Time, error) {
	s := string(n)
	if s == "" {
		return time.Time{}, errors.New("no timestamp")
	}
	secStr, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil || sec < 0 || sec > 1<<40 || strings.ContainsAny(frac, "eE") {
		// Exponent forms and the like: go through a float.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f < 0 || f > 1<<40 {
			return time.Time{}, fmt.Errorf("timestamp %q: not seconds since 1970", s)
		}
		us := int64(f*1e6 + 0.5)
		return time.UnixMicro(us).UTC(), nil
	}
	var us int64
	for i := 0; i < len(frac); i++ {
		if c := frac[i]; c < '0' || c > '9' {
			return time.Time{}, fmt.Errorf("timestamp %q: not seconds since 1970", s)
		}
	}
	for i := 0; i < 6; i++ {
		us *= 10
		if i < len(frac) {
			us += int64(frac[i] - '0')
		}
	}
	return time.Unix(sec, us*1000).UTC(), nil
}

// decodeRaw decodes the raw BGP message (4-byte ASNs, as RIS collectors
// negotiate them).
func (d *Decoder) decodeRaw(dst []bgp.Event, m *message, t time.Time, peer bgp.Peer) ([]bgp.Event, error) {
	var err error
	d.raw, err = decodeRawField(d.raw[:0], m.Raw)
	if err != nil {
		return dst, err
	}
	typ, err := d.ud.DecodeMessage(d.raw, true, false, &d.u)
	if err != nil {
		// A peer that did not negotiate 4-byte ASNs sends 2-byte paths.
		if typ2, err2 := d.ud.DecodeMessage(d.raw, false, false, &d.u); err2 == nil {
			typ, err = typ2, nil
		}
	}
	if err != nil {
		return dst, err
	}
	if typ != wire.MsgUpdate {
		return dst, nil
	}
	d.resetSeen()
	for _, n := range d.u.Withdrawn {
		if d.once(n.Prefix) && !n.Multicast {
			dst = append(dst, bgp.Event{Time: t, Kind: bgp.Withdraw, Peer: peer, Prefix: n.Prefix})
		}
	}
	if len(d.u.Announced) > 0 {
		attrs := d.u.Attrs.Clone()
		d.resetSeen()
		for _, n := range d.u.Announced {
			if d.once(n.Prefix) && !n.Multicast {
				dst = append(dst, bgp.Event{Time: t, Kind: bgp.Announce, Peer: peer, Prefix: n.Prefix, Attrs: attrs})
			}
		}
	}
	return dst, nil
}

// decodeRawField reads RIS Live's raw field: hex (what RIS Live sends), or
// base64.
func decodeRawField(dst []byte, s string) ([]byte, error) {
	if len(s) >= 32 && strings.EqualFold(s[:32], strings.Repeat("F", 32)) {
		n := hex.DecodedLen(len(s))
		dst = append(dst[:0], make([]byte, n)...)
		if _, err := hex.Decode(dst, []byte(s)); err != nil {
			return dst[:0], fmt.Errorf("raw: %w", err)
		}
		return dst, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return dst[:0], fmt.Errorf("raw: neither hex nor base64: %w", err)
	}
	return append(dst[:0], b...), nil
}

func (d *Decoder) resetSeen() {
	if d.seen == nil {
		d.seen = make(map[netip.Prefix]struct{})
	}
	clear(d.seen)
}

// once reports whether p is seen for the first time since resetSeen.
func (d *Decoder) once(p netip.Prefix) bool {
	if _, ok := d.seen[p]; ok {
		return false
	}
	d.seen[p] = struct{}{}
	return true
}

// decodeJSON builds the route events from the JSON fields. RIS Live repeats
// an IPv6 announcement once per next hop (global and link-local): each
// prefix is emitted once, with both next hops in its attributes.
func (d *Decoder) decodeJSON(dst []bgp.Event, m *message, t time.Time, peer bgp.Peer) ([]bgp.Event, Info, error) {
	info := Info{Type: "ris_message", MsgType: m.Type}
	var errs []error
	d.resetSeen()
	for _, w := range m.Withdrawals {
		p, err := parsePrefix(w)
		if err != nil {
			errs = append(errs, fmt.Errorf("withdrawal %q: %w", w, err))
			continue
		}
		if d.once(p) {
			dst = append(dst, bgp.Event{Time: t, Kind: bgp.Withdraw, Peer: peer, Prefix: p})
		}
	}
	if len(m.Announcements) > 0 {
		base, err := baseAttrs(m)
		if err != nil {
			errs = append(errs, err)
		}
		// The next hops of the message: per family, the global one of
		// each group and the link-local one.
		var ll6, global6 netip.Addr
		for _, a := range m.Announcements {
			for _, h := range strings.Split(a.NextHop, ",") {
				nh, err := netip.ParseAddr(strings.TrimSpace(h))
				switch {
				case err != nil || !nh.Is6() || nh.Is4In6():
				case nh.IsLinkLocalUnicast():
					if !ll6.IsValid() {
						ll6 = nh
					}
				case !global6.IsValid():
					global6 = nh
				}
			}
		}
		byHop := map[netip.Addr]*bgp.Attrs{}
		d.resetSeen()
		for _, a := range m.Announcements {
			nh := netip.Addr{}
			for _, h := range strings.Split(a.NextHop, ",") {
				x, err := netip.ParseAddr(strings.TrimSpace(h))
				if err != nil {
					if strings.TrimSpace(h) != "" {
						errs = append(errs, fmt.Errorf("next hop %q: %w", h, err))
					}
					continue
				}
				if !(x.Is6() && x.IsLinkLocalUnicast()) {
					nh = x
					break
				}
			}
			for _, ps := range a.Prefixes {
				p, err := parsePrefix(ps)
				if err != nil {
					errs = append(errs, fmt.Errorf("announced prefix %q: %w", ps, err))
					continue
				}
				if !d.once(p) {
					continue
				}
				hop := nh
				if !hop.IsValid() && p.Addr().Is6() {
					hop = global6 // the link-local group came first
				}
				attrs := byHop[hop]
				if attrs == nil {
					attrs = base.Clone()
					attrs.NextHop = hop
					if hop.Is6() || (!hop.IsValid() && p.Addr().Is6()) {
						attrs.LinkLocalNextHop = ll6
					}
					if p.Addr().Is4() && hop.Is4() {
						attrs.Set(bgp.AttrNextHop)
					} else {
						attrs.Set(bgp.AttrMPReach)
					}
					byHop[hop] = attrs
				}
				dst = append(dst, bgp.Event{Time: t, Kind: bgp.Announce, Peer: peer, Prefix: p, Attrs: attrs})
			}
		}
	}
	if len(errs) > 0 {
		return dst, info, fmt.Errorf("ris_message %s from %s: %w", m.ID, peer, errors.Join(errs...))
	}
	return dst, info, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// baseAttrs reads the path attributes of the JSON fields (next hop aside).
func baseAttrs(m *message) (*bgp.Attrs, error) {
	a := &bgp.Attrs{}
	var errs []error
	switch strings.ToLower(m.Origin) {
	case "igp":
		a.Origin = bgp.OriginIGP
		a.Set(bgp.AttrOrigin)
	case "egp":
		a.Origin = bgp.OriginEGP
		a.Set(bgp.AttrOrigin)
	case "incomplete":
		a.Origin = bgp.OriginIncomplete
		a.Set(bgp.AttrOrigin)
	case "":
	default:
		errs = append(errs, fmt.Errorf("origin %q", m.Origin))
	}
	if m.Path != nil {
		p, err := parsePath(m.Path)
		if err != nil {
			errs = append(errs, err)
		}
		a.Path = p
		a.Set(bgp.AttrASPath)
	}
	if m.MED != nil {
		a.MED = *m.MED
		a.Set(bgp.AttrMED)
	}
	if m.LocalPref != nil {
		a.LocalPref = *m.LocalPref
		a.Set(bgp.AttrLocalPref)
	}
	for _, c := range m.Community {
		if len(c) != 2 || c[0] > 0xffff || c[1] > 0xffff {
			errs = append(errs, fmt.Errorf("community %v", c))
			continue
		}
		a.Communities = append(a.Communities, bgp.Community(c[0]<<16|c[1]))
	}
	if len(a.Communities) > 0 {
		a.Set(bgp.AttrCommunities)
	}
	for _, c := range m.Large {
		if len(c) != 3 {
			errs = append(errs, fmt.Errorf("large community %v", c))
			continue
		}
		a.LargeCommunities = append(a.LargeCommunities, bgp.LargeCommunity{Global: c[0], Local1: c[1], Local2: c[2]})
	}
	if len(a.LargeCommunities) > 0 {
		a.Set(bgp.AttrLargeCommunities)
	}
	if m.Aggregator != "" {
		// "65000:192.0.2.1"
		as, ip, ok := strings.Cut(m.Aggregator, ":")
		asn, err1 := strconv.ParseUint(as, 10, 32)
		addr, err2 := netip.ParseAddr(ip)
		if !ok || err1 != nil || err2 != nil {
			errs = append(errs, fmt.Errorf("aggregator %q", m.Aggregator))
		} else {
			a.Aggregator = bgp.Aggregator{AS: bgp.ASN(asn), Addr: addr}
			a.Set(bgp.AttrAggregator)
		}
	}
	return a, errors.Join(errs...)
}

// parsePath reads an AS path: numbers are AS_SEQUENCE members, a nested
// array an AS_SET ([1, 2, [3, 4]]).
func parsePath(elems []json.RawMessage) (bgp.Path, error) {
	var p bgp.Path
	var seq []bgp.ASN
	flush := func() {
		if len(seq) > 0 {
			p.Segments = append(p.Segments, bgp.Segment{Type: bgp.ASSequence, ASNs: seq})
			seq = nil
		}
	}
	for _, e := range elems {
		e = bytes.TrimSpace(e)
		if len(e) > 0 && e[0] == '[' {
			var set []uint32
			if err := json.Unmarshal(e, &set); err != nil {
				return p, fmt.Errorf("path: AS set %s: %w", e, err)
			}
			flush()
			asns := make([]bgp.ASN, len(set))
			for i, v := range set {
				asns[i] = bgp.ASN(v)
			}
			p.Segments = append(p.Segments, bgp.Segment{Type: bgp.ASSet, ASNs: asns})
			continue
		}
		v, err := strconv.ParseUint(string(e), 10, 32)
		if err != nil {
			return p, fmt.Errorf("path: AS %s: %w", e, err)
		}
		seq = append(seq, bgp.ASN(v))
	}
	flush()
	return p, nil
}
