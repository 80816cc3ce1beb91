package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/bgp/bgptest"
)

// updateString formats the routes and attributes of u.
func updateString(u *Update) string {
	var b strings.Builder
	for _, n := range u.Withdrawn {
		fmt.Fprintf(&b, "W %s id=%d mc=%v\n", n.Prefix, n.PathID, n.Multicast)
	}
	for i, n := range u.Announced {
		fmt.Fprintf(&b, "A %s id=%d mc=%v nlri=%v\n", n.Prefix, n.PathID, n.Multicast, u.InNLRIField(i))
	}
	if len(u.Announced) > 0 {
		b.WriteString(attrsString(&u.Attrs))
	}
	return b.String()
}

func TestUpdateRoundTrip(t *testing.T) {
	attrs := bgptest.Attrs(t)
	ap := func(ns []NLRI, id uint32) []NLRI {
		out := append([]NLRI(nil), ns...)
		for i := range out {
			out[i].PathID = id + uint32(i)
		}
		return out
	}
	cases := []struct {
		name    string
		wd, ann []NLRI
		attrs   *bgp.Attrs
		opt     UpdateOptions
	}{
		{"classic", nlris("10.0.0.0/8"), nlris("175.45.176.0/24", "175.45.177.0/24"), attrs[1], UpdateOptions{AS4: true}},
		{"classic 2-byte", nil, nlris("175.45.176.0/22"), attrs[1], UpdateOptions{}},
		{"withdraw only", nlris("10.0.0.0/8", "0.0.0.0/0"), nil, nil, UpdateOptions{AS4: true}},
		{"end of rib", nil, nil, nil, UpdateOptions{AS4: true}},
		{"ipv6", nlris("2001:db8:1::/48"), nlris("2001:db8:2::/48", "::/0"), bgptest.WithV6(attrs[0], true), UpdateOptions{AS4: true, MPAFI: AFIIPv6}},
		{"ipv6 withdraw only", nlris("2001:db8:1::/48"), nil, nil, UpdateOptions{AS4: true, MPAFI: AFIIPv6}},
		{"ipv4 over ipv6 next hop", nil, nlris("192.0.2.0/24"), bgptest.WithV6(attrs[0], false), UpdateOptions{AS4: true, MPAFI: AFIIPv4}},
		{"add-path", ap(nlris("10.1.0.0/16"), 5), ap(nlris("10.2.0.0/16", "10.3.0.0/16"), 0), attrs[0], UpdateOptions{AS4: true, AddPath: true}},
		{"add-path ipv6", ap(nlris("2001:db8:1::/48"), 6), ap(nlris("2001:db8:2::/48"), 7), bgptest.WithV6(attrs[2], false), UpdateOptions{AS4: true, AddPath: true, MPAFI: AFIIPv6}},
	}
	var d UpdateDecoder
	var u Update
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg, err := AppendUpdate(nil, c.wd, c.attrs, c.ann, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			if int(binary.BigEndian.Uint16(msg[16:])) != len(msg) {
				t.Fatalf("length field %d, message of %d bytes", binary.BigEndian.Uint16(msg[16:]), len(msg))
			}
			typ, err := d.DecodeMessage(msg, c.opt.AS4, c.opt.AddPath, &u)
			if err != nil || typ != MsgUpdate {
				t.Fatalf("type %d, %v", typ, err)
			}
			want := Update{Withdrawn: c.wd, Announced: c.ann}
			if c.opt.MPAFI == 0 {
				want.plain = len(c.ann)
			}
			if c.attrs != nil {
				want.Attrs = *c.attrs.Clone()
				if c.opt.MPAFI == 0 {
					want.Attrs.Set(bgp.AttrNextHop)
				} else if len(c.ann) > 0 {
					want.Attrs.Set(bgp.AttrMPReach)
				}
				if len(c.wd) > 0 && c.opt.MPAFI != 0 {
					want.Attrs.Set(bgp.AttrMPUnreach)
				}
			}
			u.Attrs.Present &^= 1<<bgp.AttrAS4Path | 1<<bgp.AttrAS4Aggregator
			if g, w := updateString(&u), updateString(&want); g != w {
				t.Errorf("got\n%s\nwant\n%s", g, w)
			}
			nh, mp := d.NextHops()
			switch {
			case len(c.ann) == 0:
			case c.opt.MPAFI == 0 && (nh != c.attrs.NextHop || mp.IsValid()):
				t.Errorf("next hops %s %s, want %s and none", nh, mp, c.attrs.NextHop)
			case c.opt.MPAFI != 0 && (nh.IsValid() || mp != c.attrs.NextHop):
				t.Errorf("next hops %s %s, want none and %s", nh, mp, c.attrs.NextHop)
			}
		})
	}
}

