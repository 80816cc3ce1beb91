package mrt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gbgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	gmrt "github.com/osrg/gobgp/v4/pkg/packet/mrt"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// gobgpUnreadable lists the corpus files that gobgp's pkg/packet/mrt
// cannot read at all, and why; the oracle test skips them.
var gobgpUnreadable = map[string]string{
	"bview.20020722.2337.gz":             "legacy TABLE_DUMP (v1): gobgp reads only TABLE_DUMP_V2 and BGP4MP",
	"updates.et-header.2015.gz":          "BGP4MP_ET: not supported by gobgp",
	"routeviews.updates.20240914.et.bz2": "BGP4MP_ET: not supported by gobgp",
	"mrtparse.bird_bgp":                  "ADD-PATH NLRI in MESSAGE_AS4 records (BIRD): gobgp reads them as plain NLRI",
	"mrtparse.bird6_bgp":                 "ADD-PATH NLRI in MESSAGE_AS4 records (BIRD): gobgp reads them as plain NLRI",
}

// gobgpFailing lists the files where gobgp fails on some records, and why;
// the routes of those records are left out on both sides. In any other
// file a record gobgp cannot read fails the test.
var gobgpFailing = map[string]string{
	"mrtparse.bird-mrtdump_bgp":  "BGP4MP MESSAGE_AS4_ADDPATH: gobgp fails (\"network bytes is short\")",
	"mrtparse.bird6-mrtdump_bgp": "BGP4MP MESSAGE_AS4_ADDPATH: gobgp fails (\"network bit length is too long\")",
	"updates.20020722.2238.gz":   "2-byte AS_PATH: gobgp's 2/4-byte guess fails on some paths (\"seg length is short\")",
}

// TestGobgpOracle compares, file by file, the routes we read with those
// that gobgp's MRT parser reads: peer, kind (announce, withdraw), prefix,
// ADD-PATH identifier, AS path and next hop, as multisets. Where gobgp
// cannot know a field (see gobgpRoutes) it is left out of the comparison.
func TestGobgpOracle(t *testing.T) {
	for _, path := range corpusFiles(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			if why, ok := gobgpUnreadable[name]; ok {
				t.Skip(why)
			}
			if testing.Short() && fileSize(path) > 1<<20 {
				t.Skip("large file; skipped in -short mode")
			}
			want, failed, err := gobgpRoutes(openCorpus(t, path))
			if err != nil {
				t.Fatalf("gobgp: %v", err)
			}
			if len(failed) > 0 {
				why, ok := gobgpFailing[name]
				if !ok {
					for off, err := range failed {
						t.Fatalf("gobgp fails on the record at offset %d: %v", off, err)
					}
				}
				t.Logf("%d records left out: %s", len(failed), why)
			}
			got := ourRoutes(t, openCorpus(t, path), name, failed)
			compareRouteSets(t, got, want)
		})
	}
}

// route is one route in a comparable form; "?" marks a field gobgp
// cannot know.
type route struct {
	peer, kind, prefix string
	id                 uint32
	path, nh           string
}

func (r route) id4() string { return fmt.Sprintf("%s %s %s id=%d", r.peer, r.kind, r.prefix, r.id) }
func (r route) String() string {
	return fmt.Sprintf("%s path=[%s] nh=%s", r.id4(), r.path, r.nh)
}

func newRoute(peer netip.Addr, peerAS uint32, kind string, prefix netip.Prefix, id uint32, path, nh string) route {
	return route{peer: fmt.Sprintf("%s AS%d", peer, peerAS), kind: kind, prefix: prefix.String(), id: id, path: path, nh: nh}
}

