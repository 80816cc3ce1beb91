package wire

import (
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
	"github.com/blackout-bgp/blackout/internal/bgp/bgptest"
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
		out = append(out, bgptest.Sample(msgs, perFile)...)
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
