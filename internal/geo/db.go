// Package geo holds blackout's registry data: which country an address or
// prefix belongs to, which AS originates an address, and the registered
// country and name of an AS.
//
// The data is a dated, swappable input. A DB stacks sources: the snapshot
// embedded in the binary (built from ip-location-db, see README.md), then
// RIR delegated-extended files cached by `blackout geo update`, then files
// given by the operator (RIR delegated files, MMDB databases, CSV ranges).
// A later source wins over an earlier one wherever it has data; where it has
// none, the earlier answer shows through. Every answer names its Source.
//
// Lookups use flattened range tables: the stacked sources are resolved once,
// at load time, into a sorted partition of the address space (the same
// answer as a longest-prefix match over the CIDR blocks of all sources, with
// precedence by source), indexed by the top 16 bits. A DB is immutable after
// it is built and safe for concurrent readers.
package geo

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Dataset describes one loaded input and the date of its data.
type Dataset struct {
	Kind    string    // "snapshot", "delegated", "mmdb", "csv" or "derived"
	Name    string    // e.g. "delegated-apnic-extended-20250101" or "ip-location-db/asn 2.3.2026061719"
	Path    string    // the file it was read from; empty for the embedded snapshot
	Date    time.Time // the date of the data (UTC), zero if unknown
	Records int       // records loaded
	Skipped int       // malformed lines or records skipped
	Errors  []error   // the first few of the skipped lines' errors (file:line: reason)
}

// DateString returns the data date as YYYY-MM-DD, or "unknown".
func (s *Dataset) DateString() string {
	if s == nil || s.Date.IsZero() {
		return "unknown"
	}
	return s.Date.UTC().Format("2006-01-02")
}

// String returns the name and date of the source.
func (s *Dataset) String() string {
	if s == nil {
		return "none"
	}
	return s.Name + " (" + s.DateString() + ")"
}

// maxErrors is how many line errors a Source keeps.
const maxErrors = 10

func (s *Dataset) skip(err error) {
	s.Skipped++
	if len(s.Errors) < maxErrors {
		s.Errors = append(s.Errors, err)
	}
}

// LineError is a malformed line of an input file.
type LineError struct {
	File string
	Line int
	Err  error
}

// Error returns "file:line: reason".
func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

// Unwrap returns the reason.
func (e *LineError) Unwrap() error { return e.Err }

// ASInfo is what the registry data says about an AS.
type ASInfo struct {
	Country       Country  // registered country; zero if unknown
	Name          string   // organisation name; empty if unknown
	CountrySource *Dataset // where Country came from
	NameSource    *Dataset // where Name came from
}

// Share is the part of a prefix that one country holds.
type Share struct {
	Country Country  // zero for address space no source maps
	Source  *Dataset // nil when Country is zero
	// Count is the exact size of the part: for IPv4, addresses; for IPv6
	// prefixes of length 64 or less, /64 blocks (a /64 counts for the
	// country of its first address); for longer IPv6 prefixes, addresses.
	// The counts of all shares of a prefix add up to its size in that unit.
	Count uint64
	Frac  float64 // Count divided by the size of the prefix
}

// Answer is everything known about one address.
type Answer struct {
	Addr          netip.Addr
	Country       Country
	CountrySource *Dataset
	ASN           uint32 // originating AS from an address->AS source; 0 if unknown
	ASNSource     *Dataset
	AS            ASInfo // about ASN
}

type nameRec struct {
	name string
	src  uint8
}

// DB is a stack of registry sources resolved into lookup tables. It is
// immutable and safe for concurrent use.
type DB struct {
	cc4  map4 // IPv4 address -> country
	cc6  map6 // IPv6 address -> country
	as4  map4 // IPv4 address -> origin AS
	as6  map6 // IPv6 address -> origin AS
	asCC map4 // AS number -> registered country
	name nameTable
	srcs []*Dataset // index 0 is unused (no data)
}

// Sources returns the loaded sources, lowest precedence first.
func (db *DB) Sources() []*Dataset { return db.srcs[1:] }

func packCC(c Country) uint32   { return uint32(c[0])<<8 | uint32(c[1]) }
func unpackCC(v uint32) Country { return Country{byte(v >> 8), byte(v)} }

