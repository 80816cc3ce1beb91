package mrt

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/wire"
)

// multicastFile builds an MRT stream with multicast routes: BGP4MP
// MESSAGE_AS4 updates whose MP_REACH/MP_UNREACH carry SAFI 2 (IPv4 and
// IPv6), and a TABLE_DUMP_V2 RIB_IPV4_MULTICAST record. The writer makes
// only unicast, so the records are put together here.
func multicastFile(t *testing.T) []byte {
	t.Helper()
	var out bytes.Buffer
	ts := uint32(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Unix())
	record := func(typ Type, sub uint16, body []byte) {
		var h [12]byte
		binary.BigEndian.PutUint32(h[0:], ts)
		binary.BigEndian.PutUint16(h[4:], uint16(typ))
		binary.BigEndian.PutUint16(h[6:], sub)
		binary.BigEndian.PutUint32(h[8:], uint32(len(body)))
		out.Write(h[:])
		out.Write(body)
	}
	attr := func(flags, typ byte, v []byte) []byte {
		return append([]byte{flags, typ, byte(len(v))}, v...)
	}
	base := append(attr(0x40, 1, []byte{0}), attr(0x40, 2, []byte{2, 2, 0, 0, 0xfd, 0xe8, 0, 0, 0x12, 0xe5})...) // IGP, 65000 4837
	mpReach := func(afi uint16, nh []byte, nlri []byte) []byte {
		v := []byte{byte(afi >> 8), byte(afi), 2, byte(len(nh))}
		v = append(v, nh...)
		v = append(v, 0)
		return attr(0x80, 14, append(v, nlri...))
	}
	mpUnreach := func(afi uint16, nlri []byte) []byte {
		return attr(0x80, 15, append([]byte{byte(afi >> 8), byte(afi), 2}, nlri...))
	}
	update := func(attrs []byte) {
		msg := bytes.Repeat([]byte{0xff}, 16)
		body := []byte{0, 0, byte(len(attrs) >> 8), byte(len(attrs))}
		body = append(body, attrs...)
		msg = append(msg, byte((19+len(body))>>8), byte(19+len(body)), 2)
		msg = append(msg, body...)
		hdr := []byte{0, 0, 0xfd, 0xe8, 0, 0, 0x31, 0x6e, 0, 0, 0, 1} // AS 65000 -> AS 12654, IPv4
		hdr = append(hdr, 192, 0, 2, 1, 192, 0, 2, 2)
		record(TypeBGP4MP, BGP4MPMessageAS4, append(hdr, msg...))
	}
	nh6 := netip.MustParseAddr("2001:db8::1").As16()
	update(append(append([]byte{}, base...), mpReach(wire.AFIIPv4, []byte{198, 51, 100, 1}, []byte{24, 233, 252, 0})...))
	update(append(append([]byte{}, base...), mpReach(wire.AFIIPv6, nh6[:], []byte{32, 0x20, 0x01, 0x0d, 0xb8})...))
	update(mpUnreach(wire.AFIIPv4, []byte{24, 233, 252, 0}))

	// PEER_INDEX_TABLE with one peer, then RIB_IPV4_MULTICAST 233.252.1.0/24.
	pi := []byte{192, 0, 2, 1, 0, 0, 0, 1, 2, 192, 0, 2, 1, 192, 0, 2, 1, 0, 0, 0xfd, 0xe8}
	record(TypeTableDumpV2, PeerIndexTable, pi)
	rib := []byte{0, 0, 0, 0, 24, 233, 252, 1, 0, 1, 0, 0}
	rib = binary.BigEndian.AppendUint32(rib, ts)
	entryAttrs := append(append([]byte{}, base...), attr(0x40, 3, []byte{198, 51, 100, 1})...)
	rib = binary.BigEndian.AppendUint16(rib, uint16(len(entryAttrs)))
	record(TypeTableDumpV2, RIBIPv4Multicast, append(rib, entryAttrs...))
	return out.Bytes()
}

// TestMulticast: multicast routes are left out of the events by default,
// handed out marked when asked, and printed as bgpdump prints them.
func TestMulticast(t *testing.T) {
	data := multicastFile(t)
	rr := NewRouteReader(bytes.NewReader(data), "mc", "")
	if evs := drainEvents(t, rr); len(evs) != 0 {
		t.Errorf("default reader handed out %d multicast events", len(evs))
	}
	if n := rr.Stats().Multicast; n != 4 {
		t.Errorf("Stats().Multicast = %d, want 4", n)
	}
	rr = NewRouteReader(bytes.NewReader(data), "mc", "")
	rr.IncludeMulticast = true
	evs := drainEvents(t, rr)
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
	for _, ev := range evs {
		if !ev.Multicast {
			t.Errorf("event %v %s not marked multicast", ev.Kind, ev.Prefix)
		}
	}
	bin, err := exec.LookPath("bgpdump")
	if err != nil {
		t.Skip("bgpdump not found: install Debian package bgpdump to compare the -m output")
	}
	path := filepath.Join(t.TempDir(), "mc.mrt")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := exec.Command(bin, "-m", path).Output()
	if err != nil {
		t.Fatalf("bgpdump: %v", err)
	}
	compareLines(t, "multicast", dumpM(t, bytes.NewReader(data), "mc"), want)
}

func drainEvents(t *testing.T, rr *RouteReader) []bgp.Event {
	t.Helper()
	var out []bgp.Event
	for {
		ev, err := rr.Next()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("%v", err)
			}
			return out
		}
		out = append(out, ev.Clone())
	}
}
