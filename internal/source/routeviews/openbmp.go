// Package routeviews is RouteViews' live BMP feed as a source: a Kafka
// consumer (github.com/twmb/franz-go) of the OpenBMP raw topics,
// routeviews.<collector>.<peer-asn>.bmp_raw on stream.routeviews.org:9092,
// whose messages are an OpenBMP v1.7 binary header followed by one BMP
// message (RFC 7854), decoded by package source/bmp.
//
// RouteViews' quirks are handled as bgpipe's rv-live does: the header's
// router name is the BGP collector ("linx"), the collector's own AS
// prepended to every AS_PATH is stripped (the first hop, when the peer's
// AS follows it), and new peers' topics are found by a topic regex that
// the client re-evaluates on every metadata refresh.
package routeviews

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// ObjBMPRaw is OpenBMP's object type of a raw BMP message.
const ObjBMPRaw = 12

// OpenBMP header flags.
const (
	FlagRouterMsg = 0x80 // the header carries router fields
	FlagRouterV6  = 0x40 // the router address is IPv6
)

// Header is an OpenBMP v1.7 binary header.
type Header struct {
	Minor         uint8
	Flags         uint8
	Type          uint8
	Collected     time.Time // when the OpenBMP collector received the message
	CollectorHash [16]byte
	Collector     string // the OpenBMP collector's admin id (a BMP host at RouteViews)
	RouterHash    [16]byte
	RouterAddr    netip.Addr
	Router        string // the router group: RouteViews' BGP collector ("linx")
	Rows          uint32
}

// the fixed part: magic, versions, header length, message length, flags, type.
const fixedLen = 4 + 1 + 1 + 2 + 4 + 1 + 1

// ParseOpenBMP parses one OpenBMP raw message: its header and the BMP
// message it carries (aliasing b).
func ParseOpenBMP(b []byte) (Header, []byte, error) {
	var h Header
	if len(b) < fixedLen {
		return h, nil, fmt.Errorf("openbmp: %d bytes, shorter than the header", len(b))
	}
	if string(b[:4]) != "OBMP" {
		return h, nil, fmt.Errorf("openbmp: magic %q, want OBMP", b[:4])
	}
	if b[4] != 1 || b[5] < 7 {
		return h, nil, fmt.Errorf("openbmp: version %d.%d, want 1.7", b[4], b[5])
	}
	h.Minor = b[5]
	hdrLen := int(binary.BigEndian.Uint16(b[6:]))
	msgLen := int(binary.BigEndian.Uint32(b[8:]))
	h.Flags, h.Type = b[12], b[13]
	if hdrLen < fixedLen || hdrLen > len(b) {
		return h, nil, fmt.Errorf("openbmp: header length %d of a %d-byte message", hdrLen, len(b))
	}
	if msgLen > len(b)-hdrLen {
		return h, nil, fmt.Errorf("openbmp: message length %d, %d bytes after the header", msgLen, len(b)-hdrLen)
	}
	if h.Type != ObjBMPRaw {
		return h, nil, fmt.Errorf("openbmp: object type %d, not BMP_RAW (%d)", h.Type, ObjBMPRaw)
	}
	r := b[fixedLen:hdrLen]
	take := func(n int) ([]byte, bool) {
		if len(r) < n {
			return nil, false
		}
		v := r[:n]
		r = r[n:]
		return v, true
	}
	str := func() (string, bool) {
		l, ok := take(2)
		if !ok {
			return "", false
		}
		v, ok := take(int(binary.BigEndian.Uint16(l)))
		return string(v), ok
	}
	ts, ok := take(8)
	if !ok {
		return h, nil, fmt.Errorf("openbmp: header cut in the timestamp")
	}
	h.Collected = time.Unix(int64(binary.BigEndian.Uint32(ts)), int64(binary.BigEndian.Uint32(ts[4:]))*1000).UTC()
	v, ok := take(16)
	if !ok {
		return h, nil, fmt.Errorf("openbmp: header cut in the collector hash")
	}
	copy(h.CollectorHash[:], v)
	if h.Collector, ok = str(); !ok {
		return h, nil, fmt.Errorf("openbmp: header cut in the collector name")
	}
	if h.Flags&FlagRouterMsg != 0 {
		if v, ok = take(16); !ok {
			return h, nil, fmt.Errorf("openbmp: header cut in the router hash")
		}
		copy(h.RouterHash[:], v)
		if v, ok = take(16); !ok {
			return h, nil, fmt.Errorf("openbmp: header cut in the router address")
		}
		if h.Flags&FlagRouterV6 != 0 {
			h.RouterAddr = netip.AddrFrom16([16]byte(v))
		} else {
			h.RouterAddr = netip.AddrFrom4([4]byte(v[:4]))
		}
		if h.Router, ok = str(); !ok {
			return h, nil, fmt.Errorf("openbmp: header cut in the router name")
		}
		if v, ok = take(4); !ok {
			return h, nil, fmt.Errorf("openbmp: header cut in the row count")
		}
		h.Rows = binary.BigEndian.Uint32(v)
	}
	return h, b[hdrLen : hdrLen+msgLen], nil
}

// AppendOpenBMP appends an OpenBMP v1.7 raw message carrying bmp (the
// router fields are always written).
func AppendOpenBMP(b []byte, h Header, bmp []byte) []byte {
	start := len(b)
	flags := uint8(FlagRouterMsg)
	if h.RouterAddr.Is6() && !h.RouterAddr.Is4In6() {
		flags |= FlagRouterV6
	}
	b = append(b, "OBMP"...)
	b = append(b, 1, 7, 0, 0, 0, 0, 0, 0, flags, ObjBMPRaw)
	b = binary.BigEndian.AppendUint32(b, uint32(h.Collected.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(h.Collected.Nanosecond()/1000))
	b = append(b, h.CollectorHash[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.Collector)))
	b = append(b, h.Collector...)
	b = append(b, h.RouterHash[:]...)
	var a [16]byte
	switch {
	case flags&FlagRouterV6 != 0:
		a = h.RouterAddr.As16()
	case h.RouterAddr.IsValid():
		v4 := h.RouterAddr.Unmap().As4()
		copy(a[:], v4[:])
	}
	b = append(b, a[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.Router)))
	b = append(b, h.Router...)
	b = binary.BigEndian.AppendUint32(b, 1)
	binary.BigEndian.PutUint16(b[start+6:], uint16(len(b)-start))
	binary.BigEndian.PutUint32(b[start+8:], uint32(len(bmp)))
	return append(b, bmp...)
}
