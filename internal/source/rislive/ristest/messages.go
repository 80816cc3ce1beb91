package ristest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// Messages turns route events into the RIS Live messages a collector
// would send: one per event, IPv6 announcements listed once per next hop
// (global and link-local), as RIS Live does. Events without a prefix or
// state (EndOfRIB) are left out.
func Messages(events []bgp.Event) [][]byte {
	var out [][]byte
	for i, ev := range events {
		data := map[string]any{
			"timestamp": json.Number(fmt.Sprintf("%d.%06d", ev.Time.Unix(), ev.Time.Nanosecond()/1000)),
			"peer":      ev.Peer.Addr.String(), "peer_asn": ev.Peer.AS.String(),
			"id": fmt.Sprintf("%s-%d", ev.Peer.Addr, i), "host": ev.Peer.Collector + ".ripe.net",
		}
		switch ev.Kind {
		case bgp.PeerState:
			data["type"] = "RIS_PEER_STATE"
			data["state"] = "down"
			if ev.NewState == bgp.StateEstablished {
				data["state"] = "connected"
			}
		case bgp.Withdraw:
			data["type"] = "UPDATE"
			data["withdrawals"] = []string{ev.Prefix.String()}
		case bgp.Announce:
			data["type"] = "UPDATE"
			var path []any
			for _, s := range ev.Attrs.Path.Segments {
				if s.Type == bgp.ASSet {
					path = append(path, s.ASNs)
					continue
				}
				for _, a := range s.ASNs {
					path = append(path, a)
				}
			}
			data["path"] = path
			data["origin"] = strings.ToLower(ev.Attrs.Origin.String())
			anns := []map[string]any{{"next_hop": ev.Attrs.NextHop.String(), "prefixes": []string{ev.Prefix.String()}}}
			if ev.Prefix.Addr().Is6() {
				anns = append(anns, map[string]any{"next_hop": "fe80::1", "prefixes": []string{ev.Prefix.String()}})
			}
			data["announcements"] = anns
		default:
			continue
		}
		b, _ := json.Marshal(map[string]any{"type": "ris_message", "data": data})
		out = append(out, b)
	}
	return out
}