func ourRoutes(t *testing.T, r io.Reader, name string, skip map[int64]error) []route {
	rr := NewRouteReader(r, name, "")
	var out []route
	for {
		ev, err := rr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := skip[rr.Record().Offset]; ok {
			continue
		}
		switch ev.Kind {
		case bgp.Withdraw:
			out = append(out, newRoute(ev.Peer.Addr, uint32(ev.Peer.AS), "withdraw", ev.Prefix, ev.PathID, "", ""))
		case bgp.Announce:
			nh := ""
			if ev.Attrs.NextHop.IsValid() {
				nh = ev.Attrs.NextHop.String()
			}
			out = append(out, newRoute(ev.Peer.Addr, uint32(ev.Peer.AS), "announce", ev.Prefix, ev.PathID, ev.Attrs.Path.String(), nh))
		}
	}
}

// gobgpRoutes reads an MRT stream with gobgp. It returns the routes, and
// the records gobgp failed to parse by offset. Fields gobgp cannot know
// are "?": the AS path of a 2-byte speaker's route that carries AS4_PATH
// (gobgp does not merge AS4_PATH), and the next hop of a RIB entry whose
// MP_REACH_NLRI has the full form (RouteViews writes it; gobgp reads only
// the abbreviated form of RFC 6396 4.3.4 and finds no next hop).
func gobgpRoutes(r io.Reader) (routes []route, failed map[int64]error, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), MaxRecordLen+HeaderLen)
	sc.Split(gmrt.SplitMrt)
	failed = map[int64]error{}
	var peers []*gmrt.Peer
	var off int64
	for ; sc.Scan(); off += int64(len(sc.Bytes())) {
		data := sc.Bytes()
		h, err := gmrt.ParseHeader(data)
		if err != nil {
			return nil, nil, err
		}
		msg, err := gmrt.ParseBody(data[gmrt.MRT_COMMON_HEADER_LEN:], h)
		if err != nil {
			failed[off] = fmt.Errorf("record type %d subtype %d: %w", h.Type, h.SubType, err)
			continue
		}
		switch body := msg.Body.(type) {
		case *gmrt.PeerIndexTable:
			peers = body.Peers
		case *gmrt.Rib:
			if body.Family != gbgp.RF_IPv4_UC && body.Family != gbgp.RF_IPv6_UC {
				continue
			}
			prefix, err := netip.ParsePrefix(body.Prefix.String())
			if err != nil {
				return nil, nil, err
			}
			for _, e := range body.Entries {
				if int(e.PeerIndex) >= len(peers) {
					return nil, nil, fmt.Errorf("peer index %d", e.PeerIndex)
				}
				p := peers[e.PeerIndex]
				path, nh, mpNH, _ := gobgpAttrs(e.PathAttributes, true)
				if mpNH == "?" {
					nh = "?"
				}
				routes = append(routes, newRoute(p.IpAddress, p.AS, "announce", prefix, e.PathIdentifier, path, nh))
			}
		case *gmrt.BGP4MPMessage:
			u, ok := body.BGPMessage.Body.(*gbgp.BGPUpdate)
			if !ok {
				continue
			}
			peer, as := body.PeerIpAddress, body.PeerAS
			path, nh, _, as4 := gobgpAttrs(u.PathAttributes, h.SubType != uint16(gmrt.MESSAGE) && h.SubType != uint16(gmrt.MESSAGE_LOCAL))
			if as4 {
				path = "?"
			}
			add := func(kind string, n gbgp.PathNLRI, path, nh string) error {
				prefix, err := netip.ParsePrefix(n.NLRI.String())
				if err != nil {
					return err
				}
				routes = append(routes, newRoute(peer, as, kind, prefix, n.ID, path, nh))
				return nil
			}
			var errs []error
			for _, n := range u.WithdrawnRoutes {
				errs = append(errs, add("withdraw", n, "", ""))
			}
			for _, a := range u.PathAttributes {
				if mp, ok := a.(*gbgp.PathAttributeMpUnreachNLRI); ok && isUnicast(mp.AFI, mp.SAFI) {
					for _, n := range mp.Value {
						errs = append(errs, add("withdraw", n, "", ""))
					}
				}
			}
			for _, n := range u.NLRI {
				errs = append(errs, add("announce", n, path, nh))
			}
			for _, a := range u.PathAttributes {
				if mp, ok := a.(*gbgp.PathAttributeMpReachNLRI); ok && isUnicast(mp.AFI, mp.SAFI) {
					for _, n := range mp.Value {
						errs = append(errs, add("announce", n, path, nh))
					}
				}
			}
			if err := errors.Join(errs...); err != nil {
				return nil, nil, err
			}
		}
	}
	return routes, failed, sc.Err()
}

