package bmp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// BMP message types (RFC 7854 section 4.1).
const (
	TypeRouteMonitoring = 0
	TypeStatistics      = 1
	TypePeerDown        = 2
	TypePeerUp          = 3
	TypeInitiation      = 4
	TypeTermination     = 5
	TypeRouteMirroring  = 6
)

// Peer types (RFC 7854 section 4.2, RFC 9069).
const (
	PeerGlobal = 0
	PeerRD     = 1
	PeerLocal  = 2
	PeerLocRIB = 3
)

// Per-peer header flags.
const (
	FlagV      = 0x80 // the peer address is IPv6 (Loc-RIB: F, the table is filtered)
	FlagL      = 0x40 // post-policy Adj-RIB-In
	FlagA      = 0x20 // legacy 2-byte AS_PATH
	FlagO      = 0x10 // Adj-RIB-Out (RFC 8671)
	headerLen  = 6
	peerHdrLen = 42
	// MaxMessage bounds a BMP message: a BGP message is at most 65,535
	// bytes (RFC 8654), plus the headers; larger lengths are framing errors.
	MaxMessage = 1 << 17
)

var errShort = errors.New("truncated")

// PeerHeader is the per-peer header of a BMP message.
type PeerHeader struct {
	Type          uint8
	Flags         uint8
	Distinguisher uint64
	Addr          netip.Addr
	AS            uint32
	BGPID         netip.Addr
	Time          time.Time // zero when the router sent none
}

// PostPolicy reports whether routes are post-policy Adj-RIB-In.
func (h *PeerHeader) PostPolicy() bool { return h.Type != PeerLocRIB && h.Flags&FlagL != 0 }

// AdjRIBOut reports whether routes are the router's Adj-RIB-Out (RFC 8671).
func (h *PeerHeader) AdjRIBOut() bool { return h.Type != PeerLocRIB && h.Flags&FlagO != 0 }

// AS4 reports whether AS_PATHs carry 4-byte ASNs.
func (h *PeerHeader) AS4() bool { return h.Type == PeerLocRIB || h.Flags&FlagA == 0 }

// Message is one BMP message; Body aliases the buffer it was parsed from.
type Message struct {
	Type uint8
	Peer PeerHeader // message types that carry one
	Body []byte     // what follows the headers
}

// ReadMessage reads one BMP message into buf (grown as needed) and returns
// it; it returns io.EOF at a clean end of stream.
func ReadMessage(r io.Reader, buf []byte) ([]byte, error) {
	if cap(buf) < headerLen {
		buf = make([]byte, 0, 4096)
	}
	buf = buf[:headerLen]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("BMP common header: %w", errShort)
		}
		return nil, err
	}
	if buf[0] != 3 {
		return nil, fmt.Errorf("BMP version %d, want 3", buf[0])
	}
	n := int(binary.BigEndian.Uint32(buf[1:]))
	if n < headerLen || n > MaxMessage {
		return nil, fmt.Errorf("BMP message length %d", n)
	}
	if cap(buf) < n {
		nb := make([]byte, n, n+n/2)
		copy(nb, buf)
		buf = nb
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf[headerLen:]); err != nil {
		return nil, fmt.Errorf("BMP message of %d bytes: %w", n, errShort)
	}
	return buf, nil
}

// ParseMessage parses a whole BMP message (common header included).
func ParseMessage(b []byte) (Message, error) {
	var m Message
	if len(b) < headerLen {
		return m, fmt.Errorf("BMP common header: %w", errShort)
	}
	if b[0] != 3 {
		return m, fmt.Errorf("BMP version %d, want 3", b[0])
	}
	n := int(binary.BigEndian.Uint32(b[1:]))
	if n < headerLen || n > len(b) {
		return m, fmt.Errorf("BMP message length %d, %d bytes present", n, len(b))
	}
	m.Type = b[5]
	b = b[headerLen:n]
	switch m.Type {
	case TypeRouteMonitoring, TypeStatistics, TypePeerDown, TypePeerUp, TypeRouteMirroring:
		if len(b) < peerHdrLen {
			return m, fmt.Errorf("BMP per-peer header: %w", errShort)
		}
		h := &m.Peer
		h.Type, h.Flags = b[0], b[1]
		h.Distinguisher = binary.BigEndian.Uint64(b[2:])
		if h.Flags&FlagV != 0 && h.Type != PeerLocRIB {
			h.Addr = netip.AddrFrom16([16]byte(b[10:26]))
		} else {
			h.Addr = netip.AddrFrom4([4]byte(b[22:26]))
		}
		h.AS = binary.BigEndian.Uint32(b[26:])
		h.BGPID = netip.AddrFrom4([4]byte(b[30:34]))
		sec, usec := binary.BigEndian.Uint32(b[34:]), binary.BigEndian.Uint32(b[38:])
		if sec != 0 || usec != 0 {
			h.Time = time.Unix(int64(sec), int64(usec%1_000_000)*1000).UTC()
		}
		m.Body = b[peerHdrLen:]
	case TypeInitiation, TypeTermination:
		m.Body = b
	default:
		return m, fmt.Errorf("BMP message type %d unknown", m.Type)
	}
	return m, nil
}

// TLV is one information TLV (initiation, termination, peer up).
type TLV struct {
	Type  uint16
	Value []byte
}

// ParseTLVs parses a sequence of 2-byte-type, 2-byte-length TLVs.
func ParseTLVs(b []byte) ([]TLV, error) {
	var out []TLV
	for len(b) > 0 {
		if len(b) < 4 {
			return out, fmt.Errorf("TLV header: %w", errShort)
		}
		t, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if len(b) < 4+n {
			return out, fmt.Errorf("TLV type %d of %d bytes: %w", t, n, errShort)
		}
		out = append(out, TLV{Type: t, Value: b[4 : 4+n]})
		b = b[4+n:]
	}
	return out, nil
}