func TestAppendUpdateErrors(t *testing.T) {
	a := bgptest.Attrs(t)[0]
	if _, err := AppendUpdate(nil, nil, nil, nlris("10.0.0.0/8"), UpdateOptions{}); err == nil {
		t.Error("announcement without attributes accepted")
	}
	huge := a.Clone()
	huge.Unknown = []bgp.RawAttr{{Flags: 0xc0, Type: 99, Value: make([]byte, 5000)}}
	_, err := AppendUpdate(nil, nil, huge, nlris("10.0.0.0/8"), UpdateOptions{AS4: true})
	if err == nil || !strings.Contains(err.Error(), "exceeds 4096") {
		t.Errorf("message beyond 4096 bytes: %v", err)
	}
	huge.Unknown[0].Value = make([]byte, 70000)
	if _, err := AppendUpdate(nil, nil, huge, nlris("10.0.0.0/8"), UpdateOptions{AS4: true}); err == nil {
		t.Error("attribute beyond 65535 bytes accepted")
	}
}

func TestDecodeMessageErrors(t *testing.T) {
	var d UpdateDecoder
	var u Update
	if _, err := d.DecodeMessage(make([]byte, 18), true, false, &u); err == nil {
		t.Error("short header accepted")
	}
	msg, _ := AppendUpdate(nil, nlris("10.0.0.0/8"), nil, nil, UpdateOptions{})
	if _, err := d.DecodeMessage(msg[:len(msg)-1], true, false, &u); err == nil {
		t.Error("message shorter than its length accepted")
	}
	keepalive := append(make([]byte, 16), 0, 19, MsgKeepalive)
	if typ, err := d.DecodeMessage(keepalive, true, false, &u); typ != MsgKeepalive || err != nil {
		t.Errorf("KEEPALIVE: type %d, %v", typ, err)
	}
	// A truncated NLRI field is reported, the attributes still decoded.
	msg, _ = AppendUpdate(nil, nil, bgptest.Attrs(t)[0], nlris("192.0.2.0/24"), UpdateOptions{AS4: true})
	binary.BigEndian.PutUint16(msg[16:], uint16(len(msg)-1))
	if _, err := d.DecodeMessage(msg[:len(msg)-1], true, false, &u); err == nil || len(u.Announced) != 0 || u.Attrs.Path.String() != "3356 174 131279" {
		t.Errorf("truncated NLRI: %v, %d routes, path %q", err, len(u.Announced), u.Attrs.Path)
	}
}

