package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/compress"
	"github.com/blackout-bgp/blackout/internal/corpus"
)

// attrsString formats every field of a, for exact comparisons.
func attrsString(a *bgp.Attrs) string {
	var b strings.Builder
	fmt.Fprintf(&b, "present=%#x origin=%d nh=%s ll=%s med=%d lp=%d", a.Present, a.Origin, a.NextHop, a.LinkLocalNextHop, a.MED, a.LocalPref)
	b.WriteString(" path=")
	for _, s := range a.Path.Segments {
		fmt.Fprintf(&b, "%d%v", s.Type, s.ASNs)
	}
	if a.Has(bgp.AttrAggregator) {
		fmt.Fprintf(&b, " agg=%d/%s", a.Aggregator.AS, a.Aggregator.Addr)
	}
	fmt.Fprintf(&b, " comm=%v large=%v", a.Communities, a.LargeCommunities)
	for _, u := range a.Unknown {
		fmt.Fprintf(&b, " raw=%#x/%d/%s", u.Flags&^flagExtended, u.Type, hex.EncodeToString(u.Value))
	}
	return b.String()
}

func mustParsePath(t testing.TB, s string) bgp.Path {
	t.Helper()
	p, err := bgp.ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testAttrs returns a set of attributes exercising every encoder branch.
func testAttrs(t testing.TB) []*bgp.Attrs {
	long := make([]string, 100)
	for i := range long {
		long[i] = fmt.Sprint(4200000000 + i)
	}
	mk := func(path string, nh string, f func(a *bgp.Attrs)) *bgp.Attrs {
		a := &bgp.Attrs{Path: mustParsePath(t, path), NextHop: netip.MustParseAddr(nh)}
		a.Set(bgp.AttrOrigin)
		a.Set(bgp.AttrASPath)
		if f != nil {
			f(a)
		}
		return a
	}
	return []*bgp.Attrs{
		mk("3356 174 131279", "192.0.2.1", nil),
		mk("64500 64500 64500 4837 {131279,131280}", "192.0.2.1", func(a *bgp.Attrs) {
			a.Origin = bgp.OriginIncomplete
			a.MED, a.LocalPref = 10, 100
			a.Set(bgp.AttrMED)
			a.Set(bgp.AttrLocalPref)
			a.Set(bgp.AttrAtomicAggregate)
			a.Set(bgp.AttrAggregator)
			a.Aggregator = bgp.Aggregator{AS: 4200000009, Addr: netip.MustParseAddr("10.0.0.9")}
			a.Communities = []bgp.Community{3356<<16 | 100, bgp.CommunityNoExport}
			a.Set(bgp.AttrCommunities)
			a.LargeCommunities = []bgp.LargeCommunity{{Global: 4200000001, Local1: 1, Local2: 2}, {Global: 3, Local1: 4, Local2: 5}}
			a.Set(bgp.AttrLargeCommunities)
		}),
		mk("(65001 65002) [65003,65004] 1299 "+strings.Join(long, " "), "192.0.2.77", func(a *bgp.Attrs) {
			a.Origin = bgp.OriginEGP
			a.Unknown = []bgp.RawAttr{{Flags: 0xc0, Type: 99, Value: bytes.Repeat([]byte{7}, 300)}, {Flags: 0x80, Type: 200, Value: []byte{1, 2}}}
			for i := range 80 {
				a.Communities = append(a.Communities, bgp.Community(i))
			}
			a.Set(bgp.AttrCommunities)
		}),
	}
}

// withV6 returns a copy of a with an IPv6 next hop (and link-local when ll).
func withV6(a *bgp.Attrs, ll bool) *bgp.Attrs {
	c := a.Clone()
	c.NextHop = netip.MustParseAddr("2001:db8::1")
	if ll {
		c.LinkLocalNextHop = netip.MustParseAddr("fe80::1")
	}
	return c
}

func nlris(ss ...string) []NLRI {
	var out []NLRI
	for _, s := range ss {
		out = append(out, NLRI{Prefix: netip.MustParsePrefix(s)})
	}
	return out
}

// corpusMessage is one BGP message of an MRT file of the shared corpus.
type corpusMessage struct {
	msg          []byte // header included
	as4, addPath bool
}

// corpusMessages returns up to perFile BGP messages from the BGP4MP
// records of each MRT file of the corpus (the first ones, then a sample of
// the rest of its first 8 MiB), or none when the corpus is absent. It reads
// the MRT framing (RFC 6396) by hand: package mrt imports this one.
func corpusMessages(tb testing.TB, perFile int) []corpusMessage {
	dir := corpus.Dir()
	if dir == "" {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "mrt", "*"))
	sort.Strings(files)
	var out []corpusMessage
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			tb.Logf("corpus: %v", err)
			continue
		}
		rc, _, err := compress.NewReader(f)
		if err != nil {
			f.Close()
			tb.Logf("corpus %s: %v", path, err)
			continue
		}
		data, _ := io.ReadAll(io.LimitReader(rc, 8<<20))
		rc.Close()
		f.Close()
		var msgs []corpusMessage
		for len(data) >= 12 {
			typ := binary.BigEndian.Uint16(data[4:])
			sub := binary.BigEndian.Uint16(data[6:])
			n := int(binary.BigEndian.Uint32(data[8:]))
			if len(data) < 12+n {
				break
			}
			body := data[12 : 12+n]
			data = data[12+n:]
			if typ == 17 { // BGP4MP_ET: microseconds first
				if len(body) < 4 {
					continue
				}
				body = body[4:]
			}
			if m, ok := bgp4mpMessage(typ, sub, body); ok {
				msgs = append(msgs, m)
			}
		}
		if len(msgs) > perFile {
			first := perFile / 2
			step := (len(msgs) - first) / (perFile - first)
			sampled := msgs[:first:first]
			for i := first; i < len(msgs) && len(sampled) < perFile; i += step {
				sampled = append(sampled, msgs[i])
			}
			msgs = sampled
		}
		out = append(out, msgs...)
	}
	return out
}

// bgp4mpMessage returns the BGP message of a BGP4MP(_ET) MESSAGE record
// body of subtype sub.
func bgp4mpMessage(typ, sub uint16, body []byte) (corpusMessage, bool) {
	if typ != 16 && typ != 17 {
		return corpusMessage{}, false
	}
	var m corpusMessage
	switch sub {
	case 1, 6: // MESSAGE, MESSAGE_LOCAL
	case 4, 7: // _AS4
		m.as4 = true
	case 8, 10: // _ADDPATH
		m.addPath = true
	case 9, 11:
		m.as4, m.addPath = true, true
	default:
		return m, false
	}
	asLen := 2
	if m.as4 {
		asLen = 4
	}
	if len(body) < 2*asLen+4 {
		return m, false
	}
	afi := binary.BigEndian.Uint16(body[2*asLen+2:])
	alen := 4
	if afi == AFIIPv6 {
		alen = 16
	}
	rest := body[2*asLen+4:]
	if len(rest) < 2*alen+HeaderLen {
		return m, false
	}
	m.msg = rest[2*alen:]
	return m, true
}
