package geo

import (
	"fmt"
)

// layer is what one source contributes, before it is stacked.
type layer struct {
	src                      *Dataset
	cc4, cc6, as4, as6, asCC []rng
	names                    map[uint32]string
}

func newLayer(src *Dataset) *layer { return &layer{src: src, names: map[uint32]string{}} }

func (l *layer) records() int {
	return len(l.cc4) + len(l.cc6) + len(l.as4) + len(l.as6) + len(l.asCC) + len(l.names)
}

// builder stacks layers into flat maps.
type builder struct {
	srcs                     []*Dataset
	cc4, cc6, as4, as6, asCC flat
	names                    map[uint32]nameRec
}

func newBuilder() *builder {
	return &builder{
		srcs: []*Dataset{nil},
		cc4:  emptyFlat(), cc6: emptyFlat(), as4: emptyFlat(), as6: emptyFlat(), asCC: emptyFlat(),
		names: map[uint32]nameRec{},
	}
}

func (b *builder) addSource(s *Dataset) (uint8, error) {
	for i, x := range b.srcs {
		if x == s && i > 0 {
			return uint8(i), nil
		}
	}
	if len(b.srcs) >= 255 {
		return 0, fmt.Errorf("geo: too many sources (at most 254)")
	}
	b.srcs = append(b.srcs, s)
	return uint8(len(b.srcs) - 1), nil
}

// add lays l over everything added before.
func (b *builder) add(l *layer) error {
	s, err := b.addSource(l.src)
	if err != nil {
		return err
	}
	for _, x := range []struct {
		dst *flat
		rs  []rng
	}{{&b.cc4, l.cc4}, {&b.cc6, l.cc6}, {&b.as4, l.as4}, {&b.as6, l.as6}, {&b.asCC, l.asCC}} {
		if len(x.rs) > 0 {
			*x.dst = overlay(*x.dst, flatten(x.rs, s))
		}
	}
	for asn, n := range l.names {
		b.names[asn] = nameRec{name: n, src: s}
	}
	return nil
}

func (b *builder) build() *DB {
	return &DB{
		cc4: compile4(b.cc4), cc6: compile6(b.cc6),
		as4: compile4(b.as4), as6: compile6(b.as6),
		asCC: compile4(b.asCC),
		name: compileNames(b.names),
		srcs: b.srcs,
	}
}

// deriveASCountry gives every AS that has address space in as4/as6 but no
// registered country the country that holds most of its address space
// (IPv4 addresses first; IPv6 /64 blocks for IPv6-only ASes). It is a
// best-effort stand-in for the registered country, used only to build the
// embedded snapshot, whose sources carry no AS->country table.
func deriveASCountry(db *DB, src *Dataset) *layer {
	l := newLayer(src)
	type tally map[Country]uint64
	v4 := map[uint32]tally{}
	v6 := map[uint32]tally{}
	var shares []Share
	count := func(into map[uint32]tally, asn uint32, p []Share) {
		t := into[asn]
		if t == nil {
			t = tally{}
			into[asn] = t
		}
		for _, s := range p {
			if !s.Country.IsZero() {
				t[s.Country] += s.Count
			}
		}
	}
	walk := func(m4 *map4, m6 *map6, into map[uint32]tally) {
		if m4 != nil {
			for i := range m4.start {
				if m4.val[i] == 0 {
					continue
				}
				for _, p := range rangePrefixes(u128{0, uint64(m4.start[i])}, u128{0, uint64(m4.end(i))}, false, nil) {
					shares = db.PrefixCountries(p, shares[:0])
					count(into, m4.val[i], shares)
				}
			}
			return
		}
		for i := range m6.len() {
			if m6.val[i] == 0 {
				continue
			}
			for _, p := range rangePrefixes(m6.start(i), m6.end(i), true, nil) {
				if p.Bits() > 64 {
					continue
				}
				shares = db.PrefixCountries(p, shares[:0])
				count(into, m6.val[i], shares)
			}
		}
	}
	walk(&db.as4, nil, v4)
	walk(nil, &db.as6, v6)
	best := func(t tally) (Country, bool) {
		var bc Country
		var bn uint64
		for c, n := range t {
			if n > bn || (n == bn && string(c[:]) < string(bc[:])) {
				bc, bn = c, n
			}
		}
		return bc, bn > 0
	}
	add := func(asn uint32, t tally) {
		if info, ok := db.ASN(asn); ok && !info.Country.IsZero() {
			return
		}
		if c, ok := best(t); ok {
			k := u128{0, uint64(asn)}
			l.asCC = append(l.asCC, rng{lo: k, hi: k, val: packCC(c)})
		}
	}
	for asn, t := range v4 {
		add(asn, t)
	}
	for asn, t := range v6 {
		if _, ok := v4[asn]; !ok {
			add(asn, t)
		}
	}
	return l
}