// TestUpdateAllocs checks the hot path: decoding and encoding an UPDATE
// allocate nothing once the buffers have grown.
func TestUpdateAllocs(t *testing.T) {
	a := bgptest.Attrs(t)[1]
	v4, err := AppendUpdate(nil, nlris("10.0.0.0/8"), a, nlris("175.45.176.0/24", "175.45.177.0/24"), UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v6, err := AppendUpdate(nil, nlris("2001:db8:1::/48"), bgptest.WithV6(a, true), nlris("2001:db8:2::/48"), UpdateOptions{AS4: true, MPAFI: AFIIPv6})
	if err != nil {
		t.Fatal(err)
	}
	var d UpdateDecoder
	var u Update
	buf := make([]byte, 0, MaxMessageLen)
	n := testing.AllocsPerRun(100, func() {
		for i, m := range [][]byte{v4, v6} {
			if _, err := d.DecodeMessage(m, i == 1, false, &u); err != nil {
				t.Fatal(err)
			}
			buf, _ = AppendUpdate(buf[:0], u.Withdrawn, &u.Attrs, u.Announced, UpdateOptions{AS4: true})
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per decode and encode", n)
	}
}

func BenchmarkDecodeUpdate(b *testing.B) {
	a := bgptest.Attrs(b)[1]
	msg, err := AppendUpdate(nil, nil, a, nlris("175.45.176.0/24", "175.45.177.0/24", "175.45.178.0/24", "175.45.179.0/24"), UpdateOptions{AS4: true})
	if err != nil {
		b.Fatal(err)
	}
	var d UpdateDecoder
	var u Update
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.DecodeMessage(msg, true, false, &u); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendUpdate(b *testing.B) {
	a := bgptest.WithV6(bgptest.Attrs(b)[1], true)
	ann := nlris("2001:db8:1::/48", "2001:db8:2::/48", "2001:db8:3::/48")
	buf := make([]byte, 0, MaxMessageLen)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendUpdate(buf[:0], nil, a, ann, UpdateOptions{AS4: true, MPAFI: AFIIPv6}); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzUpdate decodes arbitrary UPDATE bodies, seeded with the UPDATEs of
// the corpus's MRT files and with those AppendUpdate writes.
func FuzzUpdate(f *testing.F) {
	attrs := bgptest.Attrs(f)
	for _, s := range []struct {
		wd, ann []NLRI
		a       *bgp.Attrs
		opt     UpdateOptions
	}{
		{nlris("10.1.0.0/16"), nlris("10.2.0.0/16"), attrs[1], UpdateOptions{AS4: true}},
		{nil, nlris("10.2.0.0/16"), attrs[1], UpdateOptions{}},
		{nlris("2001:db8:1::/48"), nlris("2001:db8:2::/48"), bgptest.WithV6(attrs[0], true), UpdateOptions{AS4: true, MPAFI: AFIIPv6}},
		{[]NLRI{{Prefix: netip.MustParsePrefix("10.3.0.0/16"), PathID: 9}}, []NLRI{{Prefix: netip.MustParsePrefix("10.4.0.0/16"), PathID: 1}}, attrs[0], UpdateOptions{AS4: true, AddPath: true}},
		{nil, nil, nil, UpdateOptions{AS4: true}},
	} {
		msg, err := AppendUpdate(nil, s.wd, s.a, s.ann, s.opt)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg[HeaderLen:], s.opt.AS4, s.opt.AddPath)
	}
	for _, m := range corpusMessages(f, 60) {
		if m.msg[18] == MsgUpdate {
			f.Add(m.msg[HeaderLen:], m.as4, m.addPath)
		}
	}
	var d UpdateDecoder
	var u Update
	var out []byte
	f.Fuzz(func(t *testing.T, body []byte, as4, addPath bool) {
		_ = d.DecodeUpdate(body, as4, addPath, &u)
		for _, n := range append(u.Withdrawn, u.Announced...) {
			if !n.Prefix.IsValid() {
				t.Fatalf("invalid prefix decoded")
			}
		}
		_ = u.Attrs.Path.String()
		_, _ = u.Attrs.Path.Origin()
		_, _ = d.NextHops()
		for i := range u.Announced {
			_ = u.InNLRIField(i)
		}
		// What was decoded can be written again (or is refused cleanly).
		out, _ = AppendUpdate(out[:0], u.Withdrawn, &u.Attrs, u.Announced, UpdateOptions{AS4: true, AddPath: addPath})
		// A message with the same body decodes the same way.
		msg := make([]byte, HeaderLen, HeaderLen+len(body))
		if len(body)+HeaderLen <= 0xffff {
			binary.BigEndian.PutUint16(msg[16:], uint16(HeaderLen+len(body)))
			msg[18] = MsgUpdate
			if _, err := d.DecodeMessage(append(msg, body...), as4, addPath, &u); err != nil {
				_ = err.Error()
			}
		}
	})
}