// Country returns the country of addr. It does not allocate.
func (db *DB) Country(addr netip.Addr) (Country, bool) {
	if addr.Is4() || addr.Is4In6() {
		b := addr.Unmap().As4()
		i := db.cc4.find(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
		v := db.cc4.val[i]
		return unpackCC(v), v != 0
	}
	if !addr.IsValid() {
		return Country{}, false
	}
	i := db.cc6.find(addrKey(addr))
	v := db.cc6.val[i]
	return unpackCC(v), v != 0
}

// CountrySource is Country with the source of the answer (nil if none).
func (db *DB) CountrySource(addr netip.Addr) (Country, *Dataset, bool) {
	v, s := db.lookup(addr, &db.cc4, &db.cc6)
	return unpackCC(v), db.srcs[s], v != 0
}

func (db *DB) lookup(addr netip.Addr, m4 *map4, m6 *map6) (uint32, uint8) {
	if !addr.IsValid() {
		return 0, 0
	}
	k := addrKey(addr)
	if addr.Is4() || addr.Is4In6() {
		i := m4.find(uint32(k.lo))
		return m4.val[i], m4.src[i]
	}
	i := m6.find(k)
	return m6.val[i], m6.src[i]
}

// OriginAS returns the AS that originates addr according to the loaded
// address->AS sources, with its source.
func (db *DB) OriginAS(addr netip.Addr) (uint32, *Dataset, bool) {
	v, s := db.lookup(addr, &db.as4, &db.as6)
	return v, db.srcs[s], v != 0
}

// ASN returns the registered country and name of an AS.
func (db *DB) ASN(asn uint32) (ASInfo, bool) {
	var info ASInfo
	i := db.asCC.find(asn)
	if v := db.asCC.val[i]; v != 0 {
		info.Country, info.CountrySource = unpackCC(v), db.srcs[db.asCC.src[i]]
	}
	if n, ok := db.name.get(asn); ok {
		info.Name, info.NameSource = n.name, db.srcs[n.src]
	}
	return info, info.CountrySource != nil || info.NameSource != nil
}

// Lookup returns everything known about addr.
func (db *DB) Lookup(addr netip.Addr) Answer {
	a := Answer{Addr: addr}
	a.Country, a.CountrySource, _ = db.CountrySource(addr)
	a.ASN, a.ASNSource, _ = db.OriginAS(addr)
	if a.ASN != 0 {
		a.AS, _ = db.ASN(a.ASN)
	}
	return a
}

// PrefixCountries splits p over the countries of its address space and
// appends one Share per country (in order of first appearance, address
// space no source maps as a Share with a zero Country) to dst. With a dst
// of sufficient capacity it does not allocate.
func (db *DB) PrefixCountries(p netip.Prefix, dst []Share) []Share {
	if !p.IsValid() {
		return dst
	}
	p = p.Masked()
	base := len(dst)
	add := func(v uint32, s uint8, n uint64) {
		if n == 0 {
			return
		}
		c := unpackCC(v)
		for i := base; i < len(dst); i++ {
			if dst[i].Country == c && (v == 0 || dst[i].Source == db.srcs[s]) {
				dst[i].Count += n
				return
			}
		}
		dst = append(dst, Share{Country: c, Source: db.srcs[s], Count: n})
	}
	first, last := prefixBounds(p)
	var total float64
	if p.Addr().Is4() {
		m := &db.cc4
		a, b := uint32(first.lo), uint32(last.lo)
		for i := m.find(a); i < len(m.start) && m.start[i] <= b; i++ {
			lo, hi := max(m.start[i], a), min(m.end(i), b)
			add(m.val[i], m.src[i], uint64(hi-lo)+1)
			if hi == 0xFFFFFFFF {
				break
			}
		}
		total = float64(uint64(b-a) + 1)
	} else {
		m := &db.cc6
		units := p.Bits() <= 64
		for i := m.find(first); i < m.len() && !last.less(m.start(i)); i++ {
			lo, hi := m.start(i), m.end(i)
			if lo.less(first) {
				lo = first
			}
			if last.less(hi) {
				hi = last
			}
			var n uint64
			if units {
				// /64 blocks whose first address lies in [lo, hi].
				c0 := lo.hi
				if lo.lo != 0 {
					c0++
				}
				c1 := hi.hi // hi.hi's block starts at or below hi
				if c1 >= c0 && !(lo.lo != 0 && c0 == 0) {
					n = c1 - c0 + 1
				}
			} else {
				n = hi.sub(lo).lo + 1
			}
			add(m.val[i], m.src[i], n)
			if hi == max128 {
				break
			}
		}
		if units {
			total = float64(uint64(1) << (64 - p.Bits()))
			if p.Bits() == 0 {
				total = 1 << 64
			}
		} else {
			total = float64(uint64(1) << (128 - p.Bits()))
		}
	}
	for i := base; i < len(dst); i++ {
		dst[i].Frac = float64(dst[i].Count) / total
		if dst[i].Country.IsZero() {
			dst[i].Source = nil
		}
	}
	return dst
}

// errNoData marks a file that held no usable record.
var errNoData = errors.New("no usable records")
