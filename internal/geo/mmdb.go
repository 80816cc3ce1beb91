package geo

import (
	"fmt"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// mmdbRecord holds the fields blackout reads from the MMDB layouts it knows:
// MaxMind GeoLite2/GeoIP2 Country, City and ASN, DB-IP (GeoIP2-compatible),
// IPinfo (country_code, asn "AS15169", as_name) and ip-location-db
// (country_code; autonomous_system_number and _organization).
type mmdbRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	CountryCode string `maxminddb:"country_code"`
	ASNumber    uint64 `maxminddb:"autonomous_system_number"`
	ASOrg       string `maxminddb:"autonomous_system_organization"`
	ASN         any    `maxminddb:"asn"`
	ASName      string `maxminddb:"as_name"`
}

type mmdbValue struct {
	cc   Country
	asn  uint32
	name string
	err  error
}

// loadMMDB reads every network of an MMDB database. Records are decoded
// once per distinct data offset, so large City databases load in seconds.
func loadMMDB(path string, src *Dataset) (*layer, error) {
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer db.Close()
	l := newLayer(src)
	src.Date = db.Metadata.BuildTime().UTC()
	if db.Metadata.DatabaseType != "" {
		src.Name = db.Metadata.DatabaseType + " " + src.Name
	}
	cache := map[uintptr]mmdbValue{}
	for res := range db.Networks() {
		if err := res.Err(); err != nil {
			return l, fmt.Errorf("%s: reading networks: %w", path, err)
		}
		off := res.Offset()
		v, ok := cache[off]
		if !ok {
			var rec mmdbRecord
			if err := res.Decode(&rec); err != nil {
				v.err = err
			} else {
				v = rec.value()
			}
			cache[off] = v
		}
		p := res.Prefix()
		if v.err != nil {
			src.skip(fmt.Errorf("%s: network %s: %w", path, p, v.err))
			continue
		}
		lo, hi := prefixBounds(p)
		v6 := p.Addr().Is6()
		if !v.cc.IsZero() {
			r := rng{lo: lo, hi: hi, val: packCC(v.cc)}
			if v6 {
				l.cc6 = append(l.cc6, r)
			} else {
				l.cc4 = append(l.cc4, r)
			}
		}
		if v.asn != 0 {
			r := rng{lo: lo, hi: hi, val: v.asn}
			if v6 {
				l.as6 = append(l.as6, r)
			} else {
				l.as4 = append(l.as4, r)
			}
			if v.name != "" {
				if _, dup := l.names[v.asn]; !dup {
					l.names[v.asn] = v.name
				}
			}
		}
		if !v.cc.IsZero() || v.asn != 0 {
			src.Records++
		}
	}
	if src.Records == 0 {
		return l, fmt.Errorf("%s: %w (no country or AS fields found)", path, errNoData)
	}
	return l, nil
}

func (r *mmdbRecord) value() mmdbValue {
	var v mmdbValue
	for _, s := range []string{r.Country.ISOCode, r.CountryCode, r.RegisteredCountry.ISOCode} {
		if c, err := ParseCountry(s); err == nil && c != (Country{'Z', 'Z'}) {
			v.cc = c
			break
		}
	}
	switch {
	case r.ASNumber != 0 && r.ASNumber <= 0xFFFFFFFF:
		v.asn, v.name = uint32(r.ASNumber), r.ASOrg
	case r.ASN != nil:
		switch a := r.ASN.(type) {
		case string:
			v.asn, _ = parseASN(strings.TrimSpace(a))
		case uint64:
			v.asn = uint32(a)
		case uint32:
			v.asn = a
		case uint16:
			v.asn = uint32(a)
		case int:
			v.asn = uint32(a)
		}
		v.name = r.ASName
		if v.name == "" {
			v.name = r.ASOrg
		}
	}
	return v
}
