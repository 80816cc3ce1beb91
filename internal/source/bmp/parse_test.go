package bmp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// msg frames a BMP message of type typ around body (per-peer header
// included by the caller).
func msg(typ uint8, body []byte) []byte {
	b := []byte{3, 0, 0, 0, 0, typ}
	binary.BigEndian.PutUint32(b[1:], uint32(6+len(body)))
	return append(b, body...)
}

func peerHdr(typ, flags uint8, addr netip.Addr, as uint32, ts uint32) []byte {
	b := make([]byte, 42)
	b[0], b[1] = typ, flags
	if addr.Is4() {
		a := addr.As4()
		copy(b[22:26], a[:])
	} else {
		a := addr.As16()
		copy(b[10:26], a[:])
	}
	binary.BigEndian.PutUint32(b[26:], as)
	copy(b[30:34], []byte{10, 0, 0, 1})
	binary.BigEndian.PutUint32(b[34:], ts)
	return b
}

func tlv(t uint16, v string) []byte {
	b := []byte{0, 0, 0, 0}
	binary.BigEndian.PutUint16(b, t)
	binary.BigEndian.PutUint16(b[2:], uint16(len(v)))
	return append(b, v...)
}

func bgpMsg(typ uint8, body []byte) []byte {
	b := bytes.Repeat([]byte{0xff}, 16)
	b = binary.BigEndian.AppendUint16(b, uint16(19+len(body)))
	b = append(b, typ)
	return append(b, body...)
}

// open builds an OPEN with 4-byte AS and ADD-PATH (IPv4 unicast) mode.
func open(as uint32, addPathMode uint8) []byte {
	caps := []byte{65, 4, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(caps[2:], as)
	if addPathMode != 0 {
		caps = append(caps, 69, 4, 0, 1, 1, addPathMode)
	}
	body := []byte{4, 0x5b, 0xa0, 0, 90, 10, 0, 0, 1, byte(2 + len(caps)), 2, byte(len(caps))}
	return bgpMsg(1, append(body, caps...))
}

// update builds an UPDATE announcing pfx (with path id pid when addPath)
// with AS path path (4-byte) and next hop 198.51.100.1, and withdrawing wd.
func update(addPath bool, pid uint32, pfx string, path []uint32, wd string) []byte {
	nlri := func(s string) []byte {
		if s == "" {
			return nil
		}
		p := netip.MustParsePrefix(s)
		var b []byte
		if addPath {
			b = binary.BigEndian.AppendUint32(b, pid)
		}
		a := p.Addr().As4()
		return append(append(b, byte(p.Bits())), a[:(p.Bits()+7)/8]...)
	}
	w := nlri(wd)
	var attrs []byte
	if pfx != "" {
		attrs = append(attrs, 0x40, 1, 1, 0)
		seg := []byte{2, byte(len(path))}
		for _, as := range path {
			seg = binary.BigEndian.AppendUint32(seg, as)
		}
		attrs = append(attrs, 0x40, 2, byte(len(seg)))
		attrs = append(attrs, seg...)
		attrs = append(attrs, 0x40, 3, 4, 198, 51, 100, 1)
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(len(w)))
	b = append(b, w...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(attrs)))
	b = append(b, attrs...)
	b = append(b, nlri(pfx)...)
	return bgpMsg(2, b)
}

func peerUp(h []byte, sent, recv []byte) []byte {
	b := append([]byte(nil), h...)
	b = append(b, make([]byte, 16)...)
	b = append(b, 0, 179, 0xc0, 0x01)
	b = append(b, sent...)
	b = append(b, recv...)
	return msg(TypePeerUp, b)
}

// stream is a router's session: initiation, peer up (ADD-PATH), routes,
// statistics, a Loc-RIB route, peer down, termination.
func stream() [][]byte {
	peer := netip.MustParseAddr("192.0.2.7")
	h := peerHdr(PeerGlobal, 0, peer, 4200000001, 1419265000)
	return [][]byte{
		msg(TypeInitiation, append(tlv(1, "test router"), tlv(2, "rtr1")...)),
		peerUp(h, open(65000, 1), open(4200000001, 2)),
		msg(TypeRouteMonitoring, append(append([]byte(nil), h...), update(true, 7, "175.45.176.0/24", []uint32{4200000001, 4837, 131279}, "")...)),
		msg(TypeRouteMonitoring, append(append([]byte(nil), h...), update(true, 7, "", nil, "175.45.176.0/24")...)),
		msg(TypeStatistics, append(append([]byte(nil), h...), 0, 0, 0, 1, 0, 7, 0, 8, 0, 0, 0, 0, 0, 0, 0, 42)),
		msg(TypeRouteMonitoring, append(peerHdr(PeerLocRIB, 0, netip.IPv4Unspecified(), 65000, 1419265001), update(false, 0, "192.0.2.0/24", []uint32{3356}, "")...)),
		msg(TypePeerDown, append(append([]byte(nil), h...), 4)),
		msg(TypeTermination, append(tlv(0, "bye"), 0, 1, 0, 2, 0, 0)),
	}
}

