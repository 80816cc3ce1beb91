package rislive

import (
	"testing"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/source/rislive/ristest"
)

// FuzzDecode feeds arbitrary messages to the decoder, raw and JSON: it must
// never panic, every event must be well formed, and JSON decoding must not
// emit a prefix twice in one message.
//
//	go test -run X -fuzz FuzzDecode ./internal/source/rislive
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"ris-live-stream.json", "ris-live.1k-messages.jsonl"} {
		if p := ristest.Corpus(name); p != "" {
			lines, err := ristest.Lines(p)
			if err != nil {
				f.Fatal(err)
			}
			for i, l := range lines {
				if i%25 == 0 || name == "ris-live-stream.json" {
					f.Add(l)
				}
			}
		}
	}
	f.Add([]byte(`{"type":"ris_message","data":{"timestamp":1,"peer":"2001:db8::1","peer_asn":"1","host":"rrc00","type":"UPDATE","path":[1,[2,3]],"origin":"igp","announcements":[{"next_hop":"2001:db8::1,fe80::1","prefixes":["2001:db8::/32"]},{"next_hop":"fe80::1","prefixes":["2001:db8::/32"]}]}}`))
	f.Add([]byte(`{"type":"ris_message","data":{"timestamp":1,"peer":"1.2.3.4","peer_asn":1,"host":"rrc00","type":"UPDATE","raw":"//////////////////////8AFwIAAAAA"}}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, preferJSON := range []bool{false, true} {
			d := Decoder{PreferJSON: preferJSON}
			evs, info, _ := d.Decode(nil, msg)
			seen := map[[2]any]bool{}
			for _, e := range evs {
				switch e.Kind {
				case bgp.Announce:
					if e.Attrs == nil || !e.Prefix.IsValid() {
						t.Fatalf("announcement without attributes or prefix: %+v", e)
					}
				case bgp.Withdraw:
					if !e.Prefix.IsValid() {
						t.Fatalf("withdrawal without prefix: %+v", e)
					}
				case bgp.PeerState:
					if e.NewState == 0 {
						t.Fatalf("state event without state: %+v", e)
					}
				default:
					t.Fatalf("event kind %v", e.Kind)
				}
				if !e.Peer.Addr.IsValid() {
					t.Fatalf("event without peer: %+v", e)
				}
				k := [2]any{e.Kind, e.Prefix}
				if e.Kind != bgp.PeerState && !info.FromRaw && seen[k] {
					t.Fatalf("prefix %s emitted twice", e.Prefix)
				}
				seen[k] = true
			}
		}
	})
}
