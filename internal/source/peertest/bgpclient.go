package peertest

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// BGPClient is a raw BGP speaker for tests: it dials, writes hand-made
// messages and reads what the other side answers.
type BGPClient struct {
	Conn net.Conn
}

// DialBGP connects from local (an address of 127.0.0.0/8, "" for any) to
// addr.
func DialBGP(t testing.TB, local, addr string) *BGPClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return &BGPClient{Conn: c}
}

// Msg returns a BGP message of type typ with body.
func Msg(typ uint8, body []byte) []byte {
	b := make([]byte, 19, 19+len(body))
	for i := range 16 {
		b[i] = 0xff
	}
	binary.BigEndian.PutUint16(b[16:], uint16(19+len(body)))
	b[18] = typ
	return append(b, body...)
}

// Open returns an OPEN of version v, AS as (4-byte AS capability; AS_TRANS
// in the 2-byte field when needed), hold time 90 s, router id id, with
// IPv4 and IPv6 unicast.
func Open(v uint8, as uint32, id [4]byte) []byte {
	as2 := uint16(as)
	if as > 0xffff {
		as2 = 23456
	}
	caps := []byte{1, 4, 0, 1, 0, 1, 1, 4, 0, 2, 0, 1, 65, 4, byte(as >> 24), byte(as >> 16), byte(as >> 8), byte(as)}
	body := []byte{v, byte(as2 >> 8), byte(as2), 0, 90, id[0], id[1], id[2], id[3], byte(2 + len(caps)), 2, byte(len(caps))}
	return Msg(1, append(body, caps...))
}

// Keepalive is a KEEPALIVE message.
var Keepalive = Msg(4, nil)

// Write writes messages.
func (c *BGPClient) Write(t testing.TB, msgs ...[]byte) {
	t.Helper()
	for _, m := range msgs {
		if _, err := c.Conn.Write(m); err != nil {
			t.Fatal(err)
		}
	}
}

// Read reads one message (type and body) within d.
func (c *BGPClient) Read(d time.Duration) (uint8, []byte, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(d))
	var h [19]byte
	if _, err := io.ReadFull(c.Conn, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(h[16:]))
	if n < 19 || n > 4096 {
		return 0, nil, fmt.Errorf("message length %d", n)
	}
	body := make([]byte, n-19)
	if _, err := io.ReadFull(c.Conn, body); err != nil {
		return 0, nil, err
	}
	return h[18], body, nil
}

// Handshake sends an OPEN and a KEEPALIVE and reads the other side's OPEN
// and KEEPALIVE.
func (c *BGPClient) Handshake(t testing.TB, as uint32, id [4]byte) {
	t.Helper()
	c.Write(t, Open(4, as, id), Keepalive)
	for _, want := range []uint8{1, 4} {
		typ, body, err := c.Read(5 * time.Second)
		if err != nil || typ != want {
			t.Fatalf("handshake: message type %d (%x), error %v; want type %d", typ, body, err, want)
		}
	}
}