func TestRouterStream(t *testing.T) {
	var st Stats
	r := newRouter(netip.MustParseAddr("127.0.0.9"), DefaultViews, &st)
	var evs []bgp.Event
	emit := func(e bgp.Event) bool { evs = append(evs, e); return true }
	for i, m := range stream() {
		if err := r.handle(m, time.Unix(0, 0), emit); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if !r.terminated || r.termReason != "bye" {
		t.Errorf("termination: %v %q", r.terminated, r.termReason)
	}
	peer := bgp.Peer{Collector: "rtr1", Addr: netip.MustParseAddr("192.0.2.7"), AS: 4200000001}
	loc := bgp.Peer{Collector: "rtr1/loc-rib", Addr: netip.MustParseAddr("127.0.0.9"), AS: 65000}
	want := []struct {
		kind   bgp.EventKind
		peer   bgp.Peer
		prefix string
		pathID uint32
		state  bgp.State
	}{
		{bgp.PeerState, peer, "", 0, bgp.StateEstablished},
		{bgp.Announce, peer, "175.45.176.0/24", 7, 0},
		{bgp.Withdraw, peer, "175.45.176.0/24", 7, 0},
		{bgp.PeerState, loc, "", 0, bgp.StateEstablished},
		{bgp.Announce, loc, "192.0.2.0/24", 0, 0},
		{bgp.PeerState, peer, "", 0, bgp.StateIdle},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		e := evs[i]
		if e.Kind != w.kind || e.Peer != w.peer || e.PathID != w.pathID || (w.prefix != "" && e.Prefix.String() != w.prefix) || (w.kind == bgp.PeerState && e.NewState != w.state) {
			t.Errorf("event %d: %+v, want %+v", i, e, w)
		}
	}
	if got := evs[1].Attrs.Path.String(); got != "4200000001 4837 131279" {
		t.Errorf("AS path %q", got)
	}
	if !evs[1].Time.Equal(time.Unix(1419265000, 0)) {
		t.Errorf("time %v", evs[1].Time)
	}
	if st.StatCounts.Load() != 1 {
		t.Errorf("statistics TLVs %d", st.StatCounts.Load())
	}
}

func TestReadMessageErrors(t *testing.T) {
	for _, b := range [][]byte{
		{3, 0, 0},                   // short header
		{2, 0, 0, 0, 6, 4},          // version 2
		{3, 0, 0, 0, 2, 4},          // length below the header
		{3, 0, 0, 0, 20, 0, 1, 2},   // truncated body
		{3, 0xff, 0, 0, 0, 0, 1, 2}, // length beyond MaxMessage
	} {
		if _, err := ReadMessage(bytes.NewReader(b), nil); err == nil {
			t.Errorf("%x: no error", b)
		}
	}
	var st Stats
	r := newRouter(netip.MustParseAddr("127.0.0.9"), DefaultViews, &st)
	h := peerHdr(PeerGlobal, 0, netip.MustParseAddr("192.0.2.7"), 65001, 0)
	bad := msg(TypeRouteMonitoring, append(h, bgpMsg(2, []byte{0, 5, 1})...))
	if err := r.handle(bad, time.Now(), func(bgp.Event) bool { return true }); err == nil {
		t.Error("truncated UPDATE: no error")
	}
}

func FuzzStation(f *testing.F) {
	var all []byte
	for _, m := range stream() {
		f.Add(m)
		all = append(all, m...)
	}
	f.Add(all)
	f.Fuzz(func(t *testing.T, b []byte) {
		var st Stats
		r := newRouter(netip.MustParseAddr("127.0.0.9"), ViewPre|ViewPost|ViewLocRIB, &st)
		rd := bytes.NewReader(b)
		var buf []byte
		for {
			var err error
			buf, err = ReadMessage(rd, buf)
			if err != nil {
				break
			}
			_ = r.handle(buf, time.Unix(0, 0), func(e bgp.Event) bool {
				if e.Kind == bgp.Announce && e.Attrs == nil {
					t.Fatal("announcement without attributes")
				}
				return true
			})
		}
		_, _ = ParseMessage(b)
		_, _ = ParseOpen(b)
		_, _ = ParsePeerUp(b, len(b)%2 == 0)
		_, _ = ParseStats(b)
		_ = updateAFI(b)
		r.closeAll(time.Unix(0, 0), func(bgp.Event) bool { return true })
	})
}