func isUnicast(afi uint16, safi uint8) bool {
	return (afi == gbgp.AFI_IP || afi == gbgp.AFI_IP6) && safi == gbgp.SAFI_UNICAST
}

// gobgpAttrs returns the AS path in bgpdump notation, the next hop as our
// reader reports it (the last of NEXT_HOP and the MP_REACH next hop), the
// MP_REACH next hop, and whether an AS4_PATH of a 2-byte speaker makes the
// AS path incomparable.
func gobgpAttrs(attrs []gbgp.PathAttributeInterface, as4 bool) (path, nh, mpNH string, hasAS4 bool) {
	var p bgp.Path
	for _, a := range attrs {
		switch a := a.(type) {
		case *gbgp.PathAttributeAsPath:
			for _, seg := range a.Value {
				s := bgp.Segment{Type: bgp.SegmentType(seg.GetType())}
				for _, x := range seg.GetAS() {
					s.ASNs = append(s.ASNs, bgp.ASN(x))
				}
				p.Segments = append(p.Segments, s)
			}
		case *gbgp.PathAttributeNextHop:
			nh = a.Value.String()
		case *gbgp.PathAttributeMpReachNLRI:
			switch {
			case a.Nexthop.IsValid():
				mpNH = a.Nexthop.String()
				nh = mpNH
			default:
				mpNH = "?" // in a RIB entry: the full form, misread as the abbreviated one
			}
		case *gbgp.PathAttributeAs4Path:
			hasAS4 = !as4
		}
	}
	return p.String(), nh, mpNH, hasAS4
}

// compareRouteSets compares two multisets of routes and reports the first
// differences. A "?" field of want matches anything.
func compareRouteSets(t *testing.T, got, want []route) {
	t.Helper()
	type wild struct{ path, nh bool }
	wilds := map[string]wild{}
	for _, w := range want {
		if w.path == "?" || w.nh == "?" {
			k := w.id4()
			x := wilds[k]
			x.path = x.path || w.path == "?"
			x.nh = x.nh || w.nh == "?"
			wilds[k] = x
		}
	}
	gs := make([]string, len(got))
	for i, g := range got {
		if x, ok := wilds[g.id4()]; ok {
			if x.path {
				g.path = "?"
			}
			if x.nh {
				g.nh = "?"
			}
		}
		gs[i] = g.String()
	}
	ws := make([]string, len(want))
	for i, w := range want {
		ws[i] = w.String()
	}
	slices.Sort(gs)
	slices.Sort(ws)
	if slices.Equal(gs, ws) {
		t.Logf("%d routes agree (%d with fields gobgp cannot know)", len(gs), len(wilds))
		return
	}
	var only []string
	i, j := 0, 0
	for (i < len(gs) || j < len(ws)) && len(only) < 10 {
		switch {
		case j >= len(ws) || (i < len(gs) && gs[i] < ws[j]):
			only = append(only, "ours only:  "+gs[i])
			i++
		case i >= len(gs) || ws[j] < gs[i]:
			only = append(only, "gobgp only: "+ws[j])
			j++
		default:
			i++
			j++
		}
	}
	t.Errorf("route sets differ (%d ours, %d gobgp); first differences:\n%s", len(gs), len(ws), strings.Join(only, "\n"))
}
