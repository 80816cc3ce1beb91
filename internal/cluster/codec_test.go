package cluster

import (
	"net/netip"
	"testing"
	"time"

	"github.com/blackout-bgp/blackout/internal/bgp"
)

// TestCodecRoundTrip: every route event of the demo comes back from the
// wire form as it went in; bad messages are errors.
func TestCodecRoundTrip(t *testing.T) {
	evs := demoEvents(t)
	evs = append(evs, bgp.Event{Time: time.Date(2014, 12, 22, 16, 15, 0, 123456000, time.UTC), Kind: bgp.PeerState,
		Peer: bgp.Peer{Collector: "rrc00", Addr: netip.MustParseAddr("2001:db8::1"), AS: 4200000001}, OldState: bgp.StateEstablished, NewState: bgp.StateIdle})
	for i := range evs {
		b, err := Encode(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		again, _ := Encode(&got)
		if string(again) != string(b) || !got.Time.Equal(evs[i].Time) || got.Peer != evs[i].Peer || got.RIB != evs[i].RIB {
			t.Fatalf("event %d: %s came back as %s", i, b, again)
		}
	}
	for _, bad := range []string{``, `{}`, `{"k":9}`, `{"k":1}`, `{"k":2,"p":"10.0.0.0/33"}`, `[1]`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"t":1,"k":1,"a":"192.0.2.1","as":1,"p":"10.0.0.0/8","at":{"Path":{"Segments":[{"Type":2,"ASNs":[1,2]}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Decode(b)
		if err == nil && ev.Kind != bgp.PeerState && !ev.Prefix.IsValid() {
			t.Fatal("a route without a prefix decoded")
		}
	})
}
