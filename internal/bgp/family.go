package bgp

import (
	"fmt"
	"net/netip"
)

// Family is an address family: IPv4, IPv6, or both together (an entity's
// whole address space). IPv4 and IPv6 are 0 and 1, so a Family indexes
// per-family arrays ([2]T).
type Family uint8

// Families.
const (
	IPv4        Family = 0
	IPv6        Family = 1
	AllFamilies Family = 2 // both families together, "all"
)

// FamilyOf returns the family of a prefix.
func FamilyOf(p netip.Prefix) Family {
	if p.Addr().Is4() {
		return IPv4
	}
	return IPv6
}

// String returns "ipv4", "ipv6" or "all".
func (f Family) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	case AllFamilies:
		return "all"
	}
	return fmt.Sprintf("family(%d)", uint8(f))
}

// Label returns "IPv4", "IPv6" or "IPv4+IPv6", as reports write them.
func (f Family) Label() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return "IPv4+IPv6"
}

// Unit returns the family's unit of address space: "/24" for IPv4, "/48"
// for IPv6, and "" for AllFamilies (the two are not added up).
func (f Family) Unit() string {
	switch f {
	case IPv4:
		return "/24"
	case IPv6:
		return "/48"
	}
	return ""
}

// ParseFamily parses "ipv4", "ipv6" or "all" (also "4", "6", "v4", "v6").
func ParseFamily(s string) (Family, error) {
	switch s {
	case "ipv4", "4", "v4", "IPv4":
		return IPv4, nil
	case "ipv6", "6", "v6", "IPv6":
		return IPv6, nil
	case "all":
		return AllFamilies, nil
	}
	return 0, fmt.Errorf("address family %q: want ipv4, ipv6 or all", s)
}

// MarshalText returns the family's name.
func (f Family) MarshalText() ([]byte, error) {
	if f > AllFamilies {
		return nil, fmt.Errorf("invalid address family %d", uint8(f))
	}
	return []byte(f.String()), nil
}

// UnmarshalText parses a family's name.
func (f *Family) UnmarshalText(b []byte) error {
	v, err := ParseFamily(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}
