package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// BGP message types (RFC 4271 section 4.1, RFC 2918).
const (
	MsgOpen         uint8 = 1
	MsgUpdate       uint8 = 2
	MsgNotification uint8 = 3
	MsgKeepalive    uint8 = 4
	MsgRouteRefresh uint8 = 5
)

// HeaderLen is the length of the BGP message header: a 16-byte marker, the
// 2-byte message length and the 1-byte type.
const HeaderLen = 19

// MaxMessageLen is the largest BGP message (RFC 4271) without the extended
// messages of RFC 8654.
const MaxMessageLen = 4096

// Update is a decoded BGP UPDATE message. Its slices are reused by the
// decoder that filled it.
type Update struct {
	Withdrawn []NLRI    // withdrawn routes, then MP_UNREACH_NLRI
	Announced []NLRI    // NLRI, then MP_REACH_NLRI
	Attrs     bgp.Attrs // path attributes (meaningful when Announced is not empty)

	plain int // how many of Announced came from the NLRI field (the rest from MP_REACH_NLRI)
}

// InNLRIField reports whether u.Announced[i] came from the UPDATE's NLRI
// field, rather than from MP_REACH_NLRI. The two have different next hops
// when both are present (see UpdateDecoder.NextHops).
func (u *Update) InNLRIField(i int) bool { return i < u.plain }

// UpdateDecoder decodes BGP UPDATE messages, reusing its buffers. The zero
// value is ready to use. Once its buffers have grown to the largest message
// seen it allocates nothing.
type UpdateDecoder struct {
	attrs AttrDecoder
}

// NextHops returns the next hops of the last UPDATE decoded, kept apart:
// the NEXT_HOP attribute's (for the routes of the NLRI field) and
// MP_REACH_NLRI's (for its own routes). Either is invalid when absent.
func (d *UpdateDecoder) NextHops() (attr, mpReach netip.Addr) { return d.attrs.NextHops() }

// DecodeMessage decodes a BGP message (with its 19-byte header) into u. It
// returns the message type; u is filled only for an UPDATE. as4 says
// whether AS_PATH carries 4-byte ASNs, addPath whether NLRI carry path
// identifiers (RFC 7911). A malformed attribute is kept raw in
// u.Attrs.Unknown and reported in the returned error along with the routes.
func (d *UpdateDecoder) DecodeMessage(msg []byte, as4, addPath bool, u *Update) (uint8, error) {
	if len(msg) < HeaderLen {
		return 0, fmt.Errorf("BGP message header: %w", errShort)
	}
	length := int(binary.BigEndian.Uint16(msg[16:]))
	typ := msg[18]
	if length < HeaderLen || length > len(msg) {
		return typ, fmt.Errorf("BGP message length %d, %d bytes present", length, len(msg))
	}
	if typ != MsgUpdate {
		return typ, nil
	}
	return typ, d.DecodeUpdate(msg[HeaderLen:length], as4, addPath, u)
}

// DecodeUpdate decodes the body of an UPDATE message (after the header).
// The withdrawn routes and the NLRI are read with ADD-PATH identifiers
// when addPath is set, and also when only that reading works: BIRD writes
// ADD-PATH NLRI in MRT subtypes that do not say so.
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
	var errs error
	var err error
	if u.Withdrawn, err = decodeNLRIGuess(u.Withdrawn, wr, AFIIPv4, addPath, false); err != nil {
		errs = fmt.Errorf("withdrawn routes: %w", err)
	}
	if u.Announced, err = decodeNLRIGuess(u.Announced, nlri, AFIIPv4, addPath, false); err != nil {
		errs = errors.Join(errs, fmt.Errorf("NLRI: %w", err))
	}
	u.plain = len(u.Announced)
	if err := d.attrs.Decode(attrs, AttrOptions{AS4: as4, AddPath: addPath}, &u.Attrs, &u.Announced, &u.Withdrawn); err != nil {
		errs = errors.Join(errs, err)
	}
	return errs
}

// UpdateOptions say how AppendUpdate encodes an UPDATE.
type UpdateOptions struct {
	AS4     bool // AS_PATH and AGGREGATOR with 4-byte ASNs (else RFC 6793's AS4_ attributes)
	AddPath bool // every prefix preceded by its path identifier (RFC 7911)
	// MPAFI, when not zero, puts the prefixes in MP_UNREACH_NLRI and
	// MP_REACH_NLRI of that family (SAFI unicast) rather than in the
	// withdrawn routes and NLRI fields, and the next hop in MP_REACH_NLRI.
	MPAFI uint16
}

// noAttrs is the empty attribute set of a withdrawal-only update.
var noAttrs bgp.Attrs

// AppendUpdate appends a BGP UPDATE message, header included, to b: the
// withdrawn routes, the attributes (see AppendAttrs; attrs may be nil when
// nothing is announced) and the announced routes, all of one family when
// opt.MPAFI is set. With no prefixes at all it appends an End-of-RIB
// marker. The prefixes must be masked. It fails when the message would
// exceed MaxMessageLen or on an attribute AppendAttrs cannot write;
// splitting a large update into several messages is the caller's job.
func AppendUpdate(b []byte, withdrawn []NLRI, attrs *bgp.Attrs, announced []NLRI, opt UpdateOptions) ([]byte, error) {
	if len(announced) > 0 && attrs == nil {
		return b, errors.New("announcements without attributes")
	}
	mp := opt.MPAFI != 0
	msgAt := len(b)
	for range 16 {
		b = append(b, 0xff)
	}
	b = append(b, 0, 0, MsgUpdate)
	// Withdrawn routes.
	wAt := len(b)
	b = append(b, 0, 0)
	if !mp {
		b = AppendNLRI(b, withdrawn, opt.AddPath)
	}
	binary.BigEndian.PutUint16(b[wAt:], uint16(len(b)-wAt-2))
	// Path attributes.
	aAt := len(b)
	b = append(b, 0, 0)
	mpa := MPAttrs{AddPath: opt.AddPath}
	if mp {
		if len(withdrawn) > 0 {
			mpa.UnreachAFI, mpa.Unreach = opt.MPAFI, withdrawn
		}
		if len(announced) > 0 {
			mpa.ReachAFI, mpa.Reach = opt.MPAFI, announced
		}
	}
	var err error
	if attrs != nil {
		b, err = AppendAttrs(b, attrs, opt.AS4, &mpa)
	} else if mpa.UnreachAFI != 0 {
		b, err = AppendAttrs(b, &noAttrs, opt.AS4, &mpa)
	}
	if err != nil {
		return b, err
	}
	binary.BigEndian.PutUint16(b[aAt:], uint16(len(b)-aAt-2))
	if !mp {
		b = AppendNLRI(b, announced, opt.AddPath)
	}
	if n := len(b) - msgAt; n > MaxMessageLen {
		return b, fmt.Errorf("message of %d bytes exceeds %d", n, MaxMessageLen)
	}
	binary.BigEndian.PutUint16(b[msgAt+16:], uint16(len(b)-msgAt))
	return b, nil
}
