package mrt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// BGP message types (RFC 4271).
const (
	MsgOpen         uint8 = 1
	MsgUpdate       uint8 = 2
	MsgNotification uint8 = 3
	MsgKeepalive    uint8 = 4
	MsgRouteRefresh uint8 = 5
)

// Update is a decoded BGP UPDATE message. Its slices are reused by the
// decoder that filled it.
type Update struct {
	Withdrawn []NLRI    // withdrawn routes, then MP_UNREACH_NLRI
	Announced []NLRI    // NLRI, then MP_REACH_NLRI
	Attrs     bgp.Attrs // path attributes (meaningful when Announced is not empty)

	plain int // how many of Announced came from the NLRI field (the rest from MP_REACH_NLRI)
}

// UpdateDecoder decodes BGP UPDATE messages, reusing its buffers.
type UpdateDecoder struct {
	attrs attrDecoder
}

// DecodeMessage decodes a BGP message (with its 19-byte header) into u. It
// returns the message type; u is filled only for an UPDATE. as4 says
// whether AS_PATH carries 4-byte ASNs, addPath whether NLRI carry path
// identifiers (RFC 7911). A malformed attribute is kept raw in
// u.Attrs.Unknown and reported in the returned error along with the routes.
func (d *UpdateDecoder) DecodeMessage(msg []byte, as4, addPath bool, u *Update) (uint8, error) {
	if len(msg) < 19 {
		return 0, fmt.Errorf("BGP message header: %w", errShort)
	}
	length := int(binary.BigEndian.Uint16(msg[16:]))
	typ := msg[18]
	if length < 19 || length > len(msg) {
		return typ, fmt.Errorf("BGP message length %d, %d bytes present", length, len(msg))
	}
	if typ != MsgUpdate {
		return typ, nil
	}
	return typ, d.DecodeUpdate(msg[19:length], as4, addPath, u)
}

// DecodeUpdate decodes the body of an UPDATE message (after the header).
func (d *UpdateDecoder) DecodeUpdate(b []byte, as4, addPath bool, u *Update) error {
	u.Withdrawn, u.Announced, u.plain = u.Withdrawn[:0], u.Announced[:0], 0
	if len(b) < 2 {
		u.Attrs.Reset()
		return fmt.Errorf("withdrawn length: %w", errShort)
	}
	wl := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+wl+2 {
		u.Attrs.Reset()
		return fmt.Errorf("withdrawn routes (%d bytes): %w", wl, errShort)
	}
	wr := b[2 : 2+wl]
	al := int(binary.BigEndian.Uint16(b[2+wl:]))
	if len(b) < 4+wl+al {
		u.Attrs.Reset()
		return fmt.Errorf("path attributes (%d bytes): %w", al, errShort)
	}
	attrs := b[4+wl : 4+wl+al]
	nlri := b[4+wl+al:]
	// BIRD writes ADD-PATH NLRI in subtypes that do not say so: when the
	// plain reading fails and the ADD-PATH one works, take the latter.
	wAP := addPath || (!validNLRI(wr, AFIIPv4, false) && validNLRI(wr, AFIIPv4, true))
	nAP := addPath || (!validNLRI(nlri, AFIIPv4, false) && validNLRI(nlri, AFIIPv4, true))
	var errs error
	var err error
	if u.Withdrawn, err = appendNLRI(u.Withdrawn, wr, AFIIPv4, wAP, false); err != nil {
		errs = fmt.Errorf("withdrawn routes: %w", err)
	}
	if u.Announced, err = appendNLRI(u.Announced, nlri, AFIIPv4, nAP, false); err != nil {
		errs = errors.Join(errs, fmt.Errorf("NLRI: %w", err))
	}
	u.plain = len(u.Announced)
	if err := d.attrs.decode(attrs, attrOptions{as4: as4, addPath: addPath}, &u.Attrs, &u.Announced, &u.Withdrawn); err != nil {
		errs = errors.Join(errs, err)
	}
	return errs
}
