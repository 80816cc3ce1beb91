package server

import (
	"testing"

	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/store"
)

// TestFragility computes a country's fragility from a small dependency
// index: in XA, origin 1 is behind the domestic network 2, whose only
// upstream abroad is 100; origin 3 has 100 and 200 as neighbours abroad.
// XB is reached through 100 and 300.
func TestFragility(t *testing.T) {
	cc := map[uint32]string{1: "XA", 2: "XA", 3: "XA", 4: "XB", 100: "US", 200: "DE", 300: "FR"}
	ent := func(typ event.EntityType, code string, ups ...event.AS) *store.Entity {
		return &store.Entity{Type: typ, Code: code, Upstreams: ups}
	}
	d := &deps{
		origins: map[uint32]*store.Entity{
			1: ent(event.OriginAS, "1", event.AS{ASN: 2, Share: 1}),
			2: ent(event.OriginAS, "2", event.AS{ASN: 100, Share: 1}),
			3: ent(event.OriginAS, "3", event.AS{ASN: 100, Share: 0.5}, event.AS{ASN: 200, Share: 0.5}),
			4: ent(event.OriginAS, "4", event.AS{ASN: 100, Share: 0.6}, event.AS{ASN: 300, Share: 0.4}),
		},
		country: map[string]*store.Entity{
			"XA": ent(event.Country, "XA", event.AS{ASN: 100, Share: 0.8}, event.AS{ASN: 200, Share: 0.2}),
			"XB": ent(event.Country, "XB", event.AS{ASN: 100, Share: 0.6}, event.AS{ASN: 300, Share: 0.4}),
		},
		size: map[string]entSize{
			"asn/1": {space4: 6, prefixes: 6}, "asn/2": {space4: 2, prefixes: 2}, "asn/3": {space4: 2, prefixes: 2}, "asn/4": {space4: 1, prefixes: 1},
			"country/XA": {space4: 10, prefixes: 10, origins4: 3}, "country/XB": {space4: 1, prefixes: 1, origins4: 1},
		},
		firstAt: map[string]entSize{},
		asCC:    func(a uint32) string { return cc[a] },
		asName:  func(uint32) string { return "" },
	}
	all := d.fragility()
	xa := all["XA"]
	if xa == nil {
		t.Fatal("no fragility for XA")
	}
	// Origins 1 (through 2) and 2 reach the world only through 100: 8 of 10 /24s.
	if xa.OnlyTop1 != 0.8 || xa.OnlyTop2 != 1 {
		t.Errorf("XA only through top 1, top 2: %v, %v; want 0.8, 1", xa.OnlyTop1, xa.OnlyTop2)
	}
	if xa.SingleHomed != 2 || xa.OriginsWithUpstreams != 3 {
		t.Errorf("XA single-homed %d of %d, want 2 of 3", xa.SingleHomed, xa.OriginsWithUpstreams)
	}
	if xa.HHI != 6800 { // 80² + 20²
		t.Errorf("XA HHI %v, want 6800", xa.HHI)
	}
	if xa.World == nil || xa.World.Prefixes.Rank != 1 || xa.World.Prefixes.Of != 2 || xa.World.Prefixes.Median != 5.5 {
		t.Errorf("XA world comparison %+v, want rank 1 of 2, median 5.5", xa.World)
	}
	if xb := all["XB"]; xb.OnlyTop1 != 0 || xb.OnlyTop2 != 1 || xb.SingleHomed != 0 {
		t.Errorf("XB: only top 1 %v, top 2 %v, single-homed %d; want 0, 1, 0", xb.OnlyTop1, xb.OnlyTop2, xb.SingleHomed)
	}
}