// PeerUp is the body of a Peer Up notification.
type PeerUp struct {
	LocalAddr             netip.Addr
	LocalPort, RemotePort uint16
	SentOpen, RecvOpen    []byte // whole BGP OPEN messages
	Info                  []TLV
}

// ParsePeerUp parses a Peer Up body; v6 is the per-peer header's V flag.
func ParsePeerUp(b []byte, v6 bool) (PeerUp, error) {
	var p PeerUp
	if len(b) < 20 {
		return p, fmt.Errorf("peer up: %w", errShort)
	}
	if v6 {
		p.LocalAddr = netip.AddrFrom16([16]byte(b[:16]))
	} else {
		p.LocalAddr = netip.AddrFrom4([4]byte(b[12:16]))
	}
	p.LocalPort, p.RemotePort = binary.BigEndian.Uint16(b[16:]), binary.BigEndian.Uint16(b[18:])
	b = b[20:]
	var err error
	if p.SentOpen, b, err = bgpMessage(b); err != nil {
		return p, fmt.Errorf("peer up: sent OPEN: %w", err)
	}
	if p.RecvOpen, b, err = bgpMessage(b); err != nil {
		return p, fmt.Errorf("peer up: received OPEN: %w", err)
	}
	p.Info, err = ParseTLVs(b)
	if err != nil {
		return p, fmt.Errorf("peer up: information: %w", err)
	}
	return p, nil
}

// bgpMessage splits one BGP message (with its 19-byte header) off b.
func bgpMessage(b []byte) (msg, rest []byte, err error) {
	if len(b) < 19 {
		return nil, nil, fmt.Errorf("BGP header: %w", errShort)
	}
	n := int(binary.BigEndian.Uint16(b[16:]))
	if n < 19 || n > len(b) {
		return nil, nil, fmt.Errorf("BGP message length %d, %d bytes present", n, len(b))
	}
	return b[:n], b[n:], nil
}

// Capabilities are what an OPEN message says about the encodings of the
// UPDATEs that follow.
type Capabilities struct {
	AS4     bool
	AddPath map[[2]uint16]uint8 // (AFI, SAFI) -> 1 receive, 2 send, 3 both
}

// ParseOpen reads the capabilities of a BGP OPEN message (with header),
// including RFC 9072 extended optional parameters.
func ParseOpen(msg []byte) (Capabilities, error) {
	var c Capabilities
	if len(msg) < 29 || msg[18] != 1 {
		return c, errors.New("not a BGP OPEN message")
	}
	b := msg[19:]
	optLen := int(b[9])
	b = b[10:]
	ext := false
	if optLen == 255 && len(b) >= 3 && b[0] == 255 {
		ext = true
		optLen = int(binary.BigEndian.Uint16(b[1:]))
		b = b[3:]
	}
	if optLen > len(b) {
		return c, fmt.Errorf("OPEN optional parameters: %w", errShort)
	}
	b = b[:optLen]
	for len(b) > 0 {
		var typ uint8
		var n int
		if ext {
			if len(b) < 3 {
				return c, fmt.Errorf("OPEN parameter: %w", errShort)
			}
			typ, n, b = b[0], int(binary.BigEndian.Uint16(b[1:])), b[3:]
		} else {
			if len(b) < 2 {
				return c, fmt.Errorf("OPEN parameter: %w", errShort)
			}
			typ, n, b = b[0], int(b[1]), b[2:]
		}
		if n > len(b) {
			return c, fmt.Errorf("OPEN parameter %d: %w", typ, errShort)
		}
		if typ == 2 {
			parseCaps(b[:n], &c)
		}
		b = b[n:]
	}
	return c, nil
}

func parseCaps(b []byte, c *Capabilities) {
	for len(b) >= 2 {
		code, n := b[0], int(b[1])
		if 2+n > len(b) {
			return
		}
		v := b[2 : 2+n]
		switch code {
		case 65:
			c.AS4 = true
		case 69:
			for ; len(v) >= 4; v = v[4:] {
				if c.AddPath == nil {
					c.AddPath = map[[2]uint16]uint8{}
				}
				c.AddPath[[2]uint16{binary.BigEndian.Uint16(v), uint16(v[2])}] = v[3]
			}
		}
		b = b[2+n:]
	}
}

// Stat is one counter of a Statistics Report.
type Stat struct {
	Type  uint16
	Value uint64 // 32- and 64-bit counters; per-AFI/SAFI gauges summed by the caller
}

// ParseStats parses a Statistics Report body.
func ParseStats(b []byte) ([]Stat, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("statistics count: %w", errShort)
	}
	count := binary.BigEndian.Uint32(b)
	b = b[4:]
	var out []Stat
	for i := uint32(0); i < count && len(b) > 0; i++ {
		if len(b) < 4 {
			return out, fmt.Errorf("statistic %d: %w", i, errShort)
		}
		t, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if len(b) < 4+n {
			return out, fmt.Errorf("statistic %d (type %d): %w", i, t, errShort)
		}
		v := b[4 : 4+n]
		s := Stat{Type: t}
		switch n {
		case 4:
			s.Value = uint64(binary.BigEndian.Uint32(v))
		case 8:
			s.Value = binary.BigEndian.Uint64(v)
		case 11: // AFI, SAFI, 64-bit gauge
			s.Value = binary.BigEndian.Uint64(v[3:])
		}
		out = append(out, s)
		b = b[4+n:]
	}
	return out, nil
}
