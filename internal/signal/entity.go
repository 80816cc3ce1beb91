// Package signal turns the routing view's changes into time-binned series
// per entity (country, origin AS) and family: visible prefixes, visible
// address space (the union of the visible prefixes, in /24 units for IPv4
// and /48 units for IPv6), visible origin ASes, announcements, withdrawals,
// visibility losses, and the upstream ASes the entity is reached through.
//
// Tracker implements view.Observer. It keeps live counters (so that a
// detector can act on the route event that changed them, not at the end of
// a bin) and closes bins on data time.
package signal

import (
	"fmt"
	"strconv"

	"github.com/blackout-bgp/blackout/internal/bgp"
	"github.com/blackout-bgp/blackout/internal/event"
	"github.com/blackout-bgp/blackout/internal/geo"
)

// Entity is a country or an origin AS.
type Entity struct {
	Type event.EntityType // event.Country or event.OriginAS
	Code uint32           // the AS number, or the two country letters packed big-endian
}

// CountryEntity returns the entity of country c.
func CountryEntity(c geo.Country) Entity {
	return Entity{Type: event.Country, Code: uint32(c[0])<<8 | uint32(c[1])}
}

// ASEntity returns the entity of AS a.
func ASEntity(a bgp.ASN) Entity { return Entity{Type: event.OriginAS, Code: uint32(a)} }

// Country returns the country of a Country entity.
func (e Entity) Country() geo.Country { return geo.Country{byte(e.Code >> 8), byte(e.Code)} }

// CodeString returns "KP" or "131279".
func (e Entity) CodeString() string {
	if e.Type == event.Country {
		return e.Country().String()
	}
	return strconv.FormatUint(uint64(e.Code), 10)
}

// String returns "country KP" or "AS131279".
func (e Entity) String() string {
	if e.Type == event.Country {
		return "country " + e.Country().String()
	}
	return "AS" + strconv.FormatUint(uint64(e.Code), 10)
}

// ParseEntity parses "KP", "country:KP", "AS131279", "asn:131279" or "131279".
func ParseEntity(s string) (Entity, error) {
	switch {
	case len(s) > 8 && s[:8] == "country:":
		s = s[8:]
	case len(s) > 4 && s[:4] == "asn:":
		s = "AS" + s[4:]
	}
	if len(s) > 2 && (s[:2] == "AS" || s[:2] == "as") {
		s = s[2:]
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return ASEntity(bgp.ASN(n)), nil
	}
	c, err := geo.ParseCountry(s)
	if err != nil {
		return Entity{}, fmt.Errorf("entity %q: neither a country code nor an AS number", s)
	}
	return CountryEntity(c), nil
}
